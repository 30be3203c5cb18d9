import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  knownVariables,
  unknownVariableWarnings,
  ConfigError,
  DEFAULT_API_RATE_LIMIT,
  loadApiConfig,
  loadSenderConfig,
  parseDuration,
  parseRelays,
} from '@volley/config';
import { spawnService } from '@volley/testkit';

const base = { REDIS_URL: 'redis://127.0.0.1:6379', VOLLEY_API_KEY: 'a-long-enough-key-123' };

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

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
    ]) {
      assert.ok(all.has(name), name);
    }
    const env = Object.fromEntries([...all].map((n) => [n, 'x']));
    assert.deepEqual(unknownVariableWarnings(env), []);
  });
});
