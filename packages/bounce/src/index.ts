export { parseBounce } from './parse.ts';
export { classifyRecipient } from './diagnose.ts';
export { MAX_MESSAGE_BYTES, MAX_MULTIPART_DEPTH } from './limits.ts';
export type {
  BounceKind,
  BounceRecipient,
  BounceReport,
  FeedbackReport,
  OriginalMessage,
  RecipientFacts,
} from './types.ts';
export {
  measureCorpus,
  classifyMessage,
  classifyReport,
  percent,
  type Agreement,
  type ClassifiedRecipient,
  type CorpusMeasurement,
  type Expectation,
  type Miss,
} from './corpus.ts';
