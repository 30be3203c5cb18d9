/**
 * What a campaign's renders that went over the budget cost this sender. Each such recipient
 * fails alone, but a campaign whose recipients all do would spend a sender's CPU on nothing
 * while other campaigns wait: once its failures take more than about 1% of this sender's CPU,
 * the campaign is demoted, and its batches wait at low priority while other campaigns have
 * batches waiting (BullMQ runs jobs without a priority before prioritized ones).
 */

/** Half-life of the cost, in ms: a campaign's past failures stop counting within a minute. */
const HALF_LIFE_MS = 10_000;

/**
 * Decayed over-budget CPU (ms) past which a campaign is demoted. At a steady spend of r ms per
 * second the decayed sum settles near r × 14.4 (the half-life over ln 2, in seconds): 100 ms
 * means about 7 ms a second, 0.7% of a core. A few hostile recipients (5 to 50 ms each) in an
 * otherwise normal campaign stay below it.
 */
const DEMOTE_AFTER_MS = 100;

/** Priority of a demoted batch: any priority runs after every job without one. */
export const DEMOTED_PRIORITY = 1000;

export class RenderCost {
  private spentMs = 0;
  private at = 0;
  /** Set the first time the campaign is demoted in this process, to log it once. */
  announced = false;

  constructor(private readonly clock: () => number = Date.now) {}

  /** A render of this campaign went over budget after `cpuMs` of CPU. */
  overBudget(cpuMs: number): void {
    this.spentMs = this.decayed() + Math.max(cpuMs, 0);
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
