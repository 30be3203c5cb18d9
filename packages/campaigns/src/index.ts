export {
  CampaignStore,
  CampaignError,
  type CampaignDefinition,
  type CampaignRecord,
  type CreateCampaignInput,
  type FinalEntry,
  type FinalizeResult,
} from './store.ts';
export {
  IdempotencyKeys,
  type IdempotencyClaim,
  type IdempotencyOptions,
  type StoredAnswer,
} from './idempotency.ts';
export { createQueues, enqueueExpand, type Queues } from './queues.ts';
export { applyLifecycle, LIFECYCLE, type LifecycleAction } from './lifecycle.ts';
export { Recorder, type RecorderOptions } from './recorder.ts';
export {
  Feedback,
  FeedbackError,
  type FeedbackOptions,
  type FeedbackOutcome,
  type FeedbackResult,
  type FeedbackTarget,
} from './feedback.ts';
export {
  SuppressionList,
  SuppressionError,
  SUPPRESSION_REASON,
  type SuppressionEntry,
  type SuppressionInput,
} from './suppressions.ts';
