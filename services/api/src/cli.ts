/**
 * `npm run admin -- <command>`: tenants, API keys and sending domains, managed straight in Redis
 * (REDIS_URL, or the running local engine's; VOLLEY_REDIS_PREFIX), so the first key can be made
 * before any API runs and without
 * VOLLEY_ADMIN_KEY. Exit status: 0 done, 1 failed (unknown tenant, Redis unreachable, ...),
 * 2 wrong usage.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadCommonConfig, loadDomainConfig } from '@volley/config';
import { Keys } from '@volley/contracts';
import { connectRedis, type RedisClient } from '@volley/redis';
import { localStateDir, runningEngine, type LocalEngineRecord } from '@volley/runtime';
import { DOMAINS_USAGE, domainFlagsGiven, runDomains, type DomainOptions } from './cli-domains.ts';
import { UsageError, table, type Io } from './cli-io.ts';
import { TENANT_ID_PATTERN, TenantStore, type ApiKeyRecord, type Tenant } from './tenants.ts';

const USAGE = `usage: npm run admin -- <command> [--json]

  tenants create <id> [--name NAME]   create a tenant (id: ${TENANT_ID_PATTERN})
  tenants list                        list tenants
  keys create <tenant> [--name NAME]  create an API key; prints the key, once
  keys list <tenant>                  list a tenant's keys (ids and names, never the keys)
  keys revoke <keyId>                 revoke a key; requests with it are refused at once
${DOMAINS_USAGE}

  --json   print JSON instead of text

Environment: REDIS_URL (default: the Redis of the engine \`npm start\` runs here, found
through VOLLEY_LOCAL_DIR), VOLLEY_REDIS_PREFIX (default volley), as for the services;
for domains VOLLEY_DKIM_SECRET (to add or rotate keys; default with that engine: the secret
it keeps in its state folder), VOLLEY_DKIM_KEYS, VOLLEY_BOUNCE_DOMAIN, VOLLEY_BOUNCE_MX and
VOLLEY_SPF_INCLUDE, as the API has them.`;

const iso = (ms: number): string => new Date(ms).toISOString();

function keyJson(k: ApiKeyRecord): Record<string, unknown> {
  return { id: k.id, tenant: k.tenant, name: k.name, createdAt: iso(k.createdAt) };
}

function tenantJson(t: Tenant): Record<string, unknown> {
  return { id: t.id, name: t.name, createdAt: iso(t.createdAt) };
}

/** Tenants or keys: a JSON array of `toJson`'s records, the note `empty`, or a table. */
function printList<T extends { id: string; name?: string | undefined; createdAt: number }>(
  io: Io,
  json: boolean,
  items: T[],
  toJson: (item: T) => Record<string, unknown>,
  empty: string,
): void {
  if (json) io.out(JSON.stringify(items.map(toJson)));
  else if (items.length === 0) io.err(empty);
  else {
    table([
      ['ID', 'NAME', 'CREATED'],
      ...items.map((t) => [t.id, t.name ?? '', iso(t.createdAt)]),
    ]).forEach((l) => io.out(l));
  }
}

/** Runs one command against the store; throws UsageError (or TenantError) for the caller to report. */
async function run(
  store: TenantStore,
  positionals: string[],
  opts: { name: string | undefined; json: boolean },
  io: Io,
): Promise<void> {
  const [noun, verb, arg] = positionals;
  const expect = (n: number): void => {
    const got = positionals.length - 2;
    if (got !== n)
      throw new UsageError(`${noun} ${verb} takes ${n} argument${n === 1 ? '' : 's'}, got ${got}`);
  };
  const noName = (): void => {
    if (opts.name !== undefined) throw new UsageError(`${noun} ${verb} takes no --name`);
  };
  switch (`${noun} ${verb}`) {
    case 'tenants create': {
      expect(1);
      const t = await store.createTenant(arg ?? '', opts.name);
      if (opts.json) io.out(JSON.stringify(tenantJson(t)));
      else io.out(`created tenant ${t.id}${t.name ? ` (${t.name})` : ''}`);
      return;
    }
    case 'tenants list': {
      expect(0);
      noName();
      printList(
        io,
        opts.json,
        await store.listTenants(),
        tenantJson,
        'no tenants yet: create one with `npm run admin -- tenants create <id>`',
      );
      return;
    }
    case 'keys create': {
      expect(1);
      const { key, record } = await store.createKey(arg ?? '', opts.name);
      if (opts.json) {
        io.out(JSON.stringify({ ...keyJson(record), key }));
      } else {
        // The key alone on stdout, so `KEY=$(npm run -s admin -- keys create t)` captures it.
        io.out(key);
        io.err(
          `created key ${record.id} for tenant ${record.tenant}${record.name ? ` (${record.name})` : ''}. ` +
            'This is the only time the key is shown: store it now.',
        );
      }
      return;
    }
    case 'keys list': {
      expect(1);
      noName();
      printList(
        io,
        opts.json,
        await store.listKeys(arg ?? ''),
        keyJson,
        `tenant ${arg} has no keys`,
      );
      return;
    }
    case 'keys revoke': {
      expect(1);
      noName();
      const k = await store.revokeKey(arg ?? '');
      if (opts.json) io.out(JSON.stringify(keyJson(k)));
      else io.out(`revoked key ${k.id} of tenant ${k.tenant}`);
      return;
    }
    default:
      throw new UsageError(
        noun === undefined
          ? 'no command given'
          : `unknown command ${JSON.stringify(positionals.slice(0, 2).join(' '))}`,
      );
  }
}

/**
 * `env` with the DKIM secret of the local engine whose Redis the command uses, when it keeps
 * one in its state folder and VOLLEY_DKIM_SECRET is unset: keys added here then open in its
 * API and senders. An engine given the secret in its environment has no file; the command
 * says so rather than guess.
 */
function withEngineSecret(
  env: Record<string, string | undefined>,
  engine: LocalEngineRecord | undefined,
  io: Io,
): Record<string, string | undefined> {
  if (!engine || env.VOLLEY_DKIM_SECRET?.trim()) return env;
  const file = engine.dkimSecretFile;
  if (!file) {
    io.err(
      'note: the local engine was given VOLLEY_DKIM_SECRET in its environment; adding or rotating keys needs the same one here',
    );
    return env;
  }
  try {
    return { ...env, VOLLEY_DKIM_SECRET: readFileSync(file, 'utf8').trim() };
  } catch (err) {
    io.err(
      `note: cannot read the local engine's DKIM secret (${file}): ${err instanceof Error ? err.message : String(err)}`,
    );
    return env;
  }
}

function mask(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** The CLI as a function of its arguments and environment; resolves to the exit status. */
async function main(
  argv: string[],
  env: Record<string, string | undefined>,
  io: Io,
): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    io.err(`volley admin: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    io.out(USAGE);
    return 0;
  }
  if (parsed.positionals.length < 2) {
    io.err(
      `volley admin: ${parsed.positionals.length === 0 ? 'no command given' : 'incomplete command'}\n\n${USAGE}`,
    );
    return 2;
  }

  // Without REDIS_URL, the Redis of the engine `npm start` runs from this checkout.
  const engine = env.REDIS_URL?.trim() ? undefined : runningEngine(localStateDir(env));
  const domainsCommand = parsed.positionals[0] === 'domains';
  let config: ReturnType<typeof loadCommonConfig>;
  let domainConfig: ReturnType<typeof loadDomainConfig> | undefined;
  try {
    config = loadCommonConfig(
      'api',
      engine?.redisUrl ? { ...env, REDIS_URL: engine.redisUrl } : env,
    );
    if (domainsCommand) domainConfig = loadDomainConfig(withEngineSecret(env, engine, io));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.err(`volley admin: ${err.message}`);
    if (!env.REDIS_URL?.trim()) {
      io.err(
        `No local engine runs with state in ${localStateDir(env)}: start one with \`npm start\`, or set REDIS_URL.`,
      );
    }
    return 1;
  }
  // One retry per command, not the services' patience: an operator waiting on a typo in
  // REDIS_URL should hear about it in a second, not after minutes of reconnecting.
  const redis: RedisClient = connectRedis(config.redisUrl, {
    name: 'volley-admin',
    maxRetriesPerRequest: 1,
    cluster: config.redisCluster,
  });
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => {
    lastError = err;
  });
  try {
    await redis.ping().catch((err: unknown) => {
      const why = lastError?.message ?? (err instanceof Error ? err.message : String(err));
      throw new Error(`cannot reach Redis at ${mask(config.redisUrl)}: ${why}`);
    });
    const keys = new Keys(config.redisPrefix);
    const v = parsed.values;
    const domainOpts: DomainOptions = {
      json: v.json ?? false,
      selector: v.selector,
      keyType: v['key-type'],
      privateKey: v['private-key'],
      staged: v.staged ?? false,
    };
    if (domainConfig) {
      if (v.name !== undefined) throw new UsageError('domains commands take no --name');
      await runDomains(redis, keys, domainConfig, parsed.positionals, domainOpts, io);
      return 0;
    }
    const misplaced = domainFlagsGiven(domainOpts);
    if (misplaced.length) {
      throw new UsageError(`${misplaced.join(', ')} only apply to domains commands`);
    }
    await run(
      new TenantStore(redis, keys),
      parsed.positionals,
      { name: v.name, json: domainOpts.json },
      io,
    );
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`volley admin: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    io.err(`volley admin: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    redis.disconnect();
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      name: { type: 'string', short: 'n' },
      selector: { type: 'string' },
      'key-type': { type: 'string' },
      'private-key': { type: 'string' },
      staged: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

process.exitCode = await main(process.argv.slice(2), process.env, {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
});
