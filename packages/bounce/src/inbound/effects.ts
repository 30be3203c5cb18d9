/**
 * What an accepted report does: whom it is about and which outcome it records for them,
 * through the effects module the API shares (`Feedback`). Each report acts on at most one
 * recipient of one campaign, the one its credentials name:
 *
 * 1. a VERP return path in the returned message's headers, or the VERP address the report
 *    came to: both signed, so the recipient is the token's whatever the report says;
 * 2. else the returned message's Message-ID, which is not signed: it acts only when the
 *    report also names that recipient's address (`expectEmail`), so a forged id cannot touch
 *    an address the report does not name.
 *
 * Once retention removed the campaign's recipient list, a token with an address tag still
 * acts, on the address it was made for: a DSN's or complaint's recipient (Final-Recipient,
 * Original-Recipient, or the returned headers' To), or a mailto unsubscribe's sender (MAIL FROM
 * or From), when the tag matches it; the address is suppressed for the campaign's tenant. A
 * report that names no such address changes nothing (`address_mismatch`).
 *
 * Redis errors propagate (the server answers 451 and the MTA retries); every other reason not
 * to act is an outcome here, counted, and the message is accepted.
 */
import { FeedbackError, type Feedback, type FeedbackOutcome } from '@volley/campaigns';
import {
  TokenError,
  normalizeEmail,
  readMessageId,
  readVerpAddress,
  tokenNames,
  type TokenSubject,
} from '@volley/message';
import { isEnhancedStatus } from '@volley/smtp';
import { findAddresses, sameAddress } from '../address.ts';
import type { BounceRecipient, BounceReport } from '../types.ts';
import type { InboundAddress } from './addresses.ts';

export type Effect =
  | 'hard_bounce'
  | 'soft_bounce'
  | 'complaint'
  | 'unsubscribe'
  /** The same report (kind) was applied to the recipient before: nothing changed. */
  | 'repeated'
  /** Nothing to act on: `delivered`, `delayed`, `vacation`, `not_report`, `unparseable`, ... */
  | 'no_effect'
  /**
   * A report that cannot be tied to a recipient: `no_match`, `address_mismatch`,
   * `unknown_recipient` (campaign gone), `invalid_report` (a value the effects module refuses).
   */
  | 'unmatched';

export interface EffectRecord {
  effect: Effect;
  /** A bounded value: a Sisimai reason, a feedback type, or why nothing was done. */
  reason: string;
  campaignId?: string;
  index?: number;
  /** The address went onto the suppression list with this report. */
  suppressed?: boolean;
  /** Applied to the address the token carries: retention had removed the recipient list. */
  afterRetention?: boolean;
}

/** Who sent a message to a mailto unsubscribe address: its MAIL FROM and From addresses. */
export interface Sender {
  mailFrom?: string | undefined;
  /** The message's own From (and Sender) header values. */
  from: string[];
}

export interface EffectContext {
  feedback: Feedback;
  /** VOLLEY_VERP_SECRET: verifies VERP return paths quoted in returned headers. */
  secret: string;
}

/**
 * ARF feedback types (RFC 5965, 6430, 6591) and what each means here. A complaint suppresses;
 * a "not spam" vote and an authentication-failure report are no request to stop mailing.
 */
const FEEDBACK_TYPES: Record<string, 'complaint' | 'none'> = {
  abuse: 'complaint',
  fraud: 'complaint',
  virus: 'complaint',
  other: 'complaint',
  'opt-out': 'complaint',
  'not-spam': 'none',
  'auth-failure': 'none',
};

/** What a report says about one recipient, before we know which recipient. */
type Reported =
  | { entries: BounceRecipient[]; outcome: (e: BounceRecipient) => FeedbackOutcome }
  | { none: string };

/** Actions of a DSN that say the message is (still) on its way, not that it failed. */
const NOT_FAILED = new Set(['delayed', 'delivered', 'relayed', 'expanded']);

function reported(report: BounceReport): Reported {
  switch (report.kind) {
    case 'unparseable':
      return { none: 'unparseable' };
    case 'none':
      return { none: 'not_report' };
    case 'autoreply':
      return { none: 'vacation' };
    case 'feedback': {
      const raw = report.feedback?.feedbackType ?? 'other';
      const type = raw in FEEDBACK_TYPES ? raw : 'other';
      if (FEEDBACK_TYPES[type] === 'none') return { none: type };
      const detail = report.feedback?.userAgent;
      return {
        entries: report.recipients,
        outcome: () => ({ kind: 'complained', feedbackType: type, source: 'arf', detail }),
      };
    }
    case 'bounce': {
      // A delay warning is no failure: counted as a soft bounce it would also use up the
      // recipient's one bounce, and the final failure that may follow would change nothing.
      const failed = report.recipients.filter(
        (r) => !NOT_FAILED.has(r.action) && r.reason !== 'delivered' && r.reason !== 'vacation',
      );
      if (failed.length === 0) {
        return {
          none: report.recipients.some((r) => r.action === 'delayed') ? 'delayed' : 'delivered',
        };
      }
      return { entries: failed, outcome: bounceOutcome };
    }
  }
}

function bounceOutcome(e: BounceRecipient): FeedbackOutcome {
  return {
    kind: 'bounced',
    reason: e.reason,
    hardBounce: e.hardBounce,
    source: 'dsn',
    status: isEnhancedStatus(e.status) ? e.status : undefined,
    replyCode: /^[245]\d\d$/.test(e.replyCode) ? Number(e.replyCode) : undefined,
    detail: e.diagnostic || undefined,
  };
}

interface Named extends TokenSubject {
  /** Whether the name came from a signed token (else from a Message-ID). */
  signed: boolean;
}

function same(a: { campaignId: string; index: number }, b: typeof a): boolean {
  return a.campaignId === b.campaignId && a.index === b.index;
}

/** Whom the report is about, by the credentials it came with (see the module comment). */
function named(report: BounceReport, to: InboundAddress, secret: string): Named | undefined {
  const returnPath = report.original.returnPath;
  if (returnPath) {
    try {
      return { ...readVerpAddress(secret, returnPath), signed: true };
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
    }
  }
  const byId = report.original.messageId ? readMessageId(report.original.messageId) : undefined;
  // A report that came to one message's return path but returns another message of ours (a
  // forwarded bounce) is about the message it returns.
  if (to.kind === 'verp' && (!byId || same(byId, to))) {
    const tag = to.addressTag;
    return { ...ids(to), ...(tag ? { addressTag: tag } : {}), signed: true };
  }
  return byId ? { ...byId, signed: false } : undefined;
}

function names(e: BounceRecipient, email: string): boolean {
  return (
    sameAddress(e.recipient, email) ||
    (e.originalRecipient !== undefined && sameAddress(e.originalRecipient, email))
  );
}

function noEffect(reason: string): EffectRecord {
  return { effect: 'no_effect', reason };
}

/** The first of `candidates` (addresses as a report spells them) that the token was made for. */
function carried(
  secret: string,
  subject: TokenSubject,
  candidates: (string | undefined)[],
): string | undefined {
  if (subject.addressTag === undefined) return undefined;
  for (const c of candidates) {
    // As the senders wrote it: the tag is of the address in canonical form.
    const address = c === undefined ? undefined : normalizeEmail(c);
    if (address !== undefined && tokenNames(secret, subject, address)) return address;
  }
  return undefined;
}

/**
 * After retention: whether the recipient list is gone while the campaign stays, so that an
 * address the token carries may stand in for the recipient.
 */
async function retained(ctx: EffectContext, who: TokenSubject): Promise<boolean> {
  return (
    who.addressTag !== undefined &&
    (await ctx.feedback.afterRetention(who.campaignId)) !== undefined
  );
}

/** Applies what `report`, accepted for `to`, says; see the module comment. */
export async function applyReport(
  report: BounceReport,
  to: InboundAddress,
  ctx: EffectContext,
  sender: Sender = { from: [] },
): Promise<EffectRecord> {
  if (to.kind === 'unsubscribe') {
    // Someone's out-of-office notice is not that person asking to leave the list.
    if (report.kind === 'autoreply') return noEffect('vacation');
    const unsubscribed = { kind: 'unsubscribed', source: 'mailto' } as const;
    const r = await apply(ctx, ids(to), unsubscribed, 'unsubscribe', 'mailto');
    if (r.reason !== 'unknown_recipient' || !(await retained(ctx, to))) return r;
    const from = sender.from.flatMap((v) => findAddresses(v, 10).map((a) => a.address));
    const email = carried(ctx.secret, to, [sender.mailFrom, ...from]);
    if (email === undefined) return { effect: 'unmatched', reason: 'address_mismatch', ...ids(to) };
    return apply(ctx, { ...ids(to), carried: email }, unsubscribed, 'unsubscribe', 'mailto');
  }
  const what = reported(report);
  if ('none' in what) return noEffect(what.none);
  const who = named(report, to, ctx.secret);
  if (!who) return { effect: 'unmatched', reason: 'no_match' };
  const recipient = await ctx.feedback.recipient(who.campaignId, who.index);
  if (!recipient && who.signed && (await retained(ctx, who))) {
    return afterRetention(report, what.entries, what.outcome, who, ctx);
  }
  if (!recipient) return { effect: 'unmatched', reason: 'unknown_recipient', ...ids(who) };
  const entry = what.entries.find((e) => names(e, recipient.email));
  if (!who.signed && !entry)
    return { effect: 'unmatched', reason: 'address_mismatch', ...ids(who) };
  // With a token, the token names the recipient; a report that names another address (an
  // alias the message was forwarded to) still says what became of the message.
  const chosen = entry ?? what.entries[0];
  if (!chosen) return noEffect('not_report');
  const outcome = what.outcome(chosen);
  const target = who.signed ? ids(who) : { ...ids(who), expectEmail: recipient.email };
  return apply(ctx, target, outcome, ...effectOf(outcome, chosen));
}

/** The effect and reason a report's outcome for one of its entries is counted under. */
function effectOf(outcome: FeedbackOutcome, chosen: BounceRecipient): [Effect, string] {
  if (outcome.kind === 'complained') return ['complaint', outcome.feedbackType];
  return [chosen.hardBounce ? 'hard_bounce' : 'soft_bounce', chosen.reason];
}

/**
 * A report whose token names a recipient of a campaign that retention emptied: it acts on the
 * recipient it names (or, failing that, the returned message's To) when the token's address
 * tag matches, and on nobody otherwise.
 */
async function afterRetention(
  report: BounceReport,
  entries: BounceRecipient[],
  outcomeOf: (e: BounceRecipient) => FeedbackOutcome,
  who: Named,
  ctx: EffectContext,
): Promise<EffectRecord> {
  let chosen: BounceRecipient | undefined;
  let email: string | undefined;
  for (const e of entries) {
    email = carried(ctx.secret, who, [e.recipient, e.originalRecipient]);
    if (email !== undefined) {
      chosen = e;
      break;
    }
  }
  if (email === undefined && entries.length === 1) {
    // A report that names the address only in the returned headers (or names an alias the
    // message was forwarded to) is about the one recipient it lists.
    const to = findAddresses(report.original.to ?? '', 10).map((a) => a.address);
    email = carried(ctx.secret, who, to);
    chosen = entries[0];
  }
  if (email === undefined || chosen === undefined) {
    return { effect: 'unmatched', reason: 'address_mismatch', ...ids(who) };
  }
  const outcome = outcomeOf(chosen);
  return apply(ctx, { ...ids(who), carried: email }, outcome, ...effectOf(outcome, chosen));
}

function ids(n: { campaignId: string; index: number }): { campaignId: string; index: number } {
  return { campaignId: n.campaignId, index: n.index };
}

async function apply(
  ctx: EffectContext,
  target: { campaignId: string; index: number; expectEmail?: string; carried?: string },
  outcome: FeedbackOutcome,
  effect: Effect,
  reason: string,
): Promise<EffectRecord> {
  const where = ids(target);
  try {
    const { expectEmail, carried: email } = target;
    const r = await ctx.feedback.apply(
      {
        ...where,
        ...(expectEmail === undefined ? {} : { expectEmail }),
        ...(email === undefined ? {} : { carried: email }),
      },
      outcome,
    );
    const record: EffectRecord = {
      effect: r.applied ? effect : 'repeated',
      reason,
      suppressed: r.suppressed,
      ...where,
    };
    return r.afterRetention ? { ...record, afterRetention: true } : record;
  } catch (err) {
    if (!(err instanceof FeedbackError)) throw err;
    // The campaign is gone (retention) since the lookup above, or the report carried a value
    // the effects module refuses: either way there is nothing a retry would change.
    const why =
      err.code === 'FEEDBACK_ADDRESS_MISMATCH'
        ? 'address_mismatch'
        : err.code === 'FEEDBACK_UNKNOWN_RECIPIENT'
          ? 'unknown_recipient'
          : 'invalid_report';
    return { effect: 'unmatched', reason: why, ...where };
  }
}
