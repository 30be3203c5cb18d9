import { Type, type Static } from 'typebox';
import { enqueueExpand, type CampaignRecord } from '@volley/campaigns';
import {
  DEFAULT_TEMPLATE_LIMITS,
  TEMPLATE_LIMIT_SETTINGS,
  type TemplateLimits,
} from '@volley/config';
import type { Recipient } from '@volley/contracts';
import {
  HeaderError,
  MessageComposer,
  TemplateBudgetError,
  TemplateCostError,
  TemplateError,
  compileCampaignTemplates,
  htmlToText,
  missingVariables,
  normalizeEmail,
  templateVariables,
  type CompiledTemplates,
  type ComposedMessage,
  type RenderedContent,
} from '@volley/message';
import { tenantOf } from '../auth.ts';
import type { ApiContext, V1 } from '../context.ts';
import { iso } from '../context.ts';
import { ApiProblem, type FieldError } from '../problem.ts';
import { templateCostProblem } from './campaigns.ts';
import { operation } from '../operation.ts';
import {
  CampaignIdParams,
  CountsSchema,
  LIMITS,
  NO_SUCH_CAMPAIGN,
  StatusSchema,
} from '../schemas.ts';
import { requireSendingDomain } from '../sending-domain.ts';

/** Addresses one test send may reach: enough for a review team, too few to be a campaign. */
const MAX_TEST_RECIPIENTS = 10;

const Vars = Type.Record(Type.String(), Type.Unknown(), {
  description: `Template variables of this recipient (at most ${LIMITS.varsBytes} bytes as JSON). \`email\` is always the recipient's address, as when the sender renders.`,
});

const recipientProps = {
  email: Type.String({ maxLength: LIMITS.email, description: 'Recipient address.' }),
  vars: Type.Optional(Vars),
};

const GivenRecipient = Type.Object(recipientProps, { additionalProperties: false });

const PreviewBody = Type.Object(
  {
    recipient: Type.Optional(
      Type.Object(recipientProps, {
        additionalProperties: false,
        description: 'Render for this recipient. Give either `recipient` or `index`, not both.',
      }),
    ),
    index: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          "Render for the campaign's stored recipient at this position (0 is the first, in upload order). Neither `recipient` nor `index` (or no body at all) renders recipient 0.",
      }),
    ),
  },
  {
    additionalProperties: false,
    examples: [{ index: 0 }, { recipient: { email: 'ada@example.org', vars: { name: 'Ada' } } }],
  },
);

const Header = Type.Object({
  name: Type.String(),
  value: Type.String({
    description: 'As on the wire (encoded words stay encoded), unfolded onto one line.',
  }),
});

const PreviewResponse = Type.Object({
  campaignId: Type.String(),
  recipient: Type.Object({
    index: Type.Optional(
      Type.Integer({ description: 'Position in the campaign; absent for a given recipient.' }),
    ),
    email: Type.String({ description: 'The address as the sender writes it into `To`.' }),
    vars: Type.Record(Type.String(), Type.Unknown()),
  }),
  envelope: Type.Object(
    { from: Type.String(), to: Type.String() },
    {
      description:
        'SMTP envelope. With a bounce domain configured, senders replace `from` by a per-recipient VERP address.',
    },
  ),
  messageId: Type.String({
    description:
      'Message-ID as sent: derived from campaign and recipient index (index 0 for a given recipient).',
  }),
  subject: Type.String({ description: 'Rendered subject.' }),
  html: Type.Union([Type.String(), Type.Null()], {
    description: 'Rendered HTML part; null for a text-only campaign.',
  }),
  text: Type.String({
    description:
      'The text part as sent: the rendered text template, or derived from the HTML when the campaign has none.',
  }),
  headers: Type.Array(Header, { description: 'Message headers in order.' }),
  size: Type.Integer({ description: 'Size of the composed message in bytes.' }),
  missingVariables: Type.Array(Type.String(), {
    description:
      "Variables the templates use that this recipient's vars lack (absent, null or empty): they render as nothing.",
  }),
});

const TestSendBody = Type.Object(
  {
    recipients: Type.Array(
      Type.Union([
        Type.String({ maxLength: LIMITS.email, description: 'An address, without variables.' }),
        GivenRecipient,
      ]),
      {
        minItems: 1,
        maxItems: MAX_TEST_RECIPIENTS,
        description: `1 to ${MAX_TEST_RECIPIENTS} addresses to send the campaign's content to: each an address string or \`{email, vars}\`.`,
      },
    ),
  },
  {
    additionalProperties: false,
    examples: [{ recipients: [{ email: 'qa@example.com', vars: { name: 'QA' } }] }],
  },
);

const TestSendResponse = Type.Object({
  id: Type.String({ description: 'Id of the test send: poll GET /v1/campaigns/{id} for it.' }),
  status: StatusSchema,
  campaignId: Type.String({ description: 'The campaign whose content is sent.' }),
  recipients: Type.Object({
    added: Type.Integer(),
    duplicates: Type.Integer({ description: 'Addresses given twice, sent once.' }),
  }),
});

const TestsQuery = Type.Object(
  {
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Newest first.' }),
    ),
  },
  { additionalProperties: false },
);

const TestsResponse = Type.Object({
  tests: Type.Array(
    Type.Object({
      id: Type.String(),
      status: StatusSchema,
      createdAt: Type.String({ format: 'date-time' }),
      completedAt: Type.Optional(Type.String({ format: 'date-time' })),
      counts: CountsSchema,
    }),
    { description: 'Test sends of this campaign, newest first.' },
  ),
});

const TEMPLATE_FIELDS = ['subject', 'html', 'text'] as const;

/** Checks a recipient given in a request the way campaign creation does; answers it normalized. */
function checkRecipient(
  r: Static<typeof GivenRecipient>,
  path: string,
  errors: FieldError[],
): Recipient {
  const email = normalizeEmail(r.email);
  if (!email) {
    errors.push({
      path: `${path}.email`,
      message: `${JSON.stringify(r.email.slice(0, 100))} is not a valid address`,
    });
  }
  if (r.vars !== undefined && JSON.stringify(r.vars).length > LIMITS.varsBytes) {
    errors.push({ path: `${path}.vars`, message: `is larger than ${LIMITS.varsBytes} bytes` });
  }
  return r.vars ? { email: email ?? r.email, vars: r.vars } : { email: email ?? r.email };
}

/** A recipient given as a bare address string. */
function checkAddress(email: string, path: string, errors: FieldError[]): Recipient {
  const normalized = normalizeEmail(email);
  if (!normalized) {
    errors.push({ path, message: `${JSON.stringify(email.slice(0, 100))} is not a valid address` });
  }
  return { email: normalized ?? email };
}

function refuseIfAny(errors: FieldError[]): void {
  const first = errors[0];
  if (first) throw new ApiProblem(400, 'Invalid request', `${first.path} ${first.message}`, errors);
}

function templateProblem(field: string, who: string, detail: string): ApiProblem {
  const message = `renders with an error for ${who}: ${detail}`;
  return new ApiProblem(422, 'Template error', `${field} ${message}`, [{ path: field, message }]);
}

/** This recipient's variables make the render cost more than the budget: 422 naming the limit. */
function budgetProblem(err: TemplateBudgetError, who: string): ApiProblem {
  const message = `rendering for ${who} stopped: ${err.what} (${TEMPLATE_LIMIT_SETTINGS[err.limit]})`;
  return new ApiProblem(422, 'Template over budget', `${err.field} ${message}`, [
    { path: err.field, message },
  ]);
}

function describeError(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 500);
}

/** Which template throws for these variables: compiled alone, each field renders on its own. */
function failingField(
  rec: CampaignRecord,
  vars: Record<string, unknown>,
  limits: TemplateLimits,
): string {
  for (const field of TEMPLATE_FIELDS) {
    const src = rec[field];
    if (src === undefined) continue;
    try {
      compileCampaignTemplates({ subject: '', [field]: src }, limits).render(vars);
    } catch {
      return field;
    }
  }
  return 'template';
}

/**
 * Renders and composes one recipient with the sender's steps (see `SenderEngine.deliver`): the
 * same compile, the recipient's vars with `email` set to its address, the same composer. What
 * only a sender holds is left out: the DKIM signature, the VERP return path and the
 * per-recipient List-Unsubscribe tokens, all signed with secrets the API does not have.
 */
class Renderer {
  private readonly templates: CompiledTemplates;
  private readonly composer: MessageComposer;

  constructor(
    private readonly rec: CampaignRecord,
    private readonly limits: TemplateLimits = DEFAULT_TEMPLATE_LIMITS,
  ) {
    try {
      this.templates = compileCampaignTemplates(rec, limits);
    } catch (err) {
      if (err instanceof TemplateCostError) throw templateCostProblem(err, err.field);
      if (!(err instanceof TemplateError)) throw err;
      throw templateProblem(err.field, 'every recipient', err.detail);
    }
    try {
      this.composer = new MessageComposer({
        campaignId: rec.id,
        from: rec.from,
        replyTo: rec.replyTo,
        headers: rec.headers,
      });
    } catch (err) {
      const field = err instanceof HeaderError ? 'headers' : 'campaign';
      throw new ApiProblem(422, 'Message error', `${field}: ${describeError(err)}`, [
        { path: field, message: describeError(err) },
      ]);
    }
  }

  render(
    index: number,
    r: Recipient,
  ): { vars: Record<string, unknown>; content: RenderedContent; message: ComposedMessage } {
    const vars = { ...(r.vars ?? {}), email: r.email };
    let content: RenderedContent;
    try {
      content = this.templates.render(vars);
    } catch (err) {
      // Known at once, and rendering the fields again would spend the budget again.
      if (err instanceof TemplateBudgetError) throw budgetProblem(err, r.email);
      throw templateProblem(failingField(this.rec, vars, this.limits), r.email, describeError(err));
    }
    let message: ComposedMessage;
    try {
      message = this.composer.compose(index, r.email, content);
    } catch (err) {
      throw new ApiProblem(422, 'Message error', `${r.email}: ${describeError(err)}`, [
        { path: 'recipient', message: describeError(err) },
      ]);
    }
    return { vars, content, message };
  }
}

/** The header section as name/value pairs, unfolded (RFC 5322 §2.2.3). */
function headerList(raw: string): { name: string; value: string }[] {
  const end = raw.indexOf('\r\n\r\n');
  const head = end < 0 ? raw : raw.slice(0, end);
  const out: { name: string; value: string }[] = [];
  for (const line of head.split('\r\n')) {
    const last = out[out.length - 1];
    if (last && /^[ \t]/.test(line)) {
      last.value += line;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    out.push({ name: line.slice(0, colon), value: line.slice(colon + 1).replace(/^[ \t]+/, '') });
  }
  return out;
}

/** Preview of one rendered recipient and test sends, without starting the campaign. */
export function registerPreviewRoutes(v1: V1, ctx: ApiContext): void {
  v1.post(
    '/campaigns/:id/preview',
    {
      schema: operation({
        operationId: 'previewCampaign',
        summary: 'Preview one recipient',
        description:
          "Renders and composes the message of one recipient with the sender's own code, so what is shown is what is sent: subject, HTML and text parts, headers and size. The recipient is one of the campaign's (by `index`) or given in the body. Works in every status and changes nothing: the campaign is not started and nothing is queued. Not shown, because only senders hold their secrets: the DKIM-Signature, List-Unsubscribe headers and the VERP return path (they add a few hundred bytes). A template that fails for this recipient is a 422 naming the field; so is one whose render for this recipient goes over the render budget (loop iterations, output size or CPU time), naming the limit.",
        tag: 'campaigns',
        access: 'apiKey',
        params: CampaignIdParams,
        body: PreviewBody,
        response: { 200: PreviewResponse },
        problems: {
          404: `${NO_SUCH_CAMPAIGN} Or \`index\` is past the campaign's last recipient.`,
          422: 'A template fails for this recipient, or its render goes over the render budget: `detail` names the field or the limit.',
        },
      }),
      // A POST without a body previews the first recipient, as `{}` does.
      preValidation: async (req) => {
        req.body ??= {};
      },
    },
    async (req) => {
      const rec = await ctx.loadOwned(req.params.id, tenantOf(req));
      const body = req.body;
      if (body.recipient !== undefined && body.index !== undefined) {
        throw new ApiProblem(400, 'Invalid request', 'give either recipient or index, not both', [
          { path: 'body', message: 'give either recipient or index, not both' },
        ]);
      }
      let index: number | undefined;
      let recipient: Recipient;
      if (body.recipient) {
        const errors: FieldError[] = [];
        recipient = checkRecipient(body.recipient, 'body.recipient', errors);
        refuseIfAny(errors);
      } else {
        index = body.index ?? 0;
        const [stored] = await ctx.store.recipientWindow(rec.id, index, 1);
        if (!stored) {
          const total = rec.counts.total;
          throw new ApiProblem(
            404,
            'Not found',
            total === 0
              ? `campaign ${rec.id} has no recipients yet; give one in the body as recipient`
              : `campaign ${rec.id} has ${total} recipient${total === 1 ? '' : 's'}: index ${index} is past the last (${total - 1})`,
          );
        }
        recipient = stored;
      }
      const { vars, content, message } = new Renderer(rec, ctx.config.templateLimits).render(
        index ?? 0,
        recipient,
      );
      return {
        campaignId: rec.id,
        recipient: { index, email: message.envelope.to, vars },
        envelope: message.envelope,
        messageId: message.messageId,
        subject: content.subject,
        html: content.html ?? null,
        text: textPart(content),
        headers: headerList(message.raw),
        size: Buffer.byteLength(message.raw),
        missingVariables: missingVariables(vars, templateVariables(rec)),
      };
    },
  );

  v1.post(
    '/campaigns/:id/test',
    {
      schema: operation({
        operationId: 'sendCampaignTest',
        summary: 'Send a test',
        description:
          "Sends the campaign's content (from, subject, bodies, reply-to, headers) to 1 to 10 addresses through the whole send path (rendering, DKIM, shaping, SMTP), as a small campaign of its own: answers its id, to poll with GET /v1/campaigns/{id}. The campaign itself is not started and its status and counts do not change. Allowed for draft, scheduled, running, paused and completed campaigns (a copy of what was sent); refused with 409 for a cancelled one, whose content will never go out. Each address is rendered first: a template that fails for one is a 422 and nothing is sent. Suppressed addresses are skipped, as in any campaign.",
        tag: 'campaigns',
        access: 'apiKey',
        params: CampaignIdParams,
        body: TestSendBody,
        response: { 202: TestSendResponse },
        problems: {
          404: NO_SUCH_CAMPAIGN,
          409: 'The campaign is cancelled: its content will never be sent.',
          422: "A template fails for one of the addresses, or the From domain is not one of the tenant's sending domains: nothing was sent.",
        },
      }),
    },
    async (req, reply) => {
      const tenant = tenantOf(req);
      const errors: FieldError[] = [];
      const recipients = req.body.recipients.map((r, i) =>
        typeof r === 'string'
          ? checkAddress(r, `body.recipients[${i}]`, errors)
          : checkRecipient(r, `body.recipients[${i}]`, errors),
      );
      refuseIfAny(errors);
      const rec = await ctx.loadOwned(req.params.id, tenant);
      if (rec.status === 'cancelled') {
        throw new ApiProblem(
          409,
          'Conflict',
          `campaign ${rec.id} is cancelled: its content will not be sent, so there is nothing to test; create a new campaign`,
        );
      }
      await requireSendingDomain(ctx, tenant, rec.from, 'from');
      const renderer = new Renderer(rec, ctx.config.templateLimits);
      recipients.forEach((r, i) => renderer.render(i, r));

      const id = ctx.store.newId();
      await ctx.store.create(id, {
        tenant,
        from: rec.from,
        subject: rec.subject,
        html: rec.html,
        text: rec.text,
        replyTo: rec.replyTo,
        headers: rec.headers,
        draft: true,
      });
      // Linked before it starts, so a test send is listed even if this request fails halfway.
      await ctx.redis.zadd(ctx.keys.testSends(rec.id), Date.now(), id);
      const added = await ctx.store.addRecipients(id, recipients);
      const started = await ctx.store.start(id);
      if (started.status === 'running') await enqueueExpand(ctx.queues.control, id, 0);
      return reply.code(202).send({
        id,
        status: started.status as Static<typeof StatusSchema>,
        campaignId: rec.id,
        recipients: added,
      });
    },
  );

  v1.get(
    '/campaigns/:id/tests',
    {
      schema: operation({
        operationId: 'listCampaignTests',
        summary: 'List test sends',
        description:
          'The test sends made from this campaign, newest first, each with its status and counts.',
        tag: 'campaigns',
        access: 'apiKey',
        params: CampaignIdParams,
        querystring: TestsQuery,
        response: { 200: TestsResponse },
        problems: { 404: NO_SUCH_CAMPAIGN },
      }),
    },
    async (req) => {
      const rec = await ctx.loadOwned(req.params.id, tenantOf(req));
      const limit = req.query.limit ?? 20;
      const ids = await ctx.redis.zrevrange(ctx.keys.testSends(rec.id), 0, limit - 1);
      const records = await Promise.all(ids.map((id) => ctx.store.get(id)));
      return {
        tests: records
          .filter((t): t is CampaignRecord => t !== undefined && t.tenant === rec.tenant)
          .map((t) => ({
            id: t.id,
            status: t.status,
            createdAt: iso(t.createdAt) ?? '',
            completedAt: iso(t.completedAt),
            counts: t.counts,
          })),
      };
    },
  );
}

function textPart(content: RenderedContent): string {
  // Same rule as the composer: the text template, else the HTML turned into text.
  return content.text ?? (content.html !== undefined ? htmlToText(content.html) : '');
}
