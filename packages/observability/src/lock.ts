/**
 * The collector lock: one replica at a time computes the cluster-wide gauges and reads the
 * event streams. It is a Redis key holding the holder's random token with an expiry, renewed
 * while held; a replica that dies lets it lapse and another takes over within the ttl.
 */
import { randomBytes } from 'node:crypto';
import { type RedisClient, LuaScript } from '@volley/redis';

/** Extends the lock only while this token holds it (never someone else's). */
const RENEW = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`);

/** Deletes the lock only while this token holds it. */
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`);

export class LeaderLock {
  readonly token = randomBytes(12).toString('hex');
  private heldUntil = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
    private readonly ttlMs: number,
  ) {}

  /**
   * Takes the lock if free, or renews it if this replica holds it. True while held. Judged by
   * the local clock too: a renewal that came back later than the ttl may have lost the lock
   * in between, so the holder counts only on the time it asked plus the ttl.
   */
  async acquire(): Promise<boolean> {
    const asked = Date.now();
    let held: boolean;
    if (this.heldUntil > asked) {
      held = (await RENEW.run(this.redis, [this.key], [this.token, this.ttlMs])) === 1;
      if (!held) held = await this.take();
    } else {
      held = await this.take();
    }
    this.heldUntil = held ? asked + this.ttlMs : 0;
    return held;
  }

  private async take(): Promise<boolean> {
    return (await this.redis.set(this.key, this.token, 'PX', this.ttlMs, 'NX')) === 'OK';
  }

  /** True while the last acquire's ttl has not run out. */
  get held(): boolean {
    return this.heldUntil > Date.now();
  }

  async release(): Promise<void> {
    this.heldUntil = 0;
    await RELEASE.run(this.redis, [this.key], [this.token]);
  }
}
