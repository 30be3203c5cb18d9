import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_TEMPLATE_LIMITS,
  knownVariables,
  loadApiConfig,
  loadSenderConfig,
} from '@volley/config';

import { base, problems } from './helpers.ts';

describe('render budget settings', () => {
  test('the API and the senders read the same budget', () => {
    assert.deepEqual(loadApiConfig(base).templateLimits, DEFAULT_TEMPLATE_LIMITS);
    assert.deepEqual(loadSenderConfig(base).templateLimits, DEFAULT_TEMPLATE_LIMITS);
    const env = {
      ...base,
      VOLLEY_TEMPLATE_MAX_ITERATIONS: '50000',
      VOLLEY_TEMPLATE_MAX_OUTPUT: '1048576',
      VOLLEY_TEMPLATE_TIME_BUDGET: '20ms',
      VOLLEY_TEMPLATE_MAX_TAGS: '500',
    };
    const set = { maxIterations: 50_000, maxOutput: 1_048_576, timeBudgetMs: 20, maxTags: 500 };
    assert.deepEqual(loadApiConfig(env).templateLimits, set);
    assert.deepEqual(loadSenderConfig(env).templateLimits, set);
    for (const name of Object.keys(env).filter((n) => n.startsWith('VOLLEY_TEMPLATE_'))) {
      assert.ok(knownVariables().has(name), name);
    }
  });

  test('values out of range are refused, saying what the limit is for', () => {
    const p = problems(() =>
      loadSenderConfig({
        ...base,
        VOLLEY_TEMPLATE_MAX_ITERATIONS: '50',
        VOLLEY_TEMPLATE_MAX_OUTPUT: 'lots',
        VOLLEY_TEMPLATE_TIME_BUDGET: '1m',
        VOLLEY_TEMPLATE_MAX_TAGS: '5',
      }),
    );
    assert.equal(p.length, 4, p.join('\n'));
    assert.match(p[0] ?? '', /^VOLLEY_TEMPLATE_TIME_BUDGET="1m" must be from 1ms to 10s/);
    assert.match(
      p[1] ?? '',
      /^VOLLEY_TEMPLATE_MAX_ITERATIONS="50" must be a whole number from 100 to 100000000: .* a loop over an ordinary list would fail every recipient/,
    );
    assert.match(p[2] ?? '', /^VOLLEY_TEMPLATE_MAX_OUTPUT="lots" must be a whole number from 1024/);
    assert.match(
      p[3] ?? '',
      /^VOLLEY_TEMPLATE_MAX_TAGS="5" must be a whole number from 10 to 1000000: .*each sender compiles them once per campaign/,
    );
    assert.match(
      problems(() => loadApiConfig({ ...base, VOLLEY_TEMPLATE_TIME_BUDGET: 'soon' }))[0] ?? '',
      /^VOLLEY_TEMPLATE_TIME_BUDGET="soon" is not a duration/,
    );
  });

  test('what one run of a batch may render over the budget must fit well within the job lock', () => {
    // A run stops after 100 ms over the budget, the last render taking a whole budget: with
    // the 2 s lock that tests of killed senders use, the default 50 ms budget fits (150 ms).
    const short = loadSenderConfig({ ...base, VOLLEY_JOB_LOCK: '2s' });
    assert.equal(short.templateLimits.timeBudgetMs, 50);
    // 100 + 900 ms: half of the 2 s lock.
    const p = problems(() =>
      loadSenderConfig({ ...base, VOLLEY_JOB_LOCK: '2s', VOLLEY_TEMPLATE_TIME_BUDGET: '900ms' }),
    );
    assert.equal(p.length, 1, p.join('\n'));
    assert.match(
      p[0] ?? '',
      /^VOLLEY_TEMPLATE_TIME_BUDGET \(900 ms\) \+ 100 ms must stay under half of VOLLEY_JOB_LOCK \(2000 ms\): .* past its lock it would run again on another sender/,
    );
    // However large the batch: a run sets the rest of its campaign aside, not the budget times the batch.
    const fits = loadSenderConfig({
      ...base,
      VOLLEY_TEMPLATE_TIME_BUDGET: '800ms',
      VOLLEY_JOB_LOCK: '2s',
      VOLLEY_BATCH_SIZE: '1000',
    });
    assert.equal(fits.templateLimits.timeBudgetMs, 800);
    // The API renders one recipient at a time (preview): no batch, no lock.
    assert.equal(
      loadApiConfig({ ...base, VOLLEY_TEMPLATE_TIME_BUDGET: '5s' }).templateLimits.timeBudgetMs,
      5000,
    );
  });
});
