import { randomBytes } from 'node:crypto';
import {
  CodedError,
  type CampaignStatus,
  type FinalOutcome,
  type Keys,
  type Recipient,
  type RecipientEvent,
} from '@volley/contracts';
import {
  ADD_RECIPIENTS,
  ADVANCE,
  CLAIM,
  CREATE,
  DEFER,
  FINALIZE,
  HOLD_EVENTS,
  PARK,
  START,
  TRANSITION,
} from './scripts.ts';
import { forgetRecipients } from './destinations.ts';
import { readEvents } from './events.ts';
import { DEFAULT_EVENTS_MAXLEN } from './retention.ts';
import { leaveRunning } from './running.ts';
import { SuppressionList } from './suppressions.ts';
import { LuaScript, masterNodes, type RedisClient } from '@volley/redis';
import { num, recordOf, type CampaignDefinition, type CampaignRecord } from './record.ts';

export interface CreateCampaignInput extends CampaignDefinition {
  tenant: string;
  sendAt?: number | undefined;
  draft?: boolean | undefined;
}

/** One recipient's final outcome, as `finalizeMany` records it. */
export interface FinalEntry {
  index: number;
  email: string;
  outcome: FinalOutcome;
  reason?: string;
  detail?: string;
  /** Put the address on the tenant's suppression list (hard bounces). */
  suppress?: boolean;
}

export interface FinalizeResult {
  recorded: boolean;
  /** The window has room: expand from `cursor`. */
  refill: boolean;
  completed: boolean;
  cursor: number;
}

export class CampaignError extends CodedError<'CAMPAIGN_NOT_FOUND' | 'CAMPAIGN_NOT_DRAFT'> {}

const finalizeScript = new LuaScript(FINALIZE);
const deferScript = new LuaScript(DEFER);
const startScript = new LuaScript(START);
const advanceScript = new LuaScript(ADVANCE);
const addScript = new LuaScript(ADD_RECIPIENTS);
const createScript = new LuaScript(CREATE);
const transitionScript = new LuaScript(TRANSITION);
const parkScript = new LuaScript(PARK);
const claimScript = new LuaScript(CLAIM);
const holdScript = new LuaScript(HOLD_EVENTS);

/** Recipients per ADD_RECIPIENTS call: large enough to amortize the round trip, small enough not to block Redis. */
const ADD_CHUNK = 1000;

function toResult(raw: unknown): FinalizeResult {
  const [recorded, signal, cursor] = raw as [number, number, number];
  return { recorded: recorded === 1, refill: signal === 1, completed: signal === 2, cursor };
}

/** Campaign definitions, recipients and per-recipient state in Redis. */
export class CampaignStore {
  private readonly suppressions: SuppressionList;
  /** Events a campaign's stream keeps (VOLLEY_EVENTS_MAXLEN); 0 keeps them all. */
  private readonly eventsCap: string;

  constructor(
    readonly redis: RedisClient,
    readonly keys: Keys,
    opts: { eventsMaxLen?: number } = {},
  ) {
    this.suppressions = new SuppressionList(redis, keys);
    this.eventsCap = String(opts.eventsMaxLen ?? DEFAULT_EVENTS_MAXLEN);
  }

  newId(): string {
    return randomBytes(10).toString('hex');
  }

  /**
   * Creates the campaign; answers false, changing nothing, when it exists already (a create
   * run again under the same id).
   */
  async create(id: string, input: CreateCampaignInput, now = Date.now()): Promise<boolean> {
    const status: CampaignStatus =
      input.sendAt !== undefined && !input.draft ? 'scheduled' : 'draft';
    const fields: Record<string, string> = {
      tenant: input.tenant,
      status,
      from: input.from,
      subject: input.subject,
      createdAt: String(now),
      total: '0',
      cursor: '0',
      sent: '0',
      deferred: '0',
      bounced: '0',
      suppressed: '0',
      failed: '0',
    };
    if (input.html !== undefined) fields.html = input.html;
    if (input.text !== undefined) fields.text = input.text;
    if (input.replyTo !== undefined) fields.replyTo = input.replyTo;
    if (input.headers !== undefined) fields.headers = JSON.stringify(input.headers);
    if (input.requiredVars?.length) fields.requiredVars = JSON.stringify(input.requiredVars);
    if (input.sendAt !== undefined) fields.sendAt = String(input.sendAt);
    // Indexed first (another cluster slot): a crash between leaves a listed id with no campaign.
    await this.redis.zadd(this.keys.tenantCampaigns(input.tenant), 'NX', now, id);
    const created = await createScript.run(
      this.redis,
      [this.keys.campaign(id)],
      Object.entries(fields).flat(),
    );
    return created === 1;
  }

  /**
   * Appends recipients (already validated and normalized by the caller) to a draft or scheduled
   * campaign; addresses already present are counted as duplicates and skipped. Recipients come
   * as objects, or serialized as an upload reads them: `rows[i]` is the JSON of the recipient
   * whose canonical address is `emails[i]`. The script calls of one batch are pipelined on the
   * connection (a few at a time), so they run in order without waiting for each other.
   */
  async addRecipients(
    id: string,
    recipients:
      | readonly Recipient[]
      | { readonly emails: readonly string[]; readonly rows: readonly string[] },
  ): Promise<{ added: number; duplicates: number }> {
    // Calls sent before the first answer: enough to keep Redis busy, few enough to bound the
    // memory of a large inline list's arguments.
    const PIPELINED = 4;
    const k = this.keys;
    const keys = [k.campaign(id), k.recipients(id), k.seen(id), k.destinations(id)];
    const count = 'rows' in recipients ? recipients.rows.length : recipients.length;
    let added = 0;
    let duplicates = 0;
    const sent: Promise<unknown>[] = [];
    const settle = async (): Promise<void> => {
      const [a, d] = (await sent.shift()) as [number, number];
      added += a;
      duplicates += d;
    };
    try {
      for (let i = 0; i < count; i += ADD_CHUNK) {
        const end = Math.min(count, i + ADD_CHUNK);
        const dedupe: string[] = [];
        const json: string[] = [];
        if ('rows' in recipients) {
          for (let k = i; k < end; k++) {
            dedupe.push((recipients.emails[k] as string).toLowerCase());
            json.push(recipients.rows[k] as string);
          }
        } else {
          for (let k = i; k < end; k++) {
            const r = recipients[k] as Recipient;
            // The script takes one address a line (JSON.stringify never writes a line break).
            if (r.email.includes('\n'))
              throw new Error(`${JSON.stringify(r.email)} is not normalized`);
            dedupe.push(r.email.toLowerCase());
            json.push(
              JSON.stringify(r.vars ? { email: r.email, vars: r.vars } : { email: r.email }),
            );
          }
        }
        const args = [dedupe.join('\n'), json.join('\n')];
        const call = addScript.run(this.redis, keys, args);
        // Awaited below, in order; marked handled so that a failure while an earlier call is
        // awaited is not reported as unhandled.
        call.catch(() => undefined);
        sent.push(call);
        if (sent.length >= PIPELINED) await settle();
      }
      while (sent.length > 0) await settle();
    } catch (err) {
      await Promise.allSettled(sent);
      if (err instanceof Error && err.message.includes('NOT_DRAFT')) {
        throw new CampaignError(
          'CAMPAIGN_NOT_DRAFT',
          `campaign ${id} has started; recipients can only be added to a draft or scheduled campaign`,
        );
      }
      throw err;
    }
    return { added, duplicates };
  }

  /**
   * Starts an upload: one at a time per campaign (the lock lapses after an hour if the API
   * process dies). Answers the lock token and the list length to roll back to, or undefined
   * when another upload is running.
   */
  async beginUpload(id: string): Promise<{ token: string; startLength: number } | undefined> {
    const token = randomBytes(8).toString('hex');
    const ok = await this.redis.set(this.keys.uploadLock(id), token, 'EX', 3600, 'NX');
    if (ok !== 'OK') return undefined;
    // An upload keeps several ADD_RECIPIENTS calls in flight; loaded now (on every node of a
    // cluster), none of them meets NOSCRIPT and retries out of order (rows keep their order).
    await Promise.all(masterNodes(this.redis).map((n) => n.script('LOAD', ADD_RECIPIENTS)));
    return { token, startLength: await this.redis.llen(this.keys.recipients(id)) };
  }

  async endUpload(id: string, token: string): Promise<void> {
    const key = this.keys.uploadLock(id);
    if ((await this.redis.get(key)) === token) await this.redis.del(key);
  }

  /** Removes every recipient an aborted upload added, so a refused file changes nothing. */
  async rollbackUpload(id: string, startLength: number): Promise<void> {
    const list = this.keys.recipients(id);
    for (let from = startLength; ; from += ADD_CHUNK) {
      const rows = await this.redis.lrange(list, from, from + ADD_CHUNK - 1);
      if (rows.length === 0) break;
      const emails = rows.map((r) => (JSON.parse(r) as Recipient).email.toLowerCase());
      await forgetRecipients(this.redis, this.keys, id, emails);
    }
    if (startLength === 0) await this.redis.del(list);
    else await this.redis.ltrim(list, 0, startLength - 1);
  }

  /** Freezes the recipients and marks the campaign running. */
  async start(
    id: string,
    now = Date.now(),
  ): Promise<{ started: boolean; total: number; status: string }> {
    // Listed first (see START): sweeps skip a listed campaign that did not start.
    await this.redis.sadd(this.keys.running, id);
    const [started, total, status] = (await startScript.run(
      this.redis,
      [
        this.keys.campaign(id),
        this.keys.recipients(id),
        this.keys.seen(id),
        this.keys.uploadLock(id),
      ],
      [now],
    )) as [number, number, string];
    if (status === 'completed') await this.leaveRunning(id, now);
    return { started: started === 1, total, status };
  }

  /**
   * Changes the status if it is one of `from`; answers whether it changed and what it was.
   * Cancelling also takes the campaign out of the running set.
   */
  async transition(
    id: string,
    from: CampaignStatus[],
    to: CampaignStatus,
    now = Date.now(),
  ): Promise<{ changed: boolean; was: string }> {
    const [changed, was] = (await transitionScript.run(
      this.redis,
      [
        this.keys.campaign(id),
        this.keys.recipients(id),
        this.keys.done(id),
        this.keys.claimed(id),
        this.keys.cancelScratch(id),
      ],
      [from.join(','), to, now, to === 'running' ? 'resumedAt' : `${to}At`, this.keys.cancels, id],
    )) as [number, string];
    if (changed === 1 && to === 'cancelled') await this.leaveRunning(id, now);
    return { changed: changed === 1, was };
  }

  /**
   * Claims recipients right before their messages go to SMTP; false once the campaign is
   * cancelled (then the claims held on `indices` become cancelled recipients: see CLAIM).
   */
  async claim(id: string, indices: readonly number[]): Promise<boolean> {
    if (indices.length === 0) return true;
    const ok = await claimScript.run(
      this.redis,
      [this.keys.campaign(id), this.keys.done(id), this.keys.claimed(id)],
      [...indices],
    );
    return ok === 1;
  }

  /** Records a send job held back by a pause, if the campaign is still paused; returns the status. */
  async park(id: string, jobId: string): Promise<string> {
    return (await parkScript.run(
      this.redis,
      [this.keys.campaign(id), this.keys.parked(id)],
      [jobId],
    )) as string;
  }

  /** Takes the ids of the jobs parked during a pause, emptying the set. */
  async takeParked(id: string): Promise<string[]> {
    const key = this.keys.parked(id);
    const [[, ids]] = (await this.redis.multi().smembers(key).del(key).exec()) as [
      [unknown, string[]],
      unknown,
    ];
    return ids;
  }

  async get(id: string): Promise<CampaignRecord | undefined> {
    const h = await this.redis.hgetall(this.keys.campaign(id));
    if (!h.tenant) return undefined;
    return recordOf(id, h, await this.draftTotal(id, h.status));
  }

  /** Recipients of a campaign whose list is not frozen yet (undefined once it is). */
  async draftTotal(id: string, status: string | undefined): Promise<number | undefined> {
    return status === 'draft' || status === 'scheduled'
      ? this.redis.llen(this.keys.recipients(id))
      : undefined;
  }

  async status(id: string): Promise<CampaignStatus | undefined> {
    return ((await this.redis.hget(this.keys.campaign(id), 'status')) ?? undefined) as
      CampaignStatus | undefined;
  }

  /** Ids of running campaigns, and maybe of some that ended or did not start: check the status. */
  async runningIds(): Promise<string[]> {
    return this.redis.smembers(this.keys.running);
  }

  /** Takes a campaign out of the running set; see {@link leaveRunning}. */
  async leaveRunning(id: string, finishedAt?: number): Promise<void> {
    await leaveRunning(this.redis, this.keys, id, finishedAt);
  }

  /**
   * Where a running campaign's expansion stands: the cursor, and how many expanded recipients
   * are still in send jobs (neither final nor parked for a retry).
   */
  async windowState(
    id: string,
  ): Promise<{ status: string; cursor: number; total: number; inWindow: number } | undefined> {
    const h = await this.redis.hmget(
      this.keys.campaign(id),
      'status',
      'cursor',
      'total',
      'sent',
      'bounced',
      'suppressed',
      'failed',
      'deferred',
    );
    if (h[0] === null) return undefined;
    const [status, cursor, total, ...rest] = h;
    const counts = rest.map((v) => num(v ?? undefined));
    const final = (counts[0] ?? 0) + (counts[1] ?? 0) + (counts[2] ?? 0) + (counts[3] ?? 0);
    const c = num(cursor ?? undefined);
    return {
      status: status ?? '',
      cursor: c,
      total: num(total ?? undefined),
      inWindow: c - final - (counts[4] ?? 0),
    };
  }

  /** Reads the recipients [from, from+count) of the frozen list. */
  async recipientWindow(id: string, from: number, count: number): Promise<Recipient[]> {
    const rows = await this.redis.lrange(this.keys.recipients(id), from, from + count - 1);
    return rows.map((r) => JSON.parse(r) as Recipient);
  }

  async advanceCursor(id: string, expected: number, next: number): Promise<boolean> {
    return (await advanceScript.run(this.redis, [this.keys.campaign(id)], [expected, next])) === 1;
  }

  /** For each index, whether the recipient already reached a final state (the sent marker). */
  async doneFlags(id: string, indexes: number[]): Promise<boolean[]> {
    if (indexes.length === 0) return [];
    const args: (string | number)[] = [];
    for (const i of indexes) args.push('GET', 'u1', i);
    const bits = (await this.redis.call('BITFIELD_RO', this.keys.done(id), ...args)) as number[];
    return bits.map((b) => b === 1);
  }

  /** For each address, whether it is on the tenant's suppression list. */
  async suppressedFlags(tenant: string, emails: string[]): Promise<boolean[]> {
    if (emails.length === 0) return [];
    const r = await this.redis.smismember(
      this.keys.suppression(tenant),
      ...emails.map((e) => e.toLowerCase()),
    );
    return r.map((b) => b === 1);
  }

  /**
   * Records final outcomes of recipients of one campaign in one round trip. Each result says
   * whether that entry was recorded now (false: it already was, e.g. by a job run twice); the
   * window signals (refill, completed) are the campaign's after the whole call and are given on
   * the first entry only, so a caller acting on each result acts once.
   */
  async finalizeMany(
    id: string,
    tenant: string,
    entries: readonly FinalEntry[],
    lowWater: number,
    now = Date.now(),
  ): Promise<FinalizeResult[]> {
    if (entries.length === 0) return [];
    // The tenant's list is in another slot of a cluster than the campaign: suppressed first, so
    // a crash in between leaves the address suppressed and the outcome to the job's retry
    // (suppressing again keeps the first entry), never an outcome recorded without it.
    await this.suppressions.addBounces(tenant, id, entries, now);
    const args: (string | number)[] = [now, lowWater, id, this.eventsCap];
    for (const e of entries) {
      args.push(e.index, e.outcome, e.email, e.reason ?? '', (e.detail ?? '').slice(0, 500));
    }
    const raw = (await finalizeScript.run(
      this.redis,
      [
        this.keys.campaign(id),
        this.keys.done(id),
        this.keys.deferred(id),
        this.keys.events(id),
        this.keys.reasons(id),
        this.keys.pace(id),
        this.keys.claimed(id),
        this.keys.destinations(id),
        this.keys.eventHold(id),
      ],
      args,
    )) as number[];
    const [signal = 0, cursor = 0] = raw;
    if (signal === 2) await this.leaveRunning(id, now);
    return entries.map((_e, k) => ({
      recorded: raw[k + 2] === 1,
      refill: k === 0 && signal === 1,
      completed: k === 0 && signal === 2,
      cursor,
    }));
  }

  /** Records one recipient's final outcome (see finalizeMany). */
  async finalize(
    id: string,
    tenant: string,
    entry: FinalEntry,
    lowWater: number,
    now = Date.now(),
  ): Promise<FinalizeResult> {
    const [r] = await this.finalizeMany(id, tenant, [entry], lowWater, now);
    return r as FinalizeResult;
  }

  /** Counts of final outcomes by reason, keyed `<outcome>:<reason>` (e.g. `bounced:userunknown`). */
  async reasonCounts(id: string): Promise<Record<string, number>> {
    const h = await this.redis.hgetall(this.keys.reasons(id));
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(h)) out[k] = Number(v);
    return out;
  }

  /**
   * Final outcomes per second over the last `windowSec` whole seconds (at most 60), from the
   * per-second ring the finalize script keeps. The current, partial second is left out.
   */
  async recentRate(id: string, windowSec = 10, now = Date.now()): Promise<number> {
    const w = Math.max(1, Math.min(60, Math.floor(windowSec)));
    const h = await this.redis.hgetall(this.keys.pace(id));
    const cur = Math.floor(now / 1000);
    let sum = 0;
    for (let slot = 0; slot < 64; slot++) {
      const sec = Number(h[`s${slot}`]);
      if (sec >= cur - w && sec < cur) sum += Number(h[`n${slot}`] ?? 0);
    }
    return sum / w;
  }

  async defer(
    id: string,
    index: number,
    email: string,
    opts: { reason: string; detail: string; lowWater: number; now?: number },
  ): Promise<FinalizeResult> {
    const raw = await deferScript.run(
      this.redis,
      [
        this.keys.campaign(id),
        this.keys.done(id),
        this.keys.deferred(id),
        this.keys.events(id),
        this.keys.claimed(id),
        this.keys.eventHold(id),
      ],
      [
        index,
        email,
        opts.reason,
        opts.detail.slice(0, 500),
        opts.now ?? Date.now(),
        opts.lowWater,
        this.eventsCap,
      ],
    );
    return toResult(raw);
  }

  /** Per-recipient events oldest first; `cursor` is the last stream id seen. */
  events(
    id: string,
    cursor: string | undefined,
    limit: number,
  ): Promise<{ events: (RecipientEvent & { id: string })[]; next: string | undefined }> {
    return readEvents(this.redis, this.keys.events(id), id, cursor, limit);
  }

  /**
   * The collector's hold on a campaign's events: the length cap removes none of them after
   * `position` (none at all without one) for `leaseMs` unless the stream reaches its hard bound
   * (see EVENTS_LUA). Answers the events removed unread since the last call, for the collector
   * to count: a loss is never silent.
   */
  async holdEvents(id: string, position: string | undefined, leaseMs: number): Promise<number> {
    const lost = await holdScript.run(
      this.redis,
      [this.keys.eventHold(id), this.keys.events(id)],
      [position ?? '0-0', leaseMs],
    );
    return Number(lost);
  }
}
