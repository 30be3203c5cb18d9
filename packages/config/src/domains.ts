/**
 * Settings of sending domains and their DKIM keys, read by the API, the senders and the admin
 * CLI alike: the secret that seals stored keys, the static keys of `VOLLEY_DKIM_KEYS`, and what
 * the DNS records a domain must publish point at.
 */
import { Reader, done, type Env } from './reader.ts';
import { bounceDomainSetting } from './common.ts';

export interface DkimKeyRef {
  domain: string;
  selector: string;
  /** Path of the PEM private key file. */
  keyPath: string;
}

export interface DomainConfig {
  /**
   * Seals every DKIM private key stored in Redis (AES-256-GCM under a key derived from it), so a
   * dump of Redis alone does not reveal them. Required once any tenant has a sending domain.
   */
  dkimSecret: string | undefined;
  /** `VOLLEY_DKIM_KEYS`: keys read from files; their domains are the default tenant's. */
  dkimKeys: DkimKeyRef[];
  /** Domain of the VERP return path; its MX must point at the bounce service. */
  bounceDomain: string | undefined;
  /** Host the bounce domain's MX names. @defaultValue the bounce domain itself */
  bounceMx: string | undefined;
  /** Domain whose SPF record lists the hosts that send (relays or senders), for `include:`. */
  spfInclude: string | undefined;
}

/** Shortest VOLLEY_DKIM_SECRET: 32 characters, as `openssl rand -hex 16` gives at the least. */
export const DKIM_SECRET_MIN = 32;

const HOST = /^([a-z0-9-]{1,63}\.)+[a-z]{2,63}$/;
// SPF include targets are often underscore names (`_spf.example.net`).
const SPF_HOST = /^([a-z0-9_-]{1,63}\.)+[a-z]{2,63}$/;

function host(r: Reader, name: string, pattern: RegExp, why: string): string | undefined {
  const v = r.raw(name)?.toLowerCase();
  if (v !== undefined && (v.length > 253 || !pattern.test(v))) {
    r.problems.push(`${name}=${JSON.stringify(v)} is not a domain name: ${why}`);
  }
  return v;
}

/** `VOLLEY_DKIM_KEYS`: comma-separated `domain:selector:/path/key.pem`. */
function dkimKeys(r: Reader): DkimKeyRef[] {
  const out: DkimKeyRef[] = [];
  for (const entry of (r.raw('VOLLEY_DKIM_KEYS') ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z0-9.-]+):([A-Za-z0-9._-]+):(.+)$/.exec(entry);
    if (!m) {
      r.problems.push(
        `VOLLEY_DKIM_KEYS: ${JSON.stringify(entry)} must be domain:selector:/path/to/private-key.pem`,
      );
      continue;
    }
    out.push({ domain: (m[1] ?? '').toLowerCase(), selector: m[2] ?? '', keyPath: m[3] ?? '' });
  }
  return out;
}

/** The domain settings, recording what is wrong in `r` (for the service loaders). */
export function domainSettings(r: Reader): DomainConfig {
  const dkimSecret = r.raw('VOLLEY_DKIM_SECRET');
  if (dkimSecret !== undefined && dkimSecret.length < DKIM_SECRET_MIN) {
    r.problems.push(
      `VOLLEY_DKIM_SECRET must be at least ${DKIM_SECRET_MIN} characters: it is the key that seals every stored DKIM private key (e.g. \`openssl rand -hex 32\`), and the API, the senders and \`npm run admin\` need the same one`,
    );
  }
  return {
    dkimSecret,
    dkimKeys: dkimKeys(r),
    bounceDomain: bounceDomainSetting(r),
    bounceMx: host(
      r,
      'VOLLEY_BOUNCE_MX',
      HOST,
      "it is the host the bounce domain's MX record names (where the bounce service listens)",
    ),
    spfInclude: host(
      r,
      'VOLLEY_SPF_INCLUDE',
      SPF_HOST,
      'it is the domain whose SPF record lists your sending hosts, for `include:`',
    ),
  };
}

/** The domain settings alone, for the admin CLI. */
export function loadDomainConfig(env: Env = process.env): DomainConfig {
  const r = new Reader(env);
  return done(r, domainSettings(r));
}
