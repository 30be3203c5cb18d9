/**
 * Adaptive backoff: replies that match a policy rule are counted per destination in Redis
 * (shared by every worker); when a rule's threshold is reached within its window, the
 * destination is slowed (rate and connection cap times a factor, recovering step by step)
 * or suspended (all campaigns, or one). All state lives in Redis with expiries, and each
 * change is reported exactly once across workers: by the worker whose script made it, or by
 * the first {@link tick} that sees a step of recovery or the end of a suspension.
 */
import { randomBytes } from 'node:crypto';
import { matchAdaptive, type AdaptiveRule, type Policy, type Resolution } from './policy.ts';
import { PRELUDE, LuaScript, arr, clockArg, num, type ShapingContext } from './lua.ts';

/**
 * Repeated triggers multiply the factor again, but never below this (or the rule's own factor
 * if lower): under a twentieth of the configured rate a destination is better suspended.
 */
const FLOOR_FACTOR = 0.05;
/**
 * Adaptive state outlives its end by this much, so a {@link tick} that runs late still sees
 * and reports the recovery before the keys expire.
 */
const GRACE_MS = 10 * 60_000;
/** Keys a tick looks at; more than this in trouble at once is reported over several ticks. */
const TICK_BATCH = 1000;

/**
 * The destination's keys only (one slot of a cluster): the caller lists the destination in the
 * active set afterwards ({@link ACTIVATE}).
 * KEYS: match counter, adaptive state, suspensions, gcra TAT, void-before time
 * ARGV: 1 unique member, 2 window ms, 3 threshold, 4 action, 5 factor, 6 duration ms,
 *       7 recovery step, 8 step every ms, 9 suspension field, 10 rule name, 11 shaping key,
 *       12 floor factor, 13 clock, 14 grace ms, 15 rate/s (0: unlimited), 16 burst
 * Returns {0, matches} below the threshold (or in the rule's cooldown), else
 * {1, matches, factor, until, recoveredBy} for slow and {2, matches, until, 1 if new} for suspend.
 */
const OBSERVE = new LuaScript(
  PRELUDE +
    `
local now = now_ms(ARGV[13])
local win = tonumber(ARGV[2])
local threshold = tonumber(ARGV[3])
local grace = tonumber(ARGV[14])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - win)
-- Only the newest <threshold> matches matter: memory stays bounded under a flood of 421s.
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(threshold + 1))
local count = redis.call('ZCARD', KEYS[1])
redis.call('PEXPIRE', KEYS[1], expiry_ms(win))
if count < threshold then return {0, count} end
local function keep(key, ends)
  local want = expiry_ms(ends - now + grace)
  if redis.call('PTTL', key) < want then redis.call('PEXPIRE', key, want) end
end
if ARGV[4] == 'slow' then
  -- Replies to messages already in flight when the rule fired would fire it again at once;
  -- one trigger per window lets the lower rate show its effect first.
  local fired = tonumber(redis.call('HGET', KEYS[2], 'fired:' .. ARGV[10])) or 0
  if now - fired < win then return {0, count} end
  local f0 = math.max(tonumber(ARGV[12]), factor_at(KEYS[2], now) * tonumber(ARGV[5]))
  local untl = now + tonumber(ARGV[6])
  local step = tonumber(ARGV[7])
  local every = tonumber(ARGV[8])
  local steps = math.ceil((1 - f0) / step - 1e-9)
  local recovered = untl + (steps - 1) * every
  redis.call('HSET', KEYS[2], 'f0', fmt(f0), 'until', fmt(untl), 'step', step, 'every', every,
    'at', fmt(now), 'rule', ARGV[10], 'rep', fmt(f0), 'fired:' .. ARGV[10], fmt(now))
  redis.call('DEL', KEYS[1])
  keep(KEYS[2], recovered)
  -- Slots reserved until now are void (see gcra.ts); kept a day, longer than any backlog waits.
  redis.call('SET', KEYS[5], fmt(now), 'PX', 86400000)
  -- Every slot reserved before now was reserved at the old rate, and its holder reserves
  -- again on waking (see gcra.ts): restart the schedule from now at the new rate, without a
  -- burst, instead of queueing the new slots behind the void ones.
  local rate = tonumber(ARGV[15])
  if rate > 0 then
    local _, b = bursts(tonumber(ARGV[16]), f0)
    local tat = now + b * 1000 / (rate * f0)
    redis.call('SET', KEYS[4], fmt(tat), 'PX', expiry_ms(tat - now + 1))
  end
  return {1, count, fmt(f0), fmt(untl), fmt(recovered)}
end
local field = ARGV[9]
local prev = tonumber(redis.call('HGET', KEYS[3], field)) or 0
local untl = math.max(prev, now + tonumber(ARGV[6]))
redis.call('HSET', KEYS[3], field, fmt(untl), field .. '#rule', ARGV[10])
redis.call('DEL', KEYS[1])
keep(KEYS[3], untl)
-- A suspension of the whole destination voids every reserved slot (holders wait for its end
-- and reserve again), so the schedule starts afresh when it ends.
if field == '*' then
  redis.call('DEL', KEYS[4])
  redis.call('SET', KEYS[5], fmt(now), 'PX', 86400000)
end
local fresh = 0
if prev <= now then fresh = 1 end
return {2, count, fmt(untl), fresh}
`,
);

/**
 * KEYS: adaptive state, suspensions   ARGV: clock
 * Returns {now, factor, f0, until, step, every, rule, [field, until, rule]...}.
 */
const STATE = new LuaScript(
  PRELUDE +
    `
local now = now_ms(ARGV[1])
local h = redis.call('HMGET', KEYS[1], 'f0', 'until', 'step', 'every', 'rule')
local out = {fmt(now), fmt(factor_at(KEYS[1], now)), h[1] or '', h[2] or '', h[3] or '',
  h[4] or '', h[5] or ''}
local s = redis.call('HGETALL', KEYS[2])
for i = 1, #s, 2 do
  local f = s[i]
  if string.sub(f, -5) ~= '#rule' and tonumber(s[i + 1]) > now then
    out[#out + 1] = f
    out[#out + 1] = s[i + 1]
    out[#out + 1] = redis.call('HGET', KEYS[2], f .. '#rule') or ''
  end
end
return out
`,
);

/**
 * KEYS: adaptive state, suspensions, gcra TAT, void-before time
 * ARGV: clock
 * Reports, once across workers, the recovery steps and ended suspensions of one destination.
 * Returns when its adaptive state ends (0: nothing is left; the caller settles the active set,
 * another slot of a cluster, with {@link SETTLE}), then a flat list of {kind, field, value}:
 * kind `factor` or `resumed`.
 */
const TICK = new LuaScript(
  PRELUDE +
    `
local now = now_ms(ARGV[1])
local out = {''}
local ends = 0
local h = redis.call('HMGET', KEYS[1], 'rep', 'f0', 'until', 'step', 'every')
if h[2] then
  local f = fmt(factor_at(KEYS[1], now))
  if h[1] ~= f then
    redis.call('HSET', KEYS[1], 'rep', f)
    -- A recovery step: the slots reserved so far are spaced for the slower rate, and would
    -- hold the destination below its new rate until they are used up. Void them and restart
    -- the schedule (see gcra.ts); their holders reserve again at the new rate.
    redis.call('SET', KEYS[4], fmt(now), 'PX', 86400000)
    redis.call('DEL', KEYS[3])
    out[#out + 1] = 'factor'
    out[#out + 1] = ''
    out[#out + 1] = f
  end
  if tonumber(f) >= 1 then
    redis.call('DEL', KEYS[1])
  else
    local steps = math.ceil((1 - tonumber(h[2])) / tonumber(h[4]) - 1e-9)
    ends = tonumber(h[3]) + (steps - 1) * tonumber(h[5])
  end
end
local s = redis.call('HGETALL', KEYS[2])
for i = 1, #s, 2 do
  local f = s[i]
  if string.sub(f, -5) ~= '#rule' then
    local u = tonumber(s[i + 1])
    if u <= now then
      redis.call('HDEL', KEYS[2], f, f .. '#rule')
      out[#out + 1] = 'resumed'
      out[#out + 1] = f
      out[#out + 1] = s[i + 1]
    elseif u > ends then
      ends = u
    end
  end
end
out[1] = fmt(ends)
return out
`,
);

/**
 * Lists a destination in the active set until its adaptive state ends (never earlier than a
 * listing already there), and keeps the set as long as its longest state.
 * KEYS: active set   ARGV: shaping key, ends (ms), grace ms, clock
 */
const ACTIVATE = new LuaScript(
  PRELUDE +
    `
local now = now_ms(ARGV[4])
local ends = tonumber(ARGV[2])
local prev = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1])) or 0
if ends > prev then redis.call('ZADD', KEYS[1], fmt(ends), ARGV[1]) end
local want = expiry_ms(ends - now + tonumber(ARGV[3]))
if redis.call('PTTL', KEYS[1]) < want then redis.call('PEXPIRE', KEYS[1], want) end
`,
);

/**
 * After a tick: moves the destination's listing to when its state ends, or, with nothing left,
 * drops it unless it was listed again for a later end meanwhile (a rule fired since the tick
 * read the state: its listing stays, and a later tick settles it).
 * KEYS: active set   ARGV: shaping key, ends (ms; 0 nothing left), clock
 */
const SETTLE = new LuaScript(
  PRELUDE +
    `
local now = now_ms(ARGV[3])
local ends = tonumber(ARGV[2])
if ends > 0 then
  redis.call('ZADD', KEYS[1], 'XX', fmt(ends), ARGV[1])
elseif (tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1])) or 0) <= now then
  redis.call('ZREM', KEYS[1], ARGV[1])
end
`,
);

/** A change of a destination's adaptive state, for logs and metrics. */
export type ShapingEvent =
  | {
      type: 'slowed';
      key: string;
      rule: string;
      /** Matching replies counted in the window when the rule fired. */
      matches: number;
      factor: number;
      /** Epoch ms (Redis clock) until which the factor holds before it recovers. */
      until: number;
      /** Epoch ms at which the factor is back to 1 if nothing fires again. */
      recoveredBy: number;
    }
  | { type: 'recovering'; key: string; factor: number }
  | { type: 'recovered'; key: string }
  | {
      type: 'suspended';
      key: string;
      /** Set when only this campaign is suspended for the destination. */
      campaignId?: string;
      rule: string;
      matches: number;
      until: number;
    }
  | { type: 'resumed'; key: string; campaignId?: string };

export interface Reply {
  /** SMTP reply code; undefined for connection-level errors. */
  code?: number | undefined;
  text: string;
}

/**
 * Counts a reply that matches one of the policy's adaptive rules (the first match, in policy
 * order) and applies the rule's action when its threshold is reached. Replies that match no
 * rule cost no round trip. A campaign-scoped rule counts only replies with a `campaignId`.
 * Returns the change it made, if any.
 */
export async function observe(
  ctx: ShapingContext,
  policy: Policy,
  destination: Pick<Resolution, 'key' | 'rule'>,
  reply: Reply,
  campaignId?: string,
): Promise<ShapingEvent | undefined> {
  const rule = matchAdaptive(policy, reply);
  if (!rule) return undefined;
  return applyRule(ctx, rule, destination, campaignId);
}

async function applyRule(
  ctx: ShapingContext,
  rule: AdaptiveRule,
  { key, rule: limits }: Pick<Resolution, 'key' | 'rule'>,
  campaignId: string | undefined,
): Promise<ShapingEvent | undefined> {
  const perCampaign = rule.scope === 'campaign';
  if (perCampaign && campaignId === undefined) return undefined;
  const k = ctx.keys;
  const scoped = perCampaign ? campaignId : undefined;
  const r = arr(
    await OBSERVE.run(
      ctx.redis,
      [
        k.adaptiveCount(key, rule.name, scoped),
        k.adaptiveState(key),
        k.suspended(key),
        k.gcra(key),
        k.voidBefore(key),
      ],
      [
        randomBytes(6).toString('hex'),
        rule.windowMs,
        rule.threshold,
        rule.action,
        rule.factor,
        rule.durationMs,
        rule.recovery.step,
        rule.recovery.everyMs,
        k.suspendedField(scoped),
        rule.name,
        key,
        Math.min(rule.factor, FLOOR_FACTOR),
        clockArg(ctx),
        GRACE_MS,
        limits.ratePerSec ?? 0,
        limits.burst,
      ],
    ),
  );
  const kind = num(r[0]);
  const matches = num(r[1]);
  if (kind === 1 || kind === 2) {
    const ends = kind === 1 ? r[4] : r[2];
    await ACTIVATE.run(ctx.redis, [k.active], [key, String(ends), GRACE_MS, clockArg(ctx)]);
  }
  if (kind === 1) {
    return {
      type: 'slowed',
      key,
      rule: rule.name,
      matches,
      factor: num(r[2]),
      until: num(r[3]),
      recoveredBy: num(r[4]),
    };
  }
  if (kind === 2 && num(r[3]) === 1) {
    const ev: ShapingEvent = { type: 'suspended', key, rule: rule.name, matches, until: num(r[2]) };
    if (scoped !== undefined) ev.campaignId = scoped;
    return ev;
  }
  return undefined;
}

export interface Suspension {
  /** Undefined: every campaign. */
  campaignId?: string;
  until: number;
  rule: string;
}

export interface AdaptiveState {
  /** Multiplies the rate, the burst and the connection cap; 1 when not slowed. */
  factor: number;
  /** The slow-down in force, if any. */
  slow?: { rule: string; factor: number; until: number; recoveredBy: number };
  /** Suspensions in force. */
  suspensions: Suspension[];
  /** Redis time of the answer. */
  now: number;
}

function campaignOf(field: string): string | undefined {
  return field.startsWith('c:') ? field.slice(2) : undefined;
}

/** The adaptive state of a destination as every worker sees it now. */
export async function adaptiveState(ctx: ShapingContext, key: string): Promise<AdaptiveState> {
  const k = ctx.keys;
  const r = arr(
    await STATE.run(ctx.redis, [k.adaptiveState(key), k.suspended(key)], [clockArg(ctx)]),
  ).map(String);
  const state: AdaptiveState = { now: num(r[0]), factor: num(r[1]), suspensions: [] };
  const [, , f0, until, step, every, rule] = r;
  if (f0 && until && step && every && state.factor < 1) {
    const steps = Math.ceil((1 - num(f0)) / num(step) - 1e-9);
    state.slow = {
      rule: rule ?? '',
      factor: num(f0),
      until: num(until),
      recoveredBy: num(until) + (steps - 1) * num(every),
    };
  }
  for (let i = 7; i + 2 < r.length; i += 3) {
    const field = r[i] ?? '';
    const s: Suspension = { until: num(r[i + 1]), rule: r[i + 2] ?? '' };
    const c = campaignOf(field);
    if (c !== undefined) s.campaignId = c;
    state.suspensions.push(s);
  }
  return state;
}

/** Destinations with a slow-down or a suspension, soonest end first. */
export async function activeKeys(ctx: ShapingContext, limit = TICK_BATCH): Promise<string[]> {
  return ctx.redis.zrange(ctx.keys.active, '0', String(limit - 1));
}

/**
 * Reports recovery steps and ended suspensions: each change is returned by exactly one
 * caller across all workers, so every worker may tick (every few seconds) without logging
 * the same change twice.
 */
export async function tick(ctx: ShapingContext): Promise<ShapingEvent[]> {
  const k = ctx.keys;
  const keys = await activeKeys(ctx);
  const results = await Promise.all(
    keys.map(async (key) => {
      const r = arr(
        await TICK.run(
          ctx.redis,
          [k.adaptiveState(key), k.suspended(key), k.gcra(key), k.voidBefore(key)],
          [clockArg(ctx)],
        ),
      ).map(String);
      await SETTLE.run(ctx.redis, [k.active], [key, r[0] ?? '0', clockArg(ctx)]);
      const events: ShapingEvent[] = [];
      for (let i = 1; i + 2 < r.length; i += 3) {
        if (r[i] === 'factor') {
          const factor = num(r[i + 2]);
          events.push(
            factor >= 1 ? { type: 'recovered', key } : { type: 'recovering', key, factor },
          );
        } else {
          const ev: ShapingEvent = { type: 'resumed', key };
          const c = campaignOf(r[i + 1] ?? '');
          if (c !== undefined) ev.campaignId = c;
          events.push(ev);
        }
      }
      return events;
    }),
  );
  return results.flat();
}
