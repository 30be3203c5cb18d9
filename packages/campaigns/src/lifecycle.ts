import { Job } from 'bullmq';
import type { CampaignStatus } from '@volley/contracts';
import { enqueueExpand, type Queues } from './queues.ts';
import type { CampaignStore } from './store.ts';

export type LifecycleAction = 'pause' | 'resume' | 'cancel';

/** Which states each action applies to, and where it leads. */
export const LIFECYCLE: Record<LifecycleAction, { from: CampaignStatus[]; to: CampaignStatus }> = {
  pause: { from: ['running'], to: 'paused' },
  resume: { from: ['paused'], to: 'running' },
  cancel: { from: ['draft', 'scheduled', 'running', 'paused'], to: 'cancelled' },
};

/**
 * Applies a lifecycle action. Senders see the new status within about a second (their status
 * cache); a resume also promotes the batches parked during the pause and asks for the next
 * window, so sending picks up at once rather than at the next recheck.
 */
export async function applyLifecycle(
  store: CampaignStore,
  queues: Queues,
  id: string,
  action: LifecycleAction,
): Promise<{ changed: boolean; was: string; status: CampaignStatus }> {
  const rule = LIFECYCLE[action];
  const res = await store.transition(id, rule.from, rule.to);
  if (!res.changed) return { ...res, status: res.was as CampaignStatus };
  if (action === 'resume') {
    for (const jobId of await store.takeParked(id)) {
      const job = await Job.fromId(queues.send, jobId);
      // A parked job may already be back (its recheck ran) or gone (completed): nothing to do.
      await job?.promote().catch(() => undefined);
    }
    const w = await store.windowState(id);
    if (w && w.cursor < w.total) await enqueueExpand(queues.control, id, w.cursor);
  }
  return { ...res, status: rule.to };
}
