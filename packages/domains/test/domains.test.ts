import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { ConfigError } from '@volley/config';
import { Keys } from '@volley/contracts';
import { MessageComposer } from '@volley/message';
import { connectRedis, type RedisClient } from '@volley/redis';
import { startDnsStub, startRedis, uniquePrefix, type DnsZone } from '@volley/testkit';
import {
  DkimSecretError,
  DomainError,
  DomainStore,
  KeySealer,
  MAX_SELECTORS,
  SendingDomains,
  TenantSigners,
  checkDkimSecret,
  dnsRecords,
  importDkimKey,
  isRefused,
  type DomainRecord,
} from '../src/index.ts';

const SECRET = 'domains-test-secret-0123456789abcdef';

let server: Awaited<ReturnType<typeof startRedis>>;
let redis: RedisClient;
const zone: DnsZone = {};
let dns: Awaited<ReturnType<typeof startDnsStub>>;
let resolver: Resolver;

before(async () => {
  server = await startRedis();
  redis = connectRedis(server.url, { name: 'domains-test' });
  await redis.ping();
  dns = await startDnsStub(zone);
  resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`127.0.0.1:${dns.port}`]);
});
after(async () => {
  redis.disconnect();
  await server.stop();
  await dns.close();
});

/** A store on a key prefix of its own, with the tenants acme and globex. */
async function fresh(opts: { secret?: string; staticDomains?: string[] } = {}) {
  const keys = new Keys(uniquePrefix('dom'));
  await redis.hset(keys.tenants, 'acme', '{}', 'globex', '{}');
  const store = new DomainStore(redis, keys, {
    secret: 'secret' in opts ? opts.secret : SECRET,
    staticDomains: opts.staticDomains,
  });
  return { keys, store };
}

/** Publishes a domain's DKIM records in the DNS stub, as its operator would. */
function publish(rec: DomainRecord): void {
  for (const r of dnsRecords(rec, {})) {
    if (r.purpose === 'dkim') zone[r.name] = { txt: [r.value] };
  }
}

interface Verified {
  signingDomain: string;
  selector: string;
  status: { result: string };
}

function message(from: string): string {
  return new MessageComposer({ campaignId: 'c1', from }).compose(1, 'ada@rcpt.example', {
    subject: 'Hi',
    html: '<p>Hello</p>',
    text: undefined,
  }).raw;
}

async function verify(raw: string): Promise<Verified[]> {
  const res = (await dkimVerify(Buffer.from(raw), {
    resolver: async (name: string, rr: string) => (await resolver.resolve(name, rr)) as string[][],
  })) as unknown as { results: Verified[] };
  return res.results;
}

async function rejectsWith(work: Promise<unknown>, code: DomainError['code']): Promise<void> {
  await assert.rejects(work, (err: unknown) => err instanceof DomainError && err.code === code);
}

describe('sealing', () => {
  const place = { tenant: 'acme', domain: 'acme.example', selector: 's1' };
  const plain = Buffer.from('private key bytes');

  test('a sealed key opens with the same secret and place, and hides its bytes', () => {
    const sealed = new KeySealer(SECRET).seal(plain, place);
    assert.ok(!Buffer.from(sealed.ct, 'base64').includes(plain));
    assert.deepEqual(new KeySealer(SECRET).open(sealed, place), plain);
    // A fresh nonce per seal: the same key sealed twice gives two ciphertexts.
    assert.notEqual(new KeySealer(SECRET).seal(plain, place).ct, sealed.ct);
  });

  test('another secret, another place or an altered ciphertext does not open it', () => {
    const sealed = new KeySealer(SECRET).seal(plain, place);
    const opens =
      (secret: string, p = place, s = sealed) =>
      () =>
        new KeySealer(secret).open(s, p);
    assert.throws(opens(`${SECRET}-other`), DkimSecretError);
    assert.throws(opens(SECRET, { ...place, tenant: 'globex' }), DkimSecretError);
    assert.throws(opens(SECRET, { ...place, selector: 's2' }), DkimSecretError);
    const ct = Buffer.from(sealed.ct, 'base64');
    ct[0] = (ct[0] ?? 0) ^ 1;
    assert.throws(opens(SECRET, place, { ...sealed, ct: ct.toString('base64') }), DkimSecretError);
  });
});

describe('importing keys', () => {
  test('RSA 2048 (PKCS#8 and PKCS#1) and Ed25519 PEM keys are accepted with their public halves', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    for (const type of ['pkcs8', 'pkcs1'] as const) {
      const pem = rsa.privateKey.export({ type, format: 'pem' }).toString();
      const k = importDkimKey(pem);
      assert.equal(k.keyType, 'rsa');
      assert.equal(k.bits, 2048);
      assert.equal(
        k.publicKey,
        rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
      );
    }
    const ed = generateKeyPairSync('ed25519');
    const k = importDkimKey(ed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    assert.equal(k.keyType, 'ed25519');
    assert.equal(
      Buffer.from(k.publicKey, 'base64').toString('hex'),
      ed.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('hex'),
    );
  });

  test('keys receivers would refuse, encrypted or public keys, and a type mismatch are refused with the reason', () => {
    const short = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const ed = generateKeyPairSync('ed25519');
    const cases: [string, RegExp][] = [
      [short.export({ type: 'pkcs8', format: 'pem' }).toString(), /RSA key of 1024 bits/],
      [ec.export({ type: 'pkcs8', format: 'pem' }).toString(), /ec key; DKIM signs with RSA/],
      [
        ed.privateKey
          .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' })
          .toString(),
        /is encrypted/,
      ],
      [ed.publicKey.export({ type: 'spki', format: 'pem' }).toString(), /not a PEM private key/],
      ['not a key', /not a PEM private key/],
    ];
    for (const [pem, why] of cases) {
      assert.throws(
        () => importDkimKey(pem),
        (err: unknown) => err instanceof DomainError && why.test(err.message),
        String(why),
      );
    }
    const edPem = ed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    assert.throws(
      () => importDkimKey(edPem, 'rsa'),
      /keyType is rsa but privateKeyPem is an ed25519 key/,
    );
  });
});

describe('domain store', () => {
  test('add, rotate (staged and active), activate, remove a selector, remove the domain', async () => {
    const { keys, store } = await fresh();
    const added = await store.add('acme', {
      domain: 'Acme.Example',
      selector: 's1',
      keyType: 'ed25519',
    });
    assert.equal(added.domain, 'acme.example');
    assert.equal(added.active, 's1');
    assert.deepEqual(await redis.smembers(keys.tenantDomains('acme')), ['acme.example']);

    const staged = await store.rotate('acme', 'acme.example', { selector: 's2', activate: false });
    assert.equal(staged.active, 's1', 'a staged selector does not sign yet');
    assert.equal(staged.selectors[1]?.keyType, 'ed25519', "a rotation keeps the active key's type");
    assert.equal((await store.activate('acme', 'acme.example', 's2')).active, 's2');
    const rotated = await store.rotate('acme', 'acme.example', { selector: 's3', keyType: 'rsa' });
    assert.equal(rotated.active, 's3');
    assert.deepEqual(
      rotated.selectors.map((s) => [s.selector, s.keyType, s.bits]),
      [
        ['s1', 'ed25519', undefined],
        ['s2', 'ed25519', undefined],
        ['s3', 'rsa', 2048],
      ],
    );

    await rejectsWith(store.removeSelector('acme', 'acme.example', 's3'), 'SELECTOR_ACTIVE');
    await rejectsWith(store.removeSelector('acme', 'acme.example', 'nope'), 'SELECTOR_NOT_FOUND');
    await rejectsWith(store.rotate('acme', 'acme.example', { selector: 's2' }), 'SELECTOR_EXISTS');
    const pruned = await store.removeSelector('acme', 'acme.example', 's1');
    assert.deepEqual(
      pruned.selectors.map((s) => s.selector),
      ['s2', 's3'],
    );
    assert.deepEqual(
      (await store.list('acme')).map((r) => r.domain),
      ['acme.example'],
    );
    await store.remove('acme', 'acme.example');
    assert.deepEqual(await store.list('acme'), []);
    assert.equal(await redis.exists(keys.sendingDomains, keys.tenantDomains('acme')), 0);
  });

  test('a domain belongs to one tenant; bad input, unknown tenants and a missing secret change nothing', async () => {
    const { keys, store } = await fresh({ staticDomains: ['static.example'] });
    await store.add('acme', { domain: 'acme.example', keyType: 'ed25519' });
    const before = await redis.hgetall(keys.sendingDomains);

    await rejectsWith(store.add('globex', { domain: 'acme.example' }), 'DOMAIN_EXISTS');
    await rejectsWith(store.add('acme', { domain: 'acme.example' }), 'DOMAIN_EXISTS');
    await rejectsWith(store.add('globex', { domain: 'static.example' }), 'DOMAIN_EXISTS');
    await rejectsWith(store.add('nobody', { domain: 'nobody.example' }), 'TENANT_NOT_FOUND');
    await rejectsWith(store.add('acme', { domain: 'not a domain' }), 'DOMAIN_INVALID');
    await rejectsWith(
      store.add('acme', { domain: 'x.example', selector: '-bad' }),
      'SELECTOR_INVALID',
    );
    await rejectsWith(
      store.add('acme', { domain: 'x.example', privateKeyPem: 'junk' }),
      'KEY_INVALID',
    );
    await rejectsWith(store.get('globex', 'acme.example'), 'DOMAIN_NOT_FOUND');
    await rejectsWith(store.remove('globex', 'acme.example'), 'DOMAIN_NOT_FOUND');
    const noSecret = new DomainStore(redis, keys, { secret: undefined });
    await rejectsWith(noSecret.add('acme', { domain: 'y.example' }), 'SECRET_MISSING');
    await rejectsWith(noSecret.rotate('acme', 'acme.example', {}), 'SECRET_MISSING');
    assert.deepEqual(await redis.hgetall(keys.sendingDomains), before);
    assert.deepEqual(await redis.smembers(keys.tenantDomains('globex')), []);
    for (let i = 1; i < MAX_SELECTORS; i++) await store.rotate('acme', 'acme.example', {});
    await rejectsWith(store.rotate('acme', 'acme.example', {}), 'SELECTOR_EXISTS');

    // Subdomains of another tenant's domain may be delegated; the default tenant needs no record.
    await store.add('globex', { domain: 'mail.acme.example', keyType: 'ed25519' });
    await store.add('default', { domain: 'default.example', keyType: 'ed25519' });
    const after = await redis.hgetall(keys.sendingDomains);
    assert.deepEqual(Object.keys(after).sort(), [
      'acme.example',
      'default.example',
      'mail.acme.example',
    ]);
    const acme = JSON.parse(after['acme.example'] ?? '{}') as DomainRecord;
    assert.equal(acme.selectors.length, MAX_SELECTORS);
  });

  test('the start check: no domains needs no secret; stored keys need the secret that sealed them', async () => {
    const { keys, store } = await fresh();
    await checkDkimSecret(redis, keys, undefined);
    await store.add('acme', { domain: 'acme.example', keyType: 'ed25519' });
    await checkDkimSecret(redis, keys, SECRET);
    await assert.rejects(
      checkDkimSecret(redis, keys, undefined),
      (err: unknown) =>
        err instanceof ConfigError &&
        /VOLLEY_DKIM_SECRET is not set, and 1 sending domain is stored/.test(err.message),
    );
    await assert.rejects(
      checkDkimSecret(redis, keys, `${SECRET}-other`),
      (err: unknown) =>
        err instanceof ConfigError &&
        /VOLLEY_DKIM_SECRET does not open the DKIM key/.test(err.message),
    );
  });
});

describe('who may send as a domain', () => {
  test('the most specific sending domain decides, stored ones before VOLLEY_DKIM_KEYS', async () => {
    const { keys, store } = await fresh();
    await store.add('acme', { domain: 'acme.example', keyType: 'ed25519' });
    await store.add('globex', { domain: 'globex.acme.example', keyType: 'ed25519' });
    const domains = new SendingDomains(redis, keys, ['static.example', 'acme.example']);
    const allowed = async (tenant: string, d: string) => (await domains.check(tenant, d)).allowed;
    assert.equal(await allowed('acme', 'acme.example'), true);
    assert.equal(await allowed('acme', 'news.acme.example'), true);
    assert.equal(await allowed('acme', 'globex.acme.example'), false);
    assert.equal(await allowed('acme', 'x.globex.acme.example'), false);
    assert.equal(await allowed('globex', 'x.globex.acme.example'), true);
    assert.equal(await allowed('globex', 'acme.example'), false);
    assert.equal(await allowed('default', 'acme.example'), false, 'stored beats VOLLEY_DKIM_KEYS');
    assert.equal(await allowed('default', 'news.static.example'), true);
    assert.equal(await allowed('default', 'elsewhere.example'), false);
    assert.deepEqual(await domains.check('globex', 'elsewhere.example'), {
      allowed: false,
      domain: 'elsewhere.example',
      tenantHasDomains: true,
    });
  });

  test('the default tenant without any sending domain sends as any domain no tenant has', async () => {
    const { keys, store } = await fresh();
    await store.add('acme', { domain: 'acme.example', keyType: 'ed25519' });
    const domains = new SendingDomains(redis, keys, []);
    assert.deepEqual(await domains.check('default', 'anything.example'), {
      allowed: true,
      domain: undefined,
    });
    assert.equal((await domains.check('default', 'acme.example')).allowed, false);
    assert.deepEqual(await domains.check('globex', 'anything.example'), {
      allowed: false,
      domain: 'anything.example',
      tenantHasDomains: false,
    });
  });
});

describe('signers', () => {
  test("a tenant's mail is signed with its active key, and verifies under its selector as a receiver checks it", async () => {
    const { keys, store } = await fresh();
    const rec = await store.add('acme', { domain: 'acme.example', selector: 'a1' });
    publish(rec);
    const signers = new TenantSigners({ redis, keys, secret: SECRET, ttlMs: 1000, staticKeys: [] });
    const signer = await signers.signerFor('acme', 'news.acme.example');
    assert.ok(signer && !isRefused(signer));
    const results = await verify(
      signer.sign(message('News <n@news.acme.example>'), 'news.acme.example'),
    );
    assert.deepEqual(
      results.map((r) => [r.signingDomain, r.selector, r.status.result]),
      [['acme.example', 'a1', 'pass']],
    );
  });

  test('a rotation is picked up once the time to live has passed, and an unchanged key is opened once', async () => {
    const { keys, store } = await fresh();
    await store.add('acme', { domain: 'acme.example', selector: 'r1', keyType: 'ed25519' });
    let now = 1_000_000;
    const signers = new TenantSigners({
      redis,
      keys,
      secret: SECRET,
      ttlMs: 5000,
      staticKeys: [],
      clock: () => now,
    });
    const first = await signers.signerFor('acme', 'acme.example');
    now += 5001;
    assert.equal(await signers.signerFor('acme', 'acme.example'), first, 'same key, same signer');
    const rotated = await store.rotate('acme', 'acme.example', { selector: 'r2' });
    publish(rotated);
    now += 4999;
    assert.equal(await signers.signerFor('acme', 'acme.example'), first, 'within the time to live');
    now += 2;
    const second = await signers.signerFor('acme', 'acme.example');
    assert.notEqual(second, first);
    assert.ok(second && !isRefused(second));
    const [r] = await verify(second.sign(message('n@acme.example'), 'acme.example') ?? '');
    assert.deepEqual([r?.selector, r?.status.result], ['r2', 'pass']);
  });

  test("another tenant's domain is refused, never signed nor sent unsigned; VOLLEY_DKIM_KEYS signs the default tenant's only", async () => {
    const { keys, store } = await fresh();
    await store.add('globex', { domain: 'globex.example', keyType: 'ed25519' });
    const ed = generateKeyPairSync('ed25519');
    const unsigned: string[] = [];
    const refused: string[] = [];
    const signers = new TenantSigners({
      redis,
      keys,
      secret: SECRET,
      ttlMs: 1000,
      staticKeys: [
        {
          domain: 'static.example',
          selector: 'st',
          privateKey: ed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        },
      ],
      onUnsigned: (tenant, domain) => unsigned.push(`${tenant} ${domain}`),
      onRefused: (tenant, domain) => refused.push(`${tenant} ${domain}`),
    });
    assert.deepEqual(await signers.signerFor('acme', 'globex.example'), {
      refused: 'globex.example is not a sending domain of acme',
    });
    assert.deepEqual(await signers.signerFor('default', 'news.globex.example'), {
      refused: 'globex.example is not a sending domain of default',
    });
    assert.deepEqual(await signers.signerFor('acme', 'static.example'), {
      refused: 'static.example is not a sending domain of acme',
    });
    const own = await signers.signerFor('default', 'news.static.example');
    assert.ok(own && !isRefused(own));
    assert.deepEqual(refused, [
      'acme globex.example',
      'default news.globex.example',
      'acme static.example',
    ]);
    // A domain nobody has any more (removed since the submit) still sends unsigned, told.
    assert.equal(await signers.signerFor('acme', 'nobody.example'), undefined);
    assert.deepEqual(unsigned, ['acme nobody.example']);
  });

  test('a stored key that cannot be opened rejects rather than sending unsigned', async () => {
    const { keys, store } = await fresh();
    await store.add('acme', { domain: 'acme.example', keyType: 'ed25519' });
    for (const secret of [undefined, `${SECRET}-other`]) {
      const signers = new TenantSigners({ redis, keys, secret, ttlMs: 1000, staticKeys: [] });
      await assert.rejects(signers.signerFor('acme', 'acme.example'), DkimSecretError);
    }
  });
});

describe('DNS records', () => {
  test('DKIM for every selector, SPF at the envelope domain, DMARC, and the bounce MX', async () => {
    const { store } = await fresh();
    const rec = await store.add('acme', {
      domain: 'acme.example',
      selector: 'k1',
      keyType: 'ed25519',
    });
    const rotated = await store.rotate('acme', 'acme.example', { selector: 'k2', activate: false });
    const pub = (sel: string) => rotated.selectors.find((s) => s.selector === sel)?.publicKey;
    assert.deepEqual(
      dnsRecords(rotated, {
        bounceDomain: 'bounces.volley.example',
        spfInclude: '_spf.volley.example',
      }),
      [
        {
          type: 'TXT',
          name: 'k1._domainkey.acme.example',
          value: `v=DKIM1; k=ed25519; p=${pub('k1')}`,
          purpose: 'dkim',
          selector: 'k1',
        },
        {
          type: 'TXT',
          name: 'k2._domainkey.acme.example',
          value: `v=DKIM1; k=ed25519; p=${pub('k2')}`,
          purpose: 'dkim',
          selector: 'k2',
        },
        {
          type: 'TXT',
          name: 'bounces.volley.example',
          value: 'v=spf1 include:_spf.volley.example ~all',
          purpose: 'spf',
        },
        {
          type: 'TXT',
          name: '_dmarc.acme.example',
          value: 'v=DMARC1; p=none; adkim=r; aspf=r',
          purpose: 'dmarc',
        },
        {
          type: 'MX',
          name: 'bounces.volley.example',
          value: '10 bounces.volley.example',
          purpose: 'bounce-mx',
        },
      ],
    );
    const plain = dnsRecords(rec, { spfInclude: '_spf.volley.example' });
    assert.deepEqual(
      plain.filter((r) => r.purpose === 'spf').map((r) => r.name),
      ['acme.example'],
      'without a bounce domain SPF is checked on the From domain',
    );
    assert.equal(
      dnsRecords(rec, { bounceDomain: 'b.example', bounceMx: 'mx.volley.example' }).at(-1)?.value,
      '10 mx.volley.example',
    );
  });
});
