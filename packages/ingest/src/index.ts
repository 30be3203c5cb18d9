export { CsvReader, type CsvRecordHandler } from './csv.ts';
export {
  ingestRecipients,
  nestingDepth,
  noEmailColumn,
  type RowError,
  type RecipientBatch,
  type UploadFormat,
} from './ingest.ts';
