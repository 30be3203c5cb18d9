import { normalizeEmail, normalizeLocalPart } from '@volley/message';

/** RFC 5321 §4.5.3.1.3, in octets, as normalizeEmail counts it. */
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
 * normalizeEmail's result is the canonical local part joined to a function of the domain
 * alone, so the domain's result can be cached and the local part checked per address; the
 * ingest tests check, on generated addresses, that both answer the same.
 */
export class AddressNormalizer {
  /** Raw domain as written → canonical domain, or null when the domain is invalid. */
  private readonly domains = new Map<string, string | null>();

  normalize(input: string): string | undefined {
    if (input.length > MAX_INPUT) return undefined;
    const at = input.lastIndexOf('@');
    if (at <= 0 || at === input.length - 1) return undefined;
    const written = input.slice(0, at);
    const local = normalizeLocalPart(written);
    if (local === undefined) return undefined;
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
    const address = domain === raw && local === written ? input : `${local}@${domain}`;
    // In octets, as RFC 6531 counts a UTF-8 address; one character is one octet in ASCII.
    const octets = address.length > MAX_ADDRESS / 4 ? Buffer.byteLength(address) : address.length;
    return octets > MAX_ADDRESS ? undefined : address;
  }
}
