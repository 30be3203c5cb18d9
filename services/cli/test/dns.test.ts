import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { startDnsStub, type DnsStub, type DnsZone } from '@volley/testkit';
import { ADMIN_KEY, inProcess, jsonLines, startEngine } from './helpers.ts';

/**
 * `volley dns check` against fixture zones served by a real DNS server on loopback (UDP, and TCP
 * for answers that do not fit in 512 bytes), with every record kind right and wrong, and
 * `volley dkim keygen` whose key signs mail that verifies against the record it printed.
 */

const IP = '198.51.100.10';
const IP6 = '2001:db8::10';
/** Listed in SPF, but no reverse DNS. */
const NO_PTR_IP = '198.51.100.11';
/** Reverse DNS that does not resolve back. */
const UNCONFIRMED_IP = '198.51.100.12';
const BOUNCE_HOST = 'bounce.volley.example';

const spki = (k: KeyObject): string => k.export({ type: 'spki', format: 'der' }).toString('base64');
const rsaKey = (bits: number): string =>
  spki(generateKeyPairSync('rsa', { modulusLength: bits }).publicKey);
// 4096 bits: a TXT record of ~740 bytes, so the stub truncates it over UDP and it comes over TCP.
const RSA4096 = rsaKey(4096);
const RSA1536 = rsaKey(1536);
const RSA512 = rsaKey(512);
const ED = spki(generateKeyPairSync('ed25519').publicKey);
const ED_RAW = Buffer.from(ED, 'base64').subarray(-32).toString('base64');

/** A domain with every record right: the base each case changes one thing of. */
function healthy(d: string): DnsZone {
  return {
    [d]: { mx: [{ preference: 10, exchange: `mx.${d}` }], txt: [`v=spf1 include:_spf.${d} -all`] },
    [`mx.${d}`]: { a: ['198.51.100.20'] },
    [`_spf.${d}`]: { txt: [`v=spf1 ip4:198.51.100.0/28 ip6:2001:db8::/32 a:mail.${d} -all`] },
    [`mail.${d}`]: { a: ['198.51.100.30'] },
    [`s1._domainkey.${d}`]: { txt: [`v=DKIM1; k=rsa; p=${RSA4096}`] },
    [`s2._domainkey.${d}`]: { txt: [`v=DKIM1; k=ed25519; p=${ED_RAW}`] },
    [`_dmarc.${d}`]: { txt: ['v=DMARC1; p=reject; rua=mailto:dmarc@example.net'] },
    [`_mta-sts.${d}`]: { txt: ['v=STSv1; id=2026120601'] },
    [`_smtp._tls.${d}`]: { txt: [`v=TLSRPTv1; rua=mailto:tls@${d}`] },
    [`bounces.${d}`]: {
      mx: [{ preference: 10, exchange: BOUNCE_HOST }],
      txt: [`v=spf1 ip4:${IP} ip6:${IP6} -all`],
    },
  };
}

const zone: DnsZone = {
  [BOUNCE_HOST]: { a: ['203.0.113.5'] },
  'sender.volley.example': { a: [IP], aaaa: [IP6] },
  '10.100.51.198.in-addr.arpa': { ptr: ['sender.volley.example'] },
  '0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa': {
    ptr: ['sender.volley.example'],
  },
  '12.100.51.198.in-addr.arpa': { ptr: ['elsewhere.volley.example'] },
  'elsewhere.volley.example': { a: ['203.0.113.99'] },
};

/** Adds `healthy(d)` with `changes` on top (an entry set to undefined is removed). */
function fixture(d: string, changes: Record<string, DnsZone[string] | undefined> = {}): string {
  Object.assign(zone, healthy(d));
  for (const [name, entry] of Object.entries(changes)) {
    if (entry === undefined) delete zone[name];
    else zone[name] = entry;
  }
  return d;
}

let stub: DnsStub;
let dir: string;

before(async () => {
  stub = await startDnsStub(zone);
  dir = mkdtempSync(join(tmpdir(), 'volley-dns-'));
});
after(() => stub.close());

interface Check {
  check: string;
  status: 'pass' | 'warn' | 'fail';
  detail: string;
  publish?: { type: string; name: string; value: string };
}

/** The CLI in this process, piped (JSON lines), asking the stub. */
function cli(args: string[], env: Record<string, string> = {}) {
  return inProcess(args, { VOLLEY_DNS_SERVERS: `127.0.0.1:${stub.port}`, ...env });
}

async function check(domain: string, ...extra: string[]) {
  const r = await cli([
    'dns',
    'check',
    domain,
    '--ip',
    IP,
    '--selector',
    's1',
    '--bounce-domain',
    `bounces.${domain}`,
    '--bounce-host',
    BOUNCE_HOST,
    ...extra,
  ]);
  const checks = jsonLines(r.stdout) as unknown as Check[];
  const by = (name: string): Check => {
    const c = checks.find((x) => x.check === name);
    assert.ok(c, `no "${name}" check in ${r.stdout}`);
    return c;
  };
  return { ...r, checks, by };
}

/** Asserts each named check's status, and that every check that does not pass says what to publish where it can. */
function expectStatus(checks: Check[], expected: Record<string, Check['status']>): void {
  const got = Object.fromEntries(
    Object.keys(expected).map((k) => [k, checks.find((c) => c.check === k)?.status]),
  );
  assert.deepEqual(got, expected, JSON.stringify(checks, null, 1));
}

describe('volley dns check: a domain with every record right', () => {
  test('every check passes, over UDP and over TCP for the 4096-bit key; exit 0', async () => {
    const d = fixture('good.example');
    const r = await check(d, '--ip', IP6, '--selector', 's2');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(
      r.checks.map((c) => c.check),
      [
        'mx',
        'spf',
        `spf ${IP}`,
        `spf ${IP6}`,
        'spf return-path',
        `spf return-path ${IP}`,
        `spf return-path ${IP6}`,
        'dkim s1',
        'dkim s2',
        'dmarc',
        'dmarc alignment',
        `ptr ${IP}`,
        `ptr ${IP6}`,
        'mta-sts',
        'tls-rpt',
        'bounce mx',
      ],
    );
    for (const c of r.checks) {
      assert.equal(c.status, 'pass', JSON.stringify(c));
      assert.equal(c.publish, undefined);
      assert.deepEqual(Object.keys(c), ['check', 'status', 'detail']);
    }
    assert.match(r.by('dkim s1').detail, /RSA 4096 bits/);
    assert.match(r.by('dkim s2').detail, /Ed25519/);
    assert.match(r.by('spf').detail, /one SPF record, 2 of 10 lookups/);
    const key = `s1._domainkey.${d}`;
    assert.ok(stub.queries.some((q) => q.name === key && q.transport === 'udp'));
    assert.ok(
      stub.queries.some((q) => q.name === key && q.transport === 'tcp'),
      'the truncated answer was asked again over TCP',
    );
  });
});

describe('volley dns check: each record wrong', () => {
  test('MX missing, or a null MX: fail, with the MX to publish; exit 1', async () => {
    const none = await check(
      fixture('nomx.example', {
        'nomx.example': { txt: ['v=spf1 include:_spf.nomx.example -all'] },
      }),
    );
    assert.equal(none.code, 1);
    expectStatus(none.checks, { mx: 'fail', spf: 'pass' });
    assert.deepEqual(none.by('mx').publish, {
      type: 'MX',
      name: 'nomx.example',
      value: '10 <the host that receives your mail>',
    });
    const nullMx = await check(
      fixture('nullmx.example', {
        'nullmx.example': {
          mx: [{ preference: 0, exchange: '' }],
          txt: ['v=spf1 include:_spf.nullmx.example -all'],
        },
      }),
    );
    expectStatus(nullMx.checks, { mx: 'fail' });
    assert.match(nullMx.by('mx').detail, /null MX/);
  });

  test('SPF missing, duplicated, malformed: fail, with one record to publish', async () => {
    const none = await check(
      fixture('nospf.example', {
        'nospf.example': { mx: [{ preference: 10, exchange: 'mx.nospf.example' }] },
      }),
    );
    expectStatus(none.checks, { spf: 'fail', 'spf return-path': 'pass' });
    assert.deepEqual(none.by('spf').publish, {
      type: 'TXT',
      name: 'nospf.example',
      value: `v=spf1 ip4:${IP} ~all`,
    });

    const twice = await check(
      fixture('twospf.example', {
        'twospf.example': {
          mx: [{ preference: 10, exchange: 'mx.twospf.example' }],
          txt: [
            'v=spf1 ip4:192.0.2.7 -all',
            'v=spf1 include:_spf.twospf.example ~all',
            'google-site-verification=x',
          ],
        },
      }),
    );
    assert.equal(twice.code, 1);
    expectStatus(twice.checks, { spf: 'fail' });
    assert.match(twice.by('spf').detail, /2 SPF records/);
    assert.equal(
      twice.by('spf').publish?.value,
      'v=spf1 ip4:192.0.2.7 include:_spf.twospf.example -all',
    );

    const bad = await check(
      fixture('badspf.example', {
        'badspf.example': {
          mx: [{ preference: 10, exchange: 'mx.badspf.example' }],
          txt: ['v=spf1 ip4:300.1.1.1 -all'],
        },
      }),
    );
    expectStatus(bad.checks, { spf: 'fail' });
    assert.match(bad.by('spf').detail, /malformed: "ip4:300.1.1.1": not an IPv4 address/);
    // The term that does not parse is dropped, the rest kept, the sending address added.
    assert.deepEqual(bad.by('spf').publish, {
      type: 'TXT',
      name: 'badspf.example',
      value: `v=spf1 ip4:${IP} -all`,
    });
  });

  test('SPF permerror (an include of a domain without SPF): fail, with a record that needs no lookup', async () => {
    const d = 'perm.example';
    const r = await check(
      fixture(d, {
        [d]: {
          mx: [{ preference: 10, exchange: `mx.${d}` }],
          txt: [`v=spf1 ip4:192.0.2.0/24 include:nothing.${d} -all`],
        },
      }),
    );
    expectStatus(r.checks, { spf: 'fail', [`spf ${IP}`]: 'fail' });
    assert.match(r.by('spf').detail, /permerror/);
    const flat = { type: 'TXT', name: d, value: `v=spf1 ip4:192.0.2.0/24 ip4:${IP} ~all` };
    assert.deepEqual(r.by('spf').publish, flat);
    assert.deepEqual(r.by(`spf ${IP}`).publish, flat);
  });

  test('SPF over 10 DNS-querying terms across nested includes: fail with the count and a flattened record', async () => {
    const d = 'deep.example';
    const changes: DnsZone = {
      [d]: {
        mx: [{ preference: 10, exchange: `mx.${d}` }],
        txt: [
          `v=spf1 ${[1, 2, 3, 4, 5].map((i) => `include:a${i}.${d}`).join(' ')} include:nest.${d} -all`,
        ],
      },
      [`nest.${d}`]: {
        txt: [`v=spf1 ${[1, 2, 3, 4, 5].map((i) => `include:b${i}.${d}`).join(' ')} mx:${d} -all`],
      },
    };
    for (const p of ['a', 'b']) {
      for (let i = 1; i <= 5; i++)
        changes[`${p}${i}.${d}`] = { txt: [`v=spf1 ip4:192.0.2.${p === 'a' ? i : 10 + i} -all`] };
    }
    const r = await check(fixture(d, changes));
    assert.equal(r.code, 1);
    // 5 includes + include:nest + its 5 includes + its mx: = 12.
    expectStatus(r.checks, { spf: 'fail', [`spf ${IP}`]: 'fail' });
    assert.match(r.by('spf').detail, /12 DNS-querying terms across includes, over the limit of 10/);
    assert.match(r.by(`spf ${IP}`).detail, /permerror .*more than 10 DNS lookups/);
    const flat = r.by('spf').publish?.value ?? '';
    assert.match(
      flat,
      /^v=spf1 ip4:192\.0\.2\.1 .*ip4:192\.0\.2\.15 .*ip4:198\.51\.100\.20 ip4:198\.51\.100\.10 ~all$/,
    );
  });

  test('SPF not covering the address (-all): fail; ~all: warn; ?all: warn; each with the address added', async () => {
    const mx = (d: string) => ({ mx: [{ preference: 10, exchange: `mx.${d}` }] });
    const hard = await check(
      fixture('hard.example', {
        'hard.example': { ...mx('hard.example'), txt: ['v=spf1 ip4:192.0.2.0/24 -all'] },
      }),
    );
    expectStatus(hard.checks, { spf: 'pass', [`spf ${IP}`]: 'fail' });
    assert.match(hard.by(`spf ${IP}`).detail, /SPF fail/);
    assert.deepEqual(hard.by(`spf ${IP}`).publish, {
      type: 'TXT',
      name: 'hard.example',
      value: `v=spf1 ip4:192.0.2.0/24 ip4:${IP} -all`,
    });

    const soft = await check(
      fixture('soft.example', {
        'soft.example': { ...mx('soft.example'), txt: ['v=spf1 a ~all'] },
        'soft.example.': undefined,
      }),
    );
    expectStatus(soft.checks, { spf: 'warn', [`spf ${IP}`]: 'warn' });
    assert.match(soft.by(`spf ${IP}`).detail, /SPF softfail/);
    // `a` of a name without an address is a void lookup: noted.
    assert.match(soft.by('spf').detail, /1 void lookup/);
    assert.equal(soft.by(`spf ${IP}`).publish?.value, `v=spf1 a ip4:${IP} ~all`);
    assert.equal(soft.code, 0, 'warnings alone exit 0');

    const neutral = await check(
      fixture('neutral.example', {
        'neutral.example': { ...mx('neutral.example'), txt: ['v=spf1 ?all'] },
      }),
    );
    expectStatus(neutral.checks, { [`spf ${IP}`]: 'warn' });
  });

  test('SPF with more than 2 void lookups: fail with the count (receivers answer permerror)', async () => {
    const d = 'voids.example';
    const r = await check(
      fixture(d, {
        [d]: {
          mx: [{ preference: 10, exchange: `mx.${d}` }],
          txt: [`v=spf1 a:gone1.${d} a:gone2.${d} mx:gone3.${d} ip4:${IP} -all`],
        },
      }),
    );
    expectStatus(r.checks, { spf: 'fail', [`spf ${IP}`]: 'fail' });
    assert.match(r.by('spf').detail, /3 void lookups .*over the limit of 2/);
    assert.match(r.by(`spf ${IP}`).detail, /permerror .*more than 2 void lookups/);
    // The void terms gone: the addresses the record passes, listed.
    const flat = { type: 'TXT', name: d, value: `v=spf1 ip4:${IP} ~all` };
    assert.deepEqual(r.by('spf').publish, flat);
    assert.deepEqual(r.by(`spf ${IP}`).publish, flat);
  });

  test('SPF redirect=, exists with a macro, and mx with a CIDR are evaluated', async () => {
    const d = 'redir.example';
    const r = await check(
      fixture(d, {
        [d]: { mx: [{ preference: 10, exchange: `mx.${d}` }], txt: [`v=spf1 redirect=_r.${d}`] },
        [`_r.${d}`]: { txt: [`v=spf1 exists:%{i}._ip.${d} mx:${d}/24 -all`] },
        [`${IP}._ip.${d}`]: { a: ['127.0.0.2'] },
      }),
      '--ip',
      '198.51.100.77',
      '--ip',
      '192.0.2.200',
    );
    expectStatus(r.checks, {
      [`spf ${IP}`]: 'pass',
      'spf 198.51.100.77': 'pass',
      'spf 192.0.2.200': 'fail',
    });
    assert.match(r.by(`spf ${IP}`).detail, /SPF pass .*, 2 lookups/);
  });

  test('DKIM missing, revoked, under 1024 bits, 1536 bits, malformed; through a CNAME', async () => {
    const d = fixture('keys.example', {
      's1._domainkey.keys.example': undefined,
      's2._domainkey.keys.example': { txt: ['v=DKIM1; k=rsa; p='] },
      's3._domainkey.keys.example': { txt: [`v=DKIM1; k=rsa; p=${RSA512}`] },
      's4._domainkey.keys.example': { txt: [`v=DKIM1; k=rsa; p=${RSA1536}`] },
      's5._domainkey.keys.example': { txt: [`k=rsa; v=DKIM1; p=${RSA1536}`] },
      's6._domainkey.keys.example': { txt: [`v=DKIM1; k=ed25519; p=${RSA1536}`] },
      // Delegated, as providers that hold the key ask for: followed like a receiver follows it.
      's7._domainkey.keys.example': { cname: 's7.keys.provider.example' },
      's7.keys.provider.example': { txt: [`v=DKIM1; k=ed25519; p=${ED_RAW}`] },
    });
    const r = await check(
      d,
      ...['s2', 's3', 's4', 's5', 's6', 's7'].flatMap((s) => ['--selector', s]),
    );
    assert.equal(r.code, 1);
    expectStatus(r.checks, {
      'dkim s1': 'fail',
      'dkim s2': 'fail',
      'dkim s3': 'fail',
      'dkim s4': 'warn',
      'dkim s5': 'fail',
      'dkim s6': 'fail',
      'dkim s7': 'pass',
    });
    assert.match(r.by('dkim s1').detail, /has no DKIM key record/);
    assert.match(r.by('dkim s2').detail, /p= is empty, the key is revoked/);
    assert.match(r.by('dkim s3').detail, /RSA 512 bits; receivers ignore keys under 1024 bits/);
    assert.match(r.by('dkim s4').detail, /RSA 1536 bits; use 2048 bits/);
    assert.match(r.by('dkim s5').detail, /v= must be DKIM1 and come first/);
    assert.match(r.by('dkim s6').detail, /not a 32-byte Ed25519 key/);
    // No key is configured here: each fail gives the record's shape and where its key comes from.
    for (const s of ['s1', 's2', 's3', 's5', 's6']) {
      assert.deepEqual(r.by(`dkim ${s}`).publish, {
        type: 'TXT',
        name: `${s}._domainkey.keys.example`,
        value: `v=DKIM1; k=rsa; p=<the p= value that \`volley dkim keygen keys.example ${s}\` prints>`,
      });
    }
  });

  test('keys of VOLLEY_DKIM_KEYS: checked without --selector, compared with the published key; a missing one gets its exact record', async () => {
    const d = fixture('filekeys.example');
    const pem = join(dir, 'filekeys.f1.pem');
    const made = await cli(['dkim', 'keygen', d, 'f1', '--out', pem]);
    assert.equal(made.code, 0, made.stderr);
    const record = (jsonLines(made.stdout)[0] as { record: { value: string } }).record.value;
    const run = async () => {
      const r = await cli(
        [
          'dns',
          'check',
          d,
          '--ip',
          IP,
          '--bounce-domain',
          `bounces.${d}`,
          '--bounce-host',
          BOUNCE_HOST,
        ],
        { VOLLEY_DKIM_KEYS: `${d}:f1:${pem}` },
      );
      return { ...r, checks: jsonLines(r.stdout) as unknown as Check[] };
    };

    // Not published yet: the record to publish is the key file's, exactly.
    const missing = await run();
    expectStatus(missing.checks, { 'dkim f1': 'fail' });
    assert.deepEqual(missing.checks.find((c) => c.check === 'dkim f1')?.publish, {
      type: 'TXT',
      name: `f1._domainkey.${d}`,
      value: record,
    });

    zone[`f1._domainkey.${d}`] = { txt: [`v=DKIM1; k=rsa; p=${RSA4096}`] };
    const other = await run();
    expectStatus(other.checks, { 'dkim f1': 'fail' });
    assert.match(
      other.checks.find((c) => c.check === 'dkim f1')?.detail ?? '',
      /not the one Volley signs with/,
    );

    zone[`f1._domainkey.${d}`] = { txt: [record] };
    const ok = await run();
    assert.equal(ok.code, 0, JSON.stringify(ok.checks));
    assert.match(
      ok.checks.find((c) => c.check === 'dkim f1')?.detail ?? '',
      /RSA 2048 bits, matches the configured key/,
    );
  });

  test('no selector, no tenant and no key files: every other check runs, and DKIM is reported as not checked', async () => {
    const d = fixture('noselector.example');
    const r = await cli([
      'dns',
      'check',
      d,
      '--ip',
      IP,
      '--bounce-domain',
      `bounces.${d}`,
      '--bounce-host',
      BOUNCE_HOST,
    ]);
    const checks = jsonLines(r.stdout) as unknown as Check[];
    assert.equal(r.code, 0, r.stderr);
    expectStatus(checks, {
      mx: 'pass',
      spf: 'pass',
      dkim: 'warn',
      dmarc: 'pass',
      [`ptr ${IP}`]: 'pass',
      'bounce mx': 'pass',
    });
    assert.match(checks.find((c) => c.check === 'dkim')?.detail ?? '', /DKIM not checked/);
  });

  test('DMARC missing, p=none, several records, found at the organizational domain', async () => {
    const none = await check(fixture('nodmarc.example', { '_dmarc.nodmarc.example': undefined }));
    expectStatus(none.checks, { dmarc: 'fail' });
    assert.deepEqual(none.by('dmarc').publish, {
      type: 'TXT',
      name: '_dmarc.nodmarc.example',
      value: 'v=DMARC1; p=none; adkim=r; aspf=r',
    });
    assert.ok(!none.checks.some((c) => c.check === 'dmarc alignment'));

    const monitor = await check(
      fixture('monitor.example', {
        '_dmarc.monitor.example': { txt: ['v=DMARC1; p=none; rua=mailto:d@monitor.example'] },
      }),
    );
    expectStatus(monitor.checks, { dmarc: 'warn', 'dmarc alignment': 'pass' });
    assert.equal(monitor.code, 0, 'warnings alone exit 0');
    assert.equal(
      monitor.by('dmarc').publish?.value,
      'v=DMARC1; p=quarantine; rua=mailto:d@monitor.example',
    );

    const two = await check(
      fixture('twodmarc.example', {
        '_dmarc.twodmarc.example': { txt: ['v=DMARC1; p=reject', 'v=DMARC1; p=none'] },
      }),
    );
    expectStatus(two.checks, { dmarc: 'fail' });
    assert.match(two.by('dmarc').detail, /2 DMARC records, so none applies/);

    // A broken record is replaced by one that keeps where its reports go.
    const broken = await check(
      fixture('brokendmarc.example', {
        '_dmarc.brokendmarc.example': {
          txt: [
            'v=DMARC1; p=maybe; rua=mailto:agg@brokendmarc.example; ruf=mailto:f@report.example',
          ],
        },
      }),
    );
    expectStatus(broken.checks, { dmarc: 'fail' });
    assert.match(broken.by('dmarc').detail, /malformed DMARC record: p=maybe/);
    assert.deepEqual(broken.by('dmarc').publish, {
      type: 'TXT',
      name: '_dmarc.brokendmarc.example',
      value:
        'v=DMARC1; p=none; adkim=r; aspf=r; rua=mailto:agg@brokendmarc.example; ruf=mailto:f@report.example',
    });

    // news.org.example has no record of its own: the organizational domain's sp= applies.
    fixture('org.example', { '_dmarc.org.example': { txt: ['v=DMARC1; p=reject; sp=none'] } });
    const sub = await check('news.org.example', '--bounce-domain', 'bounces.org.example');
    expectStatus(sub.checks, { dmarc: 'warn', 'dmarc alignment': 'pass' });
    assert.match(sub.by('dmarc').detail, /^_dmarc\.org\.example: p=none/);
  });

  test('the organizational domain comes from the public suffix list: example.co.uk, not co.uk', async () => {
    // Taken as the last two labels, news.brand.co.uk would look for its policy at _dmarc.co.uk
    // and count any other .co.uk domain as aligned.
    fixture('brand.co.uk', { '_dmarc.brand.co.uk': { txt: ['v=DMARC1; p=reject; sp=none'] } });
    const sub = await check('news.brand.co.uk', '--bounce-domain', 'bounces.brand.co.uk');
    expectStatus(sub.checks, { dmarc: 'warn', 'dmarc alignment': 'pass' });
    assert.match(sub.by('dmarc').detail, /^_dmarc\.brand\.co\.uk: p=none/);

    fixture('other.co.uk');
    const other = await check('news.brand.co.uk', '--bounce-domain', 'bounces.other.co.uk');
    expectStatus(other.checks, { 'dmarc alignment': 'warn' });
    assert.match(
      other.by('dmarc alignment').detail,
      /return path bounces\.other\.co\.uk not aligned/,
    );
  });

  test('DMARC alignment: a return path of another domain, or strict SPF alignment of a subdomain: warn', async () => {
    fixture('other.example');
    const other = await check(fixture('align.example'), '--bounce-domain', 'bounces.other.example');
    expectStatus(other.checks, { 'dmarc alignment': 'warn' });
    assert.match(
      other.by('dmarc alignment').detail,
      /return path bounces\.other\.example not aligned .*DMARC rests on DKIM alone/,
    );
    assert.equal(
      other.by('dmarc alignment').publish,
      undefined,
      'no DMARC record aligns another domain',
    );

    const strict = await check(
      fixture('strict.example', {
        '_dmarc.strict.example': { txt: ['v=DMARC1; p=reject; aspf=s'] },
      }),
    );
    expectStatus(strict.checks, { 'dmarc alignment': 'warn' });
    assert.deepEqual(strict.by('dmarc alignment').publish, {
      type: 'TXT',
      name: '_dmarc.strict.example',
      value: 'v=DMARC1; p=reject; aspf=r; adkim=r',
    });
  });

  test('PTR missing, PTR not forward-confirmed: fail, with the record that fixes it', async () => {
    const d = fixture('ptr.example', {
      'bounces.ptr.example': {
        mx: [{ preference: 10, exchange: BOUNCE_HOST }],
        txt: [`v=spf1 ip4:198.51.100.0/24 -all`],
      },
    });
    const r = await check(d, '--ip', NO_PTR_IP, '--ip', UNCONFIRMED_IP);
    expectStatus(r.checks, {
      [`ptr ${IP}`]: 'pass',
      [`ptr ${NO_PTR_IP}`]: 'fail',
      [`ptr ${UNCONFIRMED_IP}`]: 'fail',
    });
    assert.deepEqual(r.by(`ptr ${NO_PTR_IP}`).publish, {
      type: 'PTR',
      name: '11.100.51.198.in-addr.arpa',
      value: '<a host name of yours that resolves to this address>',
    });
    assert.match(
      r.by(`ptr ${UNCONFIRMED_IP}`).detail,
      /PTR elsewhere\.volley\.example, but it does not resolve back/,
    );
    assert.deepEqual(r.by(`ptr ${UNCONFIRMED_IP}`).publish, {
      type: 'A',
      name: 'elsewhere.volley.example',
      value: UNCONFIRMED_IP,
    });
  });

  test('MTA-STS and TLS-RPT: missing warns, malformed fails', async () => {
    const missing = await check(
      fixture('nosts.example', {
        '_mta-sts.nosts.example': undefined,
        '_smtp._tls.nosts.example': undefined,
      }),
    );
    expectStatus(missing.checks, { 'mta-sts': 'warn', 'tls-rpt': 'warn' });
    assert.equal(missing.code, 0);
    assert.match(missing.by('mta-sts').publish?.value ?? '', /^v=STSv1; id=\d{8}01$/);
    assert.equal(
      missing.by('tls-rpt').publish?.value,
      'v=TLSRPTv1; rua=mailto:tls-reports@nosts.example',
    );

    const bad = await check(
      fixture('badsts.example', {
        '_mta-sts.badsts.example': { txt: ['v=STSv1; id=2026-12-06'] },
        '_smtp._tls.badsts.example': { txt: ['v=TLSRPTv1; rua=http://reports.example/tls'] },
      }),
    );
    expectStatus(bad.checks, { 'mta-sts': 'fail', 'tls-rpt': 'fail' });
    assert.equal(bad.code, 1);
    assert.match(bad.by('mta-sts').detail, /id=2026-12-06 is not 1 to 32 letters and digits/);
    assert.match(
      bad.by('tls-rpt').detail,
      /"http:\/\/reports\.example\/tls" is not a mailto: or https: URI/,
    );
  });

  test('bounce MX at another host, or none: fail, with the MX to publish', async () => {
    const wrong = await check(
      fixture('bmx.example', {
        'bounces.bmx.example': {
          mx: [{ preference: 10, exchange: 'mx.bmx.example' }],
          txt: [`v=spf1 ip4:${IP} -all`],
        },
      }),
    );
    expectStatus(wrong.checks, { 'bounce mx': 'fail' });
    assert.deepEqual(wrong.by('bounce mx').publish, {
      type: 'MX',
      name: 'bounces.bmx.example',
      value: `10 ${BOUNCE_HOST}`,
    });
    const none = await check(
      fixture('nobmx.example', { 'bounces.nobmx.example': { txt: [`v=spf1 ip4:${IP} -all`] } }),
    );
    expectStatus(none.checks, { 'bounce mx': 'fail' });
    assert.match(none.by('bounce mx').detail, /no MX: bounces cannot reach the bounce service/);
  });

  test('a server failure fails the check that asked and the run goes on', async () => {
    zone['13.100.51.198.in-addr.arpa'] = { rcode: 'SERVFAIL' };
    const r = await check(
      fixture('broken.example', { '_dmarc.broken.example': { rcode: 'SERVFAIL' } }),
      '--ip',
      '198.51.100.13',
    );
    expectStatus(r.checks, {
      dmarc: 'fail',
      mx: 'pass',
      'ptr 198.51.100.13': 'fail',
      'bounce mx': 'pass',
    });
    assert.match(
      r.by('dmarc').detail,
      /TXT lookup of _dmarc\.broken\.example failed \(ESERVFAIL\)/,
    );
    // A failure to look is not reported as a missing record.
    assert.match(
      r.by('ptr 198.51.100.13').detail,
      /PTR lookup of 13\.100\.51\.198\.in-addr\.arpa failed \(ESERVFAIL\)/,
    );
  });
});

describe('volley dns check: usage', () => {
  test('a bad --ip, a bad domain, a bad --dns-server: exit 2, nothing looked up', async () => {
    const before = stub.queries.length;
    for (const args of [
      ['dns', 'check', 'good.example', '--selector', 's1', '--ip', '1.2.3'],
      ['dns', 'check', 'not a domain', '--selector', 's1'],
      ['dns', 'check', 'good.example', '--selector', 's1', '--dns-server', 'dns.example.net'],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
    }
    assert.equal(stub.queries.length, before);
  });
});

describe('volley dkim keygen', () => {
  /** Signs a message with the key file, and verifies it against the stub as a receiver would. */
  async function signAndVerify(domain: string, selector: string, file: string, algorithm: string) {
    const raw = `From: a@${domain}\r\nTo: b@rcpt.example\r\nSubject: hi\r\nDate: Sun, 06 Dec 2026 18:00:00 +0000\r\nMessage-ID: <1@${domain}>\r\n\r\nHello\r\n`;
    const opts = { signingDomain: domain, selector, privateKey: readFileSync(file), algorithm };
    const signed = await dkimSign(raw, { ...opts, signatureData: [opts] });
    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${stub.port}`]);
    const res = (await dkimVerify(Buffer.from(signed.signatures + raw), {
      resolver: async (name: string, rr: string) =>
        (await resolver.resolve(name, rr)) as string[][],
    })) as unknown as { results: { status: { result: string } }[] };
    return res.results.map((x) => x.status.result);
  }

  for (const [type, extra, algorithm] of [
    ['rsa', ['--bits', '4096'], 'rsa-sha256'],
    ['ed25519', [], 'ed25519-sha256'],
  ] as const) {
    test(`${type}: a 0600 key file that signs, a TXT record (in 255-character strings) that verifies, and dns check passes`, async () => {
      const domain = `keygen-${type}.example`;
      const file = join(dir, `${type}.pem`);
      const r = await cli([
        'dkim',
        'keygen',
        domain,
        'k1',
        '--type',
        type,
        ...extra,
        '--out',
        file,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const [out] = jsonLines(r.stdout) as unknown as {
        keyType: string;
        bits?: number;
        record: { type: string; name: string; value: string; strings: string[] };
      }[];
      assert.equal(out?.keyType, type);
      assert.equal(out?.bits, type === 'rsa' ? 4096 : undefined);
      assert.equal(out?.record.name, `k1._domainkey.${domain}`);
      assert.equal(out?.record.strings.join(''), out?.record.value);
      for (const s of out?.record.strings ?? []) assert.ok(s.length <= 255);
      if (type === 'rsa')
        assert.ok((out?.record.strings.length ?? 0) > 1, 'a 4096-bit key needs several strings');
      // Published as the character strings printed, as a DNS provider would store them.
      fixture(domain, { [out?.record.name ?? '']: { txt: [out?.record.strings ?? []] } });
      assert.deepEqual(await signAndVerify(domain, 'k1', file, algorithm), ['pass']);
      const c = await check(domain, '--selector', 'k1');
      expectStatus(c.checks, { 'dkim k1': 'pass' });
    });
  }

  test('refuses to overwrite a file, and a key size receivers would not take; the file is unchanged', async () => {
    const file = join(dir, 'existing.pem');
    writeFileSync(file, 'keep me');
    const r = await cli(['dkim', 'keygen', 'x.example', 'k1', '--out', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /exists; not overwriting a key/);
    assert.equal(readFileSync(file, 'utf8'), 'keep me');
    const small = await cli([
      'dkim',
      'keygen',
      'x.example',
      'k1',
      '--bits',
      '1024',
      '--out',
      join(dir, 'small.pem'),
    ]);
    assert.equal(small.code, 2);
    assert.match(small.stderr, /use 2048 to 4096 bits/);
    const edBits = await cli([
      'dkim',
      'keygen',
      'x.example',
      'k1',
      '--type',
      'ed25519',
      '--bits',
      '2048',
    ]);
    assert.equal(edBits.code, 2);
  });
});

describe('volley dns check --tenant: the selectors, keys and bounce MX Volley has for the domain', () => {
  test('a published key that is not the configured one fails; the configured one passes; a parent domain signs', async () => {
    const engine = await startEngine(0, {
      dkimSecret: 'cli-dns-test-dkim-secret-0123456789abcdef',
      bounceDomain: 'bounces.tenant.example',
      bounceMx: BOUNCE_HOST,
    });
    try {
      const env = { ...engine.env, VOLLEY_ADMIN_KEY: ADMIN_KEY };
      assert.equal((await cli(['tenant', 'create', 'acme'], env)).code, 0);
      const added = await cli(['domain', 'add', 'acme', 'tenant.example', '--selector', 'v1'], env);
      assert.equal(added.code, 0, added.stderr);
      const [domain] = jsonLines(added.stdout) as unknown as {
        records: { purpose: string; name: string; value: string }[];
      }[];
      const dkim = domain?.records.find((r) => r.purpose === 'dkim');
      assert.ok(dkim);
      fixture('tenant.example', {
        // Another key than the one Volley holds: what a stale or mistyped record looks like.
        'v1._domainkey.tenant.example': { txt: [`v=DKIM1; k=rsa; p=${RSA4096}`] },
      });
      const tenantCheck = async (domainArg: string) => {
        const r = await cli(['dns', 'check', domainArg, '--ip', IP, '--tenant', 'acme'], env);
        const checks = jsonLines(r.stdout) as unknown as Check[];
        return { ...r, checks };
      };
      const stale = await tenantCheck('tenant.example');
      assert.equal(stale.code, 1, stale.stderr);
      expectStatus(stale.checks, {
        'dkim v1': 'fail',
        'bounce mx': 'pass',
        'spf return-path': 'pass',
      });
      const v1 = stale.checks.find((c) => c.check === 'dkim v1');
      assert.match(v1?.detail ?? '', /not the one Volley signs with/);
      assert.deepEqual(v1?.publish, { type: 'TXT', name: dkim.name, value: dkim.value });

      zone['v1._domainkey.tenant.example'] = { txt: [dkim.value] };
      const fixed = await tenantCheck('tenant.example');
      expectStatus(fixed.checks, { 'dkim v1': 'pass', 'dmarc alignment': 'pass' });
      assert.equal(fixed.code, 0, JSON.stringify(fixed.checks));
      assert.match(
        fixed.checks.find((c) => c.check === 'dkim v1')?.detail ?? '',
        /matches the configured key/,
      );

      // news.tenant.example is covered by tenant.example, which signs (d=tenant.example): under
      // strict DKIM alignment, the subdomain's mail does not align.
      fixture('news.tenant.example', {
        '_dmarc.news.tenant.example': { txt: ['v=DMARC1; p=reject; adkim=s; aspf=s'] },
      });
      const sub = await tenantCheck('news.tenant.example');
      expectStatus(sub.checks, { 'dkim v1': 'pass', 'dmarc alignment': 'fail' });
      const alignment = sub.checks.find((c) => c.check === 'dmarc alignment');
      assert.match(alignment?.detail ?? '', /DKIM d=tenant\.example not aligned \(adkim=s\)/);
      assert.equal(alignment?.publish?.value, 'v=DMARC1; p=reject; adkim=r; aspf=r');

      const unknown = await cli(['dns', 'check', 'other.example', '--tenant', 'acme'], env);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /other\.example is not one of tenant acme's sending domains/);
    } finally {
      await engine.stop();
    }
  });
});
