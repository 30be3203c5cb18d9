import {
  CodedError,
  type BounceSource,
  type ComplaintSource,
  type Keys,
  type Recipient,
  type UnsubscribeSource,
} from '@volley/contracts';
import { FEEDBACK_ADDRESS, FEEDBACK_RECIPIENT } from './feedback-scripts.ts';
import { DEFAULT_EVENTS_MAXLEN } from './retention.ts';
import { leaveRunning } from './running.ts';
import { type RedisClient, LuaScript } from '@volley/redis';
import { isEnhancedStatus } from '@volley/smtp';

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
      /**
       * The recipient's address as a verified token carries it (a one-click link's encrypted
       * address, or an address whose keyed hash the token holds). Used only once retention
       * removed the campaign's recipient list: the outcome then applies to the address for the
       * campaign's tenant, which the campaign's summary keeps.
       */
      carried?: string;
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
  /**
   * Applied to the carried address alone: retention had removed the campaign's recipients.
   * The campaign's counts and events stay as they are: without its per-recipient feedback
   * bitmap nothing would keep a repeated report from counting twice, and the suppression
   * entry names the campaign.
   */
  afterRetention?: boolean;
}

export class FeedbackError extends CodedError<
  'FEEDBACK_UNKNOWN_RECIPIENT' | 'FEEDBACK_ADDRESS_MISMATCH' | 'FEEDBACK_INVALID'
> {}

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
  if (o.status !== undefined && !isEnhancedStatus(o.status)) {
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
 * atomic script on the address, then, for a campaign's recipient, one on the recipient (after
 * one read of the campaign's tenant and the recipient's address: both fixed once the campaign
 * started, and they name the keys). Both scripts change nothing when applied again.
 */
export class Feedback {
  private readonly softLimit: number;
  private readonly windowMs: number;
  private readonly eventsCap: string;

  constructor(
    readonly redis: RedisClient,
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

  /**
   * The tenant of a campaign whose per-recipient data retention removed, or undefined when the
   * campaign is not such a one (still has its recipients, or does not exist).
   */
  async afterRetention(campaignId: string): Promise<{ tenant: string } | undefined> {
    const [tenant, purgedAt] = await this.redis.hmget(
      this.keys.campaign(campaignId),
      'tenant',
      'purgedAt',
    );
    return tenant && purgedAt ? { tenant } : undefined;
  }

  async apply(
    target: FeedbackTarget,
    outcome: FeedbackOutcome,
    now = Date.now(),
  ): Promise<FeedbackResult> {
    const [reason, detail, hard, source, status, replyCode] = fields(outcome);
    const softDetail = `${this.softLimit} soft bounces within ${describeWindow(this.windowMs)}`;
    const since = now - this.windowMs;
    const onAddress = async (tenant: string, email: string, ref: string, campaignId: string) =>
      (await addressScript.run(
        this.redis,
        [
          this.keys.suppression(tenant),
          this.keys.suppressionLog(tenant),
          this.keys.suppressionInfo(tenant),
          this.keys.softBounces(tenant, email),
        ],
        [
          now,
          email,
          outcome.kind,
          reason,
          detail,
          hard ? '1' : '0',
          ref,
          this.softLimit,
          since,
          this.windowMs,
          softDetail,
          campaignId,
        ],
      )) as number[];
    if ('tenant' in target) {
      const email = target.email.toLowerCase();
      const raw = await onAddress(target.tenant, email, target.ref, '');
      return this.result(raw, outcome, { tenant: target.tenant, email });
    }
    const { campaignId: id, index } = target;
    const ref = `${id}:${index}`;
    const who = await this.recipient(id, index);
    const retained =
      who || target.carried === undefined ? undefined : await this.afterRetention(id);
    if (retained && target.carried !== undefined) {
      const email = target.carried.toLowerCase();
      const raw = await onAddress(retained.tenant, email, ref, id);
      const r = this.result(raw, outcome, {
        tenant: retained.tenant,
        email,
        campaignId: id,
        index,
      });
      return { ...r, afterRetention: true };
    }
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
    // The address first (the tenant's keys; see FEEDBACK_RECIPIENT for why the order is safe),
    // then the recipient (the campaign's keys: another slot of a cluster).
    const [onAddr = 0, sup = 0, , , soft = 0] = await onAddress(
      who.tenant,
      who.email.toLowerCase(),
      ref,
      id,
    );
    const [applied = 0, late = 0, finalized = 0, signal = 0] = (await recipientScript.run(
      this.redis,
      [
        this.keys.campaign(id),
        this.keys.done(id),
        this.keys.deferred(id),
        this.keys.events(id),
        this.keys.reasons(id),
        this.keys.feedback(id),
        this.keys.eventHold(id),
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
        this.eventsCap,
      ],
    )) as number[];
    if (applied === -1) {
      // Retention removed the recipients between the read above and now: with a carried
      // address, what was done to the address is the outcome, as it would be a moment later.
      if (target.carried !== undefined) {
        const r = this.result([onAddr, sup, 0, 0, soft], outcome, {
          ...who,
          campaignId: id,
          index,
        });
        return { ...r, afterRetention: true };
      }
      throw new FeedbackError('FEEDBACK_UNKNOWN_RECIPIENT', `campaign ${id} does not exist`);
    }
    if (signal === 2) await leaveRunning(this.redis, this.keys, id, now);
    const raw = [applied, applied === 1 ? sup : 0, late, finalized, soft];
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
