import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_RETENTION,
  knownVariables,
  loadApiConfig,
  loadFeedbackConfig,
  loadSenderConfig,
} from '@volley/config';
import { base, problems } from './helpers.ts';

const DAY = 86_400_000;

describe('retention settings', () => {
  test('senders sweep after VOLLEY_RETENTION; every service that writes events caps them alike', () => {
    const s = loadSenderConfig(base);
    assert.deepEqual([s.retentionMs, s.eventsMaxLen], [30 * DAY, 1_000_000]);
    assert.deepEqual(DEFAULT_RETENTION, { retentionMs: 30 * DAY, eventsMaxLen: 1_000_000 });
    const env = { ...base, VOLLEY_RETENTION: '7d', VOLLEY_EVENTS_MAXLEN: '5000' };
    const set = loadSenderConfig(env);
    assert.deepEqual([set.retentionMs, set.eventsMaxLen], [7 * DAY, 5000]);
    assert.equal(loadApiConfig(env).eventsMaxLen, 5000);
    assert.equal(loadFeedbackConfig(env).eventsMaxLen, 5000);
    assert.equal(loadSenderConfig({ ...base, VOLLEY_EVENTS_MAXLEN: 'off' }).eventsMaxLen, 0);
    for (const name of ['VOLLEY_RETENTION', 'VOLLEY_EVENTS_MAXLEN']) {
      assert.ok(knownVariables().has(name), name);
    }
  });

  test('a retention shorter than a day, or a cap that is not a count, is refused saying why', () => {
    const p = problems(() =>
      loadSenderConfig({ ...base, VOLLEY_RETENTION: '2h', VOLLEY_EVENTS_MAXLEN: 'many' }),
    );
    assert.equal(p.length, 2, p.join('\n'));
    assert.ok(
      p.some((x) =>
        /^VOLLEY_RETENTION="2h" must be at least 1d: .*before late bounces and unsubscribes/.test(
          x,
        ),
      ),
      p.join('\n'),
    );
    assert.ok(
      p.some((x) => /^VOLLEY_EVENTS_MAXLEN="many" must be a whole number from 0/.test(x)),
      p.join('\n'),
    );
    assert.match(
      problems(() => loadSenderConfig({ ...base, VOLLEY_RETENTION: 'forever' }))[0] ?? '',
      /^VOLLEY_RETENTION="forever" is not a duration/,
    );
  });
});
