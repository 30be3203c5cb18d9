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
 * Admission. Reserved slots decide when a batch wakes up, but a batch can wake late (a busy
 * worker, a slow promotion from the delayed set, a wait for a connection of a capped
 * destination). Giving a late slot up wastes it for good, and a backlog then falls short of
 * the rate; sending it anyway lands it on top of the next slot's batch, above the limit. So
 * the messages that actually start pass a second GCRA of the same rate and burst, kept on
 * their start times (the admission TAT): a late batch is admitted into room that unused or
 * late slots left, and the limit holds over any window whatever the lateness. Slots are
 * reserved with half the burst (at most half a burst starts at once on the reservation
 * schedule), so admission keeps the other half as room: for the first messages of a
 * destination, which wait for a connection while the next are due, and, from a burst of 20
 * on where batches carry half a burst, for a batch that wakes up to one batch interval late,
 * which then starts at once and delays nobody. With the whole burst on both, every late
 * wake-up pushed all later batches back for good (a 50/s domain with burst 50 measured at
 * 45/s under load).
 *
 * Admission is only granted to a start within `admitWithinMs` of now (the caller waits that
 * long in process and then sends); a start further away is returned without touching the
 * admission TAT, and the caller waits in the delayed set and presents its slot again.
 */
const ADMIT =
  PRELUDE +
  `
local function admit(adm_key, now, start, n, burst, T, within)
  local adm = tonumber(redis.call('GET', adm_key)) or 0
  local earliest = adm + (n - burst) * T
  if earliest > start then start = earliest end
  if start - now > within then return start, 0 end
  local new_adm = math.max(adm, start) + n * T
  redis.call('SET', adm_key, fmt(new_adm), 'PX', expiry_ms(new_adm - now + 1))
  return start, 1
end
`;

/**
 * KEYS: gcra TAT, adaptive state, suspensions, void-before time, admission TAT
 * ARGV: rate/s (0: unlimited), burst, n, campaign field, heldSince (0: none), clock,
 *       held slot's start (0: none), admitWithinMs
 * Returns {status, now, startAt, granted, factor, until, admitted, since}; status is one of
 * `reserved` (a new slot), `held` (the caller's earlier slot still stands), `suspended`.
 */
const RESERVE = new LuaScript(
  ADMIT +
    `
local now = now_ms(ARGV[6])
local sus = suspended_until(KEYS[3], ARGV[4], now)
if sus > 0 then return {'suspended', fmt(now), fmt(sus), 0, '1', fmt(sus), 0, '0'} end
local f = factor_at(KEYS[2], now)
local held = tonumber(ARGV[5])
local n = tonumber(ARGV[3])
local rate = tonumber(ARGV[1])
local status = 'reserved'
local since = now
local start = now
if held > 0 then
  -- A slot reserved before the destination was slowed (at the old rate) or suspended (on a
  -- schedule the suspension cleared) is void: reserve again, so neither the backlog waiting in
  -- the delayed set nor the end of the slow-down puts old slots on top of new ones.
  local voidBefore = tonumber(redis.call('GET', KEYS[4])) or 0
  if voidBefore <= held then
    status = 'held'
    since = held
    start = math.max(now, tonumber(ARGV[7]))
  end
end
if rate <= 0 then return {status, fmt(now), fmt(now), n, fmt(f), '0', 1, fmt(since)} end
local T = 1000 / (rate * f)
-- The burst shrinks with the factor too: a destination that asked us to slow down should not
-- get the full burst at once.
local burst, rburst = bursts(tonumber(ARGV[2]), f)
if status == 'reserved' then
  if n > burst then n = burst end
  local tat = tonumber(redis.call('GET', KEYS[1])) or now
  local base = math.max(tat, now)
  start = math.max(now, base + (n - rburst) * T)
  local new_tat = base + n * T
  -- Once TAT is past, the key means the same as no key: let it expire then.
  redis.call('SET', KEYS[1], fmt(new_tat), 'PX', expiry_ms(new_tat - now + 1))
end
local admitted
start, admitted = admit(KEYS[5], now, start, n, burst, T, tonumber(ARGV[8]))
return {status, fmt(now), fmt(start), n, fmt(f), '0', admitted, fmt(since)}
`,
);

/**
 * KEYS: gcra TAT, adaptive state, suspensions, void-before time
 * ARGV: rate/s (0: unlimited), burst, campaign field, clock, n...
 * Reserves one slot per batch, in order, without admitting any (the batches present their
 * slots when they wake). Returns {status, now, factor, until, start1, granted1, ...}.
 */
const RESERVE_MANY = new LuaScript(
  PRELUDE +
    `
local now = now_ms(ARGV[4])
local sus = suspended_until(KEYS[3], ARGV[3], now)
if sus > 0 then return {'suspended', fmt(now), '1', fmt(sus)} end
local f = factor_at(KEYS[2], now)
local rate = tonumber(ARGV[1])
local out = {'reserved', fmt(now), fmt(f), '0'}
if rate <= 0 then
  for i = 5, #ARGV do
    out[#out + 1] = fmt(now)
    out[#out + 1] = tonumber(ARGV[i])
  end
  return out
end
local T = 1000 / (rate * f)
local burst, rburst = bursts(tonumber(ARGV[2]), f)
local tat = tonumber(redis.call('GET', KEYS[1])) or now
for i = 5, #ARGV do
  local n = math.min(tonumber(ARGV[i]), burst)
  local base = math.max(tat, now)
  out[#out + 1] = fmt(math.max(now, base + (n - rburst) * T))
  out[#out + 1] = n
  tat = base + n * T
end
redis.call('SET', KEYS[1], fmt(tat), 'PX', expiry_ms(tat - now + 1))
return out
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
   * The slot the caller holds, after waking up from the delay: `since` is the Redis time it
   * was reserved (its {@link Slot.heldSince}), `startAt` when it starts. The slot stands
   * unless the destination was slowed or suspended since; then a new one is reserved.
   */
  held?: { since: number; startAt: number } | undefined;
  /**
   * Admit the messages when they can start within this many ms (the caller then waits in
   * process and sends): they count against the admission limit from their start. Further
   * away, nothing is admitted and the caller comes back with the slot as `held`.
   * @defaultValue 0
   */
  admitWithinMs?: number | undefined;
}

export interface Slot {
  /**
   * `reserved`: a new slot; `held`: the earlier slot stands; `suspended`: nothing reserved,
   * wait `delayMs` and ask again.
   */
  status: 'reserved' | 'held' | 'suspended';
  /**
   * True when the messages are admitted: start them at `startAt` (within `admitWithinMs`).
   * False: wait `delayMs` (in the delayed set) and present the slot again.
   */
  admitted: boolean;
  /** Messages the slot covers (0 when suspended); at most the burst times the factor. */
  granted: number;
  /**
   * Epoch ms (Redis clock) at which the granted messages may start: the slot's time, or later
   * when the admission limit is still taken by late batches.
   */
  startAt: number;
  /**
   * How long to wait from now: `startAt` minus Redis' now, so the caller can add it to its
   * own clock without depending on clocks agreeing.
   */
  delayMs: number;
  /** Redis time of this answer. */
  reservedAt: number;
  /** Redis time the slot was reserved at (`reservedAt` for a new one): present it as `held.since`. */
  heldSince: number;
  /** The adaptive factor applied to the rate (1 when the destination is not slowed). */
  factor: number;
  /** Set when suspended: end of the suspension, epoch ms (Redis clock). */
  suspendedUntil?: number;
}

function checkCount(n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`reserve needs a whole number of messages of at least 1, got ${n}`);
  }
}

/**
 * Reserves a start time for `n` messages to one destination, or takes up the slot the caller
 * holds, and admits them when they can start within `admitWithinMs`; one round trip.
 */
export async function reserve(ctx: ShapingContext, req: ReserveRequest): Promise<Slot> {
  checkCount(req.n);
  const k = ctx.keys;
  const r = arr(
    await RESERVE.run(
      ctx.redis,
      [
        k.gcra(req.key),
        k.adaptiveState(req.key),
        k.suspended(req.key),
        k.voidBefore(req.key),
        k.admission(req.key),
      ],
      [
        req.ratePerSec ?? 0,
        Math.max(1, Math.floor(req.burst)),
        req.n,
        k.suspendedField(req.campaignId),
        req.held?.since ?? 0,
        clockArg(ctx),
        req.held?.startAt ?? 0,
        Math.max(0, req.admitWithinMs ?? 0),
      ],
    ),
  );
  const status = String(r[0]) as Slot['status'];
  const now = num(r[1]);
  const startAt = num(r[2]);
  const slot: Slot = {
    status,
    admitted: num(r[6]) === 1,
    granted: num(r[3]),
    startAt,
    delayMs: Math.max(0, Math.ceil(startAt - now)),
    reservedAt: now,
    heldSince: num(r[7]),
    factor: num(r[4]),
  };
  if (status === 'suspended') slot.suspendedUntil = num(r[5]);
  return slot;
}

export interface BatchSlots {
  /** `suspended`: no slot reserved; every batch waits until `suspendedUntil`. */
  status: 'reserved' | 'suspended';
  /** Redis time of the answer: each slot's `heldSince`. */
  reservedAt: number;
  /** One per batch, in order: its start (Redis clock), the wait from now and the messages covered. */
  slots: { startAt: number; delayMs: number; granted: number }[];
  suspendedUntil?: number;
}

/**
 * Reserves one slot per batch (of `sizes[i]` messages) in order, in one round trip, admitting
 * none: for a window of batches that are about to be queued, each delayed until its slot.
 */
export async function reserveMany(
  ctx: ShapingContext,
  req: Omit<ReserveRequest, 'n' | 'held' | 'admitWithinMs'> & { sizes: readonly number[] },
): Promise<BatchSlots> {
  req.sizes.forEach(checkCount);
  const k = ctx.keys;
  if (req.sizes.length === 0) return { status: 'reserved', reservedAt: 0, slots: [] };
  const r = arr(
    await RESERVE_MANY.run(
      ctx.redis,
      [k.gcra(req.key), k.adaptiveState(req.key), k.suspended(req.key), k.voidBefore(req.key)],
      [
        req.ratePerSec ?? 0,
        Math.max(1, Math.floor(req.burst)),
        k.suspendedField(req.campaignId),
        clockArg(ctx),
        ...req.sizes,
      ],
    ),
  );
  const now = num(r[1]);
  if (String(r[0]) === 'suspended') {
    return { status: 'suspended', reservedAt: now, slots: [], suspendedUntil: num(r[3]) };
  }
  const slots: BatchSlots['slots'] = [];
  for (let i = 4; i + 1 < r.length; i += 2) {
    const startAt = num(r[i]);
    slots.push({ startAt, delayMs: Math.max(0, Math.ceil(startAt - now)), granted: num(r[i + 1]) });
  }
  return { status: 'reserved', reservedAt: now, slots };
}

/**
 * KEYS: admission TAT, adaptive state   ARGV: rate/s, n, clock
 * Counts `n` admitted messages as starting now: the admission TAT moves to at least now + n·T.
 * Returns the admission TAT.
 */
const STARTED_LATE = new LuaScript(
  PRELUDE +
    `
local now = now_ms(ARGV[3])
local rate = tonumber(ARGV[1])
if rate <= 0 then return fmt(now) end
local T = 1000 / (rate * factor_at(KEYS[2], now))
local adm = tonumber(redis.call('GET', KEYS[1])) or 0
local late = now + tonumber(ARGV[2]) * T
if late > adm then
  adm = late
  redis.call('SET', KEYS[1], fmt(adm), 'PX', expiry_ms(adm - now + 1))
end
return fmt(adm)
`,
);

/**
 * Admitted messages that went out much later than admitted (their connection had to be opened,
 * or waited for a slot; the process or the receiver was slow): admission counted them from the
 * start it granted, so the batches admitted after them would arrive on top of them. Counts them
 * again as starting now, which pushes later admissions back instead; one round trip, made only
 * for such a batch. Returns the admission TAT (Redis clock).
 */
export async function startedLate(
  ctx: ShapingContext,
  req: Pick<ReserveRequest, 'key' | 'ratePerSec' | 'n'>,
): Promise<number> {
  checkCount(req.n);
  const k = ctx.keys;
  return num(
    await STARTED_LATE.run(
      ctx.redis,
      [k.admission(req.key), k.adaptiveState(req.key)],
      [req.ratePerSec ?? 0, req.n, clockArg(ctx)],
    ),
  );
}
