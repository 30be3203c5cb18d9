export { DomainError } from './errors.ts';
export {
  DKIM_KEY_TYPES,
  dkimRecordValue,
  generateDkimKey,
  importDkimKey,
  privateKeyPem,
  type DkimKeyType,
} from './keys.ts';
export { DkimSecretError, KeySealer } from './sealing.ts';
export { type DomainRecord } from './record.ts';
export { SendingDomains } from './coverage.ts';
export { DomainStore, MAX_SELECTORS, SELECTOR_MAX, checkDkimSecret } from './store.ts';
export { dnsRecords, domainView, type DnsSettings, type DomainView } from './records.ts';
export { TenantSigners, isRefused, type Signing } from './signers.ts';
