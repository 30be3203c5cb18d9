/**
 * Retention: what a campaign keeps in Redis once it is over. A finished campaign (completed or
 * cancelled) keeps its summary (the campaign hash: definition, status, counts, times) and its
 * counts by reason; VOLLEY_RETENTION after it finished, its per-recipient data goes: the
 * recipient list, the done, deferred and feedback bitmaps, the events stream, the dedup set,
 * the rate ring and what a pause left. Until then bounces, complaints and unsubscribes that
 * arrive late still find their recipient. Event streams are also capped in length as they are
 * written (EVENTS_LUA) and, for campaigns that run longer than the retention, trimmed by age.
 */
import type { Redis } from 'ioredis';
import { DEFAULT_RETENTION } from '@volley/config';
import type { Keys } from '@volley/contracts';
import { LuaScript } from '@volley/redis';

/** Events a campaign's stream keeps when the caller does not say (VOLLEY_EVENTS_MAXLEN's default). */
export const DEFAULT_EVENTS_MAXLEN = DEFAULT_RETENTION.eventsMaxLen;

/** Campaigns one sweep removes at most: each removal frees a few keys in one short script. */
const SWEEP_BATCH = 100;

/**
 * Removes a finished campaign's per-recipient data if it finished at or before the cutoff,
 * and marks its summary with the time. Checked in the script, so a campaign that is somehow
 * running again (it cannot be, but the set could be stale) keeps its data.
 * KEYS: campaign hash, finished set, then the keys to delete
 * ARGV: campaign id, cutoff (ms), now (ms)
 * Returns 1 when removed now, 0 when not (not due, not finished, already removed).
 */
const PURGE = `
local at = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not at or tonumber(at) > tonumber(ARGV[2]) then return 0 end
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'completed' and status ~= 'cancelled' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
redis.call('DEL', unpack(KEYS, 3))
redis.call('HSET', KEYS[1], 'purgedAt', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`;
const purgeScript = new LuaScript(PURGE);

export interface RetentionOptions {
  /** VOLLEY_RETENTION. */
  retentionMs: number;
  /** Epoch ms; tests pass their own to be 30 days on without waiting for them. */
  clock?: () => number;
}

export interface SweepResult {
  /** Campaigns whose per-recipient data was removed. */
  purged: string[];
  /** Running campaigns whose events older than the retention were trimmed. */
  trimmed: number;
}

export class Retention {
  private readonly clock: () => number;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly opts: RetentionOptions,
  ) {
    this.clock = opts.clock ?? Date.now;
  }

  /** The keys a finished campaign no longer needs; its hash and counts by reason stay. */
  private perRecipient(id: string): string[] {
    const k = this.keys;
    return [
      k.recipients(id),
      k.done(id),
      k.deferred(id),
      k.seen(id),
      k.parked(id),
      k.uploadLock(id),
      k.events(id),
      k.feedback(id),
      k.pace(id),
    ];
  }

  /**
   * One pass: removes the per-recipient data of up to SWEEP_BATCH campaigns that finished
   * more than the retention ago (the oldest first; the next pass takes the rest), and trims
   * running campaigns' events older than the retention. Safe to run from several senders at
   * once: each removal is one script that checks before it deletes.
   */
  async sweep(): Promise<SweepResult> {
    const now = this.clock();
    const cutoff = now - this.opts.retentionMs;
    const due = await this.redis.zrangebyscore(
      this.keys.finished,
      '-inf',
      cutoff,
      'LIMIT',
      0,
      SWEEP_BATCH,
    );
    const purged: string[] = [];
    for (const id of due) {
      const done = await purgeScript.run(
        this.redis,
        [this.keys.campaign(id), this.keys.finished, ...this.perRecipient(id)],
        [id, cutoff, now],
      );
      if (done === 1) purged.push(id);
    }
    const running = await this.redis.smembers(this.keys.running);
    if (running.length > 0) {
      // Stream ids start with their time in ms: MINID drops the entries older than the cutoff,
      // exactly (the cut node is split), so no event outlives the retention by a node's worth.
      const pipe = this.redis.pipeline();
      for (const id of running) pipe.xtrim(this.keys.events(id), 'MINID', cutoff);
      await pipe.exec();
    }
    return { purged, trimmed: running.length };
  }
}
