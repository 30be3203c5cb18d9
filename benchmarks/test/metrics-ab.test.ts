import assert from 'node:assert/strict';
import { test } from 'node:test';
import { summarizeAb, type ArmRun } from '../lib/metrics-ab.ts';

function run(rep: number, metrics: 'on' | 'off', senderUsPerMsg: number): ArmRun {
  return {
    rep,
    metrics,
    order: 1,
    messages: 1000,
    failed: 0,
    senderUsPerMsg,
    redisUsPerMsg: 30,
    apiUsPerMsg: 20,
    rate: 1000,
    wallS: 1,
    loadAvg1: 1,
  };
}

test('the metrics cost is the median of the on ÷ off ratios within each repetition, against 5%', () => {
  // The machine drifts between repetitions (200, 300, 400 µs); each pair is compared alone.
  const runs = [
    run(1, 'on', 206),
    run(1, 'off', 200),
    run(2, 'off', 300),
    run(2, 'on', 303),
    run(3, 'on', 440),
    run(3, 'off', 400),
  ];
  const s = summarizeAb(runs);
  assert.deepEqual(
    s.ratios.map((r) => Number(r.toFixed(3))),
    [1.03, 1.01, 1.1],
  );
  assert.equal(Number(s.medianRatio.toFixed(3)), 1.03);
  assert.equal(Number(s.costPercent.toFixed(1)), 3);
  assert.equal(s.met, true);
  assert.deepEqual([s.senderUsPerMsg.on.median, s.senderUsPerMsg.off.median], [303, 300]);

  const costly = summarizeAb([run(1, 'on', 212), run(1, 'off', 200)]);
  assert.equal(Number(costly.costPercent.toFixed(1)), 6);
  assert.equal(costly.met, false);
  // A repetition without its pair gives no ratio, and no verdict.
  assert.equal(summarizeAb([run(1, 'on', 212)]).met, false);
});
