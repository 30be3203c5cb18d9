import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  type KeyObject,
} from 'node:crypto';
import {
  TokenError,
  base32,
  readHead,
  readToken,
  tokenHead,
  unbase32,
  type TokenSubject,
} from './tokens.ts';

/**
 * The token of a one-click unsubscribe link (`VOLLEY_UNSUBSCRIBE_URL/<token>`): campaign id and
 * recipient index in the clear, the recipient's address encrypted, all of it authenticated with
 * AES-256-GCM. So the link still unsubscribes its address once retention removed the campaign's
 * recipient list, and a link shows nobody the address it is for. A URL has room for it:
 * version (1 byte) | campaign id (10) | index (4) | nonce (12) | encrypted address | GCM tag (16),
 * in lower-case base32 like the other tokens: 109 characters for a 25-byte address, 476 at most.
 *
 * Links of the first layout (the 40-character token, also used for the mailto) still read.
 */

const VERSION = 5;
const HEAD_BYTES = 15;
const NONCE_BYTES = 12;
const GCM_TAG_BYTES = 16;
/** An address is at most 254 octets (RFC 5321 with RFC 6531), so a token at most this. */
const MAX_TOKEN_BYTES = HEAD_BYTES + NONCE_BYTES + 254 + GCM_TAG_BYTES;
/** The longest link token in base32 characters (for route patterns). */
export const MAX_LINK_TOKEN_CHARS = Math.ceil((MAX_TOKEN_BYTES * 8) / 5);

interface LinkKeys {
  /** AES-256 key. */
  enc: KeyObject;
  /** Makes the nonce from what it encrypts (see linkToken). */
  nonce: KeyObject;
}

/** Keys of the last secret seen: a process has one VOLLEY_VERP_SECRET, and HKDF costs a little. */
let cached: { secret: string; keys: LinkKeys } | undefined;

function linkKeys(secret: string): LinkKeys {
  if (cached?.secret === secret) return cached.keys;
  // Derived rather than the secret itself, so the cipher's key is independent of the MACs'.
  const okm = Buffer.from(hkdfSync('sha256', secret, 'volley', 'unsubscribe link v1', 64));
  const keys = {
    enc: createSecretKey(okm.subarray(0, 32)),
    nonce: createSecretKey(okm.subarray(32)),
  };
  cached = { secret, keys };
  return keys;
}

/** A one-click link's token for a campaign's recipient at `address`. */
export function linkToken(
  secret: string,
  campaignId: string,
  index: number,
  address: string,
): string {
  const keys = linkKeys(secret);
  const head = tokenHead(VERSION, campaignId, index);
  const plain = Buffer.from(address, 'utf8');
  // A nonce derived from what it encrypts (as in SIV): the same message built twice (a retry
  // on another connection) carries the same link, and two different messages share a nonce
  // only if their HMACs collide in 96 bits.
  const nonce = createHmac('sha256', keys.nonce)
    .update(head)
    .update(plain)
    .digest()
    .subarray(0, NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keys.enc, nonce, { authTagLength: GCM_TAG_BYTES });
  cipher.setAAD(head);
  const sealed = Buffer.concat([cipher.update(plain), cipher.final()]);
  return base32(Buffer.concat([head, nonce, sealed, cipher.getAuthTag()]));
}

/**
 * What a one-click link's token names, verified: with the address for links that carry it.
 * Throws TokenError for anything forged, altered or cut.
 */
export function readLinkToken(secret: string, token: string): TokenSubject & { email?: string } {
  const raw = unbase32(token);
  if (!raw || raw.length > MAX_TOKEN_BYTES) throw new TokenError('malformed token');
  if (raw[0] !== VERSION) return readToken(secret, 'unsubscribe', token);
  if (raw.length <= HEAD_BYTES + NONCE_BYTES + GCM_TAG_BYTES)
    throw new TokenError('malformed token');
  const head = raw.subarray(0, HEAD_BYTES);
  const nonce = raw.subarray(HEAD_BYTES, HEAD_BYTES + NONCE_BYTES);
  const tag = raw.subarray(raw.length - GCM_TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', linkKeys(secret).enc, nonce, {
    authTagLength: GCM_TAG_BYTES,
  });
  decipher.setAAD(head);
  decipher.setAuthTag(tag);
  let plain: Buffer;
  try {
    plain = Buffer.concat([
      decipher.update(raw.subarray(HEAD_BYTES + NONCE_BYTES, raw.length - GCM_TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw new TokenError('token signature does not match (forged or for another deployment)');
  }
  return { ...readHead(head), email: plain.toString('utf8') };
}
