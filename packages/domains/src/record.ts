/**
 * A sending domain as stored: its tenant and its DKIM selectors, each with the public key to
 * publish and the private key sealed. One JSON value per domain in `Keys.sendingDomains`.
 */
import type { DkimKeyType } from './keys.ts';
import type { SealedKey } from './sealing.ts';

export interface StoredSelector {
  selector: string;
  keyType: DkimKeyType;
  /** Modulus length of an RSA key. */
  bits?: number;
  /** Epoch ms. */
  createdAt: number;
  /** The `p=` of its DKIM record. */
  publicKey: string;
  /** The private key, sealed with VOLLEY_DKIM_SECRET; never leaves the store unsealed except to sign. */
  sealed: SealedKey;
}

export interface DomainRecord {
  /** Lower-case, IDNs in punycode. */
  domain: string;
  tenant: string;
  /** Epoch ms. */
  createdAt: number;
  /** The selector that signs; the others stay published until they are removed. */
  active: string;
  selectors: StoredSelector[];
}

export function parseRecord(raw: string): DomainRecord {
  return JSON.parse(raw) as DomainRecord;
}

export function activeSelector(rec: DomainRecord): StoredSelector | undefined {
  return rec.selectors.find((s) => s.selector === rec.active);
}

/**
 * The domain and each parent that could be a sending domain (two labels or more), most
 * specific first: `news.acme.example` → itself, `acme.example`.
 */
export function domainAndParents(domain: string): string[] {
  const labels = domain.split('.');
  const out: string[] = [];
  for (let i = 0; i <= labels.length - 2; i++) out.push(labels.slice(i).join('.'));
  return out;
}
