/**
 * One worker's side of the connection caps: how many of its batches send to each capped
 * destination, how many of its leases it holds, and leases taken up front for its next
 * connection. The leases themselves live in Redis (leases.ts), shared by every worker.
 */
import type { ConnectionLease, Plan, Shaper } from './shaper.ts';

/** A lease as a connection pool holds it: given back once, when its connection closes. */
export interface HeldLease {
  release(): void;
}

export interface ConnectionSlotsOptions {
  /**
   * Batches of one capped destination this worker sends at once, at most (besides the cap):
   * its connections per destination. More would only wait for those connections.
   */
  maxBatches: number;
  /** A lease could not be given back (Redis away); it lapses by itself within the lease ttl. */
  onReleaseError?: ((err: unknown, key: string) => void) | undefined;
}

export class ConnectionSlots {
  /** Batches of each capped destination this worker is sending now. */
  private readonly batches = new Map<string, number>();
  /** Leases this worker holds per capped destination. */
  private readonly held = new Map<string, number>();
  /** Leases taken up front by a batch, left for the next connection of the destination's pool. */
  private readonly stash = new Map<string, HeldLease[]>();

  constructor(
    private readonly shaper: Shaper,
    private readonly opts: ConnectionSlotsOptions,
  ) {}

  /**
   * Lets a batch of a destination with a connection cap start on this worker. A capped
   * destination takes at most that many of the worker's batch slots: its batches wait on few
   * connections, and would otherwise hold every slot while other destinations' due batches go
   * late. With a rate too, the worker must be able to have a connection before the batch takes
   * up its rate slot, which it would otherwise lose when no connection could be had: a lease is
   * taken up front (left for the pool's next connection) when the worker holds none.
   *
   * False: this worker already sends as many of the destination's batches as the cap allows,
   * or holds none of its connections while the cap is full. Every true is followed by
   * {@link leave} once the batch is done.
   */
  async enter(plan: Plan): Promise<boolean> {
    const key = plan.key;
    const limit = Math.max(1, Math.min(plan.rule.connections ?? 1, this.opts.maxBatches));
    if ((this.batches.get(key) ?? 0) >= limit) return false;
    if (plan.rule.ratePerSec !== undefined && !(await this.ensureConnection(plan))) return false;
    // Read again after the wait: a batch entering meanwhile must not be counted away.
    this.batches.set(key, (this.batches.get(key) ?? 0) + 1);
    return true;
  }

  /** A batch let in by {@link enter} is done; leases taken up front that no connection used go back. */
  leave(key: string): void {
    const left = (this.batches.get(key) ?? 1) - 1;
    if (left > 0) {
      this.batches.set(key, left);
      return;
    }
    this.batches.delete(key);
    const stash = this.stash.get(key);
    if (stash?.length) for (const l of stash.splice(0)) l.release();
  }

  /**
   * A lease for a new connection of the destination: one taken up front, or a new one;
   * undefined when the cap is full across workers.
   */
  async acquire(plan: Plan): Promise<HeldLease | undefined> {
    const stashed = this.stash.get(plan.key)?.pop();
    if (stashed) return stashed;
    const lease = await this.shaper.acquireConnection(plan);
    return lease ? this.track(lease) : undefined;
  }

  /** Leases this worker holds for the destination (connections open or about to open). */
  holding(key: string): number {
    return this.held.get(key) ?? 0;
  }

  private async ensureConnection(plan: Plan): Promise<boolean> {
    if (this.holding(plan.key) > 0) return true;
    const lease = await this.shaper.acquireConnection(plan);
    if (!lease) return false;
    const stash = this.stash.get(plan.key) ?? [];
    stash.push(this.track(lease));
    this.stash.set(plan.key, stash);
    return true;
  }

  /** Counted while held, so a batch can tell whether this worker holds any. */
  private track(lease: ConnectionLease): HeldLease {
    const key = lease.key;
    this.held.set(key, this.holding(key) + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = this.holding(key) - 1;
        if (left > 0) this.held.set(key, left);
        else this.held.delete(key);
        this.shaper.releaseConnection(lease).catch((err: unknown) => {
          this.opts.onReleaseError?.(err, key);
        });
      },
    };
  }
}
