export { SenderEngine } from './engine.ts';
export { Deliverer } from './deliver.ts';
export { CampaignCache, compileCampaign, type CampaignSource } from './campaigns.ts';
export { unsubscribeTargets } from './unsubscribe.ts';
