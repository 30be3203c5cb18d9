import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Compact, unforgeable tokens that name a campaign and a recipient: the VERP return path
 * (`bounces+<token>@<bounce domain>`) and the one-click unsubscribe links. Layout, before
 * base32: purpose (1 byte) | campaign id (10 bytes) | recipient index (4 bytes) | HMAC-SHA256
 * truncated to 10 bytes (80 bits: forging one by guessing takes ~2^79 tries).
 * Base32 in lower case because mail systems may change the case of local parts.
 */

export type TokenPurpose = 'verp' | 'unsubscribe';
const PURPOSE: Record<TokenPurpose, number> = { verp: 1, unsubscribe: 2 };
const MAC_BYTES = 10;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

export class TokenError extends Error {
  readonly code = 'VOLLEY_TOKEN_INVALID';
  constructor(detail: string) {
    super(detail);
    this.name = 'TokenError';
  }
}

function base32(buf: Buffer): string {
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

function unbase32(text: string): Buffer | undefined {
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
  return Buffer.from(bytes);
}

function mac(secret: string, body: Buffer): Buffer {
  return createHmac('sha256', secret).update(body).digest().subarray(0, MAC_BYTES);
}

export function createToken(
  secret: string,
  purpose: TokenPurpose,
  campaignId: string,
  index: number,
): string {
  if (!/^[a-f0-9]{20}$/.test(campaignId))
    throw new TokenError(`campaign id ${campaignId} is not 20 hex digits`);
  const body = Buffer.alloc(15);
  body[0] = PURPOSE[purpose];
  body.write(campaignId, 1, 'hex');
  body.writeUInt32BE(index, 11);
  return base32(Buffer.concat([body, mac(secret, body)]));
}

/** Checks a token's MAC and purpose; answers what it names or throws TokenError. */
export function readToken(
  secret: string,
  purpose: TokenPurpose,
  token: string,
): { campaignId: string; index: number } {
  const raw = unbase32(token);
  if (!raw || raw.length !== 15 + MAC_BYTES) throw new TokenError('malformed token');
  const body = raw.subarray(0, 15);
  if (!timingSafeEqual(raw.subarray(15), mac(secret, body)))
    throw new TokenError('token signature does not match (forged or for another deployment)');
  if (body[0] !== PURPOSE[purpose]) throw new TokenError(`token is not meant for ${purpose}`);
  return { campaignId: body.toString('hex', 1, 11), index: body.readUInt32BE(11) };
}

/** `bounces+<token>@<domain>`: the return path that tells the bounce collector who bounced. */
export function verpAddress(
  secret: string,
  domain: string,
  campaignId: string,
  index: number,
): string {
  return `bounces+${createToken(secret, 'verp', campaignId, index)}@${domain}`;
}

/** The token of a VERP address (`bounces+<token>@...`), verified; throws TokenError. */
export function readVerpAddress(
  secret: string,
  address: string,
): { campaignId: string; index: number } {
  const m = /^bounces\+([a-z2-7]+)@/i.exec(address);
  if (!m?.[1])
    throw new TokenError(`${JSON.stringify(address.slice(0, 100))} is not a VERP address`);
  return readToken(secret, 'verp', m[1]);
}
