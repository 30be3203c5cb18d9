import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PolicyError,
  defaultPolicy,
  matchAdaptive,
  parsePolicy,
  parseRate,
  resolveRule,
} from '../src/index.ts';

const VALID = `
version: 1
defaults:
  rate: 20/s
  connections: 5
  messagesPerConnection: 100
  retry: [5m, 1h]
providers:
  google:
    mx: [google.com, googlemail.com]
    domains: [gmail.com]
    rate: 6000/min
    burst: 100
    connections: 20
  yahoo:
    mx: [yahoodns.net]
    rate: 20000/h
domains:
  Example.ORG:
    rate: 1/s
    connections: 1
  fast.example:
    rate: unlimited
    connections: unlimited
adaptive:
  - name: try-later
    match: { code: 4xx, text: 'try (again )?later' }
    threshold: 5
    action: slow
    factor: 0.5
    duration: 10m
    recovery: { step: 0.1, every: 1m }
  - name: spam
    match: { code: [550, 554], text: spam }
    threshold: 3
    window: 5m
    action: suspend
    scope: campaign
    duration: 1h
`;

/** Parses a policy that must fail and returns its problems. */
function problems(text: string, source = 'policy.yaml'): PolicyError {
  try {
    parsePolicy(text, source);
  } catch (err) {
    assert.ok(err instanceof PolicyError, `expected a PolicyError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the policy to be refused');
}

describe('policy parsing', () => {
  test('a valid file: units normalized to messages per second, fields inherited', () => {
    const p = parsePolicy(VALID, 'shaping.yaml');
    assert.equal(p.source, 'shaping.yaml');
    assert.equal(p.defaults.ratePerSec, 20);
    assert.equal(p.defaults.burst, 20, 'default burst: one second of traffic');
    assert.deepEqual(p.defaults.retryMs, [300_000, 3_600_000]);
    const google = p.providers.find((x) => x.name === 'google');
    assert.equal(google?.rule.ratePerSec, 100);
    assert.equal(google?.rule.burst, 100);
    assert.equal(google?.rule.messagesPerConnection, 100, 'inherited from defaults');
    const yahoo = p.providers.find((x) => x.name === 'yahoo');
    assert.ok(Math.abs((yahoo?.rule.ratePerSec ?? 0) - 20000 / 3600) < 1e-9);
    assert.equal(yahoo?.rule.burst, 6, 'own rate: burst from its own rate, not the default');
    assert.equal(yahoo?.rule.connections, 5);
    const org = p.domains.get('example.org');
    assert.equal(org?.ratePerSec, 1);
    assert.equal(org?.burst, 1);
    assert.equal(org?.name, 'domains.example.org');
    const fast = p.domains.get('fast.example');
    assert.equal(fast?.ratePerSec, undefined);
    assert.equal(fast?.connections, undefined);
    assert.equal(p.adaptive.length, 2);
    assert.deepEqual(p.adaptive[1]?.codes, ['550', '554']);
    assert.equal(p.adaptive[1]?.windowMs, 300_000);
    assert.equal(p.adaptive[1]?.scope, 'campaign');
    assert.deepEqual(p.adaptive[0]?.recovery, { step: 0.1, everyMs: 60_000 });
  });

  test('rate syntax: per second, minute and hour', () => {
    assert.equal(parseRate('100/s'), 100);
    assert.equal(parseRate('6000/min'), 100);
    assert.equal(parseRate('6000/m'), 100);
    assert.equal(parseRate('36000/h'), 10);
    assert.equal(parseRate('0.5/s'), 0.5);
    assert.equal(parseRate('100'), undefined);
    assert.equal(parseRate('100/day'), undefined);
  });

  test('YAML syntax errors point at the line to fix', () => {
    const e = problems('defaults:\n  rate: 10/s\n  connections: [1, 2\nproviders: {}\n');
    assert.equal(e.code, 'SHAPING_POLICY_INVALID');
    assert.deepEqual([e.line, e.column], [3, 16], 'the unclosed [, not where it was noticed');
    assert.match(e.reason, /YAML syntax: .*\(the \[ here is not closed\)/);
    assert.match(e.message, /^policy\.yaml:3:16: /);
    const quote = problems('defaults:\n  rate: "10/s\n  connections: 3\n');
    assert.deepEqual([quote.line, quote.column], [2, 9]);
    assert.match(quote.reason, /the " here is not closed/);
    const tab = problems('defaults:\n\trate: 1/s\n');
    assert.equal(tab.line, 2);
    assert.match(tab.reason, /indent with spaces, not tabs/);
  });

  test('a field written twice is reported where it is repeated', () => {
    const e = problems('defaults:\n  rate: 10/s\n  rate: 20/s\n');
    assert.equal(e.line, 3);
    assert.equal(e.column, 3);
    assert.match(e.reason, /written twice.*keep one/);
  });

  test('a negative rate points at the value and says what to write', () => {
    const e = problems('defaults:\n  connections: 3\n  rate: -5/s\n');
    assert.deepEqual([e.line, e.column], [3, 9]);
    assert.match(e.reason, /defaults\.rate cannot be negative: write .*100\/s, 6000\/min/);
  });

  test('a rate without a unit, a zero rate and a made-up unit', () => {
    const noUnit = problems('domains:\n  a.example:\n    rate: 100\n');
    assert.deepEqual([noUnit.line, noUnit.column], [3, 11]);
    assert.match(noUnit.reason, /no time unit; write 100\/s, 100\/min or 100\/h/);
    const zero = problems('defaults:\n  rate: 0/s\n');
    assert.match(zero.reason, /must be above 0 .*suspend/);
    const unit = problems('defaults:\n  rate: 10/fortnight\n');
    assert.match(unit.reason, /is not a rate: write messages per time unit/);
  });

  test('counts must be whole numbers of at least 1', () => {
    const e = problems('providers:\n  big:\n    mx: [big.example]\n    connections: 2.5\n');
    assert.deepEqual([e.line, e.column], [4, 18]);
    assert.match(e.reason, /providers\.big\.connections must be a whole number of at least 1/);
    const burst = problems('defaults:\n  rate: 1/s\n  burst: 0\n');
    assert.equal(burst.line, 3);
  });

  test('unknown fields are named with the known ones', () => {
    const e = problems('defaults:\n  rate: 10/s\n  conections: 3\n');
    assert.deepEqual([e.line, e.column], [3, 3]);
    assert.match(e.reason, /unknown field "conections" in defaults; known fields: .*connections/);
    const top = problems('default:\n  rate: 10/s\n');
    assert.match(
      top.reason,
      /unknown field "default" in the policy; known fields: version, defaults/,
    );
  });

  test('providers: reserved names, nothing to match, a suffix claimed twice', () => {
    const other = problems('providers:\n  other:\n    mx: [x.example]\n');
    assert.equal(other.line, 2);
    assert.match(other.reason, /not other or default \(it becomes a metric label\)/);
    const none = problems('providers:\n  acme:\n    rate: 1/s\n');
    assert.match(none.reason, /matches nothing: add mx/);
    const twice = problems(
      'providers:\n  a:\n    mx: [mx.example]\n  b:\n    mx: [other.example, mx.example]\n',
    );
    assert.equal(twice.line, 5);
    assert.match(twice.reason, /mx\.example is already matched by providers\.a/);
    const bad = problems('providers:\n  a:\n    mx: [ "not a host" ]\n');
    assert.match(bad.reason, /"not a host" is not a host name suffix/);
  });

  test('adaptive rules: bad regex, missing fields, bad durations, wrong combinations', () => {
    const regex = problems(
      'adaptive:\n  - name: x\n    match: { text: "(unclosed" }\n    threshold: 1\n    action: slow\n    duration: 1m\n',
    );
    assert.deepEqual([regex.line, regex.column], [3, 20]);
    assert.match(regex.reason, /not a valid regular expression/);
    const missing = problems(
      'adaptive:\n  - name: x\n    match: { code: 421 }\n    action: slow\n',
    );
    assert.deepEqual(
      missing.problems.map((p) => p.reason.replace(/, e\.g\..*/, '')),
      [
        'adaptive rule x needs threshold: matching replies per window',
        'adaptive rule x needs duration',
      ],
    );
    const duration = problems(
      'adaptive:\n  - name: x\n    match: { code: 4xx }\n    threshold: 2\n    action: suspend\n    duration: 10\n',
    );
    assert.equal(duration.line, 6);
    assert.match(duration.reason, /10 has no unit; write a number with a unit, such as 500ms, 90s/);
    const combo = problems(
      'adaptive:\n  - name: x\n    match: { code: 4xx }\n    threshold: 2\n    action: slow\n    scope: campaign\n    duration: 1m\n',
    );
    assert.equal(combo.line, 6);
    assert.match(combo.reason, /scope campaign works with action suspend only/);
    const code = problems(
      'adaptive:\n  - name: x\n    match: { code: 42 }\n    threshold: 2\n    action: slow\n    duration: 1m\n',
    );
    assert.match(code.reason, /must be a reply code \(421\) or class \(4xx\)/);
  });

  test('every problem is reported at once, each with its own line', () => {
    const e = problems(
      'defaults:\n  rate: fast\n  burst: -1\ndomains:\n  a.example:\n    rate: 1\n',
    );
    assert.deepEqual(
      e.problems.map((p) => p.line),
      [2, 3, 6],
    );
    assert.match(e.message, /^3 problems in policy\.yaml:\n {2}policy\.yaml:2:9: /);
  });

  test('an empty file is refused with what to do', () => {
    assert.match(problems('').reason, /empty; it needs at least a defaults section/);
  });

  test('a TOML policy gives the same rules as the YAML one', () => {
    const toml = `
version = 1

[defaults]
rate = "20/s"
connections = 5
messagesPerConnection = 100
retry = ["5m", "1h"]

[providers.google]
mx = ["google.com", "googlemail.com"]
domains = ["gmail.com"]
rate = "6000/min"
burst = 100
connections = 20

[providers.yahoo]
mx = ["yahoodns.net"]
rate = "20000/h"

[domains."Example.ORG"]
rate = "1/s"
connections = 1

[domains."fast.example"]
rate = "unlimited"
connections = "unlimited"

[[adaptive]]
name = "try-later"
match = { code = "4xx", text = "try (again )?later" }
threshold = 5
action = "slow"
factor = 0.5
duration = "10m"
recovery = { step = 0.1, every = "1m" }

[[adaptive]]
name = "spam"
match = { code = [550, 554], text = "spam" }
threshold = 3
window = "5m"
action = "suspend"
scope = "campaign"
duration = "1h"
`;
    const fromToml = parsePolicy(toml, 'shaping.toml');
    const fromYaml = parsePolicy(VALID, 'shaping.yaml');
    for (const d of ['gmail.com', 'example.org', 'fast.example', 'other.example']) {
      assert.deepEqual(resolveRule(fromToml, d), resolveRule(fromYaml, d), d);
    }
    assert.deepEqual(fromToml.adaptive, fromYaml.adaptive);
  });

  test('TOML problems point at the line and column in the TOML text', () => {
    const syntax = problems('[defaults]\nrate = "1/s\n', 'shaping.toml');
    assert.equal(syntax.line, 2);
    assert.match(syntax.reason, /^TOML syntax: /);

    const text = '[defaults]\nrate = "1/s"\n\n[domains."b.example"]\nconnections = 2\nrate = 40\n';
    const semantic = problems(text, 'shaping.toml');
    assert.equal(semantic.line, 6);
    assert.equal(semantic.column, 1);
    assert.match(semantic.reason, /40 has no time unit/);

    const rule = problems(
      '[defaults]\nrate = "1/s"\n\n[[adaptive]]\nname = "x"\nthreshold = 2\n',
      'shaping.toml',
    );
    assert.equal(rule.line, 5, 'a problem of an adaptive rule points at that rule');
  });

  test('the default policy is valid and names the large providers', () => {
    const p = defaultPolicy();
    const names = p.providers.map((x) => x.name);
    for (const n of ['google', 'microsoft', 'microsoft365', 'yahoo', 'apple']) {
      assert.ok(names.includes(n), `default policy has ${n}`);
    }
    assert.ok(p.adaptive.some((r) => r.action === 'suspend'));
    assert.ok(p.adaptive.some((r) => r.action === 'slow'));
    const cases: [string, string[], string][] = [
      ['gmail.com', [], 'provider:google'],
      ['company.example', ['aspmx.l.google.com'], 'provider:google'],
      ['hotmail.co.uk', ['eur.olc.protection.outlook.com'], 'provider:microsoft'],
      ['corp.example', ['corp-example.mail.protection.outlook.com'], 'provider:microsoft365'],
      ['yahoo.co.uk', ['mx-eu.mail.am0.yahoodns.net'], 'provider:yahoo'],
      ['me.com', [], 'provider:apple'],
      ['small.example', ['mail.small.example'], 'default:small.example'],
    ];
    for (const [domain, mx, key] of cases) assert.equal(resolveRule(p, domain, mx).key, key);
    assert.equal(
      matchAdaptive(p, {
        code: 421,
        text: '4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred',
      })?.action,
      'suspend',
    );
    assert.equal(
      matchAdaptive(p, { code: 421, text: '4.7.0 Try again later, closing connection.' })?.name,
      'try-again-later',
    );
  });
});

describe('rule resolution', () => {
  const p = parsePolicy(VALID, 'shaping.yaml');

  test('a domain named in the policy has its own key, labelled by its provider or other', () => {
    const r = resolveRule(p, 'EXAMPLE.org.', ['mx.example.org']);
    assert.equal(r.key, 'domain:example.org');
    assert.equal(r.metricLabel, 'other');
    assert.equal(r.rule.ratePerSec, 1);
  });

  test('a provider matches by the most preferred MX host suffix', () => {
    const r = resolveRule(p, 'customer.example', [
      'ASPMX.L.GOOGLE.COM.',
      'alt1.aspmx.l.google.com',
    ]);
    assert.deepEqual([r.key, r.metricLabel], ['provider:google', 'google']);
    const y = resolveRule(p, 'ymail.example', ['mta5.am0.yahoodns.net']);
    assert.equal(y.key, 'provider:yahoo');
    // The suffix matches whole labels only.
    const lookalike = resolveRule(p, 'x.example', ['mx.notgoogle.com']);
    assert.equal(lookalike.key, 'default:x.example');
    // Only the most preferred host decides: a Google backup MX does not make it Google's.
    const backup = resolveRule(p, 'y.example', ['mx.y.example', 'aspmx.l.google.com']);
    assert.equal(backup.key, 'default:y.example');
  });

  test('a provider matches by recipient domain suffix, without MX', () => {
    assert.equal(resolveRule(p, 'gmail.com').key, 'provider:google');
    assert.equal(resolveRule(p, 'eu.gmail.com').key, 'provider:google');
  });

  test('any other domain is limited on its own by the defaults, labelled other', () => {
    const r = resolveRule(p, 'Small.Example', ['mail.small.example']);
    assert.deepEqual(
      [r.key, r.metricLabel, r.rule.name],
      ['default:small.example', 'other', 'defaults'],
    );
  });

  test('adaptive matching: first rule in order, by code class and text', () => {
    assert.equal(matchAdaptive(p, { code: 421, text: '4.7.0 Try again later' })?.name, 'try-later');
    assert.equal(matchAdaptive(p, { code: 550, text: 'try again later' }), undefined);
    assert.equal(matchAdaptive(p, { code: 554, text: 'Message rejected as SPAM' })?.name, 'spam');
    assert.equal(
      matchAdaptive(p, { text: 'connection reset, try later' }),
      undefined,
      'code required',
    );
    assert.equal(matchAdaptive(p, { code: 250, text: 'ok' }), undefined);
  });
});
