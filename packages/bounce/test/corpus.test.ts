import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { measureCorpus, percent } from '@volley/bounce';
import { sharedDir } from '@volley/testkit';

// Resolved from the repository root as CI lays it out; a missing corpus fails the test.
const CORPUS = join(sharedDir(), 'bounce-corpus');

test('the bounce corpus: at least 90% reason and 97% hard/soft agreement, no bounce reported for a not-bounce', async () => {
  const m = await measureCorpus(CORPUS);
  // Guards the measurement itself: an empty or misread corpus must not pass.
  assert.ok(m.bounceFiles >= 300, `only ${m.bounceFiles} bounce messages read`);
  assert.ok(m.notBounceFiles >= 1, 'no not-bounces read');
  assert.ok(m.reason.total >= 350, `only ${m.reason.total} expected recipients`);

  const misses = m.misses.map((x) => `${x.file}#${x.index}: ${x.expected} → ${x.got}`).join('\n');
  assert.ok(
    percent(m.reason) >= 90,
    `reason agreement ${percent(m.reason)}% is below 90%:\n${misses}`,
  );
  assert.ok(
    percent(m.hardSoft) >= 97,
    `hard/soft agreement ${percent(m.hardSoft)}% is below 97%:\n${misses}`,
  );
  assert.ok(
    percent(m.recipientCount) >= 95,
    `recipient count agreement ${percent(m.recipientCount)}%: ${JSON.stringify(m.countMismatches)}`,
  );
  assert.deepEqual(m.notBounceReports, []);
});
