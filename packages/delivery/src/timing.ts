/**
 * The sender engine's waits between its steps, each with the measurement or the reasoning that
 * chose it; those no run measured say so. Two groups of timings live instead with the code
 * they pace and the runs that chose them: the render-cost budget and the spacing of demoted
 * batches (HALF_LIFE_MS, DEMOTED_RUN_MS, DEMOTED_SHARE in render-cost.ts), and the capped
 * transport's idle and slot waits (CAPPED_IDLE_MS, CAPPED_SLOT_WAIT_MS in
 * packages/smtp/src/transport.ts).
 */
import type { Plan, Slot } from '@volley/shaping';

/**
 * How stale a cached campaign status may be; bounds how long a pause takes to reach every
 * sender (cancel is exact by its claims, not by this). Not measured: chosen as the "within
 * about a second" the README promises for a pause, and because the price is one HGET per
 * second for each campaign a sender is sending, nothing next to the 3 Redis commands per
 * recipient of the reference run. The bound itself is tested on the code's own clock
 * (packages/delivery/test/campaigns.test.ts).
 */
export const STATUS_TTL_MS = 1000;

/**
 * How long a batch of a paused campaign waits before it looks at the status again. Not
 * measured: chosen because resume promotes the parked batches at once, so this wait only
 * bounds the rare batch whose promotion raced with its move to the delayed set; meanwhile a
 * long pause wakes each batch this often (200 batches of a default window: about 7 script
 * calls a second), which a shorter wait would multiply for nothing else.
 */
export const PARK_RECHECK_MS = 30_000;

/**
 * How long a stopping sender waits, after its drain (or drain deadline), for Redis to answer
 * the close itself: forced worker close, lease release, queue close. Well under a second when
 * Redis answers; past it the connections are dropped, so a sender whose Redis is gone still
 * exits within the drain deadline and this (the local supervisor kills after 5 s).
 */
export const CLOSE_AFTER_DRAIN_MS = 2000;

/**
 * How often each sender checks running campaigns for a window that needs refilling. Not
 * measured: chosen because the sweep only matters after a crash lost a refill request (recorded
 * outcomes ask for refills themselves), so a campaign then waits at most 5 s, once; the price
 * is one read of the running set plus one HMGET per running campaign every 5 s per sender.
 */
export const SWEEP_INTERVAL_MS = 5000;

/**
 * How often each sender looks for finished campaigns past VOLLEY_RETENTION: retention is
 * counted in days, so a minute late is nothing, and an idle look is two Redis commands.
 */
export const RETENTION_SWEEP_MS = 60_000;

/** A scheduled campaign that is due while its recipients are still streaming in starts this much later. */
export const UPLOAD_RECHECK_MS = 2000;

/**
 * An expansion asked for while the window is still full looks again this much later. Not
 * measured: chosen because this path is off the usual one. Recorded outcomes and the sweep ask
 * for a refill only once the window is down to half, and the window only shrinks until it is
 * expanded, so a sender finds it full when, for instance, the senders disagree on the window
 * (VOLLEY_EXPAND_WINDOW set differently on some); each look costs a job move and one HMGET.
 * What a wait costs when taken was not measured either: at the reference run's rate (11,912
 * msg/s) half a default window goes out in under half a second, so a campaign that waits here
 * can leave its senders idle for the rest of the second.
 */
export const WINDOW_FULL_RECHECK_MS = 1000;

/**
 * Retry delay of a job whose processing failed (Redis failover, say): infrastructure trouble,
 * not a message's. From 1 s, doubling to at most a minute.
 */
export function workerRetryDelayMs(attemptsMade: number): number {
  return Math.min(1000 * 2 ** Math.max(0, attemptsMade - 1), 60_000);
}

/**
 * A reserved slot this close is waited for in process; further away, in BullMQ's delayed set.
 * Kept short: a batch sleeping in process holds one of the worker's concurrency slots, which
 * other domains need.
 */
export const IN_PROCESS_WAIT_MS = 50;

/**
 * A batch that woke holding its slot is admitted when it can start within this long. Late
 * batches (a slow promotion, a wait for a connection) are admitted into the room their own
 * unused slots left, which pushes the batches after them back by about one batch interval
 * (a tenth of a second with the default burst): waited for in process rather than by another
 * trip through the delayed set.
 */
export const HELD_ADMIT_WITHIN_MS = 250;

/**
 * How late an admitted batch may start, or go out, before it counts again: one batch interval
 * at the destination's rate (later than that, it arrives on top of the next batch; within it,
 * at most one batch crosses into a window, which the burst allows), and at least 50 ms, a
 * usual event-loop hiccup. Later before it starts: it presents its slot again (at most
 * {@link MAX_READMITS} times). Later by the time it is out, after opening its destination's
 * connections: its messages count from then.
 */
export function lateToleranceMs(plan: Plan, slot: Slot): number {
  const rate = (plan.rule.ratePerSec ?? 0) * slot.factor;
  if (!(rate > 0)) return Infinity;
  return Math.max(50, (slot.granted * 1000) / rate);
}

/**
 * A destination this worker sent nothing to for this long has no connections left: the relay
 * and MX pools close connections idle for 60 s (their default), so its next batch opens them.
 */
export const CONNECTIONS_COLD_AFTER_MS = 60_000;

/**
 * Times a batch admitted too late presents its slot again; each costs the destination this
 * batch's share of the rate once. After that it is sent anyway.
 */
export const MAX_READMITS = 2;

/**
 * How long a batch waits when its destination's connection cap keeps it from sending: this
 * worker already sends as many of its batches as the cap allows, holds none of its connections
 * while the cap is full, or found no connection slot within the pool's short wait. The batch
 * comes back to any worker, and most of them hold a connection. A destination with a rate: the
 * batch holds a slot that is due, so it comes back after 250 ms however often it bounced (a
 * growing wait left a few batches 10-20 s behind their destination's backlog). Without a rate
 * nothing is due: 250 ms twice, 500 ms twice, ... up to 2 s, so a destination capped for long
 * is not polled often.
 */
export function capWaitMs(waits: number, due: boolean): number {
  const steps = due ? 0 : Math.min(Math.floor((waits - 1) / 2), 3);
  const base = Math.min(250 * 2 ** steps, 2_000);
  return Math.round(base * (0.75 + Math.random() * 0.5));
}
