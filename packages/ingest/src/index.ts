export { CsvReader } from './csv.ts';
export {
  ingestRecipients,
  type IngestOptions,
  type IngestResult,
  type RecipientSink,
  type RowError,
  type UploadFormat,
} from './ingest.ts';
