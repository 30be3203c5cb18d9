import rateLimit from '@fastify/rate-limit';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { FeedbackError } from '@volley/campaigns';
import { MAX_LINK_TOKEN_CHARS, TokenError, readLinkToken } from '@volley/message';
import type { ApiContext, V1 } from '../context.ts';
import { ApiProblem, errorHandler } from '../problem.ts';
import { operation } from '../operation.ts';
import {
  PAGE_HEADERS,
  confirmPage,
  donePage,
  errorPage,
  type PageSubject,
} from '../unsubscribe-page.ts';

/** A one-click POST is one short field; anything much larger is not one. */
const BODY_LIMIT = 8 * 1024;

/**
 * A token that does not even have a token's form (cut short or run on by a mail client, say) is
 * no more a link than a forged one: the same 404, and a person sees "This link does not work",
 * not a validation error. The routes take their validation errors (`attachValidation`) for
 * this; any other invalid input (the POST's body) stays a 400.
 */
function requireLinkShape(req: FastifyRequest): void {
  const invalid = req.validationError as FastifyError | undefined;
  if (!invalid) return;
  if (invalid.validationContext === 'params') {
    throw new ApiProblem(404, 'Not found', 'this unsubscribe link is not valid');
  }
  throw invalid;
}

/** The path the API answers for `VOLLEY_UNSUBSCRIBE_URL/<token>`: the URL's own path. */
function unsubscribeRoute(unsubscribeUrl: string): string {
  return `${new URL(unsubscribeUrl).pathname.replace(/\/+$/, '')}/:token`;
}

const TokenParams = Type.Object({
  token: Type.String({
    // Base32: 40 characters for links sent before they carried the address (purpose,
    // campaign, index, MAC), more for those that carry it encrypted.
    pattern: `^[A-Za-z2-7]{40,${MAX_LINK_TOKEN_CHARS}}$`,
    description:
      "The token of the link: campaign and recipient, and the recipient's address encrypted (links sent before it was added name the recipient only). It stays valid as long as the campaign exists.",
  }),
});

const OneClickBody = Type.Object(
  {
    'List-Unsubscribe': Type.String({
      pattern: '^[Oo][Nn][Ee]-[Cc][Ll][Ii][Cc][Kk]$',
      description: 'RFC 8058: `One-Click`.',
    }),
  },
  { additionalProperties: true },
);

const HtmlPage = (description: string) => ({
  description,
  content: { 'text/html': { schema: Type.String() } },
});

/** Problems of both routes; a browser (Accept: text/html) gets them as an HTML page. */
const NOT_A_LINK =
  'The token does not verify (the link was cut or changed), or its campaign is gone; nothing changed.';
const TOO_MANY = 'Too many unsubscribe requests from this address in a minute.';

/** `a=b&c=d` into an object; later keys win, and `__proto__` is a plain key. */
function parseUrlEncoded(text: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(text));
}

/**
 * The fields of a small multipart/form-data body (RFC 7578), which some mailbox providers send
 * instead of the urlencoded one: each part's `name` and its value; files are not expected.
 */
export function parseMultipart(text: string, contentType: string): Record<string, string> {
  const m = /;\s*boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) throw new ApiProblem(400, 'Bad request', 'multipart/form-data without a boundary');
  const fields: [string, string][] = [];
  for (const part of text.split(`--${boundary}`).slice(1)) {
    if (part.startsWith('--')) break;
    const split = part.indexOf('\r\n\r\n');
    if (split < 0) continue;
    const head = part.slice(0, split);
    const name = /content-disposition:[^\r\n]*;\s*name="([^"]*)"/i.exec(head)?.[1];
    if (name !== undefined) fields.push([name, part.slice(split + 4).replace(/\r\n$/, '')]);
  }
  return Object.fromEntries(fields);
}

function wantsHtml(req: FastifyRequest): boolean {
  return (req.headers.accept ?? '').includes('text/html');
}

/**
 * RFC 8058 one-click unsubscribe, at the path of the `List-Unsubscribe` URL, without an API
 * key: the token is the credential. POST with `List-Unsubscribe=One-Click` unsubscribes (200,
 * no redirect, no cookie, idempotent); GET only shows a page whose button makes that POST, since
 * link scanners follow every GET. A token that does not verify is a 404 and changes nothing.
 * Rate limited per client address in each API process, so a flood costs neither Redis nor MAC
 * checks beyond the limit.
 */
export async function registerUnsubscribe(
  app: V1,
  ctx: ApiContext,
  opts: { url: string; secret: string },
): Promise<void> {
  const route = unsubscribeRoute(opts.url);
  const perMinute = ctx.config.unsubscribeRateLimit ?? 600;
  if (perMinute > 0) {
    await app.register(rateLimit, {
      max: perMinute,
      timeWindow: 60_000,
      keyGenerator: (req) => req.ip,
      enableDraftSpec: true,
      errorResponseBuilder: (_req, c) =>
        new ApiProblem(
          429,
          'Too many requests',
          `more than ${c.max} unsubscribe requests a minute from this address; retry in ${Math.max(1, Math.ceil(c.ttl / 1000))} s`,
        ),
    });
  }
  // Only the two encodings RFC 8058 names: a JSON or plain-text body is a 415, not a 400.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: BODY_LIMIT },
    (_req, body, done) => done(null, parseUrlEncoded(body as string)),
  );
  app.addContentTypeParser(
    'multipart/form-data',
    { parseAs: 'string', bodyLimit: BODY_LIMIT },
    (req, body, done) => {
      try {
        done(null, parseMultipart(body as string, req.headers['content-type'] ?? ''));
      } catch (err) {
        done(err as Error, undefined);
      }
    },
  );
  // People follow these links in browsers: they get a page, clients a problem document.
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (!wantsHtml(req)) return errorHandler(err, req, reply);
    const status = err instanceof ApiProblem ? err.status : (err.statusCode ?? 500);
    const detail =
      status === 404 || status === 400
        ? 'The link is not valid: it may have been cut or changed on the way.'
        : status === 429
          ? 'Too many requests came from your network. Try again in a minute.'
          : 'Something went wrong on our side. Try again later.';
    if (status >= 500) req.log.error({ err }, 'unsubscribe failed');
    return reply
      .code(status)
      .headers(PAGE_HEADERS)
      .type('text/html; charset=utf-8')
      .send(errorPage(status, detail));
  });

  /**
   * Whom a token names, or a 404 that says nothing about why. Once retention removed the
   * campaign's recipients, a link that carries its address names that address for the
   * campaign's tenant (`carried`).
   */
  const subject = async (
    token: string,
  ): Promise<
    PageSubject & { tenant: string; campaignId: string; index: number; carried?: string }
  > => {
    let named: { campaignId: string; index: number; email?: string };
    try {
      named = readLinkToken(opts.secret, token);
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      throw new ApiProblem(404, 'Not found', 'this unsubscribe link is not valid');
    }
    const { campaignId, index, email: carried } = named;
    const [who, from] = await Promise.all([
      ctx.feedback.recipient(campaignId, index),
      ctx.redis.hget(ctx.keys.campaign(campaignId), 'from'),
    ]);
    // Carried along even now: retention may remove the recipients before the POST applies.
    const also = carried === undefined ? {} : { carried };
    if (who) return { ...who, campaignId, index, from: from ?? '', ...also };
    const retained =
      carried === undefined ? undefined : await ctx.feedback.afterRetention(campaignId);
    if (!retained || carried === undefined) {
      throw new ApiProblem(404, 'Not found', 'this unsubscribe link is not valid');
    }
    return {
      tenant: retained.tenant,
      email: carried,
      carried,
      campaignId,
      index,
      from: from ?? '',
    };
  };

  const send = (reply: FastifyReply, html: string): FastifyReply =>
    reply.code(200).headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(html);

  app.get(
    route,
    {
      attachValidation: true,
      schema: operation({
        operationId: 'showUnsubscribePage',
        summary: 'Unsubscribe page (confirms, never unsubscribes)',
        description:
          'The page a person sees when they follow the List-Unsubscribe link: it names the sender and (partly) the address, and holds a button that POSTs the one-click request. A GET never unsubscribes, since link scanners follow links. No API key; browsers get error pages as HTML.',
        tag: 'unsubscribe',
        access: 'none',
        params: TokenParams,
        response: { 200: HtmlPage('The confirmation page.') },
        problems: { 404: NOT_A_LINK, 429: TOO_MANY },
      }),
    },
    async (req, reply) => {
      requireLinkShape(req);
      const s = await subject(req.params.token);
      const [already] = await ctx.store.suppressedFlags(s.tenant, [s.email]);
      return send(reply, confirmPage(s, already === true));
    },
  );

  app.post(
    route,
    {
      bodyLimit: BODY_LIMIT,
      attachValidation: true,
      schema: operation({
        operationId: 'unsubscribeOneClick',
        summary: 'One-click unsubscribe (RFC 8058)',
        description:
          "The POST a mailbox provider (or the page's button) makes with `List-Unsubscribe=One-Click`, as application/x-www-form-urlencoded or multipart/form-data. Suppresses the address for the campaign's tenant before answering 200, without a redirect or a cookie; repeating it changes nothing. No API key: the token is the credential.",
        tag: 'unsubscribe',
        access: 'none',
        consumes: ['application/x-www-form-urlencoded', 'multipart/form-data'],
        params: TokenParams,
        body: OneClickBody,
        response: { 200: HtmlPage('Unsubscribed (also when it was done before).') },
        problems: { 404: NOT_A_LINK, 429: TOO_MANY },
      }),
    },
    async (req, reply) => {
      const arrived = process.hrtime.bigint();
      requireLinkShape(req);
      const s = await subject(req.params.token);
      try {
        const r = await ctx.feedback.apply(
          {
            campaignId: s.campaignId,
            index: s.index,
            ...(s.carried === undefined ? {} : { carried: s.carried }),
          },
          { kind: 'unsubscribed', source: 'one-click' },
        );
        if (r.afterRetention) {
          ctx.metrics.afterRetention.inc({ effect: r.applied ? 'unsubscribe' : 'repeated' });
        }
      } catch (err) {
        // The campaign was removed between the lookup and now.
        if (err instanceof FeedbackError && err.code === 'FEEDBACK_UNKNOWN_RECIPIENT') {
          throw new ApiProblem(404, 'Not found', 'this unsubscribe link is not valid');
        }
        throw err;
      }
      ctx.metrics.unsubscribeLatency.observe(
        { source: 'one-click' },
        Number(process.hrtime.bigint() - arrived) / 1e9,
      );
      return send(reply, donePage(s));
    },
  );
}
