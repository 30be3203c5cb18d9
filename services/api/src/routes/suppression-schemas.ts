import { Type } from 'typebox';
import { SUPPRESSION_SOURCES } from '@volley/contracts';

/** Schemas the suppression routes share (list, import, export). */

export const SourceSchema = Type.Enum([...SUPPRESSION_SOURCES], {
  description:
    'Why the address is suppressed: `bounce` (hard, or too many soft bounces), `complaint` (reported as spam), `unsubscribe`, or `manual` (added through this API or an import).',
});

export const ReasonSchema = Type.String({
  pattern: '^[a-z0-9][a-z0-9._-]{0,39}$',
  description:
    'A lower-case token: the bounce reason (Sisimai vocabulary: userunknown, mailboxfull, ...), the complaint feedback type (abuse, ...), how the recipient unsubscribed (one-click, mailto, manual), or what an operator gave.',
});

export const EntrySchema = Type.Object({
  email: Type.String({ description: 'The suppressed address, lower-cased.' }),
  source: SourceSchema,
  reason: ReasonSchema,
  at: Type.Optional(
    Type.String({
      format: 'date-time',
      description: 'When it was suppressed; absent for entries made before dates were kept.',
    }),
  ),
  campaignId: Type.Optional(
    Type.String({ description: 'The campaign whose message led to the suppression.' }),
  ),
  detail: Type.Optional(
    Type.String({
      description: 'The bounce diagnostic, or why a soft-bouncing address was suppressed.',
    }),
  ),
});

export const FilterQuery = {
  reason: Type.Optional({ ...ReasonSchema, description: 'Only entries of this reason.' }),
  source: Type.Optional({ ...SourceSchema, description: 'Only entries of this source.' }),
};
