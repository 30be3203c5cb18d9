/**
 * Retention: what a campaign keeps in Redis once it is over. A finished campaign (completed or
 * cancelled) keeps its summary (the campaign hash: definition, status, counts, times), its
 * counts by reason and its test-send list; VOLLEY_RETENTION after it finished, its
 * per-recipient data goes: the recipient list, the done, deferred, claimed and feedback
 * bitmaps, the events stream and the collector's position in it, the dedup set, the rate ring,
 * what a pause left, and its jobs BullMQ still holds (failed ones are kept for inspection).
 * Until then bounces, complaints and unsubscribes that arrive late still find their recipient;
 * after it, the tokens in the mail carry what they need (see `@volley/message` tokens).
 * Event streams are also capped in length as they are written (EVENTS_LUA, which waits for a
 * running collector up to a hard bound) and, for campaigns that run longer than the retention,
 * trimmed by age, but never past what a running collector has consumed.
 */
import type { Queue } from 'bullmq';
import { DEFAULT_RETENTION } from '@volley/config';
import type { Keys } from '@volley/contracts';
import { LuaScript, type RedisClient } from '@volley/redis';

/** Events a campaign's stream keeps when the caller does not say (VOLLEY_EVENTS_MAXLEN's default). */
export const DEFAULT_EVENTS_MAXLEN = DEFAULT_RETENTION.eventsMaxLen;

/** Campaigns one sweep removes at most: each removal frees a few keys in one short script. */
const SWEEP_BATCH = 100;

/**
 * Campaigns of the tenants' indexes one sweep looks at for ones that finished before the
 * finished set existed: one HMGET each, so a pass over a long history stays short.
 */
const BACKFILL_BATCH = 1000;

/** The tenant every deployment has (VOLLEY_API_KEY's), whether or not it is in the tenants hash. */
const DEFAULT_TENANT = 'default';

/** The field of the backfill hash that says every tenant's index was looked through. */
const BACKFILL_DONE = '*';

/**
 * Removes a finished campaign's per-recipient data and marks its summary with the time, unless
 * it was removed already. Checked in the script, so a campaign that is somehow running again
 * (it cannot be, but the index could be stale) keeps its data. The caller takes the campaign
 * out of the finished index and the collector's positions afterwards (other slots of a Redis
 * Cluster than the campaign's keys): a crash in between leaves it indexed, and the next sweep
 * only un-indexes it.
 * KEYS: campaign hash, then the keys to delete
 * ARGV: now (ms)
 * Returns 1 when removed now, 0 when not (not finished, already removed).
 */
const PURGE = `
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'completed' and status ~= 'cancelled' then return 0 end
if redis.call('HEXISTS', KEYS[1], 'purgedAt') == 1 then return 0 end
redis.call('DEL', unpack(KEYS, 2))
redis.call('HSET', KEYS[1], 'purgedAt', ARGV[1])
return 1
`;
const purgeScript = new LuaScript(PURGE);

export interface RetentionOptions {
  /** VOLLEY_RETENTION. */
  retentionMs: number;
  /** The queues whose jobs of a removed campaign go with it (the sender's). */
  queues?: { send: Queue; control: Queue } | undefined;
  /** Epoch ms; tests pass their own to be 30 days on without waiting for them. */
  clock?: () => number;
}

export interface SweepResult {
  /** Campaigns whose per-recipient data was removed. */
  purged: string[];
  /** Running campaigns whose event streams were trimmed by age. */
  trimmed: number;
  /** Campaigns that finished before the finished set existed, entered into it by this pass. */
  backfilled: number;
  /** BullMQ jobs of the removed campaigns taken out of their queues. */
  jobsRemoved: number;
}

export class Retention {
  private readonly clock: () => number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly opts: RetentionOptions,
  ) {
    this.clock = opts.clock ?? Date.now;
  }

  /**
   * Every key of a campaign that grows with its recipients. What stays: the hash (summary and
   * counts), the counts by reason and the list of its test sends (one entry per test).
   */
  private perRecipient(id: string): string[] {
    const k = this.keys;
    return [
      k.recipients(id),
      k.done(id),
      k.deferred(id),
      k.claimed(id),
      k.cancelScratch(id),
      k.seen(id),
      k.parked(id),
      k.uploadLock(id),
      k.events(id),
      k.eventHold(id),
      k.feedback(id),
      k.pace(id),
      // Empty once every recipient has an outcome, but a cancelled campaign's stays.
      k.destinations(id),
    ];
  }

  /**
   * One pass: enters up to BACKFILL_BATCH campaigns that finished before retention existed,
   * removes the per-recipient data (and jobs) of up to SWEEP_BATCH campaigns that finished
   * more than the retention ago (the oldest first; the next pass takes the rest), and trims
   * running campaigns' events older than the retention. Safe to run from several senders at
   * once: each removal is one script that checks before it deletes.
   */
  async sweep(): Promise<SweepResult> {
    const now = this.clock();
    const cutoff = now - this.opts.retentionMs;
    const backfilled = await this.backfill();
    const due = await this.redis.zrangebyscore(
      this.keys.finished,
      '-inf',
      cutoff,
      'LIMIT',
      0,
      SWEEP_BATCH,
    );
    const purged: string[] = [];
    let jobsRemoved = 0;
    for (const id of due) {
      const done = await purgeScript.run(
        this.redis,
        [this.keys.campaign(id), ...this.perRecipient(id)],
        [now],
      );
      // Its index entry was due (read above): out of the index, and its stream's collector
      // position with it, whether removed now or by a pass that crashed before this.
      await this.redis.zrem(this.keys.finished, id);
      await this.redis.hdel(this.keys.eventPositions, id);
      if (done !== 1) continue;
      purged.push(id);
      jobsRemoved += await this.removeJobs(id);
    }
    const trimmed = await this.trimRunning(cutoff);
    return { purged, trimmed, backfilled, jobsRemoved };
  }

  /**
   * Trims running campaigns' events older than the cutoff. Stream ids start with their time in
   * ms, so MINID drops exactly the older entries. While a collector runs (it holds its lock),
   * no trim goes past the last event it consumed of that stream: webhooks and feedback metrics
   * come from those events.
   */
  private async trimRunning(cutoff: number): Promise<number> {
    const running = await this.redis.smembers(this.keys.running);
    if (running.length === 0) return 0;
    const [collector, positions] = await Promise.all([
      this.redis.exists(this.keys.collectorLock),
      this.redis.hmget(this.keys.eventPositions, ...running),
    ]);
    // One command a stream (auto-pipelined), not a pipeline: a cluster's streams are on
    // several nodes.
    const trims: Promise<number>[] = [];
    for (const [k, id] of running.entries()) {
      // MINID keeps ids >= its argument: the consumed event itself may stay, the next may go.
      const minId = collector === 1 ? floorAt(cutoff, positions[k] ?? undefined) : String(cutoff);
      if (minId !== undefined) trims.push(this.redis.xtrim(this.keys.events(id), 'MINID', minId));
    }
    await Promise.all(trims);
    return running.length;
  }

  /**
   * Enters campaigns of the tenants' indexes that finished before the finished set existed,
   * BACKFILL_BATCH per pass, remembering per tenant how far it looked. Campaigns that finish
   * later enter the set as they finish, so once every index was looked through it stops.
   */
  private async backfill(): Promise<number> {
    const { redis, keys } = this;
    if ((await redis.hget(keys.retentionBackfill, BACKFILL_DONE)) !== null) return 0;
    const tenants = [...new Set([DEFAULT_TENANT, ...(await redis.hkeys(keys.tenants))])].sort();
    const offsets = await redis.hmget(keys.retentionBackfill, ...tenants);
    let budget = BACKFILL_BATCH;
    let entered = 0;
    for (const [k, tenant] of tenants.entries()) {
      const from = Number(offsets[k] ?? 0);
      if (budget === 0) return entered;
      const ids = await redis.zrange(
        keys.tenantCampaigns(tenant),
        String(from),
        String(from + budget - 1),
      );
      for (const id of ids) entered += await this.enterFinished(id);
      budget -= ids.length;
      await redis.hset(keys.retentionBackfill, tenant, from + ids.length);
    }
    // Every index looked through within this pass's budget.
    if (budget > 0) await redis.hset(keys.retentionBackfill, BACKFILL_DONE, '1');
    return entered;
  }

  /**
   * Enters a campaign that finished before the finished set existed, with the time it finished,
   * unless it is there already or was removed. A read, then ZADD NX (the set is in another slot
   * of a cluster than the campaign): a finished campaign stays finished, and one removed in
   * between is only un-indexed by the next sweep. Returns 1 when entered now.
   */
  private async enterFinished(id: string): Promise<number> {
    const [status, completedAt, cancelledAt, createdAt, purgedAt] = await this.redis.hmget(
      this.keys.campaign(id),
      'status',
      'completedAt',
      'cancelledAt',
      'createdAt',
      'purgedAt',
    );
    if (purgedAt !== null || (status !== 'completed' && status !== 'cancelled')) return 0;
    const at = (status === 'completed' ? completedAt : cancelledAt) ?? completedAt ?? createdAt;
    return this.redis.zadd(this.keys.finished, 'NX', at ?? '0', id);
  }

  /** Takes a removed campaign's jobs out of the queues (what BullMQ still holds of it). */
  private async removeJobs(id: string): Promise<number> {
    const queues = this.opts.queues;
    if (!queues) return 0;
    let removed = 0;
    // Send batch ids start with the campaign id (and their retries add to it); expansion
    // jobs are `expand-<id>-<from>`.
    for (const [queue, match] of [
      [queues.send, `${id}-*`],
      [queues.control, `expand-${id}-*`],
    ] as const) {
      for (const set of [queue.keys.failed, queue.keys.completed]) {
        if (set === undefined) continue;
        let cursor = '0';
        do {
          const [next, found] = await this.redis.zscan(set, cursor, 'MATCH', match, 'COUNT', 1000);
          cursor = next;
          for (let i = 0; i < found.length; i += 2) {
            const jobId = found[i];
            if (jobId !== undefined) removed += await queue.remove(jobId);
          }
        } while (cursor !== '0');
      }
    }
    return removed;
  }
}

/** The MINID of an age trim that stops at a consumer's position; undefined: trim nothing. */
function floorAt(cutoff: number, position: string | undefined): string | undefined {
  if (position === undefined) return undefined;
  const [ms = '0'] = position.split('-');
  return Number(ms) < cutoff ? position : String(cutoff);
}
