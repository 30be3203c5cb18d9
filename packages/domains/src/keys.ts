/**
 * DKIM key pairs: generated here or imported from PEM, checked for what receivers accept, and
 * reduced to what is kept (the private key as PKCS#8 DER, to be sealed) and what is published
 * (the `p=` of the DKIM TXT record).
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { DomainError } from './errors.ts';

export type DkimKeyType = 'rsa' | 'ed25519';
export const DKIM_KEY_TYPES: readonly DkimKeyType[] = ['rsa', 'ed25519'];

/**
 * RSA keys from 2048 bits (RFC 8301 forbids under 1024 and receivers are dropping 1024) to
 * 4096 (longer keys make TXT records that many DNS providers cannot hold, and cost more to sign).
 */
const RSA_BITS = { generated: 2048, min: 2048, max: 4096 } as const;

/** The largest PEM accepted: a 4096-bit RSA key is about 3.3 KB. */
const PEM_MAX = 16 * 1024;

export interface DkimKeyPair {
  keyType: DkimKeyType;
  /** Modulus length of an RSA key. */
  bits?: number;
  /** PKCS#8 DER of the private key: sealed before it is stored, never returned. */
  privateDer: Buffer;
  /** The `p=` of the DKIM record: SPKI DER for RSA (RFC 6376), the raw 32 bytes for Ed25519 (RFC 8463). */
  publicKey: string;
}

function describe(key: KeyObject, privateDer: Buffer): DkimKeyPair {
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  if (key.asymmetricKeyType === 'ed25519') {
    // The SPKI of an Ed25519 key is a fixed 12-byte header followed by the 32-byte key.
    return { keyType: 'ed25519', privateDer, publicKey: spki.subarray(-32).toString('base64') };
  }
  return {
    keyType: 'rsa',
    bits: key.asymmetricKeyDetails?.modulusLength,
    privateDer,
    publicKey: spki.toString('base64'),
  };
}

/** A new key pair; `bits` (RSA only) within RSA_BITS. */
export function generateDkimKey(
  keyType: DkimKeyType,
  bits: number = RSA_BITS.generated,
): DkimKeyPair {
  if (
    keyType === 'rsa' &&
    (!Number.isInteger(bits) || bits < RSA_BITS.min || bits > RSA_BITS.max)
  ) {
    throw new DomainError(
      'KEY_INVALID',
      `an RSA key of ${bits} bits: use ${RSA_BITS.min} to ${RSA_BITS.max} bits (receivers refuse short keys, and longer ones do not fit in most DNS TXT records)`,
    );
  }
  const { privateKey } =
    keyType === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: bits })
      : generateKeyPairSync('ed25519');
  return describe(privateKey, privateKey.export({ type: 'pkcs8', format: 'der' }));
}

/**
 * An operator's own key, from PEM (PKCS#8, or PKCS#1 for RSA). Refuses, with the reason, a key
 * receivers would not verify, an encrypted PEM (it would need a passphrase at every start), a
 * public key, and a key of another type than `expected`.
 */
export function importDkimKey(pem: string, expected?: DkimKeyType): DkimKeyPair {
  if (pem.length > PEM_MAX) {
    throw new DomainError('KEY_INVALID', `privateKeyPem is larger than ${PEM_MAX} bytes`);
  }
  if (/ENCRYPTED/.test(pem)) {
    throw new DomainError(
      'KEY_INVALID',
      'privateKeyPem is encrypted: give the key without a passphrase (`openssl pkey -in key.pem -out plain.pem`); Volley seals it with VOLLEY_DKIM_SECRET',
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new DomainError(
      'KEY_INVALID',
      'privateKeyPem is not a PEM private key (expected -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)',
    );
  }
  const type = key.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'ed25519') {
    throw new DomainError(
      'KEY_INVALID',
      `privateKeyPem is a ${String(type)} key; DKIM signs with RSA (rsa-sha256) or Ed25519 (ed25519-sha256)`,
    );
  }
  if (expected !== undefined && type !== expected) {
    throw new DomainError(
      'KEY_INVALID',
      `keyType is ${expected} but privateKeyPem is an ${type} key; give the matching keyType or leave it out`,
    );
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (type === 'rsa' && (bits < RSA_BITS.min || bits > RSA_BITS.max)) {
    throw new DomainError(
      'KEY_INVALID',
      `privateKeyPem is an RSA key of ${bits} bits; use ${RSA_BITS.min} to ${RSA_BITS.max} bits (receivers refuse short keys, and longer ones do not fit in most DNS TXT records)`,
    );
  }
  return describe(key, key.export({ type: 'pkcs8', format: 'der' }));
}

/** The value of the DKIM TXT record that publishes a public key. */
export function dkimRecordValue(keyType: DkimKeyType, publicKey: string): string {
  return `v=DKIM1; k=${keyType}; p=${publicKey}`;
}

/** A PEM private key for the signer, from the unsealed PKCS#8 DER; held in memory only. */
export function privateKeyPem(der: Buffer): string {
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();
}
