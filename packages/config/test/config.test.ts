import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  knownVariables,
  unknownVariableWarnings,
  DEFAULT_API_RATE_LIMIT,
  loadApiConfig,
  loadBounceConfig,
  loadCollectorConfig,
  loadDomainConfig,
  loadFeedbackConfig,
  loadSenderConfig,
  parseDuration,
  parseRelays,
} from '@volley/config';
import { spawnService } from '@volley/testkit';

import { base, problems } from './helpers.ts';

describe('configuration', () => {
  test('defaults work with only the required variables', () => {
    const api = loadApiConfig(base);
    assert.equal(api.port, 8080);
    const s = loadSenderConfig(base);
    assert.equal(s.delivery, 'relay');
    assert.equal(s.relays[0]?.port, 2525);
    assert.equal(s.maxAgeMs, 3 * 86_400_000);
  });

  test('every problem is reported at once, naming the variable and what follows', () => {
    const p = problems(() =>
      loadApiConfig({
        VOLLEY_API_PORT: 'eighty',
        VOLLEY_LOG_LEVEL: 'loud',
        VOLLEY_API_KEY: 'short',
      }),
    );
    assert.equal(p.length, 4);
    assert.match(
      p.find((x) => x.startsWith('REDIS_URL')) ?? '',
      /not set: the services keep campaigns/,
    );
    assert.match(
      p.find((x) => x.startsWith('VOLLEY_API_PORT')) ?? '',
      /whole number from 0 to 65535/,
    );
    assert.match(p.find((x) => x.startsWith('VOLLEY_LOG_LEVEL')) ?? '', /must be one of/);
    assert.match(p.find((x) => x.startsWith('VOLLEY_API_KEY')) ?? '', /at least 16/);
  });

  test('the admin key: unset turns the admin API off; short or equal to the API key is refused', () => {
    assert.equal(loadApiConfig(base).adminKey, undefined);
    const good = 'an-admin-secret-0123456789';
    assert.equal(loadApiConfig({ ...base, VOLLEY_ADMIN_KEY: good }).adminKey, good);
    const short = problems(() => loadApiConfig({ ...base, VOLLEY_ADMIN_KEY: 'admin' }));
    assert.equal(short.length, 1);
    assert.match(short[0] ?? '', /^VOLLEY_ADMIN_KEY must be at least 16 characters/);
    const same = problems(() => loadApiConfig({ ...base, VOLLEY_ADMIN_KEY: base.VOLLEY_API_KEY }));
    assert.deepEqual(same, [
      'VOLLEY_ADMIN_KEY must differ from VOLLEY_API_KEY: a client key would otherwise administer every tenant',
    ]);
  });

  test('API rate limit: 6000 a minute by default, a count and window when set, 0 or off to disable', () => {
    const d = loadApiConfig(base);
    assert.equal(d.rateLimit, DEFAULT_API_RATE_LIMIT.limit);
    assert.equal(d.rateLimit, 6000);
    assert.equal(d.rateWindowSeconds, 60);
    const set = loadApiConfig({
      ...base,
      VOLLEY_API_RATE_LIMIT: '120',
      VOLLEY_API_RATE_WINDOW: '10',
    });
    assert.equal(set.rateLimit, 120);
    assert.equal(set.rateWindowSeconds, 10);
    for (const off of ['0', 'off', 'OFF', ' off ']) {
      assert.equal(loadApiConfig({ ...base, VOLLEY_API_RATE_LIMIT: off }).rateLimit, 0, off);
    }
  });

  test('API rate limit: a wrong count or window is refused with a message naming the variable', () => {
    for (const bad of ['lots', '-5', '1.5', '1e3', 'unlimited']) {
      const p = problems(() => loadApiConfig({ ...base, VOLLEY_API_RATE_LIMIT: bad }));
      assert.equal(p.length, 1, bad);
      assert.equal(
        p[0],
        `VOLLEY_API_RATE_LIMIT=${JSON.stringify(bad)} must be a whole number from 0 to 1000000000, or off: the requests one API key may make per VOLLEY_API_RATE_WINDOW; 0 or off turns rate limiting off`,
      );
    }
    for (const bad of ['0', '1m', '-1', '86401']) {
      const p = problems(() => loadApiConfig({ ...base, VOLLEY_API_RATE_WINDOW: bad }));
      assert.equal(p.length, 1, bad);
      assert.match(
        p[0] ?? '',
        new RegExp(
          `^VOLLEY_API_RATE_WINDOW=${JSON.stringify(bad)} must be a whole number from 1 to 86400: the length in seconds`,
        ),
      );
    }
  });

  test('unsubscribe URL: https anywhere, http only on a loopback host, read alike by the sender and the API', () => {
    const secret = { VOLLEY_VERP_SECRET: 'a-verp-secret-0123456789' };
    for (const url of [
      'https://unsubscribe.example.com/u',
      'http://127.0.0.1:8080/unsubscribe',
      'http://localhost:18080/unsubscribe/',
      'http://[::1]:8080/unsubscribe',
    ]) {
      const env = { ...base, ...secret, VOLLEY_UNSUBSCRIBE_URL: url };
      assert.equal(loadSenderConfig(env).unsubscribeUrl, url);
      const api = loadApiConfig(env);
      assert.deepEqual([api.unsubscribeUrl, api.verpSecret], [url, secret.VOLLEY_VERP_SECRET]);
    }
    const refused: [string, RegExp][] = [
      [
        'http://mail.example.com/unsubscribe',
        /must be an https:\/\/ URL .*http only for 127\.0\.0\.1/,
      ],
      ['http://127.0.0.2.example.com/u', /must be an https:\/\/ URL/],
      ['ftp://localhost/u', /must be an https:\/\/ URL/],
      ['https://x.example/u?list=1', /may not have a query or fragment/],
      ['https://x.example/v1/unsubscribe', /the API answers \/v1\/unsubscribe itself/],
      ['https://x.example/healthz', /the API answers \/healthz itself/],
      ['not a url', /is not a URL/],
      [`https://x.example/${'u'.repeat(483)}`, /is 501 characters; at most 500/],
    ];
    for (const [url, why] of refused) {
      for (const load of [loadSenderConfig, loadApiConfig]) {
        const p = problems(() => load({ ...base, ...secret, VOLLEY_UNSUBSCRIBE_URL: url }));
        assert.equal(p.length, 1, `${url}: ${p.join('; ')}`);
        assert.match(p[0] ?? '', why);
        assert.ok(p[0]?.startsWith(`VOLLEY_UNSUBSCRIBE_URL=${JSON.stringify(url)}`), p[0]);
      }
    }
    const noSecret = problems(() =>
      loadApiConfig({ ...base, VOLLEY_UNSUBSCRIBE_URL: 'https://x.example/u' }),
    );
    assert.deepEqual(noSecret, [
      'VOLLEY_UNSUBSCRIBE_URL needs VOLLEY_VERP_SECRET: unsubscribe links carry a signed token',
    ]);
    assert.equal(loadApiConfig(base).unsubscribeUrl, undefined);
  });

  test('unsubscribe rate limit: 600 a minute per client address by default, 0 or off to disable', () => {
    assert.equal(loadApiConfig(base).unsubscribeRateLimit, 600);
    assert.equal(
      loadApiConfig({ ...base, VOLLEY_UNSUBSCRIBE_RATE_LIMIT: '30' }).unsubscribeRateLimit,
      30,
    );
    assert.equal(
      loadApiConfig({ ...base, VOLLEY_UNSUBSCRIBE_RATE_LIMIT: 'off' }).unsubscribeRateLimit,
      0,
    );
    const p = problems(() => loadApiConfig({ ...base, VOLLEY_UNSUBSCRIBE_RATE_LIMIT: 'many' }));
    assert.match(
      p[0] ?? '',
      /^VOLLEY_UNSUBSCRIBE_RATE_LIMIT="many" must be a whole number from 0 to 1000000, or off/,
    );
  });

  test('soft bounces: 3 within 30 days suppress by default; a limit and window when set, 0 or off never', () => {
    assert.deepEqual(loadFeedbackConfig({}), {
      softBounceLimit: 3,
      softBounceWindowMs: 30 * 86_400_000,
      eventsMaxLen: 1_000_000,
    });
    const api = loadApiConfig(base);
    assert.deepEqual([api.softBounceLimit, api.softBounceWindowMs], [3, 30 * 86_400_000]);
    assert.deepEqual(
      loadFeedbackConfig({ VOLLEY_SOFT_BOUNCE_LIMIT: '5', VOLLEY_SOFT_BOUNCE_WINDOW: '7d' }),
      { softBounceLimit: 5, softBounceWindowMs: 7 * 86_400_000, eventsMaxLen: 1_000_000 },
    );
    assert.equal(loadFeedbackConfig({ VOLLEY_SOFT_BOUNCE_LIMIT: 'off' }).softBounceLimit, 0);
    const bad = problems(() =>
      loadFeedbackConfig({
        VOLLEY_SOFT_BOUNCE_LIMIT: 'three',
        VOLLEY_SOFT_BOUNCE_WINDOW: 'a week',
      }),
    );
    assert.equal(bad.length, 2, bad.join('; '));
    assert.match(
      bad[0] ?? '',
      /^VOLLEY_SOFT_BOUNCE_LIMIT="three" must be a whole number from 0 to 1000, or off: the soft bounces/,
    );
    assert.match(bad[1] ?? '', /^VOLLEY_SOFT_BOUNCE_WINDOW="a week" is not a duration/);
    for (const w of ['30s', '400d']) {
      const p = problems(() => loadFeedbackConfig({ VOLLEY_SOFT_BOUNCE_WINDOW: w }));
      assert.deepEqual(p.length, 1);
      assert.match(
        p[0] ?? '',
        new RegExp(`^VOLLEY_SOFT_BOUNCE_WINDOW="${w}" must be from 1m to 365d`),
      );
    }
  });

  test('bounce service: local defaults, the domain and secret required, TLS files in pairs and present', () => {
    const need = {
      REDIS_URL: base.REDIS_URL,
      VOLLEY_BOUNCE_DOMAIN: 'Bounces.Example.COM',
      VOLLEY_VERP_SECRET: 'a-secret-of-16-chars',
    };
    const c = loadBounceConfig(need);
    assert.deepEqual(
      [c.bounceDomain, c.smtpHost, c.smtpPort, c.tls, c.metricsPort],
      ['bounces.example.com', '127.0.0.1', 2526, undefined, 9466],
    );
    assert.deepEqual(
      [c.maxMessageBytes, c.maxClients, c.rateLimit, c.softBounceLimit],
      [25 * 1024 * 1024, 100, 600, 3],
    );
    const set = loadBounceConfig({
      ...need,
      VOLLEY_BOUNCE_SMTP_HOST: '0.0.0.0',
      VOLLEY_BOUNCE_SMTP_PORT: '25',
      VOLLEY_BOUNCE_RATE_LIMIT: 'off',
      VOLLEY_BOUNCE_TLS_CERT: '/dev/null',
      VOLLEY_BOUNCE_TLS_KEY: '/dev/null',
    });
    assert.deepEqual(
      [set.smtpHost, set.smtpPort, set.rateLimit, set.tls],
      ['0.0.0.0', 25, 0, { certPath: '/dev/null', keyPath: '/dev/null' }],
    );

    const missing = problems(() => loadBounceConfig({ REDIS_URL: base.REDIS_URL }));
    assert.equal(missing.length, 2, missing.join('; '));
    assert.match(missing[0] ?? '', /^VOLLEY_BOUNCE_DOMAIN is not set: the bounce service accepts/);
    assert.match(missing[1] ?? '', /^VOLLEY_VERP_SECRET is not set: the bounce service verifies/);
    const bad = problems(() =>
      loadBounceConfig({
        ...need,
        VOLLEY_BOUNCE_DOMAIN: 'not a domain',
        VOLLEY_VERP_SECRET: 'short',
        VOLLEY_BOUNCE_SMTP_PORT: '70000',
        VOLLEY_BOUNCE_TLS_CERT: '/no/such/cert.pem',
        VOLLEY_BOUNCE_MAX_CLIENTS: '0',
      }),
    );
    assert.equal(bad.length, 6, bad.join('; '));
    assert.match(bad[0] ?? '', /^VOLLEY_BOUNCE_DOMAIN="not a domain" is not a domain name/);
    assert.match(bad[1] ?? '', /^VOLLEY_VERP_SECRET must be at least 16 characters/);
    assert.match(bad[2] ?? '', /^VOLLEY_BOUNCE_TLS_CERT and VOLLEY_BOUNCE_TLS_KEY go together/);
    assert.match(bad[3] ?? '', /^VOLLEY_BOUNCE_TLS_CERT="\/no\/such\/cert\.pem": no such file/);
    assert.match(
      bad[4] ?? '',
      /^VOLLEY_BOUNCE_SMTP_PORT="70000" must be a whole number from 0 to 65535/,
    );
    assert.match(
      bad[5] ?? '',
      /^VOLLEY_BOUNCE_MAX_CLIENTS="0" must be a whole number from 1 to 10000/,
    );
  });

  test('relay URLs: several, weights, credentials masked in labels, bad schemes refused', () => {
    const errs: string[] = [];
    const relays = parseRelays(
      'smtp://u%40x:secret@relay1.example:25?weight=3, smtps://relay2.example',
      errs,
    );
    assert.deepEqual(errs, []);
    assert.equal(relays.length, 2);
    assert.deepEqual(relays[0]?.auth, { user: 'u@x', pass: 'secret' });
    assert.equal(relays[0]?.weight, 3);
    assert.ok(!relays[0]?.label.includes('secret'));
    assert.equal(relays[1]?.port, 465);
    assert.equal(relays[1]?.secure, true);
    const bad: string[] = [];
    parseRelays('http://relay.example,smtp://x:pw@h:25?weight=-1', bad);
    assert.equal(bad.length, 2);
    assert.ok(
      bad.every((b) => !b.includes('pw@')),
      'passwords never appear in errors',
    );
  });

  test('relay URLs: credentials require TLS unless said otherwise; requireTLS may be asked for without them', () => {
    const errs: string[] = [];
    const [withCreds, plain, strict, implicit] = parseRelays(
      'smtp://u:pw@relay1.example:587, smtp://relay2.example:25, smtp://relay3.example:25?requireTLS=true, smtps://u:pw@relay4.example',
      errs,
    );
    assert.deepEqual(errs, []);
    assert.equal(withCreds?.requireTLS, true, 'credentials are never sent without TLS');
    assert.equal(plain?.requireTLS, false, 'no credentials: opportunistic STARTTLS');
    assert.equal(strict?.requireTLS, true);
    assert.equal(implicit?.requireTLS, true);

    const bad: string[] = [];
    const refused = parseRelays(
      'smtp://u:pw@relay1.example:587?requireTLS=false, smtp://relay2.example?requireTLS=maybe',
      bad,
    );
    assert.deepEqual(refused, []);
    assert.equal(bad.length, 2);
    assert.match(bad[0] ?? '', /requireTLS=false.*credentials|credentials.*requireTLS=false/);
    assert.match(bad[1] ?? '', /requireTLS must be true or false/);
    assert.ok(
      bad.every((b) => !b.includes('pw')),
      'passwords never appear in errors',
    );
  });

  test('collector: defaults, and a lock too short to renew or a wrong webhook setting refused with the reason', () => {
    const c = loadCollectorConfig(base);
    assert.equal(c.metricsPort, 9467);
    assert.deepEqual(
      [c.intervalMs, c.lockTtlMs, c.eventsHorizonMs, c.webhookAttempts, c.webhookRetryBaseMs],
      [5_000, 15_000, 30 * 86_400_000, 10, 10_000],
    );
    const p = problems(() =>
      loadCollectorConfig({
        ...base,
        VOLLEY_COLLECTOR_LOCK: '1s',
        VOLLEY_WEBHOOK_ATTEMPTS: '0',
        VOLLEY_WEBHOOK_TIMEOUT: 'soon',
      }),
    );
    assert.equal(p.length, 3, p.join('; '));
    assert.ok(
      p.some((x) => /VOLLEY_COLLECTOR_LOCK must be at least 3s: .*two collector replicas/.test(x)),
    );
    assert.ok(p.some((x) => x.startsWith('VOLLEY_WEBHOOK_ATTEMPTS')));
    assert.ok(p.some((x) => x.startsWith('VOLLEY_WEBHOOK_TIMEOUT')));
  });

  test('durations take units', () => {
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('3d'), 259_200_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('3 days'), undefined);
    assert.match(
      problems(() => loadSenderConfig({ ...base, VOLLEY_MAX_AGE: 'forever' }))[0] ?? '',
      /VOLLEY_MAX_AGE.*duration/,
    );
  });

  test('a service with a wrong value stops at start with a message naming the variable', async () => {
    const p = spawnService('sender', {
      REDIS_URL: 'redis://127.0.0.1:1',
      VOLLEY_SMTP_RELAY: 'ftp://nope',
      VOLLEY_SENDER_CONCURRENCY: '0',
    });
    const code = await p.exited;
    assert.equal(code, 1);
    const out = p.lines.join('\n');
    assert.match(out, /volley sender: invalid configuration/);
    assert.match(out, /VOLLEY_SMTP_RELAY: "ftp:\/\/nope" must start with smtp:\/\/ or smtps:\/\//);
    assert.match(out, /VOLLEY_SENDER_CONCURRENCY="0" must be a whole number from 1 to 1000/);
  });
});

describe('sending domain settings', () => {
  test('the API, the senders and the CLI read the same DKIM secret and DNS settings', () => {
    const env = {
      ...base,
      VOLLEY_DKIM_SECRET: 'x'.repeat(32),
      VOLLEY_DKIM_KEYS: 'Static.Example:s1:/keys/s1.pem',
      VOLLEY_BOUNCE_DOMAIN: 'Bounces.Volley.Example',
      VOLLEY_VERP_SECRET: 'verp-secret-0123456789',
      VOLLEY_BOUNCE_MX: 'mx.volley.example',
      VOLLEY_SPF_INCLUDE: '_spf.volley.example',
    };
    const expected = {
      dkimSecret: 'x'.repeat(32),
      dkimKeys: [{ domain: 'static.example', selector: 's1', keyPath: '/keys/s1.pem' }],
      bounceDomain: 'bounces.volley.example',
      bounceMx: 'mx.volley.example',
      spfInclude: '_spf.volley.example',
    };
    assert.deepEqual(loadDomainConfig(env), expected);
    const api = loadApiConfig(env);
    const sender = loadSenderConfig(env);
    for (const c of [api, sender]) {
      assert.deepEqual(
        Object.fromEntries(Object.keys(expected).map((k) => [k, c[k as keyof typeof expected]])),
        expected,
      );
    }
    assert.equal(sender.dkimCacheMs, 10_000);
    assert.equal(loadSenderConfig({ ...base, VOLLEY_DKIM_CACHE_TTL: '2s' }).dkimCacheMs, 2000);
  });

  test('a short secret, a cache time out of range and names that are not domains are refused', () => {
    const p = problems(() =>
      loadSenderConfig({
        ...base,
        VOLLEY_DKIM_SECRET: 'short',
        VOLLEY_DKIM_CACHE_TTL: '2h',
        VOLLEY_BOUNCE_MX: 'not a host',
        VOLLEY_SPF_INCLUDE: 'spf..example',
      }),
    );
    assert.equal(p.length, 4, p.join('\n'));
    assert.match(
      p[0] ?? '',
      /^VOLLEY_DKIM_SECRET must be at least 32 characters: .*seals every stored DKIM private key/,
    );
    assert.match(p[1] ?? '', /^VOLLEY_BOUNCE_MX="not a host" is not a domain name/);
    assert.match(p[2] ?? '', /^VOLLEY_SPF_INCLUDE="spf..example" is not a domain name/);
    assert.match(p[3] ?? '', /^VOLLEY_DKIM_CACHE_TTL="2h" must be from 100ms to 1h/);
    assert.match(
      problems(() => loadApiConfig({ ...base, VOLLEY_DKIM_SECRET: 'x'.repeat(31) }))[0] ?? '',
      /VOLLEY_DKIM_SECRET must be at least 32 characters/,
    );
    for (const name of [
      'VOLLEY_DKIM_SECRET',
      'VOLLEY_DKIM_CACHE_TTL',
      'VOLLEY_BOUNCE_MX',
      'VOLLEY_SPF_INCLUDE',
    ]) {
      assert.ok(knownVariables().has(name), name);
    }
  });
});

describe('unknown variables', () => {
  test('a misspelt VOLLEY_ variable is reported with the name it most likely meant', () => {
    const warnings = unknownVariableWarnings({
      VOLLEY_CONCURRENCY: '4',
      VOLLEY_SMPT_RELAY: 'smtp://x',
      VOLLEY_API_KEY: 'k',
      PATH: '/usr/bin',
    });
    assert.equal(warnings.length, 2);
    assert.match(
      warnings[0] ?? '',
      /^VOLLEY_CONCURRENCY is not a Volley setting .* did you mean VOLLEY_SENDER_CONCURRENCY\?/,
    );
    assert.match(warnings[1] ?? '', /^VOLLEY_SMPT_RELAY .* did you mean VOLLEY_SMTP_RELAY\?/);
  });

  test('no variable any part of Volley reads is reported', () => {
    const all = knownVariables();
    for (const name of [
      'VOLLEY_API_KEY',
      'VOLLEY_BATCH_SIZE',
      'VOLLEY_DKIM_KEYS',
      'VOLLEY_CAPTURE_PORT',
      'VOLLEY_SOFT_BOUNCE_LIMIT',
      'VOLLEY_SOFT_BOUNCE_WINDOW',
      'VOLLEY_UNSUBSCRIBE_RATE_LIMIT',
      'VOLLEY_API_METRICS_PORT',
      'VOLLEY_COLLECTOR_METRICS_PORT',
      'VOLLEY_BOUNCE_SMTP_PORT',
      'VOLLEY_BOUNCE_SMTP_HOST',
      'VOLLEY_BOUNCE_TLS_CERT',
      'VOLLEY_BOUNCE_RATE_LIMIT',
    ]) {
      assert.ok(all.has(name), name);
    }
    const env = Object.fromEntries([...all].map((n) => [n, 'x']));
    assert.deepEqual(unknownVariableWarnings(env), []);
  });
});
