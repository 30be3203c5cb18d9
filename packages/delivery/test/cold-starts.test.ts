import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ColdStarts } from '../src/admission.ts';
import { CONNECTIONS_COLD_AFTER_MS } from '../src/timing.ts';

test("a destination's first batch on a worker, and its first after its connections went idle, opens connections", () => {
  const c = new ColdStarts();
  const t0 = 1_700_000_000_000;
  assert.equal(c.take('domain:a.example', t0), true);
  assert.equal(c.take('domain:a.example', t0 + 100), false);
  assert.equal(c.take('domain:b.example', t0 + 200), true);
  // Each batch keeps the connections warm: a minute counts from the last one.
  assert.equal(c.take('domain:a.example', t0 + CONNECTIONS_COLD_AFTER_MS), false);
  assert.equal(c.take('domain:a.example', t0 + 2 * CONNECTIONS_COLD_AFTER_MS + 101), true);
});
