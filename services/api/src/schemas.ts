import { Type, type Static } from 'typebox';

/** Limits that keep one request from exhausting the API or Redis. */
export const LIMITS = {
  subject: 998,
  body: 1024 * 1024,
  email: 320,
  headerCount: 50,
  varsBytes: 16 * 1024,
} as const;

export const StatusSchema = Type.Union([
  Type.Literal('draft'),
  Type.Literal('scheduled'),
  Type.Literal('running'),
  Type.Literal('paused'),
  Type.Literal('completed'),
  Type.Literal('cancelled'),
]);

export const RecipientSchema = Type.Object(
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
    recipients: Type.Optional(Type.Array(RecipientSchema, { description: 'Inline recipients.' })),
  },
  { additionalProperties: false },
);
export type CreateCampaignBody = Static<typeof CreateCampaignBody>;

export const CampaignIdParams = Type.Object({
  id: Type.String({ pattern: '^[a-f0-9]{20}$', description: 'Campaign id.' }),
});

export const CreatedResponse = Type.Object({
  id: Type.String(),
  status: StatusSchema,
  recipients: Type.Optional(Type.Object({ added: Type.Integer(), duplicates: Type.Integer() })),
});

export const CountsSchema = Type.Object({
  total: Type.Integer(),
  cancelled: Type.Integer(),
  queued: Type.Integer(),
  sent: Type.Integer(),
  deferred: Type.Integer(),
  bounced: Type.Integer(),
  suppressed: Type.Integer(),
  failed: Type.Integer(),
});

export const CampaignResponse = Type.Object({
  id: Type.String(),
  status: StatusSchema,
  from: Type.String(),
  subject: Type.String(),
  createdAt: Type.String(),
  sendAt: Type.Optional(Type.String()),
  startedAt: Type.Optional(Type.String()),
  completedAt: Type.Optional(Type.String()),
  counts: CountsSchema,
});

export const EventsQuery = Type.Object({
  cursor: Type.Optional(
    Type.String({ pattern: '^\\d+-\\d+$', description: 'The `next` of the previous page.' }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
});

export const EventsResponse = Type.Object({
  events: Type.Array(
    Type.Object({
      index: Type.Integer(),
      email: Type.String(),
      outcome: Type.String(),
      reason: Type.Optional(Type.String()),
      detail: Type.Optional(Type.String()),
      at: Type.String(),
    }),
  ),
  next: Type.Optional(Type.String()),
});

export const ProblemSchema = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
});
