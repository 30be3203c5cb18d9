import { createHash, createPrivateKey, sign, type KeyObject } from 'node:crypto';

/** A signing key for one domain and selector (RFC 6376; Ed25519 per RFC 8463). */
export interface DkimKeyConfig {
  domain: string;
  selector: string;
  /** PEM text of the private key (PKCS#8 or PKCS#1 for RSA). */
  privateKey: string;
}

interface LoadedKey {
  domain: string;
  selector: string;
  key: KeyObject;
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
}

export class DkimKeyError extends Error {
  readonly code = 'VOLLEY_DKIM_KEY_INVALID';
  constructor(
    readonly domain: string,
    readonly selector: string,
    detail: string,
  ) {
    super(`DKIM key ${selector}._domainkey.${domain}: ${detail}`);
    this.name = 'DkimKeyError';
  }
}

/**
 * Headers signed when present, in this order. From is required by RFC 6376; the others are
 * the ones a receiver shows or acts on, so changing any of them in transit breaks the signature.
 */
const SIGNED_HEADERS = [
  'from',
  'to',
  'subject',
  'date',
  'message-id',
  'reply-to',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'list-unsubscribe',
  'list-unsubscribe-post',
  'list-id',
  'feedback-id',
];

/** @internal exported for tests */
export function relaxedBody(body: string): string {
  // Relaxed body (RFC 6376 §3.4.4): runs of WSP to one space, no WSP at line ends, no empty
  // lines at the end, and a body that is not empty ends with CRLF. Each rewrite runs only when
  // the body needs it: composed bodies rarely do, and rewriting 4 KB cost ~100 µs a message.
  let b = body;
  if (/[ \t]\r\n/.test(b)) b = b.replace(/[ \t]+\r\n/g, '\r\n');
  if (/\t| {2}/.test(b)) b = b.replace(/[ \t]+/g, ' ');
  let end = b.length;
  while (end > 0 && (b.charCodeAt(end - 1) === 32 || b.charCodeAt(end - 1) === 9)) end--;
  while (end >= 2 && b.charCodeAt(end - 2) === 13 && b.charCodeAt(end - 1) === 10) end -= 2;
  return end > 0 ? `${b.slice(0, end)}\r\n` : '';
}

function relaxedHeader(name: string, value: string): string {
  // Relaxed header (RFC 6376 §3.4.2): lower-case name, unfold, WSP runs to one space, trimmed.
  return `${name.toLowerCase()}:${value
    .replace(/\r\n/g, '')
    .replace(/[ \t]+/g, ' ')
    .trim()}`;
}

interface HeaderField {
  name: string;
  value: string;
}

function parseHeaders(block: string): HeaderField[] {
  const out: HeaderField[] = [];
  for (const line of block.split('\r\n')) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && out.length) {
      const last = out[out.length - 1] as HeaderField;
      last.value += `\r\n${line}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    out.push({ name: line.slice(0, colon), value: line.slice(colon + 1) });
  }
  return out;
}

function fold(b64: string): string {
  const parts: string[] = [];
  for (let i = 0; i < b64.length; i += 72) parts.push(b64.slice(i, i + 72));
  return parts.join('\r\n\t');
}

/**
 * Signs messages with every key whose domain is the From domain or a parent of it (relaxed
 * alignment), so one campaign can carry an RSA and an Ed25519 signature at once. Keys are
 * parsed once; per message the cost is one body hash and one signature per key.
 */
export class DkimSigner {
  private readonly keys: LoadedKey[];

  constructor(keys: DkimKeyConfig[]) {
    this.keys = keys.map((k) => {
      let key: KeyObject;
      try {
        key = createPrivateKey(k.privateKey);
      } catch (err) {
        throw new DkimKeyError(
          k.domain,
          k.selector,
          `not a readable private key (${(err as Error).message})`,
        );
      }
      const type = key.asymmetricKeyType;
      if (type !== 'rsa' && type !== 'ed25519') {
        throw new DkimKeyError(
          k.domain,
          k.selector,
          `type ${String(type)} is not supported; use RSA (2048 bits) or Ed25519`,
        );
      }
      if (type === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 1024) {
        throw new DkimKeyError(
          k.domain,
          k.selector,
          'RSA keys shorter than 1024 bits are refused by receivers; use 2048',
        );
      }
      return {
        domain: k.domain.toLowerCase(),
        selector: k.selector,
        key,
        algorithm: type === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256',
      };
    });
  }

  private keysFor(fromDomain: string): LoadedKey[] {
    const d = fromDomain.toLowerCase();
    return this.keys.filter((k) => d === k.domain || d.endsWith(`.${k.domain}`));
  }

  /** Returns the message with DKIM-Signature headers prepended (unchanged when no key applies). */
  sign(raw: string, fromDomain: string, now = Date.now()): string {
    const keys = this.keysFor(fromDomain);
    if (keys.length === 0) return raw;
    const split = raw.indexOf('\r\n\r\n');
    const headerBlock = split < 0 ? raw : raw.slice(0, split);
    const body = split < 0 ? '' : raw.slice(split + 4);
    const bh = createHash('sha256').update(relaxedBody(body)).digest('base64');

    const fields = parseHeaders(headerBlock);
    // For repeated headers the last instance is signed first (RFC 6376 §5.4.2).
    const names: string[] = [];
    const canon: string[] = [];
    for (const want of SIGNED_HEADERS) {
      const matches = fields.filter((f) => f.name.toLowerCase() === want);
      for (let i = matches.length - 1; i >= 0; i--) {
        const f = matches[i] as HeaderField;
        names.push(want);
        canon.push(relaxedHeader(f.name, f.value));
      }
    }
    const headerData = canon.map((c) => `${c}\r\n`).join('');
    const t = Math.floor(now / 1000);
    const signatures: string[] = [];
    for (const k of keys) {
      const value =
        ` v=1; a=${k.algorithm}; c=relaxed/relaxed; d=${k.domain}; s=${k.selector};\r\n` +
        `\tt=${t}; h=${names.join(':')};\r\n` +
        `\tbh=${bh};\r\n\tb=`;
      const data = headerData + relaxedHeader('DKIM-Signature', value);
      const b =
        k.algorithm === 'rsa-sha256'
          ? sign('sha256', Buffer.from(data), k.key)
          : // Ed25519 signs the SHA-256 digest of the canonical headers (RFC 8463 §3).
            sign(null, createHash('sha256').update(data).digest(), k.key);
      signatures.push(`DKIM-Signature:${value}${fold(b.toString('base64'))}\r\n`);
    }
    return signatures.join('') + raw;
  }
}
