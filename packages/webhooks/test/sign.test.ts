import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { DEFAULT_TOLERANCE_SEC, signWebhook, verifyWebhook } from '@volley/webhooks';

const SECRET = 'whsec-test-0123456789abcdef';
const BODY = JSON.stringify({ id: 'c1-1-0', type: 'sent', data: { email: 'a@example.com' } });
const T = 1_800_000_000;

test('a signature is HMAC-SHA256 of "<t>.<body>", as a receiver computes it without Volley', () => {
  const header = signWebhook(SECRET, BODY, T);
  const mac = createHmac('sha256', SECRET).update(`${T}.${BODY}`).digest('hex');
  assert.equal(header, `t=${T},v1=${mac}`);
  assert.deepEqual(verifyWebhook(header, BODY, SECRET, { now: T }), { ok: true, timestamp: T });
});

test('an altered body, another secret or an altered timestamp do not verify', () => {
  const header = signWebhook(SECRET, BODY, T);
  const now = { now: T };
  assert.deepEqual(verifyWebhook(header, `${BODY} `, SECRET, now), {
    ok: false,
    reason: 'mismatch',
  });
  assert.deepEqual(verifyWebhook(header, BODY, `${SECRET}x`, now), {
    ok: false,
    reason: 'mismatch',
  });
  // The timestamp is inside the signed text: moving it forward to dodge the tolerance breaks it.
  const moved = header.replace(`t=${T}`, `t=${T + 1000}`);
  assert.deepEqual(verifyWebhook(moved, BODY, SECRET, { now: T + 1000 }), {
    ok: false,
    reason: 'mismatch',
  });
});

test('a delivery signed longer ago than the tolerance is refused as a replay', () => {
  const header = signWebhook(SECRET, BODY, T);
  assert.equal(verifyWebhook(header, BODY, SECRET, { now: T + DEFAULT_TOLERANCE_SEC }).ok, true);
  assert.deepEqual(verifyWebhook(header, BODY, SECRET, { now: T + DEFAULT_TOLERANCE_SEC + 1 }), {
    ok: false,
    reason: 'too-old',
  });
  assert.equal(verifyWebhook(header, BODY, SECRET, { now: T + 60, toleranceSec: 30 }).ok, false);
});

test('a header with a rotated secret verifies when any v1 matches', () => {
  const old = signWebhook('old-secret-0123456789', BODY, T);
  const current = signWebhook(SECRET, BODY, T);
  const both = `${current},v1=${old.split('v1=')[1] ?? ''}`;
  assert.equal(verifyWebhook(both, BODY, 'old-secret-0123456789', { now: T }).ok, true);
  assert.equal(verifyWebhook(both, BODY, SECRET, { now: T }).ok, true);
});

test('missing, truncated or garbled headers are malformed, never a crash', () => {
  for (const h of [
    undefined,
    '',
    't=',
    `t=${T}`,
    'v1=abc',
    `t=abc,v1=${'0'.repeat(64)}`,
    `t=${T},v1=${'z'.repeat(64)}`,
    `t=${T},v1=${'0'.repeat(63)}`,
    '=,=,=',
    ',,,',
  ]) {
    assert.deepEqual(verifyWebhook(h, BODY, SECRET, { now: T }), {
      ok: false,
      reason: 'malformed',
    });
  }
});
