/**
 * Which addresses of the bounce domain take mail: the VERP return paths and the mailto
 * unsubscribe addresses, each only with a token that verifies, and the feedback-loop address.
 * Decided from the address alone, so a RCPT is answered without a Redis round trip.
 */
import { TokenError, readToken, type TokenSubject } from '@volley/message';

export type InboundAddress =
  /** `bounces+<token>@`: the return path of one message; DSNs and some complaints come here. */
  | ({ kind: 'verp' } & TokenSubject)
  /** `unsubscribe+<token>@`: the List-Unsubscribe mailto of one message. */
  | ({ kind: 'unsubscribe' } & TokenSubject)
  /** `fbl@`: where mailbox providers send complaint reports (and people forward bounces). */
  | { kind: 'fbl' };

export type RefusalReason =
  'not_bounce_domain' | 'unknown_address' | 'malformed_token' | 'invalid_token';

export type AddressDecision = InboundAddress | { kind: 'refused'; reason: RefusalReason };

/**
 * A token as `createToken` writes it: 25 bytes in base32 (40 characters), or 30 with the
 * address tag (48).
 */
const TOKEN = /^(?:[a-z2-7]{40}|[a-z2-7]{48})$/;

/**
 * What mail to `address` is, or why it is refused. Local parts are compared without case:
 * mail systems may change it, which is also why tokens are base32 in lower case.
 */
export function routeAddress(address: string, domain: string, secret: string): AddressDecision {
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at).toLowerCase();
  const host = address
    .slice(at + 1)
    .toLowerCase()
    .replace(/\.$/, '');
  if (at <= 0 || host !== domain) return { kind: 'refused', reason: 'not_bounce_domain' };
  if (local === 'fbl') return { kind: 'fbl' };
  const m = /^(bounces|unsubscribe)\+(.*)$/.exec(local);
  if (!m?.[1] || m[2] === undefined) return { kind: 'refused', reason: 'unknown_address' };
  const kind = m[1] === 'bounces' ? 'verp' : 'unsubscribe';
  if (!TOKEN.test(m[2])) return { kind: 'refused', reason: 'malformed_token' };
  try {
    return { kind, ...readToken(secret, kind, m[2]) };
  } catch (err) {
    if (err instanceof TokenError) return { kind: 'refused', reason: 'invalid_token' };
    throw err;
  }
}
