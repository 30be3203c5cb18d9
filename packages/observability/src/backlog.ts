/**
 * The backlog split: every send job not being sent is in BullMQ's wait list or its prioritized
 * set (due, waiting for a sender: the prioritized set holds the due batches of demoted campaigns,
 * render-cost.ts in packages/delivery) or its delayed set (not due yet). Its job data says why a
 * delayed job waits: a rate
 * slot reserved by shaping (`shaping`) or a wait for a connection (`slotWaits`) is throttled;
 * a later attempt (`attempt` > 1) without either waits for its retry backoff; a first attempt
 * without either waits for a suspension to end, or for its paused campaign to resume.
 */
import { QUEUES, type Keys } from '@volley/contracts';
import type { BacklogState } from '@volley/metrics';
import { type RedisClient, LuaScript } from '@volley/redis';

/**
 * Jobs looked at per script call: each call reads that many job hashes (about 4 KB each with
 * 50 recipients), a few milliseconds of Redis time, so other clients wait at most that long.
 */
const CHUNK = 500;

/**
 * Job ids of the wait list (and of the prioritized set) whose first sighting is remembered, from
 * the end a sender takes next: enough to date the oldest sendable batch, bounded whatever the
 * backlog.
 */
const WAIT_TRACKED = 10_000;

/**
 * Sums a range of jobs' recipients by campaign and class, reading only their `data` field:
 * `<campaign>\n<class>`, count pairs. Classes: due (delayed but due: a sender will promote it),
 * throttled, retrying, held (first attempt without a slot: a suspension or a pause), waiting
 * (in the wait list). A recipient is counted by its `{"i":<n>,"email":` opening inside an array
 * (after `[` or `,`): a recipient's vars are an object after `"vars":`, so a variable named
 * `i` does not count; only vars holding arrays of recipient-shaped objects would.
 * KEYS: source (`delayed` zset, `prioritized` zset or `wait` list key); job keys are built from
 * ARGV[1], as BullMQ's own scripts do (the queue's hash tag keeps them in the source's slot).
 * ARGV: job key prefix, kind (z: delayed, scores are due times; p: prioritized, scores are
 * priorities, every job due; l: wait list), start, stop, now (ms).
 */
const SCAN = new LuaScript(`
local prefix, source, kind = ARGV[1], KEYS[1], ARGV[2]
local now = tonumber(ARGV[5])
local items
if kind == 'z' then
  items = redis.call('ZRANGE', source, ARGV[3], ARGV[4], 'WITHSCORES')
elseif kind == 'p' then
  items = redis.call('ZRANGE', source, ARGV[3], ARGV[4])
else
  items = redis.call('LRANGE', source, ARGV[3], ARGV[4])
end
local step = 1
if kind == 'z' then step = 2 end
local agg = {}
local minDue = -1
for k = 1, #items, step do
  local data = redis.call('HGET', prefix .. items[k], 'data')
  if data then
    local cid = string.match(data, '"campaignId":"([^"]*)"') or ''
    local _, n = string.gsub(data, '[%[,]{"i":%d+,"email":', '')
    local class = 'waiting'
    if kind == 'z' then
      local due = math.floor(tonumber(items[k + 1]) / 4096)
      if due <= now then
        class = 'due'
        if minDue < 0 or due < minDue then minDue = due end
      elseif string.find(data, '"shaping":', 1, true) or string.find(data, '"slotWaits":', 1, true) then
        class = 'throttled'
      elseif (tonumber(string.match(data, '"attempt":(%d+)')) or 1) > 1 then
        class = 'retrying'
      else
        class = 'held'
      end
    end
    local key = cid .. '\\n' .. class
    agg[key] = (agg[key] or 0) + n
  end
end
local out = {tostring(minDue)}
for key, n in pairs(agg) do
  out[#out + 1] = key
  out[#out + 1] = tostring(n)
end
return out`);

export interface BacklogSplit {
  /** Messages by state; `scheduled` and `unexpanded` come from the campaigns (see gauges.ts). */
  messages: Record<Extract<BacklogState, 'sendable' | 'throttled' | 'retrying' | 'paused'>, number>;
  /** Epoch ms since which the oldest sendable message has been due; undefined with none. */
  oldestDueAt: number | undefined;
}

/** Reads the send queue's wait list, prioritized set and delayed set into the backlog split. */
export class BacklogReader {
  /**
   * When each job id of the wait list and of the prioritized set was first seen there (a
   * promoted job keeps no due time).
   */
  private readonly seenWaiting = new Map<string, number>();
  private readonly seenPrioritized = new Map<string, number>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  async read(
    now: number,
    campaignStatus: (id: string) => Promise<string | undefined>,
  ): Promise<BacklogSplit> {
    const base = `${this.keys.bullPrefix(QUEUES.send)}:${QUEUES.send}:`;
    const byCampaign = new Map<string, Map<string, number>>();
    let oldestDueAt: number | undefined;
    const scan = async (source: string, kind: 'z' | 'p' | 'l', total: number): Promise<void> => {
      for (let start = 0; start < total; start += CHUNK) {
        const raw = (await SCAN.run(
          this.redis,
          [source],
          [base, kind, start, start + CHUNK - 1, now],
        )) as string[];
        const minDue = Number(raw[0]);
        if (minDue >= 0) oldestDueAt = Math.min(oldestDueAt ?? minDue, minDue);
        for (let k = 1; k + 1 < raw.length; k += 2) {
          const [cid = '', cls = ''] = (raw[k] ?? '').split('\n');
          let m = byCampaign.get(cid);
          if (!m) byCampaign.set(cid, (m = new Map<string, number>()));
          m.set(cls, (m.get(cls) ?? 0) + Number(raw[k + 1]));
        }
      }
    };
    const [delayedCount, prioritizedCount, waitCount] = await Promise.all([
      this.redis.zcard(`${base}delayed`),
      this.redis.zcard(`${base}prioritized`),
      this.redis.llen(`${base}wait`),
    ]);
    await scan(`${base}delayed`, 'z', delayedCount);
    await scan(`${base}prioritized`, 'p', prioritizedCount);
    await scan(`${base}wait`, 'l', waitCount);
    const [waitIds, prioritizedIds] = await Promise.all([
      this.redis.lrange(`${base}wait`, -WAIT_TRACKED, -1),
      this.redis.zrange(`${base}prioritized`, '0', String(WAIT_TRACKED - 1)),
    ]);
    for (const since of [
      firstSeen(this.seenWaiting, waitIds, now),
      firstSeen(this.seenPrioritized, prioritizedIds, now),
    ]) {
      if (since !== undefined) oldestDueAt = Math.min(oldestDueAt ?? now, since);
    }

    const messages = { sendable: 0, throttled: 0, retrying: 0, paused: 0 };
    for (const [cid, classes] of byCampaign) {
      const paused = (await campaignStatus(cid)) === 'paused';
      for (const [cls, n] of classes) {
        if (paused) messages.paused += n;
        else if (cls === 'due' || cls === 'waiting') messages.sendable += n;
        else if (cls === 'retrying') messages.retrying += n;
        // `held` of a campaign that is not paused: waiting for a suspension to end.
        else messages.throttled += n;
      }
    }
    return { messages, oldestDueAt };
  }
}

/**
 * The earliest first sighting among `ids` (due jobs of the wait list or the prioritized set, from
 * the end a sender takes next), to within one round: BullMQ keeps no due time once a job is
 * promoted. Records the new ids in `seen` and forgets those no longer there.
 */
function firstSeen(seen: Map<string, number>, ids: string[], now: number): number | undefined {
  const present = new Set(ids);
  for (const id of seen.keys()) if (!present.has(id)) seen.delete(id);
  let oldest: number | undefined;
  for (const id of ids) {
    const at = seen.get(id) ?? now;
    seen.set(id, at);
    oldest = Math.min(oldest ?? at, at);
  }
  return oldest;
}
