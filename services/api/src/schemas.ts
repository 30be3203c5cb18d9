import { Type, type Static } from 'typebox';

/** Limits that keep one request from exhausting the API or Redis. */
export const LIMITS = {
  subject: 998,
  body: 1024 * 1024,
  email: 320,
  headerCount: 50,
  varsBytes: 16 * 1024,
} as const;

// One enum rather than a union of literals: the document then lists the states in one place.
export const StatusSchema = Type.Enum(
  ['draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled'],
  { description: 'Lifecycle state of the campaign.' },
);

const RecipientSchema = Type.Object(
  {
    email: Type.String({ maxLength: LIMITS.email, description: 'Recipient address.' }),
    vars: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'Template variables for this recipient.',
      }),
    ),
  },
  { additionalProperties: false },
);

const RequiredVarsSchema = Type.Array(
  Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_-]*(\\.[A-Za-z0-9_-]+)*$', maxLength: 200 }),
  {
    maxItems: 100,
    uniqueItems: true,
    description:
      'Variables every recipient must have, not empty (`name`, or `user.city` in NDJSON `vars`; a CSV names each in a column): inline recipients and uploaded rows without them are refused, with their position or line.',
  },
);

export const CreateCampaignBody = Type.Object(
  {
    from: Type.String({
      minLength: 3,
      maxLength: 400,
      description: '`addr@example.com` or `Name <addr@example.com>`.',
    }),
    subject: Type.String({
      minLength: 1,
      maxLength: LIMITS.subject,
      description: 'Handlebars template.',
    }),
    html: Type.Optional(
      Type.String({ maxLength: LIMITS.body, description: 'Handlebars template of the HTML part.' }),
    ),
    text: Type.Optional(
      Type.String({
        maxLength: LIMITS.body,
        description: 'Handlebars template of the text part; derived from html when absent.',
      }),
    ),
    replyTo: Type.Optional(Type.String({ maxLength: 400 })),
    headers: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        maxProperties: LIMITS.headerCount,
        description: 'Extra headers; names and values without CR/LF, structural headers refused.',
      }),
    ),
    sendAt: Type.Optional(
      Type.String({ format: 'date-time', description: 'Start at this time (ISO 8601).' }),
    ),
    draft: Type.Optional(
      Type.Boolean({ description: 'Keep as a draft: add recipients, then start.' }),
    ),
    requiredVars: Type.Optional(RequiredVarsSchema),
    recipients: Type.Optional(
      Type.Array(RecipientSchema, {
        description:
          'Inline recipients; with neither `draft` nor `sendAt`, the campaign starts at once. Upload larger lists to /v1/campaigns/{id}/recipients.',
      }),
    ),
  },
  {
    additionalProperties: false,
    examples: [
      {
        from: 'News <news@example.com>',
        subject: 'Hello {{name}}',
        html: '<p>Hello {{name}}</p>',
        recipients: [{ email: 'ada@example.org', vars: { name: 'Ada' } }],
      },
    ],
  },
);
export type CreateCampaignBody = Static<typeof CreateCampaignBody>;

export const CampaignIdParams = Type.Object({
  id: Type.String({ pattern: '^[a-f0-9]{20}$', description: 'Campaign id.' }),
});

/** The 404 of every route under /v1/campaigns/{id}: another tenant's campaign is not found either. */
export const NO_SUCH_CAMPAIGN = 'No campaign with this id belongs to this tenant.';

export const CreatedResponse = Type.Object(
  {
    id: Type.String({ description: 'Campaign id.' }),
    status: StatusSchema,
    recipients: Type.Optional(
      Type.Object(
        {
          added: Type.Integer(),
          duplicates: Type.Integer({ description: 'Addresses given more than once.' }),
        },
        { description: 'Inline recipients accepted.' },
      ),
    ),
  },
  { description: 'Accepted; the campaign id and its status.' },
);

export const CountsSchema = Type.Object(
  {
    total: Type.Integer(),
    cancelled: Type.Integer(),
    queued: Type.Integer(),
    sent: Type.Integer(),
    deferred: Type.Integer(),
    bounced: Type.Integer(),
    suppressed: Type.Integer(),
    failed: Type.Integer(),
    lateBounced: Type.Integer({
      description:
        'Recipients whose bounce was reported (by a DSN) after they reached a final state, normally `sent`: they stay counted there, so this is not added to the others.',
    }),
    complained: Type.Integer({
      description: 'Recipients who reported the message as spam (ARF); counted in `sent` too.',
    }),
    unsubscribed: Type.Integer({
      description: 'Recipients who unsubscribed through this message; counted in `sent` too.',
    }),
  },
  {
    description:
      'Recipients by state; `total` is every recipient of the campaign, and `queued`, `sent`, `deferred`, `bounced`, `suppressed`, `failed` and `cancelled` add up to it. `lateBounced`, `complained` and `unsubscribed` count feedback about recipients already in one of those, each recipient once; no count ever goes down.',
  },
);

export const CampaignResponse = Type.Object(
  {
    id: Type.String(),
    status: StatusSchema,
    from: Type.String(),
    subject: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
    sendAt: Type.Optional(Type.String({ format: 'date-time' })),
    startedAt: Type.Optional(Type.String({ format: 'date-time' })),
    completedAt: Type.Optional(Type.String({ format: 'date-time' })),
    requiredVars: Type.Optional(RequiredVarsSchema),
    cancelledAt: Type.Optional(
      Type.String({
        format: 'date-time',
        description:
          'When the cancel was accepted: from then on only messages already claimed for SMTP go out.',
      }),
    ),
    counts: CountsSchema,
  },
  { description: 'The campaign, its status and its counts.' },
);

export const EventsQuery = Type.Object({
  cursor: Type.Optional(
    Type.String({
      // Stream ids are two 64-bit numbers: longer digits would reach Redis as an error.
      pattern: '^\\d{1,19}-\\d{1,19}$',
      description: 'The `next` of the previous page.',
    }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
});

export const EventsResponse = Type.Object(
  {
    events: Type.Array(
      Type.Object({
        index: Type.Integer({ description: 'Position of the recipient in the campaign.' }),
        email: Type.String(),
        outcome: Type.String({
          description:
            'sent, deferred, bounced, suppressed, failed; and the feedback that followed a send: bounced (reported later), complained, unsubscribed.',
        }),
        reason: Type.Optional(
          Type.String({
            description:
              'Bounce reason (Sisimai vocabulary); for a complaint its ARF feedback type, for an unsubscribe how it came.',
          }),
        ),
        detail: Type.Optional(Type.String({ description: 'The SMTP reply or the error.' })),
        at: Type.String({ format: 'date-time' }),
        source: Type.Optional(
          Type.String({
            description:
              'Where feedback came from: dsn or webhook (bounce), arf or webhook (complaint), one-click, mailto or manual (unsubscribe). Absent for the outcomes of the send itself.',
          }),
        ),
        status: Type.Optional(
          Type.String({ description: 'Enhanced status code of a reported bounce (5.1.1).' }),
        ),
        replyCode: Type.Optional(
          Type.Integer({ description: 'SMTP reply code of a reported bounce.' }),
        ),
        hardBounce: Type.Optional(
          Type.Boolean({
            description: 'A reported bounce is permanent: the address is suppressed.',
          }),
        ),
        late: Type.Optional(
          Type.Boolean({
            description:
              'A reported bounce of a recipient that already had its final state (counted in `lateBounced`).',
          }),
        ),
      }),
    ),
    next: Type.Optional(
      Type.String({ description: 'Cursor of the next page; absent when there are no more yet.' }),
    ),
  },
  { description: 'Per-recipient outcomes, oldest first.' },
);

/** One invalid field or line: the same shape in problems and in the answers of uploads. */
export const FieldErrorSchema = Type.Object({
  path: Type.String({
    description: 'Where: `body.from`, `body.recipients[3].email`, `line 12`, ...',
  }),
  message: Type.String(),
  line: Type.Optional(
    Type.Integer({ description: 'Line of the uploaded file (CSV: the header is line 1).' }),
  ),
});

/** RFC 9457 problem details: the body of every error answer, as application/problem+json. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'URI naming the kind of problem.' }),
    title: Type.String({ description: 'Short summary of the kind of problem.' }),
    status: Type.Integer({ description: 'The HTTP status code.' }),
    detail: Type.String({ description: 'What went wrong with this request and what to do.' }),
    errors: Type.Optional(
      Type.Array(FieldErrorSchema, {
        description: 'Every invalid field or line, when there are several.',
      }),
    ),
  },
  {
    description: 'An RFC 9457 problem.',
    examples: [
      {
        type: 'https://volley.dev/problems/invalid-campaign',
        title: 'Invalid campaign',
        status: 400,
        detail:
          'body.from is not a valid address (use addr@example.com or Name <addr@example.com>)',
        errors: [
          {
            path: 'body.from',
            message: 'is not a valid address (use addr@example.com or Name <addr@example.com>)',
          },
        ],
      },
    ],
  },
);

/** Answer of the health probes, /healthz and /readyz. */
export const HealthResponse = Type.Object({
  status: Type.String({ description: '`ok`, `ready` or why the service is not ready.' }),
});

const OptionalNumber = Type.Optional(Type.Union([Type.Number(), Type.Null()]));

export const ShapingResponse = Type.Object({
  enabled: Type.Boolean({ description: 'False when the API runs with VOLLEY_SHAPING_POLICY=off.' }),
  at: Type.Optional(
    Type.String({ format: 'date-time', description: 'Redis time of the snapshot.' }),
  ),
  policy: Type.Optional(Type.String({ description: 'Where the policy comes from.' })),
  destinations: Type.Array(
    Type.Object(
      {
        key: Type.String({ description: 'Shaping key: `domain:<d>` or `provider:<name>`.' }),
        metricLabel: Type.String(),
        rule: Type.String({ description: '`defaults`, `providers.<name>` or `domains.<d>`.' }),
        ratePerSec: OptionalNumber,
        burst: Type.Number(),
        connections: OptionalNumber,
        factor: Type.Number({ description: 'Adaptive factor in force; 1 is full speed.' }),
        effectiveRatePerSec: OptionalNumber,
        effectiveConnections: OptionalNumber,
        connectionsInUse: Type.Integer(),
        delayed: Type.Integer({
          description: 'Messages holding a reserved slot not due yet (waiting in the delayed set).',
        }),
        slow: Type.Optional(Type.Unknown({ description: 'The slow-down in force, if any.' })),
        suspensions: Type.Array(Type.Unknown(), {
          description: 'Suspensions in force, of the destination or of one campaign for it.',
        }),
      },
      { additionalProperties: true },
    ),
  ),
});
