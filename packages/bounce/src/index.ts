export { parseBounce } from './parse.ts';
export type { BounceRecipient, BounceReport } from './types.ts';
export { measureCorpus, percent, type Agreement, type CorpusMeasurement } from './corpus.ts';
