/**
 * Connection caps shared by every worker, as leases with an expiry: a sorted set of lease ids
 * scored by the time each lease lapses. Holders renew their leases while the connection is
 * open; a worker that dies stops renewing, and its leases stop counting after their ttl.
 */
import { randomBytes } from 'node:crypto';
import { PRELUDE, LuaScript, arr, clockArg, num, type ShapingContext } from './lua.ts';

/**
 * KEYS: leases, adaptive state   ARGV: cap, ttl ms, lease id, clock
 * Returns {acquired 1/0, leases in use, effective cap}.
 */
const ACQUIRE = new LuaScript(
  PRELUDE +
    `
local now = now_ms(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local cap = math.max(1, math.floor(tonumber(ARGV[1]) * factor_at(KEYS[2], now) + 1e-9))
local used = redis.call('ZCARD', KEYS[1])
if used >= cap then return {0, used, cap} end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], expiry_ms(tonumber(last[2]) - now + 1))
return {1, used + 1, cap}
`,
);

/**
 * KEYS: leases   ARGV: ttl ms, clock, lease ids...
 * Returns one 1/0 per id: 0 for a lease that had lapsed (another holder may have its place).
 */
const RENEW = new LuaScript(
  PRELUDE +
    `
local now = now_ms(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local out = {}
for i = 3, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIRE', KEYS[1], expiry_ms(tonumber(last[2]) - now + 1)) end
return out
`,
);

/** KEYS: leases   ARGV: clock   Returns the number of live leases. */
const COUNT = new LuaScript(
  PRELUDE +
    `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms(ARGV[1]))
return redis.call('ZCARD', KEYS[1])
`,
);

export interface AcquireResult {
  /** The lease id, or undefined when the cap is reached. */
  id: string | undefined;
  /** Leases in use after the call. */
  used: number;
  /** The cap after the adaptive factor. */
  cap: number;
}

/**
 * Takes one of `cap` connection slots of a destination for `ttlMs`. `holder` names the worker
 * (host and pid), so an operator can tell whose leases are in the set.
 */
export async function acquireLease(
  ctx: ShapingContext,
  key: string,
  cap: number,
  ttlMs: number,
  holder: string,
): Promise<AcquireResult> {
  const id = `${holder}:${randomBytes(6).toString('hex')}`;
  const r = arr(
    await ACQUIRE.run(
      ctx.redis,
      [ctx.keys.leases(key), ctx.keys.adaptiveState(key)],
      [cap, Math.ceil(ttlMs), id, clockArg(ctx)],
    ),
  );
  return { id: num(r[0]) === 1 ? id : undefined, used: num(r[1]), cap: num(r[2]) };
}

/** Extends leases by `ttlMs` from now; answers, per id, whether it was still held. */
export async function renewLeases(
  ctx: ShapingContext,
  key: string,
  ids: readonly string[],
  ttlMs: number,
): Promise<boolean[]> {
  if (ids.length === 0) return [];
  const r = arr(
    await RENEW.run(ctx.redis, [ctx.keys.leases(key)], [Math.ceil(ttlMs), clockArg(ctx), ...ids]),
  );
  return r.map((x) => num(x) === 1);
}

/** Gives a lease back at once; a lease that already lapsed is ignored. */
export async function releaseLease(ctx: ShapingContext, key: string, id: string): Promise<void> {
  await ctx.redis.zrem(ctx.keys.leases(key), id);
}

/** Live leases of a destination. */
export async function countLeases(ctx: ShapingContext, key: string): Promise<number> {
  return num(await COUNT.run(ctx.redis, [ctx.keys.leases(key)], [clockArg(ctx)]));
}
