import { Queue } from 'bullmq';
import type { RedisClient } from '@volley/redis';
import { JOBS, QUEUES, type ExpandJob, type Keys, type SendBatchJob } from '@volley/contracts';

export interface Queues {
  send: Queue<SendBatchJob>;
  control: Queue<ExpandJob>;
  close(): Promise<void>;
}

/**
 * Completed jobs are removed at once: the per-recipient state lives in the campaign's
 * bitmaps and counters, and keeping finished jobs would grow Redis with every message.
 * Failed jobs are kept (bounded) for an operator to inspect.
 */
const SEND_JOB_DEFAULTS = {
  removeOnComplete: true,
  removeOnFail: { count: 10_000 },
  // Retried until it works (about 16 hours at the worker's capped backoff): a job that gives up
  // would strand its recipients. Deferred SMTP replies are not job failures; they have their own
  // retry jobs.
  attempts: 1000,
  backoff: { type: 'custom' },
} as const;

export function createQueues(connection: RedisClient, keys: Keys): Queues {
  const send = new Queue<SendBatchJob>(QUEUES.send, {
    connection,
    prefix: keys.bullPrefix(QUEUES.send),
    defaultJobOptions: SEND_JOB_DEFAULTS,
  });
  const control = new Queue<ExpandJob>(QUEUES.control, {
    connection,
    prefix: keys.bullPrefix(QUEUES.control),
    defaultJobOptions: SEND_JOB_DEFAULTS,
  });
  return {
    send,
    control,
    async close() {
      await Promise.all([send.close(), control.close()]);
    },
  };
}

/**
 * Asks for the window of recipients starting at `from` to be expanded into send jobs.
 * The job id names the window, so concurrent requests for the same window add one job.
 */
export async function enqueueExpand(
  control: Queue<ExpandJob>,
  campaignId: string,
  from: number,
  delayMs = 0,
): Promise<void> {
  await control.add(
    JOBS.expand,
    { campaignId, from },
    { jobId: `expand-${campaignId}-${from}`, delay: Math.max(0, delayMs) },
  );
}
