export { CampaignStore, CampaignError, type FinalizeResult } from './store.ts';
export type { CampaignDefinition, CampaignRecord } from './record.ts';
export { listCampaigns, CampaignListError } from './listing.ts';
export { IdempotencyKeys, type StoredAnswer } from './idempotency.ts';
export { createQueues, enqueueExpand, type Queues } from './queues.ts';
export { applyLifecycle, LIFECYCLE } from './lifecycle.ts';
export { Recorder } from './recorder.ts';
export { largestBacklogs, type DomainBacklog } from './destinations.ts';
export { Feedback, FeedbackError, type FeedbackOutcome } from './feedback.ts';
export {
  SuppressionList,
  SuppressionError,
  SUPPRESSION_REASON,
  type SuppressionEntry,
  type SuppressionInput,
} from './suppressions.ts';
export { Retention } from './retention.ts';
