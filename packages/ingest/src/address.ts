import { normalizeEmail } from '@volley/message';

// The dot-atom local part that normalizeEmail accepts (packages/message/src/address.ts, LOCAL).
// It is repeated here because that module does not export it; the ingest tests check, on
// generated addresses, that AddressNormalizer answers exactly what normalizeEmail answers.
const LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

/** The longest local part (RFC 5321 §4.5.3.1.1). */
const MAX_LOCAL = 64;
/** RFC 5321 §4.5.3.1.3, as normalizeEmail counts it. */
const MAX_ADDRESS = 254;
/** normalizeEmail refuses longer input before looking at it. */
const MAX_INPUT = 320;
/**
 * Distinct domains remembered. A list of millions of addresses has a few thousand domains;
 * past this many the cache starts over, so a list of unique domains costs no more memory.
 */
const MAX_DOMAINS = 10_000;

/**
 * normalizeEmail for a stream of addresses: the same answers, with the domain half (IDN to
 * punycode through the WHATWG URL parser, the costly part) computed once per distinct domain.
 * normalizeEmail's result is the local part, unchanged, joined to a function of the domain
 * alone, so the domain's result can be cached and the local part checked per address.
 */
export class AddressNormalizer {
  /** Raw domain as written → canonical domain, or null when the domain is invalid. */
  private readonly domains = new Map<string, string | null>();

  normalize(input: string): string | undefined {
    if (input.length > MAX_INPUT) return undefined;
    const at = input.lastIndexOf('@');
    if (at <= 0 || at === input.length - 1 || at > MAX_LOCAL) return undefined;
    const local = input.slice(0, at);
    if (!LOCAL.test(local)) return undefined;
    const raw = input.slice(at + 1);
    let domain = this.domains.get(raw);
    if (domain === undefined) {
      // A one-letter local part is valid and short, so the answer depends on the domain alone.
      const probe = normalizeEmail(`x@${raw}`);
      domain = probe === undefined ? null : probe.slice(2);
      if (this.domains.size >= MAX_DOMAINS) this.domains.clear();
      this.domains.set(raw, domain);
    }
    if (domain === null) return undefined;
    if (domain === raw) return input.length > MAX_ADDRESS ? undefined : input;
    const address = `${local}@${domain}`;
    return address.length > MAX_ADDRESS ? undefined : address;
  }
}
