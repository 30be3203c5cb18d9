/**
 * The DKIM key record of a selector (RFC 6376 3.6.1): present and one, its key type and size
 * (RFC 8301: RSA under 1024 bits must not verify; 2048 is what receivers expect now), p= not
 * empty (empty means revoked), and the key Volley signs with when it is known.
 */
import { createPublicKey } from 'node:crypto';
import type { Dns } from './resolver.ts';
import { parseTags } from './tags.ts';
import { result, type CheckResult, type Publish } from './types.ts';

/** RFC 8301 3.2: verifiers must not accept RSA keys under 1024 bits. */
const RSA_MIN_BITS = 1024;
/** RFC 8301 3.2 asks signers for at least 2048; shorter keys are being refused by receivers. */
const RSA_GOOD_BITS = 2048;
/** An Ed25519 public key is 32 bytes (RFC 8463 3). */
const ED25519_BYTES = 32;

/** The key Volley signs with, as the API shows it. */
export interface ConfiguredKey {
  /** The whole TXT value to publish (`v=DKIM1; k=...; p=...`). */
  record: string;
}

export function dkimName(selector: string, domain: string): string {
  return `${selector}._domainkey.${domain}`;
}

/** The p= of a record value, whitespace removed (RFC 6376 3.6.1 allows folding). */
function keyOf(value: string): string | undefined {
  return parseTags(value).values.get('p')?.replace(/\s+/g, '');
}

function rsaBits(p: string): number | undefined {
  try {
    const key = createPublicKey({ key: Buffer.from(p, 'base64'), format: 'der', type: 'spki' });
    return key.asymmetricKeyType === 'rsa' ? key.asymmetricKeyDetails?.modulusLength : undefined;
  } catch {
    return undefined;
  }
}

export async function dkimCheck(
  dns: Dns,
  domain: string,
  selector: string,
  configured: ConfiguredKey | undefined,
): Promise<CheckResult> {
  const name = dkimName(selector, domain);
  const check = `dkim ${selector}`;
  const publish: Publish | undefined = configured && {
    type: 'TXT',
    name,
    value: configured.record,
  };
  // Without the configured key, a fail still says what to publish: the record's shape, with
  // the key to fill in from `volley dkim keygen` (or `volley domain add`).
  const mend: Publish = publish ?? {
    type: 'TXT',
    name,
    value: `v=DKIM1; k=rsa; p=<the p= value that \`volley dkim keygen ${domain} ${selector}\` prints>`,
  };
  const fix = publish
    ? ''
    : ' (publish the record `volley dkim keygen` or `volley domain add` printed)';
  const records = (await dns.txt(name)).filter((t) => !/^v=(?!DKIM1)/i.test(t.trim()));
  if (records.length === 0) {
    return result(
      check,
      'fail',
      `${name} has no DKIM key record: signatures with s=${selector} cannot verify${fix}`,
      mend,
    );
  }
  if (records.length > 1) {
    return result(
      check,
      'fail',
      `${name} has ${records.length} TXT records: verifiers may pick any, publish one${fix}`,
      mend,
    );
  }
  const tags = parseTags(records[0] ?? '');
  const v = tags.values.get('v');
  if (tags.problems.length || (v !== undefined && (v !== 'DKIM1' || tags.first !== 'v'))) {
    const why = tags.problems[0] ?? 'v= must be DKIM1 and come first';
    return result(check, 'fail', `${name}: malformed DKIM record: ${why}`, mend);
  }
  const k = (tags.values.get('k') ?? 'rsa').toLowerCase();
  const p = keyOf(records[0] ?? '');
  if (p === undefined)
    return result(check, 'fail', `${name}: the record has no p= (public key)`, mend);
  if (p === '') {
    return result(
      check,
      'fail',
      `${name}: p= is empty, the key is revoked: signatures with s=${selector} fail${fix}`,
      mend,
    );
  }
  let size: string;
  let weak: string | undefined;
  if (k === 'rsa') {
    const bits = rsaBits(p);
    if (bits === undefined)
      return result(check, 'fail', `${name}: p= is not an RSA public key`, mend);
    size = `RSA ${bits} bits`;
    if (bits < RSA_MIN_BITS) {
      return result(
        check,
        'fail',
        `${name}: ${size}; receivers ignore keys under ${RSA_MIN_BITS} bits (RFC 8301)`,
        mend,
      );
    }
    if (bits < RSA_GOOD_BITS)
      weak = `${size}; use ${RSA_GOOD_BITS} bits (receivers are dropping shorter keys)`;
  } else if (k === 'ed25519') {
    if (Buffer.from(p, 'base64').length !== ED25519_BYTES) {
      return result(check, 'fail', `${name}: p= is not a ${ED25519_BYTES}-byte Ed25519 key`, mend);
    }
    size = 'Ed25519';
  } else {
    return result(
      check,
      'fail',
      `${name}: k=${k} is no key type receivers know (rsa or ed25519)`,
      mend,
    );
  }
  if (configured) {
    if (keyOf(configured.record) !== p) {
      return result(
        check,
        'fail',
        `${name}: the published key is not the one Volley signs with`,
        mend,
      );
    }
  }
  if (/(^|:)y(:|$)/.test(tags.values.get('t') ?? '')) {
    return result(
      check,
      'warn',
      `${name}: ${size}, but t=y (testing): receivers may treat signatures as unsigned`,
      publish,
    );
  }
  if (weak) return result(check, 'warn', `${name}: ${weak}`, publish);
  const matched = configured ? ', matches the configured key' : '';
  return result(check, 'pass', `${name}: ${size}${matched}`);
}
