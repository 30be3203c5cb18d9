/**
 * `volley dns check DOMAIN`: the records that decide whether receivers accept a domain's mail,
 * each answered pass, warn or fail with a reason and, when it does not pass, the record to
 * publish. Exit status 1 when any check fails (warnings alone are 0).
 */
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadDomainConfig, type DomainConfig } from '@volley/config';
import { dkimRecordValue } from '@volley/domains';
import { ok } from '../api.ts';
import { adminTarget, clientFor, type Env } from '../config.ts';
import type { CommandContext, Exit } from '../context.ts';
import { CliError, UsageError, type Output } from '../output.ts';
import { runChecks, type CheckPlan } from './check.ts';
import { normalName, Dns } from './resolver.ts';
import type { CheckResult, Publish } from './types.ts';

export interface DnsCheckOptions {
  ip?: string[];
  selector?: string[];
  tenant?: string;
  bounceDomain?: string;
  bounceHost?: string;
  dnsServer?: string[];
  json: boolean;
}

/** A host name as DNS takes it (underscores allowed, as in `_dmarc`), at most 253 characters. */
const DOMAIN = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$/;

export function domainName(what: string, value: string): string {
  const d = normalName(value.trim());
  if (!DOMAIN.test(d))
    throw new UsageError(`${what} ${JSON.stringify(value)} is not a domain name`);
  return d;
}

/** --dns-server, else VOLLEY_DNS_SERVERS (the senders' setting for MX lookups), else the system's. */
function dnsServers(given: readonly string[], env: Env): string[] {
  if (given.length) return [...given];
  return (env.VOLLEY_DNS_SERVERS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A TXT value as a zone file writes it: strings of at most 255 bytes (RFC 1035 3.3.14). */
export function txtStrings(value: string): string[] {
  const out: string[] = [];
  // DKIM, SPF and DMARC values are ASCII, so 255 characters are 255 bytes.
  for (let i = 0; i < value.length || i === 0; i += 255) out.push(value.slice(i, i + 255));
  return out;
}

export function zoneValue(p: Publish): string {
  return p.type === 'TXT'
    ? txtStrings(p.value)
        .map((s) => `"${s.replace(/["\\]/g, '\\$&')}"`)
        .join(' ')
    : p.value;
}

interface Configured {
  dkimDomain: string;
  selectors: CheckPlan['selectors'];
  bounceDomain?: string;
  bounceHost?: string;
}

/**
 * What Volley has for the domain: the tenant's sending domain that covers it (the domain or a
 * parent), its selectors with the records to publish, and the bounce MX the API is set up with.
 */
async function configured(
  ctx: CommandContext,
  tenant: string,
  domain: string,
): Promise<Configured> {
  const target = adminTarget(ctx.env);
  const { domains } = await ok(
    clientFor(target).GET('/v1/admin/tenants/{tenant}/domains', { params: { path: { tenant } } }),
    target.baseUrl,
  );
  const covering = domains
    .filter((d) => domain === d.domain || domain.endsWith(`.${d.domain}`))
    .sort((a, b) => b.domain.length - a.domain.length)[0];
  if (!covering) {
    throw new CliError(
      `${domain} is not one of tenant ${tenant}'s sending domains (add it with \`volley domain add ${tenant} ${domain}\`)`,
      'CLI_NOT_FOUND',
    );
  }
  const bounce = covering.records.find((r) => r.purpose === 'bounce-mx');
  return {
    dkimDomain: covering.domain,
    selectors: covering.records
      .filter((r) => r.purpose === 'dkim' && r.selector !== undefined)
      .map((r) => ({ selector: r.selector ?? '', configured: { record: r.value } })),
    ...(bounce
      ? { bounceDomain: bounce.name, bounceHost: normalName(bounce.value.replace(/^\d+\s+/, '')) }
      : {}),
  };
}

/** The sending domains' settings of this environment, as the API and the senders read them. */
function envConfig(env: Env): DomainConfig {
  try {
    return loadDomainConfig(env);
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err), 'CLI_CONFIG');
  }
}

/**
 * The DKIM record of a PEM private key file, as the senders sign with it: p= is the SPKI of an
 * RSA key, the raw 32 bytes of an Ed25519 key (RFC 8463). Any size is read: judging it is the
 * DKIM check's part, against what is published.
 */
function publicRecord(path: string): string {
  const key = createPublicKey(readFileSync(path, 'utf8'));
  const spki = key.export({ type: 'spki', format: 'der' });
  if (key.asymmetricKeyType === 'ed25519')
    return dkimRecordValue('ed25519', spki.subarray(-32).toString('base64'));
  if (key.asymmetricKeyType === 'rsa') return dkimRecordValue('rsa', spki.toString('base64'));
  throw new Error(`a ${String(key.asymmetricKeyType)} key; DKIM signs with RSA or Ed25519`);
}

/**
 * The keys of VOLLEY_DKIM_KEYS that sign for `domain` (keys of the domain, else of the nearest
 * parent, as the senders pick them), each with the record its private key publishes.
 */
function keysFromFiles(
  cfg: DomainConfig,
  domain: string,
): Pick<Configured, 'dkimDomain' | 'selectors'> | undefined {
  const covering = cfg.dkimKeys
    .filter((k) => domain === k.domain || domain.endsWith(`.${k.domain}`))
    .sort((a, b) => b.domain.length - a.domain.length);
  const dkimDomain = covering[0]?.domain;
  if (dkimDomain === undefined) return undefined;
  return {
    dkimDomain,
    selectors: covering
      .filter((k) => k.domain === dkimDomain)
      .map((k) => {
        try {
          return { selector: k.selector, configured: { record: publicRecord(k.keyPath) } };
        } catch (err) {
          throw new CliError(
            `VOLLEY_DKIM_KEYS: the key of ${k.selector}._domainkey.${k.domain} at ${k.keyPath}: ${err instanceof Error ? err.message : String(err)}`,
            'CLI_CONFIG',
          );
        }
      }),
  };
}

/** VOLLEY_BOUNCE_DOMAIN and VOLLEY_BOUNCE_MX, as the API and the senders read them. */
function bounceFromEnv(cfg: DomainConfig): { bounceDomain?: string; bounceHost?: string } {
  return {
    ...(cfg.bounceDomain ? { bounceDomain: cfg.bounceDomain } : {}),
    ...(cfg.bounceMx ? { bounceHost: cfg.bounceMx } : {}),
  };
}

const LABEL = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' } as const;
const COLOUR = { pass: 'green', warn: 'yellow', fail: 'red' } as const;

function show(out: Output, r: CheckResult): void {
  if (!out.human) {
    out.json(r);
    return;
  }
  out.line(`${out.paint(COLOUR[r.status], LABEL[r.status])}  ${r.check.padEnd(22)} ${r.detail}`);
  if (r.publish) {
    out.line(
      `      ${out.paint('dim', 'publish:')} ${r.publish.type} ${r.publish.name} ${zoneValue(r.publish)}`,
    );
  }
}

export async function dnsCheckCommand(
  ctx: CommandContext,
  domainArg: string,
  opts: DnsCheckOptions,
): Promise<Exit> {
  const o = {
    ...opts,
    ip: opts.ip ?? [],
    selector: opts.selector ?? [],
    dnsServer: opts.dnsServer ?? [],
  };
  const out = ctx.output(o.json);
  const domain = domainName('DOMAIN', domainArg);
  // The keys Volley signs with: the tenant's (admin API), else this environment's key files.
  const fromVolley = o.tenant ? await configured(ctx, o.tenant, domain) : undefined;
  const cfg = fromVolley ? undefined : envConfig(ctx.env);
  const signing = fromVolley ?? (cfg && keysFromFiles(cfg, domain));
  const keys = new Map(signing?.selectors.map((s) => [s.selector, s]) ?? []);
  // Flags first, then what the API is set up with, then this environment's settings.
  const env = o.bounceDomain || fromVolley?.bounceDomain || !cfg ? {} : bounceFromEnv(cfg);
  const bounceDomain = o.bounceDomain
    ? domainName('--bounce-domain', o.bounceDomain)
    : (fromVolley?.bounceDomain ?? env.bounceDomain);
  const bounceHost = o.bounceHost
    ? domainName('--bounce-host', o.bounceHost)
    : o.bounceDomain
      ? undefined
      : (fromVolley?.bounceHost ?? env.bounceHost);
  const plan: CheckPlan = {
    domain,
    ips: o.ip,
    selectors: o.selector.length
      ? o.selector.map((s) => keys.get(s) ?? { selector: s })
      : (signing?.selectors ?? []),
    ...(signing ? { dkimDomain: signing.dkimDomain } : {}),
    ...(bounceDomain ? { bounceDomain } : {}),
    ...(bounceHost ? { bounceHost } : {}),
  };
  const dns = new Dns(dnsServers(o.dnsServer, ctx.env));
  if (out.human && !o.ip.length)
    out.note('no --ip given: SPF results per address and reverse DNS are not checked');
  const results = await runChecks(dns, plan, (r) => show(out, r));
  const count = (s: CheckResult['status']) => results.filter((r) => r.status === s).length;
  if (out.human) {
    out.line();
    out.line(
      `${domain}: ${count('pass')} passed, ${count('warn')} warnings, ${count('fail')} failed`,
    );
  }
  return count('fail') > 0 ? 1 : 0;
}
