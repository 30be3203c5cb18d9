/**
 * What a campaign's renders that went over the budget cost this sender. Each such recipient
 * fails alone, but a campaign whose recipients all do would spend a sender's CPU on nothing
 * while other campaigns wait. Once its failures take more than about 1% of this sender's CPU,
 * the campaign is demoted: its batches, and the rest of any batch of it in progress, are queued
 * again at low priority (BullMQ runs jobs without a priority before prioritized ones), each
 * spaced so that demoted batches take about a twentieth of the sender, and each run of one
 * stops after two renders' worth of over-budget CPU, on whichever sender it runs. It is
 * forgiven as its failures stop.
 */
import { OVER_BUDGET_PER_RUN_MS } from '@volley/config';

/** Half-life of the cost, in ms: a campaign's past failures stop counting within a minute. */
const HALF_LIFE_MS = 10_000;

/**
 * Decayed over-budget CPU (ms) past which a campaign is demoted (100). At a steady spend of r
 * ms per second the decayed sum settles near r × 14.4 (the half-life over ln 2, in seconds):
 * 100 ms means about 7 ms a second, 0.7% of a core. A few hostile recipients (5 to 50 ms each)
 * in an otherwise normal campaign stay below it. The configuration checks that a run spending
 * it fits well within the job lock.
 */
const DEMOTE_AFTER_MS = OVER_BUDGET_PER_RUN_MS;

/** Priority of a demoted batch: any priority runs after every job without one. */
export const DEMOTED_PRIORITY = 1000;

/**
 * Over-budget CPU (ms) one run of a demoted batch may spend before it sets the rest of its
 * recipients aside (100: two renders at the default time budget).
 */
export const DEMOTED_RUN_MS = OVER_BUDGET_PER_RUN_MS;

/**
 * Share of a sender's time that runs of demoted batches may take together: each run is
 * scheduled DEMOTED_RUN_MS / share after the one before. Half the 10% that other campaigns may
 * lose (issue 14's bar), because a demoted campaign costs more than its runs: each sender
 * compiles it (up to about 0.2 s at the tag limit) and collects its renders' garbage. With a
 * tenth, bench:templates kept 0.69 to 0.88 of the normal campaign's rate on a quiet machine,
 * the senders' CPU then the bound.
 */
export const DEMOTED_SHARE = 0.05;

/**
 * Spaces the runs of demoted batches of this process (all campaigns together): each batch set
 * aside gets a run of its own, a run's length divided by the share after the last one
 * reserved, so the batches come back one at a time instead of all at once and set themselves
 * aside again. A run's length is the wall time the latest one took, and at least
 * DEMOTED_RUN_MS: on a loaded machine 100 ms of CPU takes several times that, and spacing by
 * the CPU alone gave the demoted runs most of the sender (bench:templates at load 14 to 19:
 * the normal campaign kept 0.59 of its rate).
 *
 * The spacing also holds when the runs start, not only when they are scheduled: a demoted
 * batch waits in the queue behind every batch without a priority, so all those that came due
 * while other campaigns kept the queue busy start together as soon as it empties (at the tail
 * of a campaign, bench:templates saw three runs at once on one sender), and batches another
 * sender scheduled come due here too. One runs at a time here; one that comes early goes back
 * until this sender is free again, plus a random part of the spacing, so that those that came
 * together do not all come back together. (Sent to the end of this sender's reservations
 * instead, on a loaded machine, one sender's runs came up to 74 s apart and the costly
 * campaign of bench:templates took minutes longer.)
 */
export class DemotedRuns {
  private reservedUntil = 0;
  private runMs = DEMOTED_RUN_MS;
  private lastStart = Number.NEGATIVE_INFINITY;
  private running = false;

  constructor(
    private readonly clock: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  /** Reserves the next run; answers in how many ms it is due. */
  reserve(): number {
    const now = this.clock();
    this.reservedUntil = Math.max(this.reservedUntil, now) + this.spacing();
    return this.reservedUntil - now;
  }

  /**
   * Starts a run if one may start now, answering the function that ends it; undefined: the
   * batch goes back for `retryIn()` ms. A run may start a quarter of the spacing early: its
   * slot was reserved from when the last one was due, and a run that started late (the queue
   * was busy) must not push every slot after it out again.
   */
  start(): (() => void) | undefined {
    const now = this.clock();
    if (this.running || now < this.lastStart + this.spacing() * EARLY_START) return undefined;
    this.running = true;
    this.lastStart = now;
    return () => {
      this.running = false;
      this.ran(this.clock() - now);
    };
  }

  /** Ms after which a batch that could not start may try again (see the class). */
  retryIn(): number {
    const free = this.lastStart + this.spacing() * EARLY_START - this.clock();
    return Math.max(free, this.running ? this.runMs : 0) + this.random() * this.spacing();
  }

  /** A demoted run took `wallMs` from its start to its end. */
  ran(wallMs: number): void {
    this.runMs = Math.max(DEMOTED_RUN_MS, wallMs);
  }

  private spacing(): number {
    return this.runMs / DEMOTED_SHARE;
  }
}

/** Share of the spacing a demoted run must wait after the last one's start (see start()). */
const EARLY_START = 0.75;

/**
 * Whether a run of a batch may render another message of its campaign. A batch at normal
 * priority renders while the campaign is not demoted here (the rest go to the back). A demoted
 * batch renders until the run has spent DEMOTED_RUN_MS over budget, also on a sender that has
 * not demoted the campaign itself (it has not seen it yet): its priority says it was.
 */
export function renderAllowance(cost: RenderCost, demotedRun: boolean): () => boolean {
  const before = cost.totalMs;
  return demotedRun ? () => cost.totalMs - before < DEMOTED_RUN_MS : () => !cost.demoted;
}

export class RenderCost {
  private spentMs = 0;
  private at = 0;
  /** Over-budget CPU (ms) of the campaign in this process since it was loaded, not decayed. */
  totalMs = 0;
  /** Set the first time the campaign is demoted in this process, to log it once. */
  announced = false;

  constructor(private readonly clock: () => number = Date.now) {}

  /** A render of this campaign went over budget after `cpuMs` of CPU. */
  overBudget(cpuMs: number): void {
    this.spentMs = this.decayed() + Math.max(cpuMs, 0);
    this.totalMs += Math.max(cpuMs, 0);
  }

  /** True while the campaign's failed renders cost this sender more than it can spare. */
  get demoted(): boolean {
    return this.spentMs > DEMOTE_AFTER_MS && this.decayed() > DEMOTE_AFTER_MS;
  }

  private decayed(): number {
    const now = this.clock();
    this.spentMs *= 0.5 ** (Math.max(0, now - this.at) / HALF_LIFE_MS);
    this.at = now;
    return this.spentMs;
  }
}
