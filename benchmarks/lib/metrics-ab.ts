/**
 * `npm run bench -- --metrics-ab`: what the senders' send-path metrics cost. Each repetition
 * runs the same campaign twice through the same deployment shape, once with
 * VOLLEY_SEND_METRICS=on and once with off, in an order that alternates between repetitions,
 * so that a machine whose load drifts weighs on both alike. The cost is the ratio of sender
 * CPU per message, on ÷ off, taken within each repetition; its median is judged against the
 * bar of issue #12 (under 5% of sender CPU). The baselines of `npm run bench` do not run:
 * each arm is the other's baseline.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { Policy } from '@volley/shaping';
import { fmt } from './format.ts';
import { log } from './log.ts';
import { campaignRun, jsonHead, type ModeSetup } from './mode.ts';
import { writeReport } from './results.ts';
import { machineSection } from './machine.ts';
import { runVolley } from './runs.ts';
import { median, spread, type Spread } from './stats.ts';

/** Issue #12: metrics on the send path cost under 5% of sender CPU. */
const TARGET_PERCENT = 5;

type Arm = 'on' | 'off';

export interface ArmRun {
  rep: number;
  metrics: Arm;
  /** Position within its repetition (1 or 2). */
  order: number;
  messages: number;
  failed: number;
  senderUsPerMsg: number;
  redisUsPerMsg: number;
  apiUsPerMsg: number;
  rate: number;
  wallS: number;
  loadAvg1: number;
}

export interface MetricsAbSummary {
  senderUsPerMsg: Record<Arm, Spread>;
  rate: Record<Arm, Spread>;
  /** Sender CPU per message, on ÷ off, one per repetition. */
  ratios: number[];
  medianRatio: number;
  /** (median ratio − 1) × 100: what the metrics add to the sender's CPU, in percent. */
  costPercent: number;
  targetPercent: number;
  met: boolean;
}

export interface MetricsAbSetup extends ModeSetup {
  policy: Policy | undefined;
}

export function summarizeAb(runs: ArmRun[]): MetricsAbSummary {
  const of = (arm: Arm, f: (r: ArmRun) => number): Spread =>
    spread(runs.filter((r) => r.metrics === arm).map(f));
  const reps = [...new Set(runs.map((r) => r.rep))].sort((a, b) => a - b);
  const ratios = reps.map((rep) => {
    const on = runs.find((r) => r.rep === rep && r.metrics === 'on');
    const off = runs.find((r) => r.rep === rep && r.metrics === 'off');
    return on && off ? on.senderUsPerMsg / off.senderUsPerMsg : Number.NaN;
  });
  const medianRatio = median(ratios);
  const costPercent = (medianRatio - 1) * 100;
  return {
    senderUsPerMsg: {
      on: of('on', (r) => r.senderUsPerMsg),
      off: of('off', (r) => r.senderUsPerMsg),
    },
    rate: { on: of('on', (r) => r.rate), off: of('off', (r) => r.rate) },
    ratios,
    medianRatio,
    costPercent,
    targetPercent: TARGET_PERCENT,
    met: Number.isFinite(costPercent) && costPercent < TARGET_PERCENT,
  };
}

function markdown(s: MetricsAbSetup, runs: ArmRun[], sum: MetricsAbSummary): string {
  const { o } = s;
  const spreadCell = (x: Spread, d = 0): string =>
    `${fmt(x.median, d)} (${fmt(x.min, d)}–${fmt(x.max, d)})`;
  return [
    `# Send-path metrics: on against off, ${o.reps} interleaved repetitions`,
    '',
    `${o.recipients} recipients over ${o.domains} domains, ${o.size} B per message, ${o.senders} senders, ` +
      `shaping ${o.domainLimits === 'off' ? 'off' : o.domainLimits}, DKIM ${o.dkim}. Each repetition runs the ` +
      'campaign with `VOLLEY_SEND_METRICS=on` and with `off`, the order alternating; sender CPU per ' +
      'message is counted from the submit to completion (start-up left out).',
    '',
    `**Cost of the metrics: ${fmt(sum.costPercent, 1)}% of sender CPU** (median of the per-repetition ` +
      `ratios on ÷ off, ${fmt(sum.medianRatio, 3)}); target under ${sum.targetPercent}%: ` +
      `**${sum.met ? 'met' : 'missed'}**.`,
    '',
    '| | metrics on | metrics off |',
    '| --- | ---: | ---: |',
    `| sender CPU µs/message, median (range) | ${spreadCell(sum.senderUsPerMsg.on)} | ${spreadCell(sum.senderUsPerMsg.off)} |`,
    `| msg/s at the sink, median (range) | ${spreadCell(sum.rate.on)} | ${spreadCell(sum.rate.off)} |`,
    '',
    '| rep | order | metrics | sender µs/msg | Redis µs/msg | API µs/msg | msg/s | load (1 min) | on ÷ off |',
    '| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...runs.map((r) => {
      const ratio = r.metrics === 'on' ? fmt(sum.ratios[r.rep - 1] ?? Number.NaN, 3) : '';
      return `| ${r.rep} | ${r.order} | ${r.metrics} | ${fmt(r.senderUsPerMsg)} | ${fmt(r.redisUsPerMsg)} | ${fmt(r.apiUsPerMsg)} | ${fmt(r.rate)} | ${fmt(r.loadAvg1, 2)} | ${ratio} |`;
    }),
    '',
    ...machineSection(s.machine, [], s.flags),
  ].join('\n');
}

/** Runs the A/B and writes `<stamp>-metrics-ab.{md,json}`; the exit status (1: mail lost). */
export async function runMetricsAb(s: MetricsAbSetup): Promise<number> {
  const { o } = s;
  const runs: ArmRun[] = [];
  for (let rep = 1; rep <= o.reps; rep++) {
    const order: Arm[] = rep % 2 === 1 ? ['on', 'off'] : ['off', 'on'];
    for (const [k, arm] of order.entries()) {
      log(`repetition ${rep}/${o.reps}: Volley with VOLLEY_SEND_METRICS=${arm}`);
      const r = await runVolley(
        {
          ...campaignRun(s, rep),
          senderEnv: { ...s.senderEnv, VOLLEY_SEND_METRICS: arm },
          policy: s.policy,
        },
        (v) => (s.machine.redis = v),
      );
      const run: ArmRun = {
        rep,
        metrics: arm,
        order: k + 1,
        messages: r.messages,
        failed: r.failed,
        senderUsPerMsg: (r.cpuPer1000.sender ?? Number.NaN) * 1000,
        redisUsPerMsg: (r.cpuPer1000.redis ?? Number.NaN) * 1000,
        apiUsPerMsg: (r.cpuPer1000.api ?? Number.NaN) * 1000,
        rate: r.throughput.rate,
        wallS: r.wallS,
        loadAvg1: loadavg()[0] ?? Number.NaN,
      };
      runs.push(run);
      log(
        `  metrics ${arm}: sender ${fmt(run.senderUsPerMsg)} µs/msg, ${fmt(run.rate)} msg/s, load ${fmt(run.loadAvg1, 2)}`,
      );
    }
  }
  s.machine.loadAvgEnd = loadavg();
  const summary = summarizeAb(runs);
  const md = markdown(s, runs, summary);
  const base = join(s.outDir, `${s.stamp}-metrics-ab`);
  const json = {
    ...jsonHead(s),
    summary,
    runs,
  };
  writeReport(base, md, json);
  const lost = runs.filter((r) => r.failed > 0);
  for (const r of lost)
    log(`ERROR: rep ${r.rep}, metrics ${r.metrics}: ${r.failed} messages not accepted by the sink`);
  return lost.length > 0 ? 1 : 0;
}
