/**
 * Rate limiting shared by every worker: GCRA (the generic cell rate algorithm) in one Lua
 * script, as reservations. A caller asks for n messages and gets the time at which they may
 * start; it delays its job until then and does not ask again when it wakes up. The same
 * round trip checks suspensions and applies the adaptive factor, so one EVALSHA per batch
 * decides everything.
 *
 * GCRA keeps one number per destination, the theoretical arrival time (TAT) of the next
 * message: with emission interval T = 1/rate, n messages may start at
 * max(now, max(TAT, now) + (n - burst)·T), and TAT moves to max(TAT, now) + n·T. Over any
 * window of length W at most rate·W + burst messages start, and a backlog starts at exactly
 * the rate.
 */
import { PRELUDE, LuaScript, arr, clockArg, num, type ShapingContext } from './lua.ts';

/**
 * KEYS: gcra TAT, adaptive state, suspensions, void-before time
 * ARGV: rate/s (0: unlimited), burst, n, campaign field, heldSince (0: none), clock
 * Returns {status, now, startAt, granted, factor, until}; status is one of
 * `reserved` (a new slot), `held` (the caller's earlier slot still stands), `suspended`.
 */
const RESERVE = new LuaScript(
  PRELUDE +
    `
local now = now_ms(ARGV[6])
local sus = suspended_until(KEYS[3], ARGV[4], now)
if sus > 0 then return {'suspended', fmt(now), fmt(sus), 0, '1', fmt(sus)} end
local f = factor_at(KEYS[2], now)
local held = tonumber(ARGV[5])
local n = tonumber(ARGV[3])
if held > 0 then
  -- A slot reserved before the destination was slowed (at the old rate) or suspended (on a
  -- schedule the suspension cleared) is void: reserve again, so neither the backlog waiting in
  -- the delayed set nor the end of the slow-down puts old slots on top of new ones.
  local voidBefore = tonumber(redis.call('GET', KEYS[4])) or 0
  if voidBefore <= held then return {'held', fmt(now), fmt(now), n, fmt(f), '0'} end
end
local rate = tonumber(ARGV[1])
if rate <= 0 then return {'reserved', fmt(now), fmt(now), n, fmt(f), '0'} end
local T = 1000 / (rate * f)
-- The burst shrinks with the factor too: a destination that asked us to slow down should not
-- get the full burst at once.
local burst = math.max(1, math.floor(tonumber(ARGV[2]) * f + 1e-9))
if n > burst then n = burst end
local tat = tonumber(redis.call('GET', KEYS[1])) or now
local base = math.max(tat, now)
local start = math.max(now, base + (n - burst) * T)
local new_tat = base + n * T
-- Once TAT is past, the key means the same as no key: let it expire then.
redis.call('SET', KEYS[1], fmt(new_tat), 'PX', math.ceil(new_tat - now) + 1)
return {'reserved', fmt(now), fmt(start), n, fmt(f), '0'}
`,
);

export interface ReserveRequest {
  /** The shaping key (`domain:<d>`, `provider:<name>`, `default:<d>`). */
  key: string;
  /** Messages per second; `undefined`: no rate limit (suspensions still apply). */
  ratePerSec: number | undefined;
  /** The GCRA burst, at least 1. */
  burst: number;
  /** Messages to reserve; more than the (factored) burst are not granted at once. */
  n: number;
  /** Checks the campaign's own suspension too. */
  campaignId?: string | undefined;
  /**
   * Redis time (ms) at which the caller reserved the slot it still holds, after waking up from
   * the delay: the slot stands unless the destination was slowed since, and only the
   * suspension is checked.
   */
  heldSince?: number | undefined;
}

export interface Slot {
  /**
   * `reserved`: a new slot; `held`: the earlier slot stands; `suspended`: nothing reserved,
   * wait `delayMs` and ask again.
   */
  status: 'reserved' | 'held' | 'suspended';
  /** Messages the slot covers (0 when suspended); at most the burst times the factor. */
  granted: number;
  /** Epoch ms (Redis clock) at which the granted messages may start. */
  startAt: number;
  /**
   * How long to wait from now: `startAt` minus Redis' now, so the caller can add it to its
   * own clock without depending on clocks agreeing.
   */
  delayMs: number;
  /** Redis time of this answer; store it as `heldSince` with a delayed job. */
  reservedAt: number;
  /** The adaptive factor applied to the rate (1 when the destination is not slowed). */
  factor: number;
  /** Set when suspended: end of the suspension, epoch ms (Redis clock). */
  suspendedUntil?: number;
}

/** Reserves a start time for `n` messages to one destination; one round trip. */
export async function reserve(ctx: ShapingContext, req: ReserveRequest): Promise<Slot> {
  if (!Number.isInteger(req.n) || req.n < 1) {
    throw new RangeError(`reserve needs a whole number of messages of at least 1, got ${req.n}`);
  }
  const k = ctx.keys;
  const r = arr(
    await RESERVE.run(
      ctx.redis,
      [k.gcra(req.key), k.adaptiveState(req.key), k.suspended(req.key), k.voidBefore(req.key)],
      [
        req.ratePerSec ?? 0,
        Math.max(1, Math.floor(req.burst)),
        req.n,
        k.suspendedField(req.campaignId),
        req.heldSince ?? 0,
        clockArg(ctx),
      ],
    ),
  );
  const status = String(r[0]) as Slot['status'];
  const now = num(r[1]);
  const startAt = num(r[2]);
  const slot: Slot = {
    status,
    granted: num(r[3]),
    startAt,
    delayMs: Math.max(0, Math.ceil(startAt - now)),
    reservedAt: now,
    factor: num(r[4]),
  };
  if (status === 'suspended') slot.suspendedUntil = num(r[5]);
  return slot;
}
