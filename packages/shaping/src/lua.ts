import type { RedisClient } from '@volley/redis';
import type { ShapingKeys } from '@volley/contracts';

export { LuaScript } from '@volley/redis';

/** What the shaping modules share: the connection, the key layout and the clock. */
export interface ShapingContext {
  redis: RedisClient;
  keys: ShapingKeys;
  /**
   * Epoch ms to use instead of Redis `TIME`; for tests of time-driven steps only. In service
   * the scripts read Redis `TIME`, because the workers' own clocks disagree.
   */
  clock?: (() => number) | undefined;
}

/** The clock argument of every script: 0 means "use Redis TIME". */
export function clockArg(ctx: ShapingContext): number {
  return ctx.clock ? ctx.clock() : 0;
}

/**
 * The burst slots are reserved with: half the rule's burst (at least 1). Admission keeps the
 * other half as room: for batches that wake up late, and for the first messages of a
 * destination, which wait for a connection to open while the next ones are already due.
 */
export function reservationBurst(burst: number): number {
  return Math.max(1, Math.floor(Math.max(1, Math.floor(burst + 1e-9)) / 2));
}

/**
 * From this burst on, batches carry half the burst, so admission keeps room for a whole
 * batch that wakes up late. Below it, batches are the whole burst: halving them would cost
 * more Redis work per message (a job per few messages) than the occasional late wake-up
 * costs in rate.
 */
const HALF_BATCHES_FROM_BURST = 20;

/** The messages a batch of a destination with this burst carries. */
export function batchSizeFor(burst: number): number {
  const a = Math.max(1, Math.floor(burst + 1e-9));
  return a >= HALF_BATCHES_FROM_BURST ? Math.floor(a / 2) : a;
}

/**
 * Shortest key expiry while a test's clock is injected. Expiries run on Redis' own clock,
 * which the injected one does not follow: a key set to lapse 20 ms of test time ahead would
 * lapse after 20 real ms, and a loaded machine takes longer than that between two calls, so
 * state the test's clock still holds current vanished. State past its time means the same
 * as no state, so keeping it longer changes no answer.
 */
const INJECTED_CLOCK_MIN_EXPIRY_MS = 60_000;

/**
 * Helpers prepended to every script.
 * - `now_ms(arg)`: the injected clock, or Redis TIME in ms with microsecond fraction.
 * - `expiry_ms(ms)`: the expiry to give a key whose state lapses `ms` from now; see
 *   {@link INJECTED_CLOCK_MIN_EXPIRY_MS}.
 * - `fmt(x)`: a number as text with microsecond precision. Lua numbers returned to Redis are
 *   cut to integers and `tostring` keeps only 14 digits, too few for epoch ms with fractions.
 * - `factor_at(state, now)`: the adaptive rate factor of a destination: `f0` until `until`,
 *   then `step` higher every `every` ms, up to 1. A pure function of time, so every worker
 *   computes the same factor and no timer has to raise it.
 * - `bursts(burst, f)`: the admission burst (the rule's burst times the factor, at least 1)
 *   and the reservation burst ({@link reservationBurst} of it). Slots are reserved with the
 *   smaller one, so in a backlog the admission GCRA keeps room to start a batch that wakes
 *   late at once instead of pushing every later batch back (see gcra.ts).
 */
export const PRELUDE = `
local clock_injected = false
local function now_ms(arg)
  local t = tonumber(arg)
  if t and t > 0 then
    clock_injected = true
    return t
  end
  local r = redis.call('TIME')
  return tonumber(r[1]) * 1000 + tonumber(r[2]) / 1000
end
local function expiry_ms(ms)
  ms = math.ceil(ms)
  if clock_injected and ms < ${INJECTED_CLOCK_MIN_EXPIRY_MS} then return ${INJECTED_CLOCK_MIN_EXPIRY_MS} end
  return ms
end
local function fmt(x) return string.format('%.3f', x) end
local function factor_at(state, now)
  local h = redis.call('HMGET', state, 'f0', 'until', 'step', 'every')
  local f0 = tonumber(h[1])
  if not f0 then return 1 end
  local u = tonumber(h[2])
  if now < u then return f0 end
  local f = f0 + (math.floor((now - u) / tonumber(h[4])) + 1) * tonumber(h[3])
  if f >= 1 - 1e-9 then return 1 end
  return f
end
local function bursts(b, f)
  local a = math.max(1, math.floor(b * f + 1e-9))
  return a, math.max(1, math.floor(a / 2))
end
local function suspended_until(susp, field, now)
  local v = redis.call('HMGET', susp, '*', field)
  local u = math.max(tonumber(v[1]) or 0, tonumber(v[2]) or 0)
  if u > now then return u end
  return 0
end
`;

/** Parses a number returned by a script (as text by `fmt`, or as an integer). */
export function num(v: unknown): number {
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) throw new Error(`shaping script returned ${String(v)}, not a number`);
  return n;
}

/** The reply of a script as an array, or a clear error. */
export function arr(v: unknown): unknown[] {
  if (!Array.isArray(v)) throw new Error(`shaping script returned ${String(v)}, not an array`);
  return v as unknown[];
}
