export { DomainError, type DomainErrorCode } from './errors.ts';
export {
  DKIM_KEY_TYPES,
  RSA_BITS,
  dkimRecordValue,
  generateDkimKey,
  importDkimKey,
  type DkimKeyPair,
  type DkimKeyType,
} from './keys.ts';
export { DkimSecretError, KeySealer, type KeyPlace, type SealedKey } from './sealing.ts';
export { domainAndParents, type DomainRecord, type StoredSelector } from './record.ts';
export { coverage, SendingDomains, type Coverage, type SendingDecision } from './coverage.ts';
export {
  DomainStore,
  MAX_SELECTORS,
  SELECTOR_MAX,
  SELECTOR_PATTERN,
  checkDkimSecret,
  type DomainStoreOptions,
  type KeyInput,
} from './store.ts';
export {
  dnsRecords,
  domainView,
  type DnsRecord,
  type DnsSettings,
  type DomainView,
} from './records.ts';
export { TenantSigners, type TenantSignersOptions } from './signers.ts';
