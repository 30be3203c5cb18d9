/**
 * `npm run admin -- domains …`: tenants' sending domains and their DKIM keys, straight in
 * Redis, as the admin API manages them. Output shows selectors and the DNS records to publish,
 * never a private key.
 */
import { readFileSync } from 'node:fs';
import type { DomainConfig } from '@volley/config';
import {
  DomainStore,
  checkDkimSecret,
  domainView,
  type DkimKeyType,
  type DomainRecord,
  type DomainView,
} from '@volley/domains';
import type { RedisClient } from '@volley/redis';
import type { Keys } from '@volley/contracts';
import { UsageError, table, type Io } from './cli-io.ts';

export const DOMAINS_USAGE = `  domains add <tenant> <domain> [--selector S] [--key-type rsa|ed25519] [--private-key FILE]
                                      add a sending domain with a new (or imported) DKIM key;
                                      prints the DNS records to publish
  domains list <tenant>               list a tenant's sending domains and selectors
  domains show <tenant> <domain>      a domain's selectors and DNS records
  domains rotate <tenant> <domain> [--selector S] [--key-type T] [--private-key FILE] [--staged]
                                      add a selector with a new key and sign with it (senders
                                      switch within VOLLEY_DKIM_CACHE_TTL); --staged adds it
                                      without signing, to publish its record first
  domains activate <tenant> <domain> <selector>
                                      sign with a staged selector
  domains remove <tenant> <domain> [--selector S]
                                      remove the domain, or only an old selector of it`;

export interface DomainOptions {
  json: boolean;
  selector: string | undefined;
  keyType: string | undefined;
  privateKey: string | undefined;
  staged: boolean;
}

/** Options only the domains commands take, by flag, to refuse them elsewhere. */
export function domainFlagsGiven(o: DomainOptions): string[] {
  return [
    o.selector !== undefined && '--selector',
    o.keyType !== undefined && '--key-type',
    o.privateKey !== undefined && '--private-key',
    o.staged && '--staged',
  ].filter((f): f is string => typeof f === 'string');
}

function keyType(text: string | undefined): DkimKeyType | undefined {
  if (text === undefined || text === 'rsa' || text === 'ed25519') return text;
  throw new UsageError(`--key-type must be rsa or ed25519, not ${JSON.stringify(text)}`);
}

function readKey(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read --private-key ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function printDomain(v: DomainView, io: Io, headline: string): void {
  const active = v.selectors.find((s) => s.active);
  io.out(
    `${headline} ${v.domain} (tenant ${v.tenant}), signing with selector ${v.activeSelector}` +
      (active ? ` (${active.keyType}${active.bits ? ` ${active.bits}` : ''})` : ''),
  );
  const staged = v.selectors.filter((s) => !s.active).map((s) => s.selector);
  if (staged.length) io.out(`other selectors: ${staged.join(', ')}`);
  io.out('');
  io.out('DNS records to publish:');
  for (const r of v.records) io.out(`  ${r.type.padEnd(4)} ${r.name}  ${r.value}`);
  io.out('');
  io.out('Notes:');
  for (const n of v.notes) io.out(`  - ${n}`);
}

export async function runDomains(
  redis: RedisClient,
  keys: Keys,
  config: DomainConfig,
  positionals: string[],
  o: DomainOptions,
  io: Io,
): Promise<void> {
  const [, verb, tenant = '', domain = '', selectorArg] = positionals;
  const args = positionals.length - 2;
  const expect = (n: number): void => {
    if (args !== n) {
      throw new UsageError(`domains ${verb} takes ${n} argument${n === 1 ? '' : 's'}, got ${args}`);
    }
  };
  const allow = (...flags: string[]): void => {
    const extra = domainFlagsGiven(o).filter((f) => !flags.includes(f));
    if (extra.length) throw new UsageError(`domains ${verb} takes no ${extra.join(', ')}`);
  };
  const store = new DomainStore(redis, keys, {
    secret: config.dkimSecret,
    staticDomains: config.dkimKeys.map((k) => k.domain),
  });
  const dns = {
    bounceDomain: config.bounceDomain,
    bounceMx: config.bounceMx,
    spfInclude: config.spfInclude,
  };
  const show = (rec: DomainRecord, headline: string): void => {
    const v = domainView(rec, dns);
    if (o.json) io.out(JSON.stringify(v));
    else printDomain(v, io, headline);
  };
  const newKey = () => ({
    selector: o.selector,
    keyType: keyType(o.keyType),
    privateKeyPem: readKey(o.privateKey),
  });

  switch (verb) {
    case 'add': {
      expect(2);
      allow('--selector', '--key-type', '--private-key');
      const input = { domain, ...newKey() };
      // Sealing with another secret than the stored keys' would leave keys nobody can open.
      await checkDkimSecret(redis, keys, config.dkimSecret);
      show(await store.add(tenant, input), 'added');
      return;
    }
    case 'list': {
      expect(1);
      allow();
      const all = (await store.list(tenant)).map((r) => domainView(r, dns));
      if (o.json) io.out(JSON.stringify(all));
      else if (all.length === 0) {
        io.err(
          `tenant ${tenant} has no sending domains: add one with \`npm run admin -- domains add ${tenant} <domain>\``,
        );
      } else {
        table([
          ['DOMAIN', 'ACTIVE SELECTOR', 'SELECTORS', 'CREATED'],
          ...all.map((v) => [v.domain, v.activeSelector, String(v.selectors.length), v.createdAt]),
        ]).forEach((l) => io.out(l));
      }
      return;
    }
    case 'show':
      expect(2);
      allow();
      show(await store.get(tenant, domain), 'domain');
      return;
    case 'rotate': {
      expect(2);
      allow('--selector', '--key-type', '--private-key', '--staged');
      const input = { ...newKey(), activate: !o.staged };
      await checkDkimSecret(redis, keys, config.dkimSecret);
      show(await store.rotate(tenant, domain, input), o.staged ? 'staged a key for' : 'rotated');
      return;
    }
    case 'activate':
      expect(3);
      allow();
      show(await store.activate(tenant, domain, selectorArg ?? ''), 'activated a selector of');
      return;
    case 'remove':
      expect(2);
      allow('--selector');
      if (o.selector !== undefined) {
        show(await store.removeSelector(tenant, domain, o.selector), 'removed a selector of');
      } else {
        const rec = await store.remove(tenant, domain);
        if (o.json) io.out(JSON.stringify(domainView(rec, dns)));
        else {
          io.out(`removed sending domain ${rec.domain} of tenant ${rec.tenant}`);
          io.err(
            'Its keys stop signing within VOLLEY_DKIM_CACHE_TTL; unpublish its DKIM records once no mail signed with them is in flight.',
          );
        }
      }
      return;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(`domains ${verb ?? ''}`)}`);
  }
}
