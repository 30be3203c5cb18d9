// Generated from the API's OpenAPI document by `npm run api-client` (scripts/openapi.ts).
// Do not edit: `npm run check` fails when this file differs from what the API serves.

export interface paths {
  '/healthz': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Liveness: the process answers */
    get: operations['getLiveness'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/readyz': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Readiness: Redis is connected */
    get: operations['getReadiness'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/admin/tenants': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * List tenants
     * @description Every tenant, by id.
     */
    get: operations['listTenants'];
    put?: never;
    /**
     * Create a tenant
     * @description Creates a tenant; its campaigns, suppression list and API keys are its own. Create keys for it with POST /v1/admin/tenants/{tenant}/keys.
     */
    post: operations['createTenant'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/admin/tenants/{tenant}/keys': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * List a tenant's API keys
     * @description Ids, names and creation times of the keys, oldest first; never the keys.
     */
    get: operations['listApiKeys'];
    put?: never;
    /**
     * Create an API key
     * @description Creates an API key of the tenant. The key is in this response only; store it now. Send `{}` for a key without a name.
     */
    post: operations['createApiKey'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/admin/keys/{keyId}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    post?: never;
    /**
     * Revoke an API key
     * @description Deletes the key: the next request made with it is refused with 401. Answers with the key that was revoked.
     */
    delete: operations['revokeApiKey'];
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/admin/tenants/{tenant}/domains': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * List a tenant's sending domains
     * @description Every sending domain of the tenant, by name, with its selectors and records.
     */
    get: operations['listSendingDomains'];
    put?: never;
    /**
     * Add a sending domain
     * @description Adds a domain the tenant may send as (its subdomains too) with a DKIM key, generated (`keyType`, default RSA 2048) or imported (`privateKeyPem`). Answers the DNS records to publish. A domain belongs to one tenant. Campaigns of a tenant with sending domains are refused (422) unless their From domain is one of them; the senders sign with the domain's active selector.
     */
    post: operations['addSendingDomain'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/admin/tenants/{tenant}/domains/{domain}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Show a sending domain
     * @description The domain, its selectors and the DNS records to publish.
     */
    get: operations['getSendingDomain'];
    put?: never;
    post?: never;
    /**
     * Remove a sending domain
     * @description Removes the domain and its keys: new campaigns from it are refused, drafts from it cannot start, and senders stop signing with its keys within VOLLEY_DKIM_CACHE_TTL (running campaigns go on unsigned: pause or cancel them). Answers the domain as it was.
     */
    delete: operations['removeSendingDomain'];
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/admin/tenants/{tenant}/domains/{domain}/rotate': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Rotate the DKIM key
     * @description Adds a selector with a new key (generated, of the active key's type unless `keyType` says otherwise, or imported) and makes it the one that signs; senders switch within VOLLEY_DKIM_CACHE_TTL, without a restart. Mail signed with the new selector verifies once its record is published: to publish first, rotate with `activate: false`, publish, then activate the selector. The old selector stays, and stays in `records`, until removed. Send `{}` for a generated key.
     */
    post: operations['rotateDkimKey'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/admin/tenants/{tenant}/domains/{domain}/selectors/{selector}/activate': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Switch to a staged DKIM selector
     * @description Makes the selector (added by a rotation with `activate: false`, its record published since) the one that signs; senders switch within VOLLEY_DKIM_CACHE_TTL.
     */
    post: operations['activateDkimSelector'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/admin/tenants/{tenant}/domains/{domain}/selectors/{selector}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    post?: never;
    /**
     * Remove an old DKIM selector
     * @description Removes a selector that no longer signs (the active one is refused with 409: rotate first). Unpublish its record afterwards.
     */
    delete: operations['removeDkimSelector'];
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/admin/shaping': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Traffic-shaping state of every tenant
     * @description Per destination: the limits of its rule, the adaptive factor, connections in use, messages waiting for their slot, and suspensions in force. Includes every campaign's suspensions, of all tenants.
     */
    get: operations['getShapingOfAllTenants'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/unsubscribe/{token}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Unsubscribe page (confirms, never unsubscribes)
     * @description The page a person sees when they follow the List-Unsubscribe link: it names the sender and (partly) the address, and holds a button that POSTs the one-click request. A GET never unsubscribes, since link scanners follow links. No API key; browsers get error pages as HTML.
     */
    get: operations['showUnsubscribePage'];
    put?: never;
    /**
     * One-click unsubscribe (RFC 8058)
     * @description The POST a mailbox provider (or the page's button) makes with `List-Unsubscribe=One-Click`, as application/x-www-form-urlencoded or multipart/form-data. Suppresses the address for the campaign's tenant before answering 200, without a redirect or a cookie; repeating it changes nothing. No API key: the token is the credential.
     */
    post: operations['unsubscribeOneClick'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/campaigns': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * List the tenant's campaigns, newest first
     * @description Each with its status and counts (not its templates). Follow `next` until it is absent. Campaigns created while a client pages come before its first page, so later pages neither repeat nor skip one.
     */
    get: operations['listCampaigns'];
    put?: never;
    /**
     * Create a campaign
     * @description With inline recipients and neither `draft` nor `sendAt`, the campaign starts at once. Templates whose loops would multiply past the render budget (a loop over the same data nested in loops over it), or that hold more tags (`{{…}}`) together than `VOLLEY_TEMPLATE_MAX_TAGS` (2,000 by default), are refused with a 422 naming the field, the line and column of the block or tag, the tag and why. A retried request with the same `Idempotency-Key` gets the first answer again, byte for byte (header `idempotent-replayed: true`), and never makes a second campaign; a create that failed is run again by its retry. While the first request is still being answered, a retry gets a 409 with `Retry-After`; the same key with a different body is a 422.
     */
    post: operations['createCampaign'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/campaigns/{id}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Status and counts of a campaign */
    get: operations['getCampaign'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/campaigns/{id}/start': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /** Start a draft or scheduled campaign now */
    post: operations['startCampaign'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/campaigns/{id}/pause': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Pause a campaign
     * @description Applies to running campaigns, across all senders within about a second.
     */
    post: operations['pauseCampaign'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/campaigns/{id}/resume': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Resume a campaign
     * @description Applies to paused campaigns, across all senders within about a second.
     */
    post: operations['resumeCampaign'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/campaigns/{id}/cancel': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Cancel a campaign
     * @description Applies to draft or scheduled or running or paused campaigns, across all senders within about a second.
     */
    post: operations['cancelCampaign'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/campaigns/{id}/events': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Per-recipient outcomes, oldest first
     * @description Pass the `next` of a page as `cursor` to get the following page.
     */
    get: operations['listCampaignEvents'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/campaigns/{id}/recipients': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Upload recipients (NDJSON or CSV)
     * @description Streams recipients into a draft or scheduled campaign with constant memory, for lists of millions. Addresses already in the campaign are skipped (compared case-insensitively); invalid rows are reported with their line number, and more than `maxInvalid` of them refuses the whole file and adds nothing. NDJSON is also accepted as application/ndjson or application/jsonl.
     */
    post: operations['uploadRecipients'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/campaigns/{id}/preview': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Preview one recipient
     * @description Renders and composes the message of one recipient with the sender's own code, so what is shown is what is sent: subject, HTML and text parts, headers and size. The recipient is one of the campaign's (by `index`) or given in the body. Works in every status and changes nothing: the campaign is not started and nothing is queued. Not shown, because only senders hold their secrets: the DKIM-Signature, List-Unsubscribe headers and the VERP return path (they add a few hundred bytes). A template that fails for this recipient is a 422 naming the field; so is one whose render for this recipient goes over the render budget (loop iterations, output size or CPU time), naming the limit.
     */
    post: operations['previewCampaign'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/campaigns/{id}/test': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Send a test
     * @description Sends the campaign's content (from, subject, bodies, reply-to, headers) to 1 to 10 addresses through the whole send path (rendering, DKIM, shaping, SMTP), as a small campaign of its own: answers its id, to poll with GET /v1/campaigns/{id}. The campaign itself is not started and its status and counts do not change. Allowed for draft, scheduled, running, paused and completed campaigns (a copy of what was sent); refused with 409 for a cancelled one, whose content will never go out. Each address is rendered first: a template that fails for one is a 422 and nothing is sent. Suppressed addresses are skipped, as in any campaign.
     */
    post: operations['sendCampaignTest'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/campaigns/{id}/tests': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * List test sends
     * @description The test sends made from this campaign, newest first, each with its status and counts.
     */
    get: operations['listCampaignTests'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/campaigns/{id}/stats': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Campaign statistics
     * @description Counts by state and by reason (so bounces show as userunknown, mailboxfull, ...), the current rate of final outcomes, progress and an estimated completion time. Cheap enough to poll every second or so.
     */
    get: operations['getCampaignStats'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/suppressions': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * List suppressed addresses
     * @description Pages through the tenant's suppression list, oldest entry first, optionally only one reason and/or source: follow `next` until it is absent. Entries added during the walk come at its end; removals during it make no entry appear twice or go missing.
     */
    get: operations['listSuppressions'];
    put?: never;
    /**
     * Suppress addresses
     * @description Adds addresses to the suppression list; recipients at these addresses are skipped (counted as suppressed) by every campaign of the tenant. One invalid address refuses the request and adds nothing. Larger lists: POST /v1/suppressions/import.
     */
    post: operations['addSuppressions'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/suppressions/{email}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * One suppressed address
     * @description The entry of an address: why and when it was suppressed; 404 when it is not.
     */
    get: operations['getSuppression'];
    put?: never;
    post?: never;
    /**
     * Remove a suppressed address
     * @description Removes the address from the suppression list (and forgets its soft bounces): the sender checks the list before each message, so campaigns send to it again from now on.
     */
    delete: operations['deleteSuppression'];
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/suppressions/import': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Import suppressed addresses from CSV
     * @description Streams a CSV file (`text/csv`) with a header row naming an `email` column and optionally `reason`, `source` and `date` (ISO 8601); other columns are ignored, so an export imports as it is. Rows are checked as they arrive and applied only once the whole file has been read: more than `maxInvalid` invalid rows refuses the file with a 422 listing them, and a refused file changes nothing. An address already on the list keeps its entry.
     */
    post: operations['importSuppressions'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/suppressions/export': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Export suppressed addresses as CSV
     * @description Streams the whole list (or one reason and/or source of it), oldest first, as CSV with the columns email, reason, source, date, campaign, detail. A detail that would start a spreadsheet formula gets a leading apostrophe.
     */
    get: operations['exportSuppressions'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/webhooks': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * List webhook endpoints
     * @description The tenant's endpoints, without their secrets.
     */
    get: operations['listWebhooks'];
    put?: never;
    /**
     * Add a webhook endpoint
     * @description Events of the tenant's campaigns of the given types are POSTed to `url` as JSON, signed (`Volley-Signature: t=<unix time>,v1=<HMAC-SHA256 of "<t>.<body>">`), at least once, with `Volley-Event-Id` to deduplicate on. Failed deliveries retry with backoff, then go to the dead-letter list. At most 10 endpoints.
     */
    post: operations['createWebhook'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/webhooks/{id}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    post?: never;
    /**
     * Delete a webhook endpoint
     * @description Its deliveries still queued are dropped.
     */
    delete: operations['deleteWebhook'];
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/webhooks/dead-letters': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * List dead letters
     * @description Deliveries that exhausted their retries, oldest first, with their last error.
     */
    get: operations['listWebhookDeadLetters'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/webhooks/dead-letters/replay': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Replay dead letters
     * @description Queues the given dead letters (all of them without `ids`) for delivery again with fresh retries, and takes them off the list. Those whose endpoint was deleted are dropped.
     */
    post: operations['replayWebhookDeadLetters'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/shaping': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Traffic-shaping state
     * @description Per destination: the limits of its rule, the adaptive factor, connections in use, messages waiting for their slot, and suspensions in force. Suspensions of single campaigns are shown for the caller's campaigns only; the whole state is at GET /v1/admin/shaping.
     */
    get: operations['getShaping'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
}
export type webhooks = Record<string, never>;
export interface components {
  schemas: {
    /**
     * @description An RFC 9457 problem.
     * @example {
     *       "type": "https://volley.dev/problems/invalid-campaign",
     *       "title": "Invalid campaign",
     *       "status": 400,
     *       "detail": "body.from is not a valid address (use addr@example.com or Name <addr@example.com>)",
     *       "errors": [
     *         {
     *           "path": "body.from",
     *           "message": "is not a valid address (use addr@example.com or Name <addr@example.com>)"
     *         }
     *       ]
     *     }
     */
    Problem: {
      /** @description URI naming the kind of problem. */
      type: string;
      /** @description Short summary of the kind of problem. */
      title: string;
      /** @description The HTTP status code. */
      status: number;
      /** @description What went wrong with this request and what to do. */
      detail: string;
      /** @description Every invalid field or line, when there are several. */
      errors?: {
        /** @description Where: `body.from`, `body.recipients[3].email`, `line 12`, ... */
        path: string;
        message: string;
        /** @description Line of the uploaded file (CSV: the header is line 1). */
        line?: number;
      }[];
    };
  };
  responses: never;
  parameters: never;
  requestBodies: never;
  headers: never;
  pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
  getLiveness: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description The process is alive. */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            /** @description `ok`, `ready` or why the service is not ready. */
            status: string;
          };
        };
      };
    };
  };
  getReadiness: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Ready to serve requests. */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            /** @description `ok`, `ready` or why the service is not ready. */
            status: string;
          };
        };
      };
      /** @description Redis is not connected; take out of rotation. */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            /** @description `ok`, `ready` or why the service is not ready. */
            status: string;
          };
        };
      };
    };
  };
  listTenants: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            tenants: {
              /** @description Tenant id: lower-case letters, digits and dashes, at most 63 characters. */
              id: string;
              /** @description A name for people to recognize it by; not used for authentication. */
              name?: string;
              /**
               * Format: date-time
               * @description When it was created.
               */
              createdAt: string;
            }[];
          };
        };
      };
      /** @description No admin key, or not the admin key (API keys do not open the admin API). */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The admin API is off: VOLLEY_ADMIN_KEY is not set. */
      403: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  createTenant: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody: {
      content: {
        /**
         * @example {
         *       "id": "acme",
         *       "name": "Acme Inc."
         *     }
         */
        'application/json': {
          /** @description Tenant id: lower-case letters, digits and dashes, at most 63 characters. */
          id: string;
          /** @description A name for people to recognize it by; not used for authentication. */
          name?: string;
        };
      };
    };
    responses: {
      /** @description A tenant: campaigns, suppressions and keys belong to exactly one. */
      201: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            /** @description Tenant id: lower-case letters, digits and dashes, at most 63 characters. */
            id: string;
            /** @description A name for people to recognize it by; not used for authentication. */
            name?: string;
            /**
             * Format: date-time
             * @description When it was created.
             */
            createdAt: string;
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No admin key, or not the admin key (API keys do not open the admin API). */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The admin API is off: VOLLEY_ADMIN_KEY is not set. */
      403: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description A tenant with this id exists. */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is larger than the API accepts. */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is not application/json. */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  listApiKeys: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        /** @description Tenant id: lower-case letters, digits and dashes, at most 63 characters. */
        tenant: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            keys: {
              /** @description Key id, to list and revoke it by. */
              id: string;
              /** @description Tenant id: lower-case letters, digits and dashes, at most 63 characters. */
              tenant: string;
              /** @description A name for people to recognize it by; not used for authentication. */
              name?: string;
              /**
               * Format: date-time
               * @description When it was created.
               */
              createdAt: string;
            }[];
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No admin key, or not the admin key (API keys do not open the admin API). */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The admin API is off: VOLLEY_ADMIN_KEY is not set. */
      403: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No tenant with this id. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  createApiKey: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        /** @description Tenant id: lower-case letters, digits and dashes, at most 63 characters. */
        tenant: string;
      };
      cookie?: never;
    };
    requestBody: {
      content: {
        /**
         * @example {
         *       "name": "newsletter sender"
         *     }
         */
        'application/json': {
          /** @description A name for people to recognize it by; not used for authentication. */
          name?: string;
        };
      };
    };
    responses: {
      /** @description A new API key. */
      201: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            /** @description Key id, to list and revoke it by. */
            id: string;
            /** @description Tenant id: lower-case letters, digits and dashes, at most 63 characters. */
            tenant: string;
            /** @description A name for people to recognize it by; not used for authentication. */
            name?: string;
            /**
             * Format: date-time
             * @description When it was created.
             */
            createdAt: string;
            /** @description The API key, shown only in this response: only its SHA-256 is stored. Send it as `Authorization: Bearer <key>`. */
            key: string;
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No admin key, or not the admin key (API keys do not open the admin API). */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The admin API is off: VOLLEY_ADMIN_KEY is not set. */
      403: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No tenant with this id. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is larger than the API accepts. */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is not application/json. */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  revokeApiKey: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        /** @description Id of the key to revoke. */
        keyId: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description An API key as stored: metadata only, never the key or its hash. */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            /** @description Key id, to list and revoke it by. */
            id: string;
            /** @description Tenant id: lower-case letters, digits and dashes, at most 63 characters. */
            tenant: string;
            /** @description A name for people to recognize it by; not used for authentication. */
            name?: string;
            /**
             * Format: date-time
             * @description When it was created.
             */
            createdAt: string;
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No admin key, or not the admin key (API keys do not open the admin API). */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The admin API is off: VOLLEY_ADMIN_KEY is not set. */
      403: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key with this id. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  listSendingDomains: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        /** @description Tenant id: lower-case letters, digits and dashes, at most 63 characters. */
        tenant: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            domains: {
              domain: string;
              tenant: string;
              /** Format: date-time */
              createdAt: string;
              /** @description The selector that signs new mail. */
              activeSelector: string;
              selectors: {
                selector: string;
                /**
                 * @description Key of a generated key pair: `rsa` (2048 bits) or `ed25519`.
                 * @enum {unknown}
                 */
                keyType: 'rsa' | 'ed25519';
                /** @description Modulus length of an RSA key. */
                bits?: number;
                active: boolean;
                /** Format: date-time */
                createdAt: string;
              }[];
              /** @description DNS records to publish: the DKIM TXT of every selector, SPF (with VOLLEY_SPF_INCLUDE), DMARC, and the MX of the bounce domain (with VOLLEY_BOUNCE_DOMAIN). */
              records: {
                /** @enum {unknown} */
                type: 'TXT' | 'MX';
                /** @description Fully qualified name, without the trailing dot. */
                name: string;
                value: string;
                /** @enum {unknown} */
                purpose: 'dkim' | 'spf' | 'dmarc' | 'bounce-mx';
                /** @description The selector a DKIM record publishes. */
                selector?: string;
              }[];
              /** @description What the records alone do not say. */
              notes: string[];
            }[];
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No admin key, or not the admin key (API keys do not open the admin API). */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The admin API is off: VOLLEY_ADMIN_KEY is not set. */
      403: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No such tenant. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  addSendingDomain: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        /** @description Tenant id: lower-case letters, digits and dashes, at most 63 characters. */
        tenant: string;
      };
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': {
          /** @description Domain name; IDNs are stored in punycode. */
          domain: string;
          /** @description DKIM selector: DNS labels (letters, digits, inner dashes), dots between. */
          selector?: string;
          /**
           * @description Key of a generated key pair: `rsa` (2048 bits) or `ed25519`.
           * @enum {unknown}
           */
          keyType?: 'rsa' | 'ed25519';
          /** @description Import this private key (PEM, unencrypted; RSA 2048-4096 bits or Ed25519) instead of generating one. It is sealed with VOLLEY_DKIM_SECRET and never shown again. */
          privateKeyPem?: string;
        };
      };
    };
    responses: {
      /** @description A sending domain of a tenant. Private keys are never part of it. */
      201: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            domain: string;
            tenant: string;
            /** Format: date-time */
            createdAt: string;
            /** @description The selector that signs new mail. */
            activeSelector: string;
            selectors: {
              selector: string;
              /**
               * @description Key of a generated key pair: `rsa` (2048 bits) or `ed25519`.
               * @enum {unknown}
               */
              keyType: 'rsa' | 'ed25519';
              /** @description Modulus length of an RSA key. */
              bits?: number;
              active: boolean;
              /** Format: date-time */
              createdAt: string;
            }[];
            /** @description DNS records to publish: the DKIM TXT of every selector, SPF (with VOLLEY_SPF_INCLUDE), DMARC, and the MX of the bounce domain (with VOLLEY_BOUNCE_DOMAIN). */
            records: {
              /** @enum {unknown} */
              type: 'TXT' | 'MX';
              /** @description Fully qualified name, without the trailing dot. */
              name: string;
              value: string;
              /** @enum {unknown} */
              purpose: 'dkim' | 'spf' | 'dmarc' | 'bounce-mx';
              /** @description The selector a DKIM record publishes. */
              selector?: string;
            }[];
            /** @description What the records alone do not say. */
            notes: string[];
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No admin key, or not the admin key (API keys do not open the admin API). */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The admin API is off: VOLLEY_ADMIN_KEY is not set. */
      403: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No such tenant. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The domain belongs to a tenant already, or a change to it is in progress. */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is larger than the API accepts. */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is not application/json. */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  getSendingDomain: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        /** @description Tenant id: lower-case letters, digits and dashes, at most 63 characters. */
        tenant: string;
        /** @description Domain name; IDNs are stored in punycode. */
        domain: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description A sending domain of a tenant. Private keys are never part of it. */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            domain: string;
            tenant: string;
            /** Format: date-time */
            createdAt: string;
            /** @description The selector that signs new mail. */
            activeSelector: string;
            selectors: {
              selector: string;
              /**
               * @description Key of a generated key pair: `rsa` (2048 bits) or `ed25519`.
               * @enum {unknown}
               */
              keyType: 'rsa' | 'ed25519';
              /** @description Modulus length of an RSA key. */
              bits?: number;
              active: boolean;
              /** Format: date-time */
              createdAt: string;
            }[];
            /** @description DNS records to publish: the DKIM TXT of every selector, SPF (with VOLLEY_SPF_INCLUDE), DMARC, and the MX of the bounce domain (with VOLLEY_BOUNCE_DOMAIN). */
            records: {
              /** @enum {unknown} */
              type: 'TXT' | 'MX';
              /** @description Fully qualified name, without the trailing dot. */
              name: string;
              value: string;
              /** @enum {unknown} */
              purpose: 'dkim' | 'spf' | 'dmarc' | 'bounce-mx';
              /** @description The selector a DKIM record publishes. */
              selector?: string;
            }[];
            /** @description What the records alone do not say. */
            notes: string[];
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No admin key, or not the admin key (API keys do not open the admin API). */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The admin API is off: VOLLEY_ADMIN_KEY is not set. */
      403: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No such tenant, or the domain is not one of its sending domains. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  removeSendingDomain: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        /** @description Tenant id: lower-case letters, digits and dashes, at most 63 characters. */
        tenant: string;
        /** @description Domain name; IDNs are stored in punycode. */
        domain: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description A sending domain of a tenant. Private keys are never part of it. */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            domain: string;
            tenant: string;
            /** Format: date-time */
            createdAt: string;
            /** @description The selector that signs new mail. */
            activeSelector: string;
            selectors: {
              selector: string;
              /**
               * @description Key of a generated key pair: `rsa` (2048 bits) or `ed25519`.
               * @enum {unknown}
               */
              keyType: 'rsa' | 'ed25519';
              /** @description Modulus length of an RSA key. */
              bits?: number;
              active: boolean;
              /** Format: date-time */
              createdAt: string;
            }[];
            /** @description DNS records to publish: the DKIM TXT of every selector, SPF (with VOLLEY_SPF_INCLUDE), DMARC, and the MX of the bounce domain (with VOLLEY_BOUNCE_DOMAIN). */
            records: {
              /** @enum {unknown} */
              type: 'TXT' | 'MX';
              /** @description Fully qualified name, without the trailing dot. */
              name: string;
              value: string;
              /** @enum {unknown} */
              purpose: 'dkim' | 'spf' | 'dmarc' | 'bounce-mx';
              /** @description The selector a DKIM record publishes. */
              selector?: string;
            }[];
            /** @description What the records alone do not say. */
            notes: string[];
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No admin key, or not the admin key (API keys do not open the admin API). */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The admin API is off: VOLLEY_ADMIN_KEY is not set. */
      403: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No such tenant, or the domain is not one of its sending domains. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description A change to the domain is in progress. */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  rotateDkimKey: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        /** @description Tenant id: lower-case letters, digits and dashes, at most 63 characters. */
        tenant: string;
        /** @description Domain name; IDNs are stored in punycode. */
        domain: string;
      };
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': {
          /** @description DKIM selector: DNS labels (letters, digits, inner dashes), dots between. */
          selector?: string;
          /**
           * @description Key of a generated key pair: `rsa` (2048 bits) or `ed25519`.
           * @enum {unknown}
           */
          keyType?: 'rsa' | 'ed25519';
          /** @description Import this private key (PEM, unencrypted; RSA 2048-4096 bits or Ed25519) instead of generating one. It is sealed with VOLLEY_DKIM_SECRET and never shown again. */
          privateKeyPem?: string;
          /** @description false: add the selector without signing with it yet, to publish its record first and switch with POST …/selectors/{selector}/activate. Default true. */
          activate?: boolean;
        };
      };
    };
    responses: {
      /** @description A sending domain of a tenant. Private keys are never part of it. */
      201: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            domain: string;
            tenant: string;
            /** Format: date-time */
            createdAt: string;
            /** @description The selector that signs new mail. */
            activeSelector: string;
            selectors: {
              selector: string;
              /**
               * @description Key of a generated key pair: `rsa` (2048 bits) or `ed25519`.
               * @enum {unknown}
               */
              keyType: 'rsa' | 'ed25519';
              /** @description Modulus length of an RSA key. */
              bits?: number;
              active: boolean;
              /** Format: date-time */
              createdAt: string;
            }[];
            /** @description DNS records to publish: the DKIM TXT of every selector, SPF (with VOLLEY_SPF_INCLUDE), DMARC, and the MX of the bounce domain (with VOLLEY_BOUNCE_DOMAIN). */
            records: {
              /** @enum {unknown} */
              type: 'TXT' | 'MX';
              /** @description Fully qualified name, without the trailing dot. */
              name: string;
              value: string;
              /** @enum {unknown} */
              purpose: 'dkim' | 'spf' | 'dmarc' | 'bounce-mx';
              /** @description The selector a DKIM record publishes. */
              selector?: string;
            }[];
            /** @description What the records alone do not say. */
            notes: string[];
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No admin key, or not the admin key (API keys do not open the admin API). */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The admin API is off: VOLLEY_ADMIN_KEY is not set. */
      403: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No such tenant, or the domain is not one of its sending domains. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The selector exists already, or a change to the domain is in progress. */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is larger than the API accepts. */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is not application/json. */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  activateDkimSelector: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        /** @description Tenant id: lower-case letters, digits and dashes, at most 63 characters. */
        tenant: string;
        /** @description Domain name; IDNs are stored in punycode. */
        domain: string;
        /** @description DKIM selector: DNS labels (letters, digits, inner dashes), dots between. */
        selector: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description A sending domain of a tenant. Private keys are never part of it. */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            domain: string;
            tenant: string;
            /** Format: date-time */
            createdAt: string;
            /** @description The selector that signs new mail. */
            activeSelector: string;
            selectors: {
              selector: string;
              /**
               * @description Key of a generated key pair: `rsa` (2048 bits) or `ed25519`.
               * @enum {unknown}
               */
              keyType: 'rsa' | 'ed25519';
              /** @description Modulus length of an RSA key. */
              bits?: number;
              active: boolean;
              /** Format: date-time */
              createdAt: string;
            }[];
            /** @description DNS records to publish: the DKIM TXT of every selector, SPF (with VOLLEY_SPF_INCLUDE), DMARC, and the MX of the bounce domain (with VOLLEY_BOUNCE_DOMAIN). */
            records: {
              /** @enum {unknown} */
              type: 'TXT' | 'MX';
              /** @description Fully qualified name, without the trailing dot. */
              name: string;
              value: string;
              /** @enum {unknown} */
              purpose: 'dkim' | 'spf' | 'dmarc' | 'bounce-mx';
              /** @description The selector a DKIM record publishes. */
              selector?: string;
            }[];
            /** @description What the records alone do not say. */
            notes: string[];
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No admin key, or not the admin key (API keys do not open the admin API). */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The admin API is off: VOLLEY_ADMIN_KEY is not set. */
      403: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No such tenant, domain or selector. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description A change to the domain is in progress. */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  removeDkimSelector: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        /** @description Tenant id: lower-case letters, digits and dashes, at most 63 characters. */
        tenant: string;
        /** @description Domain name; IDNs are stored in punycode. */
        domain: string;
        /** @description DKIM selector: DNS labels (letters, digits, inner dashes), dots between. */
        selector: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description A sending domain of a tenant. Private keys are never part of it. */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            domain: string;
            tenant: string;
            /** Format: date-time */
            createdAt: string;
            /** @description The selector that signs new mail. */
            activeSelector: string;
            selectors: {
              selector: string;
              /**
               * @description Key of a generated key pair: `rsa` (2048 bits) or `ed25519`.
               * @enum {unknown}
               */
              keyType: 'rsa' | 'ed25519';
              /** @description Modulus length of an RSA key. */
              bits?: number;
              active: boolean;
              /** Format: date-time */
              createdAt: string;
            }[];
            /** @description DNS records to publish: the DKIM TXT of every selector, SPF (with VOLLEY_SPF_INCLUDE), DMARC, and the MX of the bounce domain (with VOLLEY_BOUNCE_DOMAIN). */
            records: {
              /** @enum {unknown} */
              type: 'TXT' | 'MX';
              /** @description Fully qualified name, without the trailing dot. */
              name: string;
              value: string;
              /** @enum {unknown} */
              purpose: 'dkim' | 'spf' | 'dmarc' | 'bounce-mx';
              /** @description The selector a DKIM record publishes. */
              selector?: string;
            }[];
            /** @description What the records alone do not say. */
            notes: string[];
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No admin key, or not the admin key (API keys do not open the admin API). */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The admin API is off: VOLLEY_ADMIN_KEY is not set. */
      403: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No such tenant, domain or selector. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The selector is the active one (rotate first), or a change to the domain is in progress. */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  getShapingOfAllTenants: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            /** @description False when the API runs with VOLLEY_SHAPING_POLICY=off. */
            enabled: boolean;
            /**
             * Format: date-time
             * @description Redis time of the snapshot.
             */
            at?: string;
            /** @description Where the policy comes from. */
            policy?: string;
            destinations: ({
              /** @description Shaping key: `domain:<d>` or `provider:<name>`. */
              key: string;
              metricLabel: string;
              /** @description `defaults`, `providers.<name>` or `domains.<d>`. */
              rule: string;
              ratePerSec?: number | null;
              burst: number;
              connections?: number | null;
              /** @description Adaptive factor in force; 1 is full speed. */
              factor: number;
              effectiveRatePerSec?: number | null;
              effectiveConnections?: number | null;
              connectionsInUse: number;
              /** @description Messages holding a reserved slot not due yet (waiting in the delayed set). */
              delayed: number;
              /** @description The slow-down in force, if any. */
              slow?: unknown;
              /** @description Suspensions in force, of the destination or of one campaign for it. */
              suspensions: unknown[];
            } & {
              [key: string]: unknown;
            })[];
          };
        };
      };
      /** @description No admin key, or not the admin key (API keys do not open the admin API). */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The admin API is off: VOLLEY_ADMIN_KEY is not set. */
      403: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  showUnsubscribePage: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        /** @description The token of the link: campaign and recipient, and the recipient's address encrypted (links sent before it was added name the recipient only). It stays valid as long as the campaign exists. */
        token: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description The confirmation page. */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'text/html': string;
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The token does not verify (the link was cut or changed), or its campaign is gone; nothing changed. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Too many unsubscribe requests from this address in a minute. */
      429: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  unsubscribeOneClick: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        /** @description The token of the link: campaign and recipient, and the recipient's address encrypted (links sent before it was added name the recipient only). It stays valid as long as the campaign exists. */
        token: string;
      };
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/x-www-form-urlencoded': {
          /** @description RFC 8058: `One-Click`. */
          'List-Unsubscribe': string;
        } & {
          [key: string]: unknown;
        };
        'multipart/form-data': {
          /** @description RFC 8058: `One-Click`. */
          'List-Unsubscribe': string;
        } & {
          [key: string]: unknown;
        };
      };
    };
    responses: {
      /** @description Unsubscribed (also when it was done before). */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'text/html': string;
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The token does not verify (the link was cut or changed), or its campaign is gone; nothing changed. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is larger than the API accepts. */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is not application/x-www-form-urlencoded or multipart/form-data. */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Too many unsubscribe requests from this address in a minute. */
      429: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  listCampaigns: {
    parameters: {
      query?: {
        /** @description The `next` of the previous page; absent or empty for the first page. */
        cursor?: string;
        /** @description Most campaigns a page holds. With a status filter a page may hold fewer (even none) while `next` is present: each page looks at a bounded number of campaigns. */
        limit?: number;
        /** @description Only campaigns in one of these states (repeat the parameter for several). */
        status?: ('draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'cancelled')[];
        /** @description Only campaigns created after this time (ISO 8601, exclusive). */
        createdAfter?: string;
        /** @description Only campaigns created before this time (ISO 8601, exclusive). */
        createdBefore?: string;
      };
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description A page of the tenant's campaigns. */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            /** @description Newest first. */
            campaigns: {
              id: string;
              /**
               * @description Lifecycle state of the campaign.
               * @enum {unknown}
               */
              status: 'draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'cancelled';
              from: string;
              subject: string;
              /** Format: date-time */
              createdAt: string;
              /** Format: date-time */
              sendAt?: string;
              /** Format: date-time */
              startedAt?: string;
              /** Format: date-time */
              completedAt?: string;
              /** @description Variables every recipient must have, not empty (`name`, or `user.city` in NDJSON `vars`; a CSV names each in a column): inline recipients and uploaded rows without them are refused, with their position or line. */
              requiredVars?: string[];
              /**
               * Format: date-time
               * @description When the cancel was accepted: from then on only messages already claimed for SMTP go out.
               */
              cancelledAt?: string;
              /** @description Recipients by state; `total` is every recipient of the campaign, and `queued`, `sent`, `deferred`, `bounced`, `suppressed`, `failed` and `cancelled` add up to it. `lateBounced`, `complained` and `unsubscribed` count feedback about recipients already in one of those, each recipient once; no count ever goes down. */
              counts: {
                total: number;
                cancelled: number;
                queued: number;
                sent: number;
                deferred: number;
                bounced: number;
                suppressed: number;
                failed: number;
                /** @description Recipients whose bounce was reported (by a DSN) after they reached a final state, normally `sent`: they stay counted there, so this is not added to the others. */
                lateBounced: number;
                /** @description Recipients who reported the message as spam (ARF); counted in `sent` too. */
                complained: number;
                /** @description Recipients who unsubscribed through this message; counted in `sent` too. */
                unsubscribed: number;
              };
            }[];
            /** @description Cursor of the next page; absent on the last page. */
            next?: string;
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  createCampaign: {
    parameters: {
      query?: never;
      header?: {
        /** @description Makes retries safe: the same key within a day answers what the first request answered. */
        'idempotency-key'?: string;
      };
      path?: never;
      cookie?: never;
    };
    requestBody: {
      content: {
        /**
         * @example {
         *       "from": "News <news@example.com>",
         *       "subject": "Hello {{name}}",
         *       "html": "<p>Hello {{name}}</p>",
         *       "recipients": [
         *         {
         *           "email": "ada@example.org",
         *           "vars": {
         *             "name": "Ada"
         *           }
         *         }
         *       ]
         *     }
         */
        'application/json': {
          /** @description `addr@example.com` or `Name <addr@example.com>`. */
          from: string;
          /** @description Handlebars template. */
          subject: string;
          /** @description Handlebars template of the HTML part. */
          html?: string;
          /** @description Handlebars template of the text part; derived from html when absent. */
          text?: string;
          replyTo?: string;
          /** @description Extra headers; names and values without CR/LF, structural headers refused. */
          headers?: {
            [key: string]: string;
          };
          /**
           * Format: date-time
           * @description Start at this time (ISO 8601).
           */
          sendAt?: string;
          /** @description Keep as a draft: add recipients, then start. */
          draft?: boolean;
          /** @description Variables every recipient must have, not empty (`name`, or `user.city` in NDJSON `vars`; a CSV names each in a column): inline recipients and uploaded rows without them are refused, with their position or line. */
          requiredVars?: string[];
          /** @description Inline recipients; with neither `draft` nor `sendAt`, the campaign starts at once. Upload larger lists to /v1/campaigns/{id}/recipients. */
          recipients?: {
            /** @description Recipient address. */
            email: string;
            /** @description Template variables for this recipient. */
            vars?: {
              [key: string]: unknown;
            };
          }[];
        };
      };
    };
    responses: {
      /** @description Accepted; the campaign id and its status. */
      202: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            /** @description Campaign id. */
            id: string;
            /**
             * @description Lifecycle state of the campaign.
             * @enum {unknown}
             */
            status: 'draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'cancelled';
            /** @description Inline recipients accepted. */
            recipients?: {
              added: number;
              /** @description Addresses given more than once. */
              duplicates: number;
            };
          };
        };
      };
      /** @description Invalid campaign: `detail` names the first invalid field (an address, a template syntax error, a header) and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description A request with this Idempotency-Key is still being answered: retry after Retry-After seconds to get its answer. */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is larger than the API accepts. */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is not application/json. */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The templates cost more than the render budget allows (title `Template too costly`), this Idempotency-Key was used with a different body, or the From domain is not one of the tenant's sending domains. */
      422: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  getCampaign: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        /** @description Campaign id. */
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description The campaign, its status and its counts. */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            id: string;
            /**
             * @description Lifecycle state of the campaign.
             * @enum {unknown}
             */
            status: 'draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'cancelled';
            from: string;
            subject: string;
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            sendAt?: string;
            /** Format: date-time */
            startedAt?: string;
            /** Format: date-time */
            completedAt?: string;
            /** @description Variables every recipient must have, not empty (`name`, or `user.city` in NDJSON `vars`; a CSV names each in a column): inline recipients and uploaded rows without them are refused, with their position or line. */
            requiredVars?: string[];
            /**
             * Format: date-time
             * @description When the cancel was accepted: from then on only messages already claimed for SMTP go out.
             */
            cancelledAt?: string;
            /** @description Recipients by state; `total` is every recipient of the campaign, and `queued`, `sent`, `deferred`, `bounced`, `suppressed`, `failed` and `cancelled` add up to it. `lateBounced`, `complained` and `unsubscribed` count feedback about recipients already in one of those, each recipient once; no count ever goes down. */
            counts: {
              total: number;
              cancelled: number;
              queued: number;
              sent: number;
              deferred: number;
              bounced: number;
              suppressed: number;
              failed: number;
              /** @description Recipients whose bounce was reported (by a DSN) after they reached a final state, normally `sent`: they stay counted there, so this is not added to the others. */
              lateBounced: number;
              /** @description Recipients who reported the message as spam (ARF); counted in `sent` too. */
              complained: number;
              /** @description Recipients who unsubscribed through this message; counted in `sent` too. */
              unsubscribed: number;
            };
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No campaign with this id belongs to this tenant. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  startCampaign: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        /** @description Campaign id. */
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Accepted; the campaign id and its status. */
      202: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            /** @description Campaign id. */
            id: string;
            /**
             * @description Lifecycle state of the campaign.
             * @enum {unknown}
             */
            status: 'draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'cancelled';
            /** @description Inline recipients accepted. */
            recipients?: {
              added: number;
              /** @description Addresses given more than once. */
              duplicates: number;
            };
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No campaign with this id belongs to this tenant. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The campaign is neither a draft nor scheduled, or an upload of recipients to it is still in progress. */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The campaign's From domain is no longer one of the tenant's sending domains. */
      422: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  pauseCampaign: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        /** @description Campaign id. */
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Accepted; the campaign id and its status. */
      202: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            /** @description Campaign id. */
            id: string;
            /**
             * @description Lifecycle state of the campaign.
             * @enum {unknown}
             */
            status: 'draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'cancelled';
            /** @description Inline recipients accepted. */
            recipients?: {
              added: number;
              /** @description Addresses given more than once. */
              duplicates: number;
            };
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No campaign with this id belongs to this tenant. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The campaign is not running. */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  resumeCampaign: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        /** @description Campaign id. */
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Accepted; the campaign id and its status. */
      202: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            /** @description Campaign id. */
            id: string;
            /**
             * @description Lifecycle state of the campaign.
             * @enum {unknown}
             */
            status: 'draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'cancelled';
            /** @description Inline recipients accepted. */
            recipients?: {
              added: number;
              /** @description Addresses given more than once. */
              duplicates: number;
            };
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No campaign with this id belongs to this tenant. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The campaign is not paused. */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The campaign's From domain is no longer one of the tenant's sending domains. */
      422: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  cancelCampaign: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        /** @description Campaign id. */
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Accepted; the campaign id and its status. */
      202: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            /** @description Campaign id. */
            id: string;
            /**
             * @description Lifecycle state of the campaign.
             * @enum {unknown}
             */
            status: 'draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'cancelled';
            /** @description Inline recipients accepted. */
            recipients?: {
              added: number;
              /** @description Addresses given more than once. */
              duplicates: number;
            };
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No campaign with this id belongs to this tenant. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The campaign is not draft or scheduled or running or paused. */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  listCampaignEvents: {
    parameters: {
      query?: {
        /** @description The `next` of the previous page. */
        cursor?: string;
        limit?: number;
      };
      header?: never;
      path: {
        /** @description Campaign id. */
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Per-recipient outcomes, oldest first. */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            events: {
              /** @description Position of the recipient in the campaign. */
              index: number;
              email: string;
              /** @description sent, deferred, bounced, suppressed, failed; and the feedback that followed a send: bounced (reported later), complained, unsubscribed. */
              outcome: string;
              /** @description Bounce reason (Sisimai vocabulary); for a complaint its ARF feedback type, for an unsubscribe how it came. */
              reason?: string;
              /** @description The SMTP reply or the error. */
              detail?: string;
              /** Format: date-time */
              at: string;
              /** @description Where feedback came from: dsn or webhook (bounce), arf or webhook (complaint), one-click, mailto or manual (unsubscribe). Absent for the outcomes of the send itself. */
              source?: string;
              /** @description Enhanced status code of a reported bounce (5.1.1). */
              status?: string;
              /** @description SMTP reply code of a reported bounce. */
              replyCode?: number;
              /** @description A reported bounce is permanent: the address is suppressed. */
              hardBounce?: boolean;
              /** @description A reported bounce of a recipient that already had its final state (counted in `lateBounced`). */
              late?: boolean;
            }[];
            /** @description Cursor of the next page; absent when there are no more yet. */
            next?: string;
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No campaign with this id belongs to this tenant. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  uploadRecipients: {
    parameters: {
      query?: {
        /** @description Invalid rows tolerated before the upload is refused. */
        maxInvalid?: number;
      };
      header?: never;
      path: {
        /** @description Campaign id. */
        id: string;
      };
      cookie?: never;
    };
    requestBody: {
      content: {
        /**
         * @example {"email":"ada@example.org","vars":{"name":"Ada"}}
         *     {"email":"alan@example.org","vars":{"name":"Alan"}}
         */
        'application/x-ndjson': string;
        /**
         * @example email,name
         *     ada@example.org,Ada
         *     alan@example.org,Alan
         */
        'text/csv': string;
      };
    };
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            /** @description Rows read (blank lines and the CSV header not counted). */
            rows: number;
            added: number;
            /** @description Rows whose address was already in the campaign. */
            duplicates: number;
            invalid: number;
            /** @description The first invalid rows, with their line number. */
            errors: {
              /** @description Where: `body.from`, `body.recipients[3].email`, `line 12`, ... */
              path: string;
              message: string;
              /** @description Line of the uploaded file (CSV: the header is line 1). */
              line?: number;
            }[];
            /** @description Recipients in the campaign after the upload. */
            total: number;
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No campaign with this id belongs to this tenant. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The campaign is neither a draft nor scheduled, or another upload to it is in progress. */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is larger than the API accepts. */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is not application/x-ndjson or text/csv. */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More invalid rows than `maxInvalid`: nothing was added, and `errors` lists the rows. */
      422: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  previewCampaign: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        /** @description Campaign id. */
        id: string;
      };
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': {
          /** @description Render for this recipient. Give either `recipient` or `index`, not both. */
          recipient?: {
            /** @description Recipient address. */
            email: string;
            /** @description Template variables of this recipient (at most 16384 bytes as JSON). `email` is always the recipient's address, as when the sender renders. */
            vars?: {
              [key: string]: unknown;
            };
          };
          /** @description Render for the campaign's stored recipient at this position (0 is the first, in upload order). Neither `recipient` nor `index` (or no body at all) renders recipient 0. */
          index?: number;
        };
      };
    };
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            campaignId: string;
            recipient: {
              /** @description Position in the campaign; absent for a given recipient. */
              index?: number;
              /** @description The address as the sender writes it into `To`. */
              email: string;
              vars: {
                [key: string]: unknown;
              };
            };
            /** @description SMTP envelope. With a bounce domain configured, senders replace `from` by a per-recipient VERP address. */
            envelope: {
              from: string;
              to: string;
            };
            /** @description Message-ID as sent: derived from campaign and recipient index (index 0 for a given recipient). */
            messageId: string;
            /** @description Rendered subject. */
            subject: string;
            /** @description Rendered HTML part; null for a text-only campaign. */
            html: string | null;
            /** @description The text part as sent: the rendered text template, or derived from the HTML when the campaign has none. */
            text: string;
            /** @description Message headers in order. */
            headers: {
              name: string;
              /** @description As on the wire (encoded words stay encoded), unfolded onto one line. */
              value: string;
            }[];
            /** @description Size of the composed message in bytes. */
            size: number;
            /** @description Variables the templates use that this recipient's vars lack (absent, null or empty): they render as nothing. */
            missingVariables: string[];
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No campaign with this id belongs to this tenant. Or `index` is past the campaign's last recipient. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is larger than the API accepts. */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is not application/json. */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description A template fails for this recipient, or its render goes over the render budget: `detail` names the field or the limit. */
      422: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  sendCampaignTest: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        /** @description Campaign id. */
        id: string;
      };
      cookie?: never;
    };
    requestBody: {
      content: {
        /**
         * @example {
         *       "recipients": [
         *         {
         *           "email": "qa@example.com",
         *           "vars": {
         *             "name": "QA"
         *           }
         *         }
         *       ]
         *     }
         */
        'application/json': {
          /** @description 1 to 10 addresses to send the campaign's content to: each an address string or `{email, vars}`. */
          recipients: (
            | string
            | {
                /** @description Recipient address. */
                email: string;
                /** @description Template variables of this recipient (at most 16384 bytes as JSON). `email` is always the recipient's address, as when the sender renders. */
                vars?: {
                  [key: string]: unknown;
                };
              }
          )[];
        };
      };
    };
    responses: {
      /** @description Default Response */
      202: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            /** @description Id of the test send: poll GET /v1/campaigns/{id} for it. */
            id: string;
            /**
             * @description Lifecycle state of the campaign.
             * @enum {unknown}
             */
            status: 'draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'cancelled';
            /** @description The campaign whose content is sent. */
            campaignId: string;
            recipients: {
              added: number;
              /** @description Addresses given twice, sent once. */
              duplicates: number;
            };
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No campaign with this id belongs to this tenant. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The campaign is cancelled: its content will never be sent. */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is larger than the API accepts. */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is not application/json. */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description A template fails for one of the addresses, or the From domain is not one of the tenant's sending domains: nothing was sent. */
      422: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  listCampaignTests: {
    parameters: {
      query?: {
        /** @description Newest first. */
        limit?: number;
      };
      header?: never;
      path: {
        /** @description Campaign id. */
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            /** @description Test sends of this campaign, newest first. */
            tests: {
              id: string;
              /**
               * @description Lifecycle state of the campaign.
               * @enum {unknown}
               */
              status: 'draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'cancelled';
              /** Format: date-time */
              createdAt: string;
              /** Format: date-time */
              completedAt?: string;
              /** @description Recipients by state; `total` is every recipient of the campaign, and `queued`, `sent`, `deferred`, `bounced`, `suppressed`, `failed` and `cancelled` add up to it. `lateBounced`, `complained` and `unsubscribed` count feedback about recipients already in one of those, each recipient once; no count ever goes down. */
              counts: {
                total: number;
                cancelled: number;
                queued: number;
                sent: number;
                deferred: number;
                bounced: number;
                suppressed: number;
                failed: number;
                /** @description Recipients whose bounce was reported (by a DSN) after they reached a final state, normally `sent`: they stay counted there, so this is not added to the others. */
                lateBounced: number;
                /** @description Recipients who reported the message as spam (ARF); counted in `sent` too. */
                complained: number;
                /** @description Recipients who unsubscribed through this message; counted in `sent` too. */
                unsubscribed: number;
              };
            }[];
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No campaign with this id belongs to this tenant. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  getCampaignStats: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        /** @description Campaign id. */
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            id: string;
            /**
             * @description Lifecycle state of the campaign.
             * @enum {unknown}
             */
            status: 'draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'cancelled';
            /**
             * Format: date-time
             * @description When these figures were read.
             */
            at: string;
            /** @description Recipients by state, as in GET /v1/campaigns/{id}. `deferred` recipients wait for a retry and are not done. */
            counts: {
              total: number;
              cancelled: number;
              queued: number;
              sent: number;
              deferred: number;
              bounced: number;
              suppressed: number;
              failed: number;
              /** @description Recipients whose bounce was reported (by a DSN) after they reached a final state, normally `sent`: they stay counted there, so this is not added to the others. */
              lateBounced: number;
              /** @description Recipients who reported the message as spam (ARF); counted in `sent` too. */
              complained: number;
              /** @description Recipients who unsubscribed through this message; counted in `sent` too. */
              unsubscribed: number;
            };
            /** @description Final outcomes by reason, e.g. `{"bounced": {"userunknown": 3, "mailboxfull": 1}}`; each group sums to the matching count. */
            reasons: {
              /** @description Recipients accepted by the receiving server (reason `delivered`), by reason (Sisimai's vocabulary; `undefined` when none was given). */
              sent: {
                [key: string]: number;
              };
              /** @description Recipients bounced: refused for good, or deferred past the maximum age (`expired`), by reason (Sisimai's vocabulary; `undefined` when none was given). */
              bounced: {
                [key: string]: number;
              };
              /** @description Recipients skipped because they are on the suppression list, by reason (Sisimai's vocabulary; `undefined` when none was given). */
              suppressed: {
                [key: string]: number;
              };
              /** @description Recipients never sent: the message could not be built (`template`, `syntaxerror`), by reason (Sisimai's vocabulary; `undefined` when none was given). */
              failed: {
                [key: string]: number;
              };
            };
            /** @description Feedback that followed the send: bounces reported by DSN, complaints and unsubscribes. Each group sums to the count of the same name; those recipients stay counted under their state as well. A reported bounce of a recipient still waiting for a retry gives it its final state and counts under `reasons.bounced` instead. */
            feedback: {
              /** @description Recipients whose bounce was reported after they reached a final state (normally `sent`), by reason (Sisimai's vocabulary; `undefined` when none was given). */
              lateBounced: {
                [key: string]: number;
              };
              /** @description Recipients who complained, by ARF feedback type (`abuse`, `fraud`, ...). */
              complained: {
                [key: string]: number;
              };
              /** @description Recipients who unsubscribed, by how (`one-click`, `mailto`, `manual`). */
              unsubscribed: {
                [key: string]: number;
              };
            };
            /** @description Deferred recipients waiting for a retry count as not done. */
            progress: {
              /** @description Recipients with a final outcome (sent, bounced, suppressed, failed). */
              done: number;
              /** @description Recipients still to reach one: queued plus deferred. 0 once completed or cancelled. */
              remaining: number;
              /** @description `done / total`; 1 once completed. A cancelled campaign keeps the fraction it reached. */
              fraction: number;
            };
            rate: {
              /** @description Final outcomes per second over the last 10 whole seconds (the current second is not counted). */
              perSecond: number;
              windowSeconds: number;
            };
            /** @description The longest of: each destination's backlog (recipients left per recipient domain, the domains of one shaping limit together, such as a provider's) at its rate under the shaping policy now (times the adaptive factor, after a suspension ends), for the 100 domains with the most left; and all remaining recipients at the measured overall rate. Null when the campaign is not running (a draft, scheduled or paused campaign makes no progress, a completed or cancelled one has none to make), or when no destination has a rate limit and nothing reached a final outcome in the rate window (dividing by zero would promise never). Deferred recipients count as remaining although their retry may come later than the estimate. */
            eta: {
              /** @description When the last recipient should reach a final outcome. */
              at: string | null;
              /** @description Seconds from the top-level `at` until then. */
              seconds: number | null;
              /** @description Why there is no estimate, when there is none. */
              note?: string;
              /** @description The destination whose backlog sets the estimate; absent when the overall rate does. */
              limitedBy?: {
                /** @description The shaping limit: `provider:<name>`, `domain:<d>` or `default:<d>` (see GET /v1/shaping). */
                destination: string;
                /** @description Recipients left under it. */
                remaining: number;
                /** @description Its rate now: the policy rate times the adaptive factor. */
                ratePerSec: number;
              };
            };
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No campaign with this id belongs to this tenant. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  listSuppressions: {
    parameters: {
      query?: {
        /** @description The `next` of the previous page; absent for the first page. */
        cursor?: string;
        /** @description Most entries a page holds. With a filter a page may hold fewer (even none) while `next` is present: each page looks at a bounded number of entries. */
        limit?: number;
        /** @description Only entries of this reason. */
        reason?: string;
        /** @description Only entries of this source. */
        source?: 'bounce' | 'complaint' | 'unsubscribe' | 'manual';
      };
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            /** @description Entries, oldest first. */
            entries: {
              /** @description The suppressed address, lower-cased. */
              email: string;
              /**
               * @description Why the address is suppressed: `bounce` (hard, or too many soft bounces), `complaint` (reported as spam), `unsubscribe`, or `manual` (added through this API or an import).
               * @enum {unknown}
               */
              source: 'bounce' | 'complaint' | 'unsubscribe' | 'manual';
              /** @description A lower-case token: the bounce reason (Sisimai vocabulary: userunknown, mailboxfull, ...), the complaint feedback type (abuse, ...), how the recipient unsubscribed (one-click, mailto, manual), or what an operator gave. */
              reason: string;
              /**
               * Format: date-time
               * @description When it was suppressed; absent for entries made before dates were kept.
               */
              at?: string;
              /** @description The campaign whose message led to the suppression. */
              campaignId?: string;
              /** @description The bounce diagnostic, or why a soft-bouncing address was suppressed. */
              detail?: string;
            }[];
            /** @description The addresses of `entries`, in the same order (kept for older clients). */
            emails: string[];
            /** @description Cursor of the next page; absent on the last page. */
            next?: string;
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  addSuppressions: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': {
          /** @description Addresses to suppress: campaigns of this tenant will not send to them. */
          emails: string[];
          /**
           * @description Stored with each entry.
           * @default manual
           */
          reason?: string;
          /**
           * @description Stored with each entry, e.g. `unsubscribe` for a list kept elsewhere.
           * @default manual
           * @enum {unknown}
           */
          source?: 'bounce' | 'complaint' | 'unsubscribe' | 'manual';
        };
      };
    };
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            /** @description Addresses that were not on the list before. */
            added: number;
            /** @description Addresses that already were on it, whose entry stays as it was (an address given twice counts once). */
            existing: number;
          };
        };
      };
      /** @description Invalid request, or an address is not valid: `errors` lists each one, and nothing was added. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is larger than the API accepts. */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is not application/json. */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  getSuppression: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        /** @description The address (URL-encoded). */
        email: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            /** @description The suppressed address, lower-cased. */
            email: string;
            /**
             * @description Why the address is suppressed: `bounce` (hard, or too many soft bounces), `complaint` (reported as spam), `unsubscribe`, or `manual` (added through this API or an import).
             * @enum {unknown}
             */
            source: 'bounce' | 'complaint' | 'unsubscribe' | 'manual';
            /** @description A lower-case token: the bounce reason (Sisimai vocabulary: userunknown, mailboxfull, ...), the complaint feedback type (abuse, ...), how the recipient unsubscribed (one-click, mailto, manual), or what an operator gave. */
            reason: string;
            /**
             * Format: date-time
             * @description When it was suppressed; absent for entries made before dates were kept.
             */
            at?: string;
            /** @description The campaign whose message led to the suppression. */
            campaignId?: string;
            /** @description The bounce diagnostic, or why a soft-bouncing address was suppressed. */
            detail?: string;
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The address is not on the suppression list. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  deleteSuppression: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        /** @description The address (URL-encoded). */
        email: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Removed. */
      204: {
        headers: {
          [name: string]: unknown;
        };
        content?: never;
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The address is not on the suppression list. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  importSuppressions: {
    parameters: {
      query?: {
        /** @description Invalid rows tolerated before the whole file is refused. */
        maxInvalid?: number;
        /** @description Reason of rows without a `reason` column or value. */
        reason?: string;
        /** @description Source of rows without a `source` column or value. */
        source?: 'bounce' | 'complaint' | 'unsubscribe' | 'manual';
      };
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody: {
      content: {
        /**
         * @example email,reason,source,date
         *     ada@example.org,userunknown,bounce,2026-01-05T10:00:00Z
         *     alan@example.org,,,
         */
        'text/csv': string;
      };
    };
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            /** @description Rows read (blank lines and the header not counted). */
            rows: number;
            /** @description Addresses that were not on the list before. */
            added: number;
            /** @description Rows whose address was on the list already, or earlier in the file. */
            existing: number;
            /** @description Rows skipped as invalid. */
            invalid: number;
            /** @description The first invalid rows, with their line number (the header is line 1). */
            errors: {
              /** @description Where: `body.from`, `body.recipients[3].email`, `line 12`, ... */
              path: string;
              message: string;
              /** @description Line of the uploaded file (CSV: the header is line 1). */
              line?: number;
            }[];
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is larger than the API accepts. */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is not text/csv. */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More invalid rows than `maxInvalid`: nothing was added, and `errors` lists the rows. */
      422: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  exportSuppressions: {
    parameters: {
      query?: {
        /** @description Only entries of this reason. */
        reason?: string;
        /** @description Only entries of this source. */
        source?: 'bounce' | 'complaint' | 'unsubscribe' | 'manual';
      };
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description The list as CSV. */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'text/csv': string;
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  listWebhooks: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            endpoints: {
              id: string;
              url: string;
              events: string[];
              /** @description ISO 8601. */
              createdAt: string;
            }[];
          };
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  createWebhook: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': {
          /** @description Where events are POSTed (https; http for receivers on a private network). */
          url: string;
          events: (
            | 'sent'
            | 'deferred'
            | 'bounced'
            | 'suppressed'
            | 'failed'
            | 'complained'
            | 'unsubscribed'
            | '*'
          )[];
        };
      };
    };
    responses: {
      /** @description Default Response */
      201: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            id: string;
            url: string;
            events: string[];
            /** @description ISO 8601. */
            createdAt: string;
            /** @description The HMAC-SHA256 secret of the `Volley-Signature` header; shown only in this answer. */
            secret: string;
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The tenant already has 10 endpoints; nothing was added. */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is larger than the API accepts. */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is not application/json. */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The URL is not an http(s) URL without a fragment, or an event type is unknown: `detail` says which; nothing was added. */
      422: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  deleteWebhook: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Deleted. */
      204: {
        headers: {
          [name: string]: unknown;
        };
        content?: never;
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The tenant has no webhook endpoint with this id. */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  listWebhookDeadLetters: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            deadLetters: {
              /** @description The delivery: `<endpoint id>.<event id>`. */
              id: string;
              endpointId: string;
              url: string;
              attempts: number;
              lastError: string;
              /** @description ISO 8601. */
              failedAt: string;
              /** @description The undelivered body. */
              event: {
                [key: string]: unknown;
              };
            }[];
          };
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  replayWebhookDeadLetters: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': {
          /** @description Dead letters to replay; all of them (up to 1,000) when absent. */
          ids?: string[];
        };
      };
    };
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            replayed: string[];
            dropped: string[];
          };
        };
      };
      /** @description Invalid request: `detail` names the first invalid field and `errors` lists each one. */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is larger than the API accepts. */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description The body is not application/json. */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  getShaping: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': {
            /** @description False when the API runs with VOLLEY_SHAPING_POLICY=off. */
            enabled: boolean;
            /**
             * Format: date-time
             * @description Redis time of the snapshot.
             */
            at?: string;
            /** @description Where the policy comes from. */
            policy?: string;
            destinations: ({
              /** @description Shaping key: `domain:<d>` or `provider:<name>`. */
              key: string;
              metricLabel: string;
              /** @description `defaults`, `providers.<name>` or `domains.<d>`. */
              rule: string;
              ratePerSec?: number | null;
              burst: number;
              connections?: number | null;
              /** @description Adaptive factor in force; 1 is full speed. */
              factor: number;
              effectiveRatePerSec?: number | null;
              effectiveConnections?: number | null;
              connectionsInUse: number;
              /** @description Messages holding a reserved slot not due yet (waiting in the delayed set). */
              delayed: number;
              /** @description The slow-down in force, if any. */
              slow?: unknown;
              /** @description Suspensions in force, of the destination or of one campaign for it. */
              suspensions: unknown[];
            } & {
              [key: string]: unknown;
            })[];
          };
        };
      };
      /** @description No API key, or not a valid one: send `Authorization: Bearer <key>`. */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description More than 6000 requests in 60 s with this API key; retry after Retry-After seconds. */
      429: {
        headers: {
          /** @description Seconds to wait before retrying. */
          'Retry-After'?: number;
          /** @description Requests allowed per window. */
          'RateLimit-Limit'?: number;
          /** @description Requests left in the window. */
          'RateLimit-Remaining'?: number;
          /** @description Seconds until the window resets. */
          'RateLimit-Reset'?: number;
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description Server error; it was logged: retry later. */
      '5XX': {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
}
