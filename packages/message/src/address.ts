import { domainToASCII } from 'node:url';

export interface Mailbox {
  name?: string;
  /** Address with the domain lower-cased and in ASCII (punycode) form. */
  address: string;
  domain: string;
}

// Dot-atom local part (RFC 5322 §3.4.1); quoted local parts are refused rather than
// half-supported. ASCII_LOCAL is the common case, checked without Unicode tables.
const ASCII_LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
// RFC 6531 §3.3 adds every non-ASCII character to atext. Left out: controls, format
// characters (zero-width and bidirectional marks, which make one address look like another),
// private-use, unassigned and surrogate code points, and separators (spaces).
const UTF8_LOCAL =
  /^(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]|[^\p{ASCII}\p{C}\p{Z}])+(?:\.(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]|[^\p{ASCII}\p{C}\p{Z}])+)*$/u;
/** RFC 5321 §4.5.3.1.1: a local part is at most 64 octets (UTF-8 octets, RFC 6531 §3.3). */
const MAX_LOCAL = 64;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

// Letters, digits, hyphens and dots, or any non-ASCII character (IDN). domainToASCII parses a
// URL host: it would percent-decode "%41", drop tabs and newlines, and cut the host at "/", "?"
// or "#", turning "a@example.com/x" into a valid-looking "a@example.com".
const DOMAIN_INPUT = /^(?:[A-Za-z0-9.-]|\P{ASCII})+$/u;

/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets including the angle brackets. */
const MAX_ADDRESS = 254;

/**
 * A local part in canonical form, or undefined if invalid: ASCII as given; with non-ASCII
 * characters (an SMTPUTF8 address, RFC 6531) in Unicode NFC, so that one address typed two
 * ways (a precomposed "ü" or "u" + combining diaeresis) is one recipient.
 */
export function normalizeLocalPart(local: string): string | undefined {
  if (local.length <= MAX_LOCAL && ASCII_LOCAL.test(local)) return local;
  const nfc = local.normalize('NFC');
  if (!UTF8_LOCAL.test(nfc) || Buffer.byteLength(nfc) > MAX_LOCAL) return undefined;
  return nfc;
}

/**
 * Distinct domains whose canonical form is remembered. The sender normalizes every recipient
 * (twice: deliver and compose), its batches are per domain and lists concentrate on a few
 * thousand domains; past this many the cache starts over, so unique domains cost no more memory.
 */
const MAX_DOMAINS = 10_000;
/** Domain as written → canonical domain, or null when it is invalid. */
const domains = new Map<string, string | null>();

/**
 * normalizeDomain through the cache: IDN to punycode (the WHATWG URL parser) and the label
 * checks are the costly part of normalizing an address, and depend on the domain alone.
 */
function canonicalDomain(written: string): string | null {
  let domain = domains.get(written);
  if (domain === undefined) {
    domain = normalizeDomain(written) ?? null;
    if (domains.size >= MAX_DOMAINS) domains.clear();
    domains.set(written, domain);
  }
  return domain;
}

/**
 * The address in canonical form (domain lower-cased, IDN to punycode, a non-ASCII local part
 * in NFC), or undefined if invalid.
 */
export function normalizeEmail(input: string): string | undefined {
  if (typeof input !== 'string' || input.length > 320) return undefined;
  const at = input.lastIndexOf('@');
  if (at <= 0 || at === input.length - 1) return undefined;
  const writtenLocal = input.slice(0, at);
  const local = normalizeLocalPart(writtenLocal);
  if (local === undefined) return undefined;
  const writtenDomain = input.slice(at + 1);
  const domain = canonicalDomain(writtenDomain);
  if (domain === null) return undefined;
  // An address already canonical (every recipient the API stored) is returned as it is.
  const address = domain === writtenDomain && local === writtenLocal ? input : `${local}@${domain}`;
  // Checked after punycode, which lengthens non-ASCII domains; in octets (RFC 6531 §3.3). A
  // character is at most 4 octets, so a short address needs no count.
  const octets = address.length > MAX_ADDRESS / 4 ? Buffer.byteLength(address) : address.length;
  return octets > MAX_ADDRESS ? undefined : address;
}

/** A domain name in canonical form (lower-cased, IDN to punycode), or undefined if invalid. */
export function normalizeDomain(input: string): string | undefined {
  // Punycode never shortens a name, so a longer input cannot fit in 253 octets.
  if (typeof input !== 'string' || input.length > 253 || !DOMAIN_INPUT.test(input)) {
    return undefined;
  }
  const domain = domainToASCII(input.toLowerCase());
  if (!domain || domain.length > 253) return undefined;
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return undefined;
  if (/^\d+$/.test(labels[labels.length - 1] ?? '')) return undefined;
  return domain;
}

/**
 * The domain of an address: what follows its last "@" (a domain never holds one), lower-cased.
 * Recipients are batched, shaped and routed by it.
 */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/** Parses `addr@example.com` or `Display Name <addr@example.com>`. */
export function parseMailbox(input: string): Mailbox | undefined {
  if (typeof input !== 'string' || /[\r\n\0]/.test(input)) return undefined;
  const m = /^\s*(?:"?([^"<>]*?)"?\s*)?<([^<>\s]+)>\s*$/.exec(input);
  const raw = m ? m[2] : input.trim();
  const address = normalizeEmail(raw ?? '');
  if (!address) return undefined;
  const name = m?.[1]?.trim();
  const domain = domainOf(address);
  return name ? { name, address, domain } : { address, domain };
}
