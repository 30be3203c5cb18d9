/**
 * Email addresses in free text, found by scanning around each "@" rather than with a regular
 * expression, so the cost stays linear in the text whatever it holds.
 */

// Characters of a local part as they appear in reports (RFC 5322 atext and dots).
const LOCAL = /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]/;
const DOMAIN = /[A-Za-z0-9.-]/;
/** Longest address accepted (RFC 5321: 64 + 1 + 255). */
const MAX_ADDRESS = 320;

export interface FoundAddress {
  address: string;
  /** Index of the first character in the text. */
  start: number;
  /** Index after the last character. */
  end: number;
}

/** Trims what cannot end a domain or start a local part. */
function trimAddress(local: string, domain: string): string | undefined {
  // Quotes and dots around a quoted address ("'a@b'") are punctuation, not the local part.
  const l = local.replace(/^['`|.]+/, '');
  const d = domain.replace(/[.-]+$/, '').replace(/^[.-]+/, '');
  if (l === '' || l.length > 64 || d === '' || !d.includes('.') || d.length > 255) return undefined;
  if (!/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/.test(d)) return undefined;
  return `${l}@${d}`;
}

/** Every address in the text, in order of appearance. */
export function findAddresses(text: string, limit = 1000): FoundAddress[] {
  const out: FoundAddress[] = [];
  let at = text.indexOf('@');
  while (at >= 0 && out.length < limit) {
    let s = at;
    while (s > 0 && at - s < 64 && LOCAL.test(text[s - 1] ?? '')) s--;
    let e = at + 1;
    while (e < text.length && e - at < 256 && DOMAIN.test(text[e] ?? '')) e++;
    const address = trimAddress(text.slice(s, at), text.slice(at + 1, e));
    if (address && address.length <= MAX_ADDRESS) {
      const start = text.indexOf(address, s);
      out.push({ address, start, end: start + address.length });
    }
    at = text.indexOf('@', Math.max(e, at + 1));
  }
  return out;
}

/** The first address in the text, without angle brackets or a "type;" prefix. */
export function firstAddress(text: string): string | undefined {
  return findAddresses(text, 1)[0]?.address;
}

/** Lower-cased address for comparing two spellings of one mailbox. */
export function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
