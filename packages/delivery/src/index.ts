export { SenderEngine, type SenderEngineOptions } from './engine.ts';
export { Deliverer, type Delivery, type DelivererOptions } from './deliver.ts';
export { compileCampaign, type CampaignSource, type CompiledCampaign } from './campaigns.ts';
export { unsubscribeTargets, type UnsubscribeSettings } from './unsubscribe.ts';
