// The bounce server's per-client rate limit, on a clock the test moves.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClientRateLimit, clientNetwork } from '../src/inbound/index.ts';

describe('per-client rate limit', () => {
  test('a client gets its burst, then tokens back at the rate; another client has its own', () => {
    let now = 0;
    const limit = new ClientRateLimit(60, () => now);
    for (let i = 0; i < 60; i++) assert.equal(limit.take('192.0.2.1'), true, `token ${i}`);
    assert.equal(limit.take('192.0.2.1'), false);
    assert.equal(limit.take('192.0.2.2'), true, 'another address is not affected');
    now += 1000; // one a second
    assert.equal(limit.take('192.0.2.1'), true);
    assert.equal(limit.take('192.0.2.1'), false);
    now += 10 * 60_000; // never more than the burst
    for (let i = 0; i < 60; i++) limit.take('192.0.2.1');
    assert.equal(limit.take('192.0.2.1'), false);
  });

  test('IPv6 clients are limited by their /64, IPv4-mapped ones as IPv4', () => {
    assert.equal(clientNetwork('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(clientNetwork('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
    assert.equal(clientNetwork('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(clientNetwork('::1'), '0:0:0:0::/64');
    assert.equal(clientNetwork('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(clientNetwork('192.0.2.7'), '192.0.2.7');
    const limit = new ClientRateLimit(1, () => 0);
    assert.equal(limit.take('2001:db8:1:2::1'), true);
    assert.equal(limit.take('2001:db8:1:2::ffff'), false, 'the same /64');
    assert.equal(limit.take('2001:db8:1:3::1'), true, 'the next /64');
  });

  test('memory stays bounded when a flood comes from many addresses; 0 turns the limit off', () => {
    const limit = new ClientRateLimit(5, () => 0);
    for (let i = 0; i < 30_000; i++)
      limit.take(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    assert.equal(limit.size, 10_000);
    const off = new ClientRateLimit(0, () => 0);
    for (let i = 0; i < 1000; i++) assert.equal(off.take('192.0.2.1'), true);
    assert.equal(off.size, 0);
  });
});
