import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { Keys } from '@volley/contracts';
import { KeySealer, checkDkimSecret, type DomainRecord, type DomainView } from '@volley/domains';
import type { RedisClient } from '@volley/redis';
import { spawnService, uniquePrefix } from '@volley/testkit';
import { TenantStore } from '../src/tenants.ts';
import { DKIM_SECRET, apiFixture, auth, runAdminCli as cli, type ApiFixture } from './fixture.ts';

const ADMIN = 'admin-key-fedcba9876543210';
const adminAuth = { authorization: `Bearer ${ADMIN}` };
const DNS = {
  bounceDomain: 'bounces.volley.example',
  spfInclude: '_spf.volley.example',
};

let fx: ApiFixture;
before(async () => {
  fx = await apiFixture({ adminKey: ADMIN, dkimSecret: DKIM_SECRET, ...DNS });
  const tenants = new TenantStore(fx.redis, fx.keys);
  for (const t of ['acme', 'globex', 'cli-co']) await tenants.createTenant(t);
});
after(() => fx.close());

function admin(
  method: InjectOptions['method'],
  url: string,
  payload?: object,
): Promise<LightMyRequestResponse> {
  return fx.app.inject({ method, url: `/v1/admin${url}`, headers: adminAuth, payload });
}

/** Key pairs an operator brings, with every private part that must never be stored in clear. */
function operatorKey(type: 'rsa' | 'ed25519'): {
  pem: string;
  publicKey: KeyObject;
  secrets: Buffer[];
} {
  const pair =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ed25519');
  const der = pair.privateKey.export({ type: 'pkcs8', format: 'der' });
  const jwk = pair.privateKey.export({ format: 'jwk' });
  const parts = [jwk.d, jwk.p, jwk.q, jwk.dp, jwk.dq, jwk.qi]
    .filter((x): x is string => typeof x === 'string')
    .map((x) => Buffer.from(x, 'base64url'));
  return {
    pem: pair.privateKey
      .export({ type: type === 'rsa' ? 'pkcs1' : 'pkcs8', format: 'pem' })
      .toString(),
    publicKey: pair.publicKey,
    secrets: [der, ...parts],
  };
}

/** The forms a key's bytes could take in a text store: raw, base64, base64url and hex. */
function encodings(b: Buffer): Buffer[] {
  return [
    b,
    Buffer.from(b.toString('base64')),
    Buffer.from(b.toString('base64url')),
    Buffer.from(b.toString('hex')),
  ];
}

/** Every key name and value in the Redis server, as bytes, whatever its type. */
async function dumpRedis(r: RedisClient): Promise<Buffer> {
  const parts: Buffer[] = [];
  let cursor = '0';
  do {
    const [next, names] = await r.scanBuffer(cursor, 'COUNT', '1000');
    cursor = String(next);
    for (const name of names) {
      parts.push(name);
      const type = await r.type(name);
      if (type === 'string') parts.push((await r.getBuffer(name)) ?? Buffer.alloc(0));
      else if (type === 'hash') {
        parts.push(...Object.values(await r.hgetallBuffer(name)));
      } else if (type === 'set') parts.push(...(await r.smembersBuffer(name)));
      else if (type === 'zset') parts.push(...(await r.zrangeBuffer(name, '0', '-1')));
      else if (type === 'list') parts.push(...(await r.lrangeBuffer(name, 0, -1)));
      else if (type === 'stream')
        parts.push(Buffer.from(JSON.stringify(await r.xrange(name, '-', '+'))));
      else parts.push(Buffer.from(`<${type}>`));
    }
  } while (cursor !== '0');
  return Buffer.concat(parts);
}

function assertNoKeyMaterial(haystack: Buffer | string, secrets: Buffer[], what: string): void {
  const h = typeof haystack === 'string' ? Buffer.from(haystack) : haystack;
  assert.ok(!h.includes('PRIVATE KEY'), `${what}: no PEM private key`);
  for (const s of secrets) {
    for (const form of encodings(s)) assert.ok(!h.includes(form), `${what}: no private key bytes`);
  }
}

describe('admin API: sending domains', () => {
  test('POST adds a domain with a generated RSA-2048 key and answers the records to publish', async () => {
    const res = await admin('POST', '/tenants/acme/domains', { domain: 'Acme.Example' });
    assert.equal(res.statusCode, 201, res.body);
    const v = res.json<DomainView>();
    assert.equal(v.domain, 'acme.example');
    assert.equal(v.tenant, 'acme');
    assert.deepEqual(
      v.selectors.map((s) => [s.selector, s.keyType, s.bits, s.active]),
      [[v.activeSelector, 'rsa', 2048, true]],
    );
    assert.deepEqual(
      v.records.map((r) => [r.type, r.name, r.purpose]),
      [
        ['TXT', `${v.activeSelector}._domainkey.acme.example`, 'dkim'],
        ['TXT', 'bounces.volley.example', 'spf'],
        ['TXT', '_dmarc.acme.example', 'dmarc'],
        ['MX', 'bounces.volley.example', 'bounce-mx'],
      ],
    );
    const p = /^v=DKIM1; k=rsa; p=([A-Za-z0-9+/=]+)$/.exec(v.records[0]?.value ?? '')?.[1] ?? '';
    const pub = createPublicKey({ key: Buffer.from(p, 'base64'), format: 'der', type: 'spki' });
    assert.equal(pub.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(v.records[1]?.value, 'v=spf1 include:_spf.volley.example ~all');
    assert.equal(v.records[3]?.value, '10 bounces.volley.example');
    assert.ok(!/sealed|PRIVATE|"ct"/.test(res.body), 'no private key in the answer');

    const list = await admin('GET', '/tenants/acme/domains');
    assert.deepEqual(list.json(), { domains: [v] });
    assert.deepEqual((await admin('GET', '/tenants/acme/domains/acme.example')).json(), v);
  });

  test('an imported key is published as given and never shown again', async () => {
    for (const [type, domain] of [
      ['rsa', 'rsa-import.example'],
      ['ed25519', 'ed-import.example'],
    ] as const) {
      const key = operatorKey(type);
      const res = await admin('POST', '/tenants/globex/domains', {
        domain,
        selector: 'imported',
        privateKeyPem: key.pem,
      });
      assert.equal(res.statusCode, 201, res.body);
      const v = res.json<DomainView>();
      const spki = key.publicKey.export({ type: 'spki', format: 'der' });
      const p = type === 'rsa' ? spki : spki.subarray(-32);
      assert.equal(v.records[0]?.value, `v=DKIM1; k=${type}; p=${p.toString('base64')}`);
      assertNoKeyMaterial(res.body, key.secrets, `answer for ${type}`);
      const shown = await admin('GET', `/tenants/globex/domains/${domain}`);
      assertNoKeyMaterial(shown.body, key.secrets, `GET for ${type}`);
    }
  });

  test('rotate, stage, activate and remove selectors; remove the domain', async () => {
    const made = await admin('POST', '/tenants/acme/domains', {
      domain: 'rot.example',
      selector: 'one',
      keyType: 'ed25519',
    });
    assert.equal(made.statusCode, 201, made.body);
    const url = '/tenants/acme/domains/rot.example';
    const rotated = await admin('POST', `${url}/rotate`, { selector: 'two' });
    assert.equal(rotated.statusCode, 201, rotated.body);
    const r = rotated.json<DomainView>();
    assert.equal(r.activeSelector, 'two');
    assert.deepEqual(
      r.records.filter((x) => x.purpose === 'dkim').map((x) => x.selector),
      ['one', 'two'],
      'both selectors stay published',
    );
    const staged = await admin('POST', `${url}/rotate`, { selector: 'three', activate: false });
    assert.equal(staged.json<DomainView>().activeSelector, 'two');
    const activated = await admin('POST', `${url}/selectors/three/activate`);
    assert.equal(activated.statusCode, 200, activated.body);
    assert.equal(activated.json<DomainView>().activeSelector, 'three');

    const active = await admin('DELETE', `${url}/selectors/three`);
    assert.equal(active.statusCode, 409, active.body);
    assert.match(active.json<{ detail: string }>().detail, /rotate to a new key first/);
    const old = await admin('DELETE', `${url}/selectors/one`);
    assert.equal(old.statusCode, 200, old.body);
    assert.deepEqual(
      old.json<DomainView>().selectors.map((s) => s.selector),
      ['two', 'three'],
    );
    assert.equal((await admin('DELETE', url)).statusCode, 200);
    assert.equal((await admin('GET', url)).statusCode, 404);
    assert.equal(await fx.redis.sismember(fx.keys.tenantDomains('acme'), 'rot.example'), 0);
  });

  test('bad requests are refused with the reason and change nothing', async () => {
    await admin('POST', '/tenants/acme/domains', { domain: 'taken.example', keyType: 'ed25519' });
    const before = await fx.redis.hgetall(fx.keys.sendingDomains);
    const cases: [InjectOptions['method'], string, object | undefined, number, RegExp][] = [
      ['POST', '/tenants/nobody/domains', { domain: 'x.example' }, 404, /does not exist/],
      ['POST', '/tenants/acme/domains', { domain: 'not a domain' }, 400, /not a domain name/],
      ['POST', '/tenants/globex/domains', { domain: 'taken.example' }, 409, /tenant acme/],
      ['POST', '/tenants/acme/domains', { domain: 'y.example', keyType: 'dsa' }, 400, /keyType/],
      ['POST', '/tenants/acme/domains', { domain: 'y.example', privateKeyPem: 'x' }, 400, /PEM/],
      ['POST', '/tenants/acme/domains', { domain: 'y.example', extra: 1 }, 400, /extra/],
      ['POST', '/tenants/acme/domains', { domain: 'y.example', selector: 'a_b' }, 400, /selector/],
      ['POST', '/tenants/acme/domains/missing.example/rotate', {}, 404, /not a sending domain/],
      ['DELETE', '/tenants/globex/domains/taken.example', undefined, 404, /not a sending domain/],
    ];
    for (const [method, url, payload, status, why] of cases) {
      const res = await admin(method, url, payload);
      assert.equal(res.statusCode, status, `${method} ${url}: ${res.body}`);
      assert.match(res.json<{ detail: string }>().detail, why, url);
    }
    const apiKey = await fx.app.inject({
      method: 'POST',
      url: '/v1/admin/tenants/acme/domains',
      headers: auth,
      payload: { domain: 'z.example' },
    });
    assert.equal(apiKey.statusCode, 401, 'an API key does not open the admin API');
    assert.deepEqual(await fx.redis.hgetall(fx.keys.sendingDomains), before);
  });

  test('without VOLLEY_DKIM_SECRET adding a domain is a 503 naming it, and nothing is stored', async () => {
    const noSecret = await apiFixture({ adminKey: ADMIN });
    try {
      const res = await noSecret.app.inject({
        method: 'POST',
        url: '/v1/admin/tenants/default/domains',
        headers: adminAuth,
        payload: { domain: 'default.example' },
      });
      assert.equal(res.statusCode, 503, res.body);
      assert.match(res.json<{ detail: string }>().detail, /VOLLEY_DKIM_SECRET is not set/);
      assert.equal(await noSecret.redis.exists(noSecret.keys.sendingDomains), 0);
    } finally {
      await noSecret.close();
    }
  });
});

describe('admin CLI: domains', () => {
  test('add (imported key), list, show, rotate --staged, activate, remove; nothing prints a key', async () => {
    const env = {
      REDIS_URL: fx.url,
      VOLLEY_REDIS_PREFIX: fx.keys.prefix,
      VOLLEY_DKIM_SECRET: DKIM_SECRET,
      VOLLEY_BOUNCE_DOMAIN: 'bounces.volley.example',
    };
    const key = operatorKey('ed25519');
    const file = join(mkdtempSync(join(tmpdir(), 'volley-cli-key-')), 'key.pem');
    writeFileSync(file, key.pem, { mode: 0o600 });
    const outputs: string[] = [];
    const run = async (args: string[], extra: Record<string, string> = {}) => {
      const r = await cli(args, { ...env, ...extra });
      outputs.push(r.stdout, r.stderr);
      return r;
    };

    const noSecret = await run(['domains', 'add', 'cli-co', 'cli.example'], {
      VOLLEY_DKIM_SECRET: '',
    });
    assert.equal(noSecret.code, 1, noSecret.stderr);
    assert.match(noSecret.stderr, /VOLLEY_DKIM_SECRET is not set/);
    assert.equal(await fx.redis.sismember(fx.keys.tenantDomains('cli-co'), 'cli.example'), 0);

    const added = await run([
      'domains',
      'add',
      'cli-co',
      'cli.example',
      '--selector',
      'k1',
      '--private-key',
      file,
    ]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(
      added.stdout,
      /added cli\.example \(tenant cli-co\), signing with selector k1 \(ed25519\)/,
    );
    const spki = key.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32);
    assert.ok(
      added.stdout.includes(
        `TXT  k1._domainkey.cli.example  v=DKIM1; k=ed25519; p=${spki.toString('base64')}`,
      ),
      added.stdout,
    );
    assert.match(added.stdout, /MX {3}bounces\.volley\.example {2}10 bounces\.volley\.example/);

    const listed = await run(['domains', 'list', 'cli-co']);
    assert.match(
      listed.stdout,
      /^DOMAIN\s+ACTIVE SELECTOR\s+SELECTORS\s+CREATED\ncli\.example\s+k1\s+1\s/m,
    );

    const staged = await run([
      'domains',
      'rotate',
      'cli-co',
      'cli.example',
      '--staged',
      '--selector',
      'k2',
      '--json',
    ]);
    assert.equal(staged.code, 0, staged.stderr);
    const sv = JSON.parse(staged.stdout) as DomainView;
    assert.equal(sv.activeSelector, 'k1');
    assert.deepEqual(
      sv.selectors.map((s) => [s.selector, s.active]),
      [
        ['k1', true],
        ['k2', false],
      ],
    );
    const activated = await run(['domains', 'activate', 'cli-co', 'cli.example', 'k2']);
    assert.equal(activated.code, 0, activated.stderr);
    const shown = await run(['domains', 'show', 'cli-co', 'cli.example', '--json']);
    assert.equal((JSON.parse(shown.stdout) as DomainView).activeSelector, 'k2');

    // What was stored is the imported key, sealed: it opens with the secret, to the same bytes.
    const rec = JSON.parse(
      (await fx.redis.hget(fx.keys.sendingDomains, 'cli.example')) ?? '{}',
    ) as DomainRecord;
    const k1 = rec.selectors.find((s) => s.selector === 'k1');
    assert.ok(k1);
    const opened = new KeySealer(DKIM_SECRET).open(k1.sealed, {
      tenant: 'cli-co',
      domain: 'cli.example',
      selector: 'k1',
    });
    assert.deepEqual(opened, key.secrets[0]);

    const usage = await run(['domains', 'add', 'cli-co', 'x.example', '--key-type', 'dsa']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--key-type must be rsa or ed25519/);
    const misplaced = await run(['keys', 'list', 'cli-co', '--selector', 'k1']);
    assert.equal(misplaced.code, 2);
    const unknown = await run(['domains', 'show', 'cli-co', 'nope.example']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /nope\.example is not a sending domain of tenant cli-co/);

    const pruned = await run(['domains', 'remove', 'cli-co', 'cli.example', '--selector', 'k1']);
    assert.equal(pruned.code, 0, pruned.stderr);
    const removed = await run(['domains', 'remove', 'cli-co', 'cli.example']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /removed sending domain cli\.example of tenant cli-co/);
    assert.equal(await fx.redis.hexists(fx.keys.sendingDomains, 'cli.example'), 0);

    for (const o of outputs) assertNoKeyMaterial(o, key.secrets, 'CLI output');
  });
});

describe('at rest', () => {
  test('a dump of every Redis key and value holds no private key, as PEM or as bytes', async () => {
    const imported = [operatorKey('rsa'), operatorKey('ed25519')];
    for (const [i, k] of imported.entries()) {
      const res = await admin('POST', '/tenants/acme/domains', {
        domain: `dump${i}.example`,
        privateKeyPem: k.pem,
      });
      assert.equal(res.statusCode, 201, res.body);
      const rot = await admin('POST', `/tenants/acme/domains/dump${i}.example/rotate`, {});
      assert.equal(rot.statusCode, 201, rot.body);
    }
    const dump = await dumpRedis(fx.redis);
    assert.ok(dump.includes('dump0.example') && dump.includes('"sealed"'), 'the dump has the keys');
    assertNoKeyMaterial(
      dump,
      imported.flatMap((k) => k.secrets),
      'Redis dump',
    );
  });
});

describe('admin CLI: domains under npm start', () => {
  test("without REDIS_URL and VOLLEY_DKIM_SECRET, domains add uses the local engine's Redis and the secret it keeps; an engine given its secret says so", async () => {
    const state = mkdtempSync(join(tmpdir(), 'volley-engine-'));
    const secret = randomBytes(24).toString('hex');
    const secretFile = join(state, 'dkim-secret');
    writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
    // The record `npm start` writes (services/local/src/main.ts); this process stands in for
    // the engine, so the record names a live process.
    const record = {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      state: 'running',
      redisUrl: fx.url,
      dkimSecretFile: secretFile,
    };
    writeFileSync(join(state, 'engine.json'), JSON.stringify(record), { mode: 0o600 });
    const keys = new Keys(uniquePrefix('eng'));
    const env = { VOLLEY_LOCAL_DIR: state, VOLLEY_REDIS_PREFIX: keys.prefix };

    const added = await cli(
      ['domains', 'add', 'default', 'volley.example', '--key-type', 'ed25519'],
      env,
    );
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /added volley\.example \(tenant default\)/);
    assert.equal(await fx.redis.sismember(keys.tenantDomains('default'), 'volley.example'), 1);
    // Sealed with the engine's secret: its API and senders open the key; another secret does not.
    await checkDkimSecret(fx.redis, keys, secret);
    await assert.rejects(checkDkimSecret(fx.redis, keys, DKIM_SECRET), /does not open/);

    // Given the secret in its environment, the engine keeps no file to read: the command says
    // what it needs, and stores nothing.
    const { dkimSecretFile: _, ...given } = record;
    writeFileSync(join(state, 'engine.json'), JSON.stringify(given), { mode: 0o600 });
    const refused = await cli(
      ['domains', 'add', 'default', 'other.example', '--key-type', 'ed25519'],
      env,
    );
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, /local engine was given VOLLEY_DKIM_SECRET in its environment/);
    assert.match(refused.stderr, /VOLLEY_DKIM_SECRET is not set/);
    assert.equal(await fx.redis.sismember(keys.tenantDomains('default'), 'other.example'), 0);
  });
});

describe('start', () => {
  test('with sending domains stored, the API will not start without VOLLEY_DKIM_SECRET or with another', async () => {
    const env = {
      REDIS_URL: fx.url,
      VOLLEY_REDIS_PREFIX: fx.keys.prefix,
      VOLLEY_API_KEY: 'start-test-key-0123456789',
      VOLLEY_API_PORT: '0',
      VOLLEY_METRICS_PORT: '0',
    };
    await admin('POST', '/tenants/acme/domains', { domain: 'start.example', keyType: 'ed25519' });
    for (const [secret, why] of [
      [undefined, /VOLLEY_DKIM_SECRET is not set, and \d+ sending domains are stored/],
      ['another-secret-0123456789abcdef-0123', /VOLLEY_DKIM_SECRET does not open the DKIM key/],
    ] as const) {
      const p = spawnService('api', secret ? { ...env, VOLLEY_DKIM_SECRET: secret } : env);
      assert.equal(await p.exited, 1);
      const out = p.lines.join('\n');
      assert.match(out, /volley api: invalid configuration/);
      assert.match(out, why);
    }
  });
});
