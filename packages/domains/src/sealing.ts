/**
 * DKIM private keys at rest: sealed with AES-256-GCM under a key derived from
 * VOLLEY_DKIM_SECRET, so what Redis holds (and any dump or replica of it) is useless without
 * the secret, which lives only in the environment of the API, the senders and the admin CLI.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/** A private key as stored: PKCS#8 DER, encrypted and authenticated. Base64 fields. */
export interface SealedKey {
  /** Format version: a future change of cipher or derivation reads older records by it. */
  v: 1;
  /** 96-bit nonce, random per key (GCM's recommended size). */
  iv: string;
  /** 128-bit authentication tag. */
  tag: string;
  ct: string;
}

/** Where a key belongs; bound into its seal, so a sealed key moved to another record fails to open. */
export interface KeyPlace {
  tenant: string;
  domain: string;
  selector: string;
}

export class DkimSecretError extends Error {
  readonly code = 'VOLLEY_DKIM_SECRET';
  constructor(message: string) {
    super(message);
    this.name = 'DkimSecretError';
  }
}

/**
 * HKDF rather than scrypt: the secret is a random string of at least 32 characters (the config
 * refuses shorter), not a password, so a slow derivation would add nothing but start-up time.
 * The fixed salt and info name this use, so the same secret used elsewhere derives another key.
 */
const SALT = 'volley/dkim-key-sealing';
const INFO = 'aes-256-gcm/v1';

function associatedData(p: KeyPlace): Buffer {
  // NUL cannot occur in tenant ids, domain names or selectors, so the fields cannot run together.
  return Buffer.from(`volley-dkim/v1\0${p.tenant}\0${p.domain}\0${p.selector}`);
}

export class KeySealer {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = Buffer.from(hkdfSync('sha256', secret, SALT, INFO, 32));
  }

  seal(plain: Buffer, place: KeyPlace): SealedKey {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(associatedData(place));
    const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
    return {
      v: 1,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      ct: ct.toString('base64'),
    };
  }

  /** The key's plaintext; a DkimSecretError when the secret (or the record) is not the one it was sealed with. */
  open(sealed: SealedKey, place: KeyPlace): Buffer {
    try {
      if (sealed.v !== 1) throw new Error(`unknown format ${String(sealed.v)}`);
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(sealed.iv, 'base64'));
      decipher.setAAD(associatedData(place));
      decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(sealed.ct, 'base64')), decipher.final()]);
    } catch (err) {
      throw new DkimSecretError(
        `VOLLEY_DKIM_SECRET does not open the DKIM key ${place.selector}._domainkey.${place.domain} of tenant ${place.tenant} (${(err as Error).message}): the secret is not the one the key was stored with, or the record was altered; set the secret the API stored it with`,
      );
    }
  }
}
