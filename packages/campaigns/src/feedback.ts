import type { Redis } from 'ioredis';
import type {
  BounceSource,
  ComplaintSource,
  Keys,
  Recipient,
  UnsubscribeSource,
} from '@volley/contracts';
import { LuaScript } from '@volley/redis';
import { FEEDBACK_ADDRESS, FEEDBACK_RECIPIENT } from './feedback-scripts.ts';
import { DEFAULT_EVENTS_MAXLEN } from './retention.ts';

/** What was reported about a message after it was sent. */
export type FeedbackOutcome =
  | {
      kind: 'bounced';
      /** Sisimai's vocabulary: userunknown, mailboxfull, ... */
      reason: string;
      /** Permanent for the address: suppress it at once (otherwise it counts as a soft bounce). */
      hardBounce: boolean;
      source: BounceSource;
      /** Enhanced status code (`5.1.1`). */
      status?: string;
      replyCode?: number;
      /** The diagnostic text, for the event and the suppression entry. */
      detail?: string;
    }
  | {
      kind: 'complained';
      /** ARF Feedback-Type (RFC 5965): abuse, fraud, virus, other, ... */
      feedbackType: string;
      source: ComplaintSource;
      detail?: string;
    }
  | { kind: 'unsubscribed'; source: UnsubscribeSource; detail?: string };

/**
 * Whom the report is about: a recipient of a campaign (from a verified token), or an address
 * of a tenant outside any campaign.
 */
export type FeedbackTarget =
  | {
      campaignId: string;
      index: number;
      /**
       * The address the report names, when the recipient was found by something unsigned (a
       * Message-ID): the outcome applies only if it is the recipient's address.
       */
      expectEmail?: string;
    }
  | {
      tenant: string;
      email: string;
      /** Names the reported message (its Message-ID, say): the same report twice counts once. */
      ref: string;
    };

export interface FeedbackResult {
  /** False when this report was applied before: nothing changed. */
  applied: boolean;
  /** The address went onto the tenant's suppression list with this report. */
  suppressed: boolean;
  tenant: string;
  /** The address as the campaign stored it (or as given, lower-cased, for an address target). */
  email: string;
  campaignId?: string;
  index?: number;
  /** A bounce of a recipient that already had its final state: counted `lateBounced`. */
  late: boolean;
  /** A bounce that gave a recipient waiting for a retry its final state (`bounced`). */
  finalized: boolean;
  /** Soft bounces of the address within the window, counting this one (soft bounces only). */
  softBounces?: number;
}

export class FeedbackError extends Error {
  constructor(
    readonly code: 'FEEDBACK_UNKNOWN_RECIPIENT' | 'FEEDBACK_ADDRESS_MISMATCH' | 'FEEDBACK_INVALID',
    message: string,
  ) {
    super(message);
    this.name = 'FeedbackError';
  }
}

/** How soft bounces turn into suppression (VOLLEY_SOFT_BOUNCE_LIMIT and _WINDOW). */
export interface FeedbackOptions {
  /** Soft bounces of an address within the window that suppress it; 0 never. */
  softBounceLimit: number;
  /** How far back soft bounces count. */
  softBounceWindowMs: number;
  /** Events a campaign's stream keeps (VOLLEY_EVENTS_MAXLEN); 0 keeps them all. */
  eventsMaxLen?: number | undefined;
}

/**
 * Reasons, feedback types and sources become hash fields and filter values: a short token
 * keeps them readable and bounded.
 */
const TOKEN = /^[a-z0-9][a-z0-9._-]{0,39}$/;
const STATUS = /^[245]\.\d{1,3}\.\d{1,3}$/;
const KINDS: readonly string[] = ['bounced', 'complained', 'unsubscribed'];

const recipientScript = new LuaScript(FEEDBACK_RECIPIENT);
const addressScript = new LuaScript(FEEDBACK_ADDRESS);

function describeWindow(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'm'],
    [1000, 's'],
  ];
  for (const [size, unit] of units) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** `[reason, detail, hard, source, status, replyCode]` of an outcome, checked. */
function fields(o: FeedbackOutcome): [string, string, boolean, string, string, string] {
  // Callers outside TypeScript's reach (a parsed report, a webhook) may pass anything.
  if (!KINDS.includes(o.kind)) {
    throw new FeedbackError('FEEDBACK_INVALID', `unknown feedback ${JSON.stringify(o.kind)}`);
  }
  const detail = (o.detail ?? '').slice(0, 500);
  let reason: string;
  if (o.kind === 'bounced') reason = o.reason;
  else if (o.kind === 'complained') reason = o.feedbackType.toLowerCase();
  else reason = o.source;
  if (!TOKEN.test(reason)) {
    throw new FeedbackError(
      'FEEDBACK_INVALID',
      `${o.kind} reason ${JSON.stringify(reason.slice(0, 60))} must be a short lower-case token`,
    );
  }
  if (!TOKEN.test(o.source)) {
    throw new FeedbackError('FEEDBACK_INVALID', `source ${JSON.stringify(o.source)} is invalid`);
  }
  if (o.kind !== 'bounced') return [reason, detail, false, o.source, '', ''];
  if (o.status !== undefined && !STATUS.test(o.status)) {
    throw new FeedbackError('FEEDBACK_INVALID', `status ${JSON.stringify(o.status)} is invalid`);
  }
  if (o.replyCode !== undefined && !(Number.isInteger(o.replyCode) && o.replyCode >= 200)) {
    throw new FeedbackError('FEEDBACK_INVALID', `reply code ${o.replyCode} is invalid`);
  }
  return [
    reason,
    detail,
    o.hardBounce,
    o.source,
    o.status ?? '',
    o.replyCode === undefined ? '' : String(o.replyCode),
  ];
}

/**
 * Applies feedback: the effects module the bounce service and the API share. Each call is one
 * atomic script (after one read, for a campaign's recipient, of the campaign's tenant and the
 * recipient's address: both fixed once the campaign started, and they name the keys).
 */
export class Feedback {
  private readonly softLimit: number;
  private readonly windowMs: number;
  private readonly eventsCap: string;

  constructor(
    readonly redis: Redis,
    readonly keys: Keys,
    opts: FeedbackOptions,
  ) {
    this.softLimit = opts.softBounceLimit;
    this.windowMs = opts.softBounceWindowMs;
    this.eventsCap = String(opts.eventsMaxLen ?? DEFAULT_EVENTS_MAXLEN);
  }

  /** The tenant and address of a campaign's recipient, or undefined when there is none. */
  async recipient(
    campaignId: string,
    index: number,
  ): Promise<{ tenant: string; email: string } | undefined> {
    if (!Number.isSafeInteger(index) || index < 0) return undefined;
    const [tenant, row] = await Promise.all([
      this.redis.hget(this.keys.campaign(campaignId), 'tenant'),
      this.redis.lindex(this.keys.recipients(campaignId), index),
    ]);
    if (!tenant || !row) return undefined;
    const email = (JSON.parse(row) as Recipient).email;
    return { tenant, email };
  }

  async apply(
    target: FeedbackTarget,
    outcome: FeedbackOutcome,
    now = Date.now(),
  ): Promise<FeedbackResult> {
    const [reason, detail, hard, source, status, replyCode] = fields(outcome);
    const softDetail = `${this.softLimit} soft bounces within ${describeWindow(this.windowMs)}`;
    const since = now - this.windowMs;
    if ('tenant' in target) {
      const email = target.email.toLowerCase();
      const raw = (await addressScript.run(
        this.redis,
        [
          this.keys.suppression(target.tenant),
          this.keys.suppressionLog(target.tenant),
          this.keys.suppressionInfo(target.tenant),
          this.keys.softBounces(target.tenant, email),
        ],
        [
          now,
          email,
          outcome.kind,
          reason,
          detail,
          hard ? '1' : '0',
          target.ref,
          this.softLimit,
          since,
          this.windowMs,
          softDetail,
        ],
      )) as number[];
      return this.result(raw, outcome, { tenant: target.tenant, email });
    }
    const { campaignId: id, index } = target;
    const who = await this.recipient(id, index);
    if (!who) {
      throw new FeedbackError(
        'FEEDBACK_UNKNOWN_RECIPIENT',
        `campaign ${id} has no recipient ${index}`,
      );
    }
    if (
      target.expectEmail !== undefined &&
      target.expectEmail.toLowerCase() !== who.email.toLowerCase()
    ) {
      throw new FeedbackError(
        'FEEDBACK_ADDRESS_MISMATCH',
        `recipient ${index} of campaign ${id} is not ${JSON.stringify(target.expectEmail.slice(0, 100))}`,
      );
    }
    const raw = (await recipientScript.run(
      this.redis,
      [
        this.keys.campaign(id),
        this.keys.done(id),
        this.keys.deferred(id),
        this.keys.events(id),
        this.keys.reasons(id),
        this.keys.feedback(id),
        this.keys.running,
        this.keys.suppression(who.tenant),
        this.keys.suppressionLog(who.tenant),
        this.keys.suppressionInfo(who.tenant),
        this.keys.softBounces(who.tenant, who.email.toLowerCase()),
        this.keys.finished,
      ],
      [
        now,
        id,
        index,
        who.email,
        outcome.kind,
        reason,
        detail,
        hard ? '1' : '0',
        source,
        status,
        replyCode,
        this.softLimit,
        since,
        this.windowMs,
        softDetail,
        this.eventsCap,
      ],
    )) as number[];
    if (raw[0] === -1) {
      throw new FeedbackError('FEEDBACK_UNKNOWN_RECIPIENT', `campaign ${id} does not exist`);
    }
    return this.result(raw, outcome, { ...who, campaignId: id, index });
  }

  private result(
    raw: number[],
    outcome: FeedbackOutcome,
    who: Pick<FeedbackResult, 'tenant' | 'email' | 'campaignId' | 'index'>,
  ): FeedbackResult {
    const [applied, suppressed, late, finalized, soft] = raw;
    const r: FeedbackResult = {
      ...who,
      applied: applied === 1,
      suppressed: suppressed === 1,
      late: late === 1,
      finalized: finalized === 1,
    };
    if (outcome.kind === 'bounced' && !outcome.hardBounce && applied === 1) r.softBounces = soft;
    return r;
  }
}
