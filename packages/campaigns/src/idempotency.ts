import { randomBytes } from 'node:crypto';
import type { Keys } from '@volley/contracts';
import { type RedisClient, LuaScript } from '@volley/redis';

/**
 * Claims an Idempotency-Key for a create. The key is a hash: `id` (the one campaign this key
 * may ever create, fixed by the first claim), `fp` (fingerprint of the request), `lease` and
 * `attempt` (the request creating it now, until when), then `status` and `body` (the answer,
 * once given). An old claim stored as a plain string (the campaign id) is read as a claim
 * whose attempt ended, so a retry re-runs the create of that id.
 * KEYS: the claim   ARGV: new campaign id, fingerprint, now (ms), lease (ms), ttl (s), attempt
 * Returns {'new', id} | {'resume', id} | {'done', id, status, body} | {'busy', id, ms left}
 * | {'mismatch', id}.
 */
const CLAIM = `
local now = tonumber(ARGV[3])
local lease = now + tonumber(ARGV[4])
if redis.call('TYPE', KEYS[1]).ok == 'string' then
  local id = redis.call('GET', KEYS[1])
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'id', id, 'fp', ARGV[2], 'lease', lease, 'attempt', ARGV[6])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  return {'resume', id}
end
local h = redis.call('HMGET', KEYS[1], 'id', 'fp', 'lease', 'status', 'body')
if not h[1] then
  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'fp', ARGV[2], 'lease', lease, 'attempt', ARGV[6])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  return {'new', ARGV[1]}
end
if h[2] ~= ARGV[2] then return {'mismatch', h[1]} end
if h[4] then return {'done', h[1], h[4], h[5]} end
local held = tonumber(h[3]) or 0
if held > now then return {'busy', h[1], tostring(held - now)} end
redis.call('HSET', KEYS[1], 'lease', lease, 'attempt', ARGV[6])
return {'resume', h[1]}
`;

/**
 * Records the answer of a finished create, unless another attempt recorded one first; returns
 * the answer recorded, which every replay gives from then on.
 * KEYS: the claim   ARGV: campaign id, status, body, ttl (s)
 */
const COMPLETE = `
local h = redis.call('HMGET', KEYS[1], 'status', 'body')
if h[1] then return h end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'status', ARGV[2], 'body', ARGV[3])
redis.call('HDEL', KEYS[1], 'lease', 'attempt')
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
return {ARGV[2], ARGV[3]}
`;

/**
 * Ends a failed attempt, if it is still the claim's: the next retry runs the create again at
 * once rather than after the lease. `forget` (nothing was created) drops the claim, so that
 * the retry may also be a corrected request.
 * KEYS: the claim   ARGV: attempt, '1' to forget
 */
const RELEASE = `
if redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[1] then return 0 end
if ARGV[2] == '1' then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'lease', 0)
  redis.call('HDEL', KEYS[1], 'attempt')
end
return 1
`;

const claimScript = new LuaScript(CLAIM);
const completeScript = new LuaScript(COMPLETE);
const releaseScript = new LuaScript(RELEASE);

/** An answer as it went out: replayed as these bytes, whatever happened to the campaign since. */
export interface StoredAnswer {
  status: number;
  body: string;
}

export type IdempotencyClaim =
  /** Create campaign `id`: `attempt` names this request's claim, for complete and release. */
  | { kind: 'create'; id: string; attempt: string; resumed: boolean }
  /** The create was answered: replay `answer`. */
  | { kind: 'done'; id: string; answer: StoredAnswer }
  /** Another request is creating the campaign now. */
  | { kind: 'busy'; id: string; retryInMs: number }
  /** The key was used with a different request. */
  | { kind: 'mismatch'; id: string };

export interface IdempotencyOptions {
  /** How long a key is remembered after its first use (seconds). @defaultValue 86 400 (a day) */
  ttlSeconds?: number;
  /**
   * How long one attempt holds the key before a retry may take the create over, in case the
   * attempt's process died. A create takes milliseconds; taking over a live one is safe too
   * (every step of a create is idempotent on its campaign id), only wasted work.
   * @defaultValue 30 000
   */
  leaseMs?: number;
}

/**
 * Idempotency-Keys of campaign creates. The first claim of a key fixes the id of the one
 * campaign the key may ever create; a failed or interrupted create is run again under that
 * same id, so retries can never make a second campaign, and only an answered create is
 * replayed (never an id whose campaign does not exist).
 */
export class IdempotencyKeys {
  private readonly ttl: number;
  private readonly leaseMs: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    opts: IdempotencyOptions = {},
  ) {
    // A day is how long clients are expected to retry a create.
    this.ttl = opts.ttlSeconds ?? 86_400;
    this.leaseMs = opts.leaseMs ?? 30_000;
  }

  async claim(
    tenant: string,
    key: string,
    req: { id: string; fingerprint: string; now?: number },
  ): Promise<IdempotencyClaim> {
    const attempt = randomBytes(8).toString('hex');
    const r = (await claimScript.run(
      this.redis,
      [this.keys.idempotency(tenant, key)],
      [req.id, req.fingerprint, req.now ?? Date.now(), this.leaseMs, this.ttl, attempt],
    )) as string[];
    const [kind, id = '', a, b] = r;
    switch (kind) {
      case 'new':
      case 'resume':
        return { kind: 'create', id, attempt, resumed: kind === 'resume' };
      case 'done':
        return { kind: 'done', id, answer: { status: Number(a), body: b ?? '' } };
      case 'busy':
        return { kind: 'busy', id, retryInMs: Number(a) };
      default:
        return { kind: 'mismatch', id };
    }
  }

  /** Records the answer of a create; answers the one recorded (another attempt's, if first). */
  async complete(
    tenant: string,
    key: string,
    id: string,
    answer: StoredAnswer,
  ): Promise<StoredAnswer> {
    const [status, body] = (await completeScript.run(
      this.redis,
      [this.keys.idempotency(tenant, key)],
      [id, answer.status, answer.body, this.ttl],
    )) as [string, string];
    return { status: Number(status), body };
  }

  /** Ends a failed attempt (see RELEASE); `forget` when it created nothing. */
  async release(tenant: string, key: string, attempt: string, forget: boolean): Promise<void> {
    await releaseScript.run(
      this.redis,
      [this.keys.idempotency(tenant, key)],
      [attempt, forget ? '1' : '0'],
    );
  }
}
