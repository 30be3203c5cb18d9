export { AddressNormalizer } from './address.ts';
export { CsvReader, type CsvRecordHandler } from './csv.ts';
export {
  ingestRecipients,
  nestingDepth,
  type RecipientBatch,
  type UploadFormat,
} from './ingest.ts';
