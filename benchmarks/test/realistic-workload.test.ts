import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultPolicy, parsePolicy, resolveRule } from '@volley/shaping';
import {
  limitReport,
  PROVIDER_SHARES,
  realisticDomainCounts,
  realisticRecipients,
  steadyRateOf,
} from '../lib/realistic-workload.ts';

/** `n` acceptances from `startMs`, one every `1000 / perSec` ms. */
function paced(n: number, perSec: number, startMs: number): number[] {
  return Array.from({ length: n }, (_v, i) => startMs + (i * 1000) / perSec);
}

describe('the realistic recipient list', () => {
  test('adds up to the size asked, with the documented provider shares', () => {
    for (const count of [100, 1_234, 20_000]) {
      const counts = realisticDomainCounts(count);
      assert.equal(
        counts.reduce((a, d) => a + d.count, 0),
        count,
      );
      for (const p of PROVIDER_SHARES) {
        const got = counts.find((d) => d.domain === p.domain)?.count ?? 0;
        // Largest remainder: each domain is within one address of its exact share.
        assert.ok(Math.abs(got - p.share * count) < 1, `${p.domain} at ${count}: ${got}`);
      }
    }
  });

  test('has a long tail: many small domains, none as large as a big provider', () => {
    const counts = realisticDomainCounts(20_000);
    const tail = counts.filter((d) => d.domain.endsWith('.tail.bench.example'));
    assert.ok(tail.length >= 500, `${tail.length} tail domains`);
    const gmail = counts.find((d) => d.domain === 'gmail.com')?.count ?? 0;
    assert.ok(Math.max(...tail.map((d) => d.count)) < gmail / 5);
    assert.ok(tail.filter((d) => d.count <= 2).length > tail.length / 2);
  });

  test('puts every provider domain under a provider of the default policy, the tail under defaults', () => {
    const policy = defaultPolicy();
    for (const p of PROVIDER_SHARES) {
      const r = resolveRule(policy, p.domain);
      assert.notEqual(r.metricLabel, 'other', p.domain);
      assert.match(r.key, /^provider:/, p.domain);
    }
    const groups = new Set(PROVIDER_SHARES.map((p) => resolveRule(policy, p.domain).metricLabel));
    assert.deepEqual([...groups].sort(), ['apple', 'comcast', 'google', 'microsoft', 'yahoo']);
    assert.equal(resolveRule(policy, 't00001.tail.bench.example').metricLabel, 'other');
  });

  test('is the same list every time, interleaved rather than sorted by domain', () => {
    const a = realisticRecipients(5_000);
    const b = realisticRecipients(5_000);
    assert.deepEqual(a, b);
    assert.equal(new Set(a.map((r) => r.email)).size, 5_000);
    // Sorted by domain, the first 500 would all be gmail.com; interleaved, about 38% are.
    const gmail = a.slice(0, 500).filter((r) => r.email.endsWith('@gmail.com')).length;
    assert.ok(gmail > 100 && gmail < 300, `${gmail} of the first 500 at gmail.com`);
  });

  test('refuses a size that is not a positive whole number', () => {
    assert.throws(() => realisticDomainCounts(0), RangeError);
    assert.throws(() => realisticDomainCounts(1.5), RangeError);
  });
});

describe('what limits the rate', () => {
  test('steady rate leaves out the start and the tail, and needs enough messages', () => {
    // A burst of 100 at once, then 10/s: the steady rate is the 10/s, not the burst.
    const times = [...Array.from({ length: 100 }, () => 0), ...paced(900, 10, 100)];
    assert.ok(Math.abs(steadyRateOf(times) - 10) < 0.2, String(steadyRateOf(times)));
    assert.ok(Number.isNaN(steadyRateOf(paced(10, 10, 0))));
  });

  test('names the group at its limit that finished last, and one below its limit', () => {
    const policy = defaultPolicy();
    const origin = 1_000_000;
    const sent = new Map<string, number[]>([
      // google: 100/s in the policy; 2,000 at 100/s end 20 s in, the last of all.
      ['gmail.com', paced(2_000, 100, origin + 500)],
      // yahoo: 50/s in the policy, shared by yahoo.com and aol.com; together 25/s: below.
      ['yahoo.com', paced(200, 12.5, origin + 500)],
      ['aol.com', paced(200, 12.5, origin + 540)],
      // Tail domains under defaults (50/s each): one busy at its limit, others tiny.
      ['t00001.tail.bench.example', paced(300, 50, origin + 500)],
      ['t00002.tail.bench.example', paced(3, 50, origin + 600)],
      ['t00003.tail.bench.example', []],
    ]);
    const r = limitReport(policy, sent, origin);
    assert.equal(r.messages, 2_703);
    assert.equal(r.lastGroup, 'google');
    assert.deepEqual(
      r.groups.map((g) => g.group),
      ['google', 'yahoo', 'other'],
    );
    const [google, yahoo, other] = r.groups;
    assert.ok(google && yahoo && other);
    assert.equal(google.limitPerSec, 100);
    assert.equal(google.status, 'at limit');
    assert.equal(google.limitText, '100/s');
    assert.ok(Math.abs(google.longestGapS - 0.01) < 1e-9);
    assert.equal(yahoo.domains, 2);
    assert.equal(yahoo.keys, 1);
    assert.equal(yahoo.status, 'below limit');
    assert.ok(Math.abs(yahoo.rate - 25) < 1, String(yahoo.rate));
    assert.equal(other.keys, 2);
    assert.equal(other.limitText, '50/s per domain');
    assert.equal(other.busiestKey, 'default:t00001.tail.bench.example');
    assert.equal(other.status, 'at limit');
    // Floor: google's (2,000 − burst 100) ÷ 100/s = 19 s is the largest.
    assert.equal(r.floorGroup, 'google');
    assert.equal(r.floorS, 19);
    assert.ok(Math.abs(r.durationS - (0.5 + 1_999 / 100)) < 1e-9);
    assert.ok(Math.abs(r.overallRate - 2_703 / r.durationS) < 1e-9);
    assert.match(r.verdict, /google finished last.*at its limit/);
  });

  test('says so when the group that finished last was below its limit, or over it', () => {
    const policy = defaultPolicy();
    const slow = limitReport(policy, new Map([['icloud.com', paced(400, 5, 0)]]), 0);
    assert.equal(slow.groups[0]?.status, 'below limit');
    assert.match(
      slow.verdict,
      /apple finished last, 79\.8 s after the submit, sending at 25% of its limit \(20\/s\): something besides.*longest pause: 0\.2 s from 0\.0 s/,
    );
    // A key that waited 30 s between two halves of its mail: the pause names the wait.
    const paused = limitReport(
      policy,
      new Map([['icloud.com', [...paced(100, 20, 0), ...paced(100, 20, 35_000)]]]),
      0,
    );
    assert.ok(Math.abs((paused.groups[0]?.longestGapS ?? 0) - 30.05) < 1e-9);
    assert.ok(Math.abs((paused.groups[0]?.longestGapAtS ?? 0) - 4.95) < 1e-9);
    const fast = limitReport(policy, new Map([['icloud.com', paced(400, 40, 0)]]), 0);
    assert.equal(fast.groups[0]?.status, 'over limit');
    assert.match(fast.verdict, /ABOVE its limit/);
  });

  test('marks unlimited keys and keys with too few messages instead of judging them', () => {
    const policy = parsePolicy(
      'version: 1\ndefaults:\n  rate: unlimited\n  connections: 10\n',
      'inline.yaml',
    );
    const r = limitReport(policy, new Map([['a.example', paced(500, 300, 0)]]), 0);
    assert.equal(r.groups[0]?.status, 'unlimited');
    assert.equal(r.floorS, undefined);
    assert.match(r.verdict, /without a rate limit/);
    const few = limitReport(defaultPolicy(), new Map([['me.com', paced(10, 20, 0)]]), 0);
    assert.equal(few.groups[0]?.status, 'too few');
  });
});
