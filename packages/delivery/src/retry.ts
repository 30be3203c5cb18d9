/**
 * Recipients a batch could not finish come back as jobs of their own: deferred ones after the
 * retry delay, ones that found no connection after a short cap wait.
 */
import type { Job } from 'bullmq';
import type { Queues } from '@volley/campaigns';
import { JOBS, type BatchRecipient, type SendBatchJob } from '@volley/contracts';
import type { Plan, Shaper } from '@volley/shaping';
import { DEMOTED_PRIORITY } from './render-cost.ts';
import { capWaitMs } from './timing.ts';

/**
 * Delay before attempt `attempt + 1` of a deferred message: exponential from `baseMs`,
 * capped at `maxMs`, with +-20% jitter so that a burst of deferrals does not come back as
 * a burst.
 */
function retryDelayMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  const jitter = 0.8 + 0.4 * random();
  return Math.round(Math.min(maxMs, exp * jitter));
}

/**
 * Whether a batch's recipients have been deferred past the maximum age (VOLLEY_MAX_AGE) and
 * bounce as expired instead of being tried again. Only a retry expires, and its age counts
 * from the first attempt (see {@link Retries.requeueDeferred}): a first attempt is always made,
 * however long the batch waited for its destination's slot, and a retry due within the maximum
 * age is made too.
 */
export function expired(
  batch: Pick<SendBatchJob, 'attempt' | 'firstAttemptAt'>,
  now: number,
  maxAgeMs: number,
): boolean {
  return batch.attempt > 1 && now - batch.firstAttemptAt > maxAgeMs;
}

export interface RetriesOptions {
  queues: Queues;
  /** Undefined without traffic shaping: no destination has a retry schedule of its own. */
  shaper: Shaper | undefined;
  /** VOLLEY_RETRY_BASE and VOLLEY_RETRY_MAX. */
  retryBaseMs: number;
  retryMaxMs: number;
  /**
   * Epoch ms; stamps a batch's first attempt. Tests pass their own to judge expiry on it.
   * @defaultValue Date.now
   */
  clock?: () => number;
}

export class Retries {
  constructor(private readonly opts: RetriesOptions) {}

  /**
   * Queues the batch's deferred recipients as its next attempt, after the retry delay, and
   * empties `deferred`. The new job is named after this job and the recipients it carries:
   * unique across the batch's jobs (a batch may defer some recipients, wait for its next slot,
   * defer others; the jobs it queues may do the same), and the same when a job run again after
   * a crash queues the same recipients, which then are not queued twice.
   */
  async requeueDeferred(job: Job<SendBatchJob>, deferred: BatchRecipient[]): Promise<void> {
    const first = deferred[0];
    if (!first) return;
    const d = job.data;
    const jobId = `${job.id ?? d.batchId}.r${first.i}n${deferred.length}`;
    await this.opts.queues.send.add(
      JOBS.sendBatch,
      {
        ...d,
        recipients: deferred.splice(0),
        attempt: d.attempt + 1,
        // Age counts from the first attempt, not from queueing: a batch that waited hours for
        // its destination's rate slot still gets its retries before it expires.
        firstAttemptAt: d.attempt === 1 ? (this.opts.clock ?? Date.now)() : d.firstAttemptAt,
        shaping: undefined,
        slotWaits: undefined,
      },
      { jobId, delay: this.retryDelay(d.attempt, d.domain) },
    );
  }

  /**
   * Queues recipients that found no connection slot (the destination's cap was full across
   * workers) to come back after a cap wait, without counting a deferral. Their place in the
   * rate stands (`slot`, the first slot this run sent on): they are admitted when they are
   * back, rather than queued behind the destination's whole backlog.
   */
  async requeueWaiting(
    job: Job<SendBatchJob>,
    waiting: BatchRecipient[],
    plan: Plan | undefined,
    slot: { heldSince: number; startAt: number } | undefined,
  ): Promise<void> {
    const d = job.data;
    const waits = (d.slotWaits ?? 0) + 1;
    await this.opts.queues.send.add(
      JOBS.sendBatch,
      {
        ...d,
        recipients: waiting,
        slotWaits: waits,
        shaping:
          plan && slot
            ? { ...slot, count: Math.min(waiting.length, plan.maxBatch), key: plan.key }
            : undefined,
      },
      {
        jobId: `${job.id ?? d.batchId}.w${waits}`,
        delay: capWaitMs(waits, plan?.rule.ratePerSec !== undefined),
      },
    );
  }

  /**
   * Queues `recipients` of the batch again at low priority (its campaign is demoted,
   * render-cost.ts), after `delayMs`: they run when no batch of another campaign is waiting.
   * The batch's reserved rate slot is given up: it may wait long. Named like a deferral's job,
   * so that a run repeated after a crash queues them once.
   */
  async demote(
    job: Job<SendBatchJob>,
    recipients: BatchRecipient[],
    delayMs: number,
  ): Promise<void> {
    const first = recipients[0];
    if (!first) return;
    const d = job.data;
    await this.opts.queues.send.add(
      JOBS.sendBatch,
      { ...d, recipients, shaping: undefined },
      {
        jobId: `${job.id ?? d.batchId}.l${first.i}n${recipients.length}`,
        priority: DEMOTED_PRIORITY,
        delay: delayMs,
      },
    );
  }

  /** The destination's retry schedule when the policy has one, else exponential backoff. */
  private retryDelay(attempt: number, domain: string): number {
    const schedule = this.opts.shaper?.plan(domain).rule.retryMs;
    if (schedule?.length) {
      return schedule[Math.min(attempt - 1, schedule.length - 1)] ?? this.opts.retryBaseMs;
    }
    return retryDelayMs(attempt, this.opts.retryBaseMs, this.opts.retryMaxMs);
  }
}
