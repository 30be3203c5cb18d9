import assert from 'node:assert/strict';
import { test } from 'node:test';
import { throughputChart } from '../lib/chart.ts';
import type { RunKind, RunResult } from '../lib/runs.ts';

/** A run of `kind` whose rate is `rate` in each of `seconds` 1-s windows. */
function run(kind: RunKind, rep: number, rate: number, seconds: number): RunResult {
  const series = Array.from({ length: seconds }, (_v, i) => ({ t: i + 0.5, rate: rate + rep }));
  return {
    kind,
    rep,
    startedAt: new Date(0).toISOString(),
    messages: rate * seconds,
    failed: 0,
    throughput: { rate, overall: rate, activeS: seconds, windows: seconds },
    series,
    bytesPerMessage: 5000,
    cpuSeconds: {},
    cpuPer1000: {},
    wallS: seconds,
  };
}

test('the chart draws a line per run in its panel and names each kind with its median', async () => {
  const runs = [1, 2].flatMap((rep) => [
    run('wire', rep, 15_000, 3),
    run('naive', rep, 300, 60),
    run('volley', rep, 1500, 14),
  ]);
  const svg = await throughputChart(runs, { volley: 1531, naive: 299, wire: 14_502 }, 2, 'a test');
  assert.match(svg, /^<svg[^>]*>/);
  const linesIn = (panel: number): number =>
    svg.split(`<g class="mark-line role-mark concat_${panel}_layer_0_marks"`).length - 1;
  assert.equal(linesIn(0), 4, 'Volley and naive loop: one line per repetition of each');
  assert.equal(linesIn(1), 2, 'wire ceiling: one line per repetition');
  for (const label of [
    'Volley, 2 senders: median 1,531/s',
    'naive nodemailer loop: median 299/s',
    'smtp-source: median 14,502/s',
    'Wire ceiling: smtp-source → smtp-sink',
    'a test',
  ]) {
    assert.ok(svg.includes(label), `the chart shows "${label}"`);
  }
});
