/**
 * The sender's waits, in one place, each with the reason or measurement that chose it.
 */
import type { Plan, Slot } from '@volley/shaping';

/** How stale a cached campaign status may be; bounds how long a pause or cancel takes to act. */
export const STATUS_TTL_MS = 1000;

/** How long a batch of a paused campaign waits before it looks at the status again. */
export const PARK_RECHECK_MS = 30_000;

/** How often each sender checks running campaigns for a window that needs refilling. */
export const SWEEP_INTERVAL_MS = 5000;

/**
 * How often each sender looks for finished campaigns past VOLLEY_RETENTION: retention is
 * counted in days, so a minute late is nothing, and an idle look is two Redis commands.
 */
export const RETENTION_SWEEP_MS = 60_000;

/** A scheduled campaign that is due while its recipients are still streaming in starts this much later. */
export const UPLOAD_RECHECK_MS = 2000;

/** An expansion asked for while the window is still full looks again this much later. */
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
