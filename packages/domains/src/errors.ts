import { CodedError } from '@volley/contracts';

export type DomainErrorCode =
  | 'DOMAIN_INVALID'
  | 'SELECTOR_INVALID'
  | 'KEY_INVALID'
  | 'TENANT_NOT_FOUND'
  | 'DOMAIN_EXISTS'
  | 'DOMAIN_NOT_FOUND'
  | 'SELECTOR_EXISTS'
  | 'SELECTOR_NOT_FOUND'
  | 'SELECTOR_ACTIVE'
  | 'SECRET_MISSING'
  | 'BUSY';

/** Why a sending domain could not be added, changed or removed; the message says what to do. */
export class DomainError extends CodedError<DomainErrorCode> {}
