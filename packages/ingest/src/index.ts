export { AddressNormalizer } from './address.ts';
export { CsvReader } from './csv.ts';
export {
  ingestRecipients,
  nestingDepth,
  type RecipientBatch,
  type UploadFormat,
} from './ingest.ts';
