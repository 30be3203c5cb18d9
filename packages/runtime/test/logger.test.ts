import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchTs } from '../src/index.ts';

const FIXTURE = 'packages/runtime/test/fixtures/log.ts';

/** Issue 17: service logs had no timestamps. Each record has an ISO time, JSON or pretty. */
test('JSON records carry an ISO time; the pretty format shows the clock time and level', async () => {
  const json = launchTs('log', FIXTURE, { env: { VOLLEY_LOG_FORMAT: 'json' } });
  assert.equal(await json.exited, 0);
  const rec = JSON.parse(json.lines[0] ?? '') as Record<string, unknown>;
  assert.equal(rec.service, 'demo');
  assert.equal(rec.msg, 'hello');
  assert.match(String(rec.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  const pretty = launchTs('log', FIXTURE, { env: { VOLLEY_LOG_FORMAT: 'pretty' } });
  assert.equal(await pretty.exited, 0);
  assert.match(pretty.lines[0] ?? '', /^\d\d:\d\d:\d\d\.\d{3} \[demo\] hello {2}n=1$/);
  assert.match(pretty.lines[1] ?? '', /^\d\d:\d\d:\d\d\.\d{3} \[demo\] WARN: careful$/);
});

test('a service whose reader is gone still exits: lines to a closed pipe are dropped', async () => {
  const h = launchTs('log', FIXTURE, {
    env: { VOLLEY_LOG_FORMAT: 'json', LOG_FIXTURE_LINES: '5000' },
  });
  // Close our end of its output at once: every later write meets EPIPE.
  h.child.stdout?.destroy();
  assert.equal(await h.exited, 0);
});
