import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * Compact, unforgeable tokens that name a campaign and a recipient: the VERP return path
 * (`bounces+<token>@<bounce domain>`) and the mailto unsubscribe address
 * (`unsubscribe+<token>@<bounce domain>`). Two layouts, told apart by the first byte:
 *
 * - first (purpose 1 verp, 2 unsubscribe), in every message sent before address tags:
 *   purpose | campaign id (10 bytes) | recipient index (4 bytes) | MAC (10 bytes), 40 characters;
 * - tagged (purpose 3 verp, 4 unsubscribe): purpose | campaign id | recipient index | address
 *   tag (5 bytes) | MAC, 48 characters.
 *
 * The MAC is HMAC-SHA256 over the rest, truncated to 10 bytes (80 bits: forging one by guessing
 * takes ~2^79 tries). The address tag is a keyed hash of the recipient's address: once retention
 * removed the campaign's recipient list, a report about an address the tag matches can still be
 * applied to it, while the token reveals nothing of the address. Base32 in lower case because
 * mail systems may change the case of local parts; "unsubscribe+" and 48 characters stay within
 * a local part's 64.
 */

export type TokenPurpose = 'verp' | 'unsubscribe';
const PURPOSE: Record<TokenPurpose, number> = { verp: 1, unsubscribe: 2 };
const TAGGED: Record<TokenPurpose, number> = { verp: 3, unsubscribe: 4 };
const MAC_BYTES = 10;
/**
 * 40 bits: someone holding their own token who sends reports naming other addresses matches
 * one by chance once in 2^40 tries, each an SMTP message (rate limited per client network).
 */
const TAG_BYTES = 5;
/** Purpose, campaign id, recipient index. */
const HEAD_BYTES = 15;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
/** Separates the address tag's HMAC input from the MAC's, which starts with a purpose byte. */
const TAG_CONTEXT = 'volley address tag\0';

export class TokenError extends Error {
  readonly code = 'VOLLEY_TOKEN_INVALID';
  constructor(detail: string) {
    super(detail);
    this.name = 'TokenError';
  }
}

/** What a token names. */
export interface TokenSubject {
  campaignId: string;
  index: number;
  /** The keyed hash of the recipient's address; tokens of the first layout have none. */
  addressTag?: Buffer;
}

export function base32(buf: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

/**
 * Decodes base32 of either case; undefined for any other character, and for text `base32`
 * would not write (a character too many, or padding bits set): one token, one spelling.
 */
export function unbase32(text: string): Buffer | undefined {
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of text.toLowerCase()) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) return undefined;
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  if (bits >= 5 || (value & ((1 << bits) - 1)) !== 0) return undefined;
  return Buffer.from(bytes);
}

/**
 * The secret as a key object, for the last secret seen (a process has one): an HMAC keyed with
 * it costs about half of one keyed with the string, which re-reads the key every time (2 against
 * 4 us here), and a message takes three or four of them.
 */
let cachedKey: { secret: string; key: KeyObject } | undefined;

function secretKey(secret: string): KeyObject {
  if (cachedKey?.secret !== secret) {
    cachedKey = { secret, key: createSecretKey(Buffer.from(secret, 'utf8')) };
  }
  return cachedKey.key;
}

function mac(secret: string, body: Buffer): Buffer {
  return createHmac('sha256', secretKey(secret)).update(body).digest().subarray(0, MAC_BYTES);
}

/** Purpose, campaign id and index as the first 15 bytes of a token. */
export function tokenHead(purposeByte: number, campaignId: string, index: number): Buffer {
  if (!/^[a-f0-9]{20}$/.test(campaignId))
    throw new TokenError(`campaign id ${campaignId} is not 20 hex digits`);
  if (!Number.isSafeInteger(index) || index < 0 || index > 0xffffffff)
    throw new TokenError(`recipient index ${index} does not fit in 4 bytes`);
  const head = Buffer.alloc(HEAD_BYTES);
  head[0] = purposeByte;
  head.write(campaignId, 1, 'hex');
  head.writeUInt32BE(index, 11);
  return head;
}

/** Campaign id and index of a token's first 15 bytes. */
export function readHead(head: Buffer): { campaignId: string; index: number } {
  return { campaignId: head.toString('hex', 1, 11), index: head.readUInt32BE(11) };
}

/** The keyed hash of an address, compared without case (as the suppression list does). */
function addressTag(secret: string, address: string): Buffer {
  return createHmac('sha256', secretKey(secret))
    .update(TAG_CONTEXT)
    .update(address.toLowerCase())
    .digest()
    .subarray(0, TAG_BYTES);
}

/**
 * A token naming a campaign's recipient. With `address` (what senders give), the tagged
 * layout; without, the first layout, which tokens already in the mail have.
 */
export function createToken(
  secret: string,
  purpose: TokenPurpose,
  campaignId: string,
  index: number,
  address?: string,
): string {
  if (address === undefined) {
    const body = tokenHead(PURPOSE[purpose], campaignId, index);
    return base32(Buffer.concat([body, mac(secret, body)]));
  }
  const head = tokenHead(TAGGED[purpose], campaignId, index);
  const body = Buffer.concat([head, addressTag(secret, address)]);
  return base32(Buffer.concat([body, mac(secret, body)]));
}

/** Checks a token's MAC and purpose; answers what it names or throws TokenError. */
export function readToken(secret: string, purpose: TokenPurpose, token: string): TokenSubject {
  const raw = unbase32(token);
  const bodyBytes = (raw?.length ?? 0) - MAC_BYTES;
  if (!raw || (bodyBytes !== HEAD_BYTES && bodyBytes !== HEAD_BYTES + TAG_BYTES))
    throw new TokenError('malformed token');
  const body = raw.subarray(0, bodyBytes);
  if (!timingSafeEqual(raw.subarray(bodyBytes), mac(secret, body)))
    throw new TokenError('token signature does not match (forged or for another deployment)');
  const tagged = bodyBytes > HEAD_BYTES;
  if (body[0] !== (tagged ? TAGGED : PURPOSE)[purpose])
    throw new TokenError(`token is not meant for ${purpose}`);
  const named = readHead(body);
  return tagged ? { ...named, addressTag: body.subarray(HEAD_BYTES) } : named;
}

/**
 * Whether `address` is the one a verified token was made for: false for a token of the first
 * layout, which carries no address.
 */
export function tokenNames(secret: string, subject: TokenSubject, address: string): boolean {
  const tag = subject.addressTag;
  return tag !== undefined && timingSafeEqual(tag, addressTag(secret, address));
}

/** `bounces+<token>@<domain>`: the return path that tells the bounce collector who bounced. */
export function verpAddress(
  secret: string,
  domain: string,
  campaignId: string,
  index: number,
  address?: string,
): string {
  return `bounces+${createToken(secret, 'verp', campaignId, index, address)}@${domain}`;
}

/** The token of a VERP address (`bounces+<token>@...`), verified; throws TokenError. */
export function readVerpAddress(secret: string, address: string): TokenSubject {
  const m = /^bounces\+([a-z2-7]+)@/i.exec(address);
  if (!m?.[1])
    throw new TokenError(`${JSON.stringify(address.slice(0, 100))} is not a VERP address`);
  return readToken(secret, 'verp', m[1]);
}
