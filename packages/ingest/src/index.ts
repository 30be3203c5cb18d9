export { AddressNormalizer } from './address.ts';
export { CsvReader, type CsvRecordHandler } from './csv.ts';
export {
  ingestRecipients,
  nestingDepth,
  type IngestOptions,
  type IngestResult,
  type RecipientBatch,
  type RecipientSink,
  type RowError,
  type UploadFormat,
} from './ingest.ts';
