export {
  CampaignStore,
  CampaignError,
  type CampaignDefinition,
  type CampaignRecord,
  type CreateCampaignInput,
  type FinalEntry,
  type FinalizeResult,
} from './store.ts';
export { createQueues, enqueueExpand, type Queues } from './queues.ts';
export { applyLifecycle, LIFECYCLE, type LifecycleAction } from './lifecycle.ts';
export { Recorder, type RecorderOptions } from './recorder.ts';
