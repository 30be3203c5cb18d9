/**
 * What the sender uses: one object per process that plans each batch's destination, reserves
 * its slot, leases its connections and feeds replies back to the adaptive rules.
 */
import { hostname } from 'node:os';
import type { RedisClient } from '@volley/redis';
import { ShapingKeys } from '@volley/contracts';
import { resolveRule, type Policy, type Resolution, type Rule } from './policy.ts';
import { reserve, reserveMany, startedLate, type BatchSlots, type Slot } from './gcra.ts';
import { acquireLease, countLeases, releaseLease, renewLeases } from './leases.ts';
import {
  adaptiveState,
  activeKeys,
  observe,
  tick,
  type AdaptiveState,
  type Reply,
  type ShapingEvent,
  type Suspension,
} from './adaptive.ts';
import { batchSizeFor, reservationBurst, type ShapingContext } from './lua.ts';

export interface ShaperOptions {
  redis: RedisClient;
  /** The deployment's Redis key prefix; shaping keys live under `<prefix>:shp:`. */
  prefix: string;
  policy: Policy;
  /**
   * Names this process in its lease ids.
   * @defaultValue `<hostname>:<pid>`
   */
  holder?: string;
  /**
   * How long a connection lease lives without renewal: the longest a crashed worker's
   * connections keep counting against a cap. Leases are renewed every third of it.
   * @defaultValue 30000
   */
  leaseTtlMs?: number;
  /**
   * How often {@link Shaper.start}'s timer reports recoveries and ended suspensions.
   * @defaultValue 5000
   */
  tickMs?: number;
  /** Every change of adaptive state, made or first seen by this process: log it. */
  onEvent?: (event: ShapingEvent) => void;
  /**
   * A lease that lapsed before it was renewed (event loop stalled or Redis away): its place
   * may be taken, so the connection that held it should be closed.
   */
  onLeaseLost?: (lease: ConnectionLease) => void;
  /** Errors of the background timers (Redis away, say); they retry on the next round. */
  onError?: (err: unknown) => void;
  /** Epoch ms instead of Redis TIME; tests only. */
  clock?: () => number;
}

export interface Plan extends Resolution {
  /**
   * The most messages one reservation grants (the rule's burst); Infinity without a rate.
   * A larger `n` is granted only in part.
   */
  maxBatch: number;
  /**
   * How many messages a batch should carry: half the burst from a burst of 20 on, else the
   * burst (see `batchSizeFor`); Infinity without a rate.
   * With half-burst batches admission keeps half a burst of room, so a batch that wakes up to
   * one batch interval late starts at once without pushing the next ones back. With batches of
   * the whole burst every late wake-up delays all later batches for good (measured: 50/s
   * domains at 45/s with batches of 50 and burst 50 under load).
   */
  batchSize: number;
}

/** A connection slot of a capped destination; `id` is undefined when there is no cap. */
export interface ConnectionLease {
  readonly key: string;
  readonly id: string | undefined;
}

export interface DestinationSnapshot {
  key: string;
  metricLabel: string;
  /** The policy rule (`defaults`, `providers.<name>`, `domains.<d>`). */
  rule: string;
  ratePerSec: number | undefined;
  burst: number;
  connections: number | undefined;
  /** The adaptive factor in force (1: full speed). */
  factor: number;
  effectiveRatePerSec: number | undefined;
  effectiveConnections: number | undefined;
  connectionsInUse: number;
  /**
   * Messages holding a reserved slot that is not due yet: roughly the messages waiting in
   * BullMQ's delayed set for this destination's rate.
   */
  delayed: number;
  slow?: AdaptiveState['slow'];
  suspensions: Suspension[];
}

export interface ShapingSnapshot {
  /** Redis time of the snapshot. */
  at: number;
  policy: string;
  destinations: DestinationSnapshot[];
}

export class Shaper {
  private current: Policy;
  private readonly ctx: ShapingContext;
  private readonly holder: string;
  private readonly leaseTtlMs: number;
  private readonly tickMs: number;
  private readonly opts: ShaperOptions;
  /** Leases this process holds, by shaping key, renewed by the lease timer. */
  private readonly held = new Map<string, Set<string>>();
  private timers: NodeJS.Timeout[] = [];

  constructor(opts: ShaperOptions) {
    this.opts = opts;
    this.current = opts.policy;
    this.ctx = { redis: opts.redis, keys: new ShapingKeys(opts.prefix), clock: opts.clock };
    this.holder = opts.holder ?? `${hostname()}:${process.pid}`;
    this.leaseTtlMs = opts.leaseTtlMs ?? 30_000;
    this.tickMs = opts.tickMs ?? 5000;
  }

  get policy(): Policy {
    return this.current;
  }

  /** Puts a new policy in force (from the watcher's `change`); plans made before keep theirs. */
  setPolicy(policy: Policy): void {
    this.current = policy;
  }

  /**
   * Which limit a recipient domain falls under. `mxHosts` in preference order (the first is
   * where the mail goes); without them only domain rules and domain suffixes match.
   */
  plan(domain: string, mxHosts: readonly string[] = []): Plan {
    const r = resolveRule(this.current, domain, mxHosts);
    if (r.rule.ratePerSec === undefined) return { ...r, maxBatch: Infinity, batchSize: Infinity };
    return { ...r, maxBatch: r.rule.burst, batchSize: batchSizeFor(r.rule.burst) };
  }

  /**
   * Reserves a slot for `n` messages (one round trip; it also checks suspensions), or takes up
   * the slot the caller holds (`held`). Admitted when they can start within `admitWithinMs`:
   * wait `slot.delayMs` in process and send. Otherwise delay the job by `slot.delayMs` and, on
   * waking, call again with `held: { since: slot.heldSince, startAt: slot.startAt }`: the slot
   * stands unless the destination was slowed or suspended since.
   */
  reserve(
    plan: Plan,
    n: number,
    opts: {
      campaignId?: string | undefined;
      held?: { since: number; startAt: number } | undefined;
      admitWithinMs?: number | undefined;
    } = {},
  ): Promise<Slot> {
    return reserve(this.ctx, {
      key: plan.key,
      ratePerSec: plan.rule.ratePerSec,
      burst: plan.rule.burst,
      n,
      campaignId: opts.campaignId,
      held: opts.held,
      admitWithinMs: opts.admitWithinMs,
    });
  }

  /**
   * Messages admitted on a slot that went out much later than admitted (more than one batch
   * interval): they count against the rate from now, so later batches do not arrive on top of
   * them. One round trip; see {@link startedLate}.
   */
  async startedLate(plan: Plan, n: number): Promise<void> {
    await startedLate(this.ctx, { key: plan.key, ratePerSec: plan.rule.ratePerSec, n });
  }

  /**
   * Reserves one slot per batch of `sizes[i]` messages, in order, in one round trip; none is
   * admitted. For batches about to be queued: each waits in the delayed set until its slot and
   * presents it as `held` (with `since: reservedAt`).
   */
  reserveBatches(plan: Plan, sizes: readonly number[], campaignId?: string): Promise<BatchSlots> {
    return reserveMany(this.ctx, {
      key: plan.key,
      ratePerSec: plan.rule.ratePerSec,
      burst: plan.rule.burst,
      campaignId,
      sizes,
    });
  }

  /**
   * Takes a connection slot before opening a connection; undefined when the cap (times the
   * adaptive factor) is reached: reuse an open connection or wait. The lease is renewed while
   * the process runs (after {@link start}) until {@link releaseConnection}.
   */
  async acquireConnection(plan: Plan): Promise<ConnectionLease | undefined> {
    const cap = plan.rule.connections;
    if (cap === undefined) return { key: plan.key, id: undefined };
    const r = await acquireLease(this.ctx, plan.key, cap, this.leaseTtlMs, this.holder);
    if (r.id === undefined) return undefined;
    let set = this.held.get(plan.key);
    if (!set) this.held.set(plan.key, (set = new Set()));
    set.add(r.id);
    return { key: plan.key, id: r.id };
  }

  /** Gives a connection slot back when its connection closes. */
  async releaseConnection(lease: ConnectionLease): Promise<void> {
    if (lease.id === undefined) return;
    this.forget(lease.key, lease.id);
    await releaseLease(this.ctx, lease.key, lease.id);
  }

  /**
   * Feeds a reply (or connection error) to the adaptive rules; only replies matching a rule
   * reach Redis. A change it makes is passed to `onEvent` and returned.
   */
  async observe(plan: Plan, reply: Reply, campaignId?: string): Promise<ShapingEvent | undefined> {
    const ev = await observe(this.ctx, this.current, plan, reply, campaignId);
    if (ev) this.opts.onEvent?.(ev);
    return ev;
  }

  /** End of the suspension in force for the destination (or this campaign there), if any. */
  async suspendedUntil(key: string, campaignId?: string): Promise<number | undefined> {
    const s = await adaptiveState(this.ctx, key);
    const until = s.suspensions
      .filter((x) => x.campaignId === undefined || x.campaignId === campaignId)
      .reduce((m, x) => Math.max(m, x.until), 0);
    return until > 0 ? until : undefined;
  }

  /**
   * For the ETA: the adaptive factor and the end of the suspension in force (of the
   * destination, or of `campaignId` there) of each of `keys` that is slowed or suspended now;
   * the others are absent (full speed). One command, plus one per destination found.
   */
  async adaptiveOf(
    keys: readonly string[],
    campaignId?: string,
  ): Promise<Map<string, { factor: number; suspendedUntil: number | undefined }>> {
    const out = new Map<string, { factor: number; suspendedUntil: number | undefined }>();
    if (keys.length === 0) return out;
    const active = await this.ctx.redis.zmscore(this.ctx.keys.active, ...keys);
    const found = keys.filter((_k, i) => active[i] !== null);
    await Promise.all(
      found.map(async (key) => {
        out.set(key, {
          factor: (await this.state(key)).factor,
          suspendedUntil: await this.suspendedUntil(key, campaignId),
        });
      }),
    );
    return out;
  }

  /** The adaptive state (factor, slow-down, suspensions) of one destination. */
  state(key: string): Promise<AdaptiveState> {
    return adaptiveState(this.ctx, key);
  }

  /**
   * For the API and the metrics collector: every destination named in the policy, plus every
   * destination slowed or suspended now, with its limits, factor, leases and backlog.
   */
  async snapshot(): Promise<ShapingSnapshot> {
    const p = this.current;
    const named = new Map<string, { metricLabel: string; rule: Rule }>();
    for (const prov of p.providers) {
      named.set(`provider:${prov.name}`, { metricLabel: prov.name, rule: prov.rule });
    }
    for (const d of p.domains.keys()) {
      const r = resolveRule(p, d);
      named.set(r.key, { metricLabel: r.metricLabel, rule: r.rule });
    }
    for (const key of await activeKeys(this.ctx)) {
      if (named.has(key)) continue;
      const d = key.slice(key.indexOf(':') + 1);
      const r = resolveRule(p, d);
      // A provider key no longer in the policy: shown with the defaults until it ends.
      named.set(key, {
        metricLabel: key.startsWith('provider:') ? d : r.metricLabel,
        rule: r.rule,
      });
    }
    let at = 0;
    const destinations = await Promise.all(
      [...named].map(async ([key, { metricLabel, rule }]) => {
        const [state, inUse, tat] = await Promise.all([
          adaptiveState(this.ctx, key),
          countLeases(this.ctx, key),
          this.ctx.redis.get(this.ctx.keys.gcra(key)),
        ]);
        at = Math.max(at, state.now);
        const f = state.factor;
        const rate = rule.ratePerSec === undefined ? undefined : rule.ratePerSec * f;
        // Slots are reserved with the reservation burst; see bursts() in lua.ts.
        const burst = reservationBurst(rule.burst * f);
        // TAT is now + (slots handed out ahead) × interval; the first `burst` of them may
        // start now, the rest wait in the delayed set.
        const ahead =
          tat === null || rate === undefined ? 0 : ((Number(tat) - state.now) * rate) / 1000;
        const snap: DestinationSnapshot = {
          key,
          metricLabel,
          rule: rule.name,
          ratePerSec: rule.ratePerSec,
          burst: rule.burst,
          connections: rule.connections,
          factor: f,
          effectiveRatePerSec: rate,
          effectiveConnections:
            rule.connections === undefined
              ? undefined
              : Math.max(1, Math.floor(rule.connections * f + 1e-9)),
          connectionsInUse: inUse,
          delayed: Math.max(0, Math.round(ahead) - burst),
          suspensions: state.suspensions,
        };
        if (state.slow) snap.slow = state.slow;
        return snap;
      }),
    );
    return { at, policy: p.source, destinations };
  }

  /**
   * Reports recovery steps and ended suspensions through `onEvent`, each once across all
   * workers. {@link start} runs it on a timer; call it directly in tests.
   */
  async tick(): Promise<ShapingEvent[]> {
    const events = await tick(this.ctx);
    for (const ev of events) this.opts.onEvent?.(ev);
    return events;
  }

  /** Renews the leases this process holds; lost ones go to `onLeaseLost`. */
  async renewLeases(): Promise<void> {
    await Promise.all(
      [...this.held].map(async ([key, set]) => {
        const ids = [...set];
        const ok = await renewLeases(this.ctx, key, ids, this.leaseTtlMs);
        ids.forEach((id, i) => {
          if (ok[i]) return;
          this.forget(key, id);
          this.opts.onLeaseLost?.({ key, id });
        });
      }),
    );
  }

  /** Starts the timers that renew leases and report adaptive changes. */
  start(): void {
    if (this.timers.length > 0) return;
    const every = (ms: number, fn: () => Promise<unknown>): void => {
      const t = setInterval(() => {
        fn().catch((err: unknown) => this.opts.onError?.(err));
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    // A third of the ttl: a lease survives two missed renewals before it lapses.
    every(Math.max(1, Math.floor(this.leaseTtlMs / 3)), () => this.renewLeases());
    every(this.tickMs, () => this.tick());
  }

  /** Stops the timers and gives back every lease this process holds. */
  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const all = [...this.held].flatMap(([key, set]) => [...set].map((id) => ({ key, id })));
    this.held.clear();
    await Promise.all(all.map((l) => releaseLease(this.ctx, l.key, l.id)));
  }

  private forget(key: string, id: string): void {
    const set = this.held.get(key);
    set?.delete(id);
    if (set?.size === 0) this.held.delete(key);
  }
}
