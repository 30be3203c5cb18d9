/**
 * `npm run bench -- --workload realistic`: the campaign of realistic-workload.ts (a few large
 * providers, a long tail of small domains) through Volley with a shaping policy (the engine's
 * default unless `--domain-limits FILE`), relaying to the smtp-sink, and a report of what
 * limits its rate: per provider group, the rate it reached against the policy's limit, and
 * which group finished last. The baselines of `npm run bench` do not run: they have no limits,
 * so a ratio to them would measure the policy, not the engine.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { resolveRule, type Policy } from '@volley/shaping';
import type { Conformance } from './conformance.ts';
import { fmt } from './format.ts';
import { log } from './log.ts';
import { campaignRun, jsonHead, type ModeSetup } from './mode.ts';
import { writeReport } from './results.ts';
import { machineSection } from './machine.ts';
import { runVolley } from './runs.ts';
import {
  AT_LIMIT_TOLERANCE,
  limitReport,
  MIN_JUDGED,
  realisticDomainCounts,
  type LimitReport,
} from './realistic-workload.ts';
import { spread, type Spread } from './stats.ts';

export interface RealisticSetup extends ModeSetup {
  policy: Policy;
}

interface RealisticRun {
  rep: number;
  messages: number;
  failed: number;
  /** The sink's steady rate (median of 1-s windows between 10% and 90% done). */
  sinkRate: number;
  senderUsPerMsg: number;
  latencyP50S: number;
  latencyP99S: number;
  loadAvg1: number;
  limits: LimitReport;
  /** The 10-s window conformance of `--domain-limits`, for the same run. */
  conformance: Conformance | undefined;
}

/** The list's shape as the policy groups it: what each group holds before anything is sent. */
function listShape(
  policy: Policy,
  count: number,
): Array<{ group: string; domains: number; recipients: number }> {
  const groups = new Map<string, { domains: number; recipients: number }>();
  for (const d of realisticDomainCounts(count)) {
    const name = resolveRule(policy, d.domain).metricLabel;
    const g = groups.get(name) ?? { domains: 0, recipients: 0 };
    g.domains++;
    g.recipients += d.count;
    groups.set(name, g);
  }
  return [...groups]
    .map(([group, g]) => ({ group, ...g }))
    .sort((a, b) => b.recipients - a.recipients);
}

function markdown(s: RealisticSetup, runs: RealisticRun[], overall: Spread): string {
  const { o } = s;
  const shape = listShape(s.policy, o.recipients);
  const policyName =
    o.domainLimits === 'on' ? "the engine's default policy" : `\`${o.domainLimits}\``;
  const lines = [
    `# Volley benchmark, realistic workload, ${o.quick ? 'quick' : 'full'} run of ${s.startedAt}`,
    '',
    `${fmt(o.recipients)} recipients shaped like a consumer list (benchmarks/lib/realistic-workload.ts), ` +
      `${o.size} B per message, ${o.senders} senders relaying to smtp-sink, shaping with ${policyName}, ` +
      `DKIM ${o.dkim}, ${o.reps} repetition${o.reps === 1 ? '' : 's'}. No baselines: they have no limits.`,
    '',
    '| group (policy) | domains | recipients | share |',
    '| --- | ---: | ---: | ---: |',
    ...shape.map(
      (g) =>
        `| ${g.group} | ${fmt(g.domains)} | ${fmt(g.recipients)} | ${fmt((100 * g.recipients) / o.recipients, 1)}% |`,
    ),
    '',
    `**Overall: ${fmt(overall.median)} msg/s** from the submit to the last acceptance` +
      (overall.values.length > 1 ? ` (median; ${fmt(overall.min)}–${fmt(overall.max)})` : '') +
      '.',
    '',
    '## What limits the rate',
    '',
    `Per group, from the campaign's \`sent\` events: the steady rate (between its 10% and 90% ` +
      `acceptances) of the group and of its busiest limit key, against that key's limit. ` +
      `"at limit" is within ±${AT_LIMIT_TOLERANCE * 100}% of it; a key with fewer than ${MIN_JUDGED} ` +
      "messages is not judged. The floor is the least time the policy allows the group's mail: " +
      '(messages − burst) ÷ rate of its slowest key. A longest pause far above 1 ÷ limit means the key had ' +
      'no mail ready for that long (not yet expanded, or waiting for a retry) rather than a slow pace; ' +
      'pauses of several groups that begin together point at the engine, not at one limit.',
    '',
  ];
  for (const r of runs) {
    const l = r.limits;
    lines.push(
      `### Repetition ${r.rep}: ${fmt(l.overallRate)} msg/s, last acceptance at ${fmt(l.durationS, 1)} s`,
      '',
      `${l.verdict}`,
      '',
      '| group | domains | messages | first – last (s) | group msg/s | busiest key | its msg/s | longest pause (s), from | limit | ÷ limit | status | floor (s) |',
      '| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- | ---: |',
      ...l.groups.map(
        (g) =>
          `| ${g.group === l.lastGroup ? `**${g.group}** (last)` : g.group} | ${fmt(g.domains)} | ${fmt(g.messages)} | ` +
          `${fmt(g.firstS, 1)} – ${fmt(g.lastS, 1)} | ${fmt(g.rate)} | \`${g.busiestKey}\` (${fmt(g.busiestMessages)}) | ` +
          `${fmt(g.busiestRate)} | ${fmt(g.longestGapS, 1)}, from ${fmt(g.longestGapAtS, 1)} | ${g.limitText} | ${fmt(g.ratio, 2)} | ${g.status} | ${fmt(g.floorS ?? Number.NaN, 1)} |`,
      ),
      '',
      `Sink steady rate ${fmt(r.sinkRate)} msg/s; sender CPU ${fmt(r.senderUsPerMsg)} µs/message; ` +
        `latency submit → acceptance p50 ${fmt(r.latencyP50S, 1)} s, p99 ${fmt(r.latencyP99S, 1)} s; ` +
        `${fmt(r.failed)} not accepted; load ${fmt(r.loadAvg1, 2)}.`,
      '',
    );
  }
  lines.push(...machineSection(s.machine, [], s.flags));
  lines.push('How to read it: see "Realistic workload" in `benchmarks/README.md`.', '');
  return lines.join('\n');
}

/** Runs the repetitions and writes `<stamp>-realistic.{md,json}`; the exit status (1: mail lost). */
export async function runRealistic(s: RealisticSetup): Promise<number> {
  const { o } = s;
  const runs: RealisticRun[] = [];
  for (let rep = 1; rep <= o.reps; rep++) {
    log(`repetition ${rep}/${o.reps}: Volley, realistic list of ${o.recipients} recipients`);
    let limits: LimitReport | undefined;
    const r = await runVolley(
      {
        ...campaignRun(s, rep),
        policy: s.policy,
        onSent: (byDomain, submittedAt) => (limits = limitReport(s.policy, byDomain, submittedAt)),
      },
      (v) => (s.machine.redis = v),
    );
    if (!limits) throw new Error('the run ended without reading its sent events');
    const run: RealisticRun = {
      rep,
      messages: r.messages,
      failed: r.failed,
      sinkRate: r.throughput.rate,
      senderUsPerMsg: (r.cpuPer1000.sender ?? Number.NaN) * 1000,
      latencyP50S: r.volley?.latency.p50S ?? Number.NaN,
      latencyP99S: r.volley?.latency.p99S ?? Number.NaN,
      loadAvg1: loadavg()[0] ?? Number.NaN,
      limits,
      conformance: r.volley?.conformance,
    };
    runs.push(run);
    log(`  ${fmt(limits.overallRate)} msg/s overall; ${limits.verdict}`);
    for (const g of limits.groups) {
      log(
        `    ${g.group}: ${g.messages} msgs, ${fmt(g.rate)} msg/s, busiest ${g.busiestKey} ${fmt(g.busiestRate)} of ${g.limitText} (${g.status}), longest pause ${fmt(g.longestGapS, 1)} s from ${fmt(g.longestGapAtS, 1)} s, last at ${fmt(g.lastS, 1)} s`,
      );
    }
  }
  s.machine.loadAvgEnd = loadavg();
  const overall = spread(runs.map((r) => r.limits.overallRate));
  const md = markdown(s, runs, overall);
  const base = join(s.outDir, `${s.stamp}-realistic`);
  const json = {
    ...jsonHead(s),
    listShape: listShape(s.policy, o.recipients),
    summary: { overallRate: overall },
    runs,
  };
  writeReport(base, md, json);
  const lost = runs.filter((r) => r.failed > 0);
  for (const r of lost) log(`ERROR: rep ${r.rep}: ${r.failed} messages not accepted by the sink`);
  return lost.length > 0 ? 1 : 0;
}
