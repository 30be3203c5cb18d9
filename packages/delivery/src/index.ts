export { SenderEngine, type SenderEngineOptions } from './engine.ts';
export { planBatches } from './batching.ts';
export { retryDelayMs } from './backoff.ts';
