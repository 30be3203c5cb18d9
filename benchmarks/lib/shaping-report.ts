/** The Markdown report of `npm run bench:shaping`. */
import { WINDOW_MS } from './conformance.ts';
import {
  BULK_P99_LIMIT_S,
  TIMELINE_BIN_MS,
  pct,
  type Analysis,
  type LoggedShapingEvent,
  type TimelineBin,
} from './shaping-analysis.ts';
import type { Scenario } from './shaping-scenario.ts';

export interface ShapingRunInfo {
  startedAt: string;
  commit: string;
  cpuModel: string;
  cores: number;
  node: string;
  redis: string;
  quick: boolean;
  senders: number;
  durationS: number;
  /** Load average (1, 5, 15 min) at the start and the end, and the highest 1-min one sampled. */
  loadAvgStart: number[];
  loadAvgEnd: number[];
  loadAvgMax1: number;
  /** Sender tuning variables passed through from the environment. */
  senderEnv: Record<string, string>;
  wallS: number;
  /** CPU seconds of each kind of process from the first submission to completion. */
  cpuSeconds: Record<string, number>;
  /** Batches the senders held back, by reason (their volley_shaping_delays_total). */
  shapingDelays: Record<string, number>;
}

const STATUS_MARK: Record<string, string> = {
  'warm-up': ' (warm-up)',
  checked: '',
  before: ' (before)',
  slowed: ' (slowed)',
  suspended: ' (suspended)',
};

/** A histogram as shares: `62% / 30% / 8%`. */
function shares(h: number[]): string {
  const n = h.reduce((a, b) => a + b, 0);
  return n === 0 ? '-' : h.map((x) => `${Math.round((x / n) * 100)}%`).join(' / ');
}

function s1(ms: number, origin: number): string {
  return ((ms - origin) / 1000).toFixed(1);
}

function eventLine(e: LoggedShapingEvent, origin: number): string {
  const ev = e.event;
  const at = `${s1(e.t, origin)} s (sender ${e.sender})`;
  switch (ev.type) {
    case 'slowed':
      return `${at}: slowed by rule ${ev.rule} after ${ev.matches} matching replies, factor ${ev.factor} until ${s1(ev.until, origin)} s, back to 1 by ${s1(ev.recoveredBy, origin)} s`;
    case 'recovering':
      return `${at}: recovering, factor ${ev.factor}`;
    case 'recovered':
      return `${at}: recovered`;
    case 'suspended':
      return `${at}: suspended by rule ${ev.rule} after ${ev.matches} matching replies, until ${s1(ev.until, origin)} s`;
    case 'resumed':
      return `${at}: resumed`;
  }
}

function timelineTable(bins: TimelineBin[], withFactor: boolean): string[] {
  const out = [
    `| t (s) | attempts | accepted | refused | ${withFactor ? 'factor' : 'suspended'} | background accepted |`,
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const b of bins) {
    const state = withFactor
      ? b.factor === undefined
        ? '-'
        : String(Number(b.factor.toFixed(3)))
      : b.suspended
        ? 'yes'
        : '';
    out.push(
      `| ${b.startS}-${b.startS + TIMELINE_BIN_MS / 1000} | ${b.attempts} | ${b.accepted} | ${b.refused} | ${state} | ${b.bulkAccepted} |`,
    );
  }
  return out;
}

export function shapingMarkdown(info: ShapingRunInfo, sc: Scenario, a: Analysis): string {
  const L: string[] = [];
  const ok = a.bars.every((b) => b.ok);
  const load = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' / ');
  L.push(`# Volley traffic-shaping benchmark, ${info.startedAt}`);
  L.push('');
  L.push(
    `${info.quick ? '**Quick run (smoke test, not a reference).** ' : ''}${info.senders} sender processes, one API, ` +
      `Redis ${info.redis} and the sink on loopback; ${info.durationS} s of backlog per limited destination; relay mode. ` +
      `Commit ${info.commit}. ${info.cpuModel}, ${info.cores} cores, Node ${info.node}. ` +
      `Load average (1/5/15 min) ${load(info.loadAvgStart)} at the start, ${load(info.loadAvgEnd)} at the end, ` +
      `1-min peak ${info.loadAvgMax1.toFixed(2)} during the run (the machine is shared). Wall time ${info.wallS.toFixed(0)} s.` +
      (Object.keys(info.senderEnv).length
        ? ` Sender tuning: ${Object.entries(info.senderEnv)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')}.`
        : ''),
  );
  L.push('');
  const msgs = a.totals.acceptedAtSink;
  L.push(
    `CPU from the first submission to completion (${msgs} messages): ` +
      Object.entries(info.cpuSeconds)
        .map(([k, v]) => `${k} ${v.toFixed(1)} s (${((v / msgs) * 1e6).toFixed(0)} µs/message)`)
        .join(', ') +
      `. Batches held back by the senders' shaping: ${
        Object.entries(info.shapingDelays)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || 'none reported'
      }.`,
  );
  L.push('');
  L.push(ok ? '**Every bar met.**' : `**Bars missed: ${a.bars.filter((b) => !b.ok).length}.**`);
  L.push('');
  L.push('| bar | result | measured |');
  L.push('| --- | --- | --- |');
  for (const b of a.bars) L.push(`| ${b.title} | ${b.ok ? 'met' : '**MISSED**'} | ${b.detail} |`);
  L.push('');

  L.push('## 1. Rate per key, 10-s windows at the sink');
  L.push('');
  L.push(
    `Messages accepted by the sink in each 10-s window, every key's windows starting at the same origin (the first acceptance of any limited key), counted while the key still had backlog. ` +
      `Each cell: count and deviation from rate × 10 s. The bar: within ±5% from the second window on; ` +
      `no window more than one burst above rate × 10 s. Windows marked before, slowed or suspended are the adaptive destinations' (sections 3 and 4; their ±5% bars judge the windows after). ` +
      `Slots/msg: rate slots the key reserved over the run (from the reservations ahead of now, polled every 500 ms; ± one burst) per message accepted; above 1, reserved slots went unused.`,
  );
  L.push('');
  const maxWindows = Math.max(0, ...a.rates.map((r) => r.windows.length));
  const header = ['key', 'rule', 'rate × 10 s', 'burst', 'accepted', 'slots/msg'];
  for (let k = 0; k < maxWindows; k++) {
    header.push(`${(k * WINDOW_MS) / 1000}-${((k + 1) * WINDOW_MS) / 1000} s`);
  }
  L.push(`| ${header.join(' | ')} |`);
  L.push(`| ${header.map((_, i) => (i < 2 ? '---' : '---:')).join(' | ')} |`);
  const slots = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-');
  for (const r of a.rates) {
    const rule =
      r.role === 'provider'
        ? `provider, domains ${r.domains.join(' + ')}`
        : r.connections !== undefined
          ? `rate + ${r.connections} connections`
          : r.role === 'rate'
            ? 'rate'
            : r.role;
    const cells = r.windows.map((w) => {
      const mark = w.overBurst ? ' **over burst**' : '';
      const dev =
        w.status === 'checked' && !w.withinTolerance ? `**${pct(w.deviation)}**` : pct(w.deviation);
      return `${w.count} (${dev})${STATUS_MARK[w.status] ?? ''}${mark}`;
    });
    while (cells.length < maxWindows) cells.push('');
    L.push(
      `| ${r.key} | ${rule} | ${(r.ratePerSec * WINDOW_MS) / 1000} | ${r.burst} | ${r.accepted} | ${r.role === 'rate' || r.role === 'provider' || r.role === 'capped-rate' ? slots(r.slotsPerMessage) : '-'} | ${cells.join(' | ')} |`,
    );
  }
  L.push('');
  L.push(
    `Background load (${sc.bulk.domain}, unlimited): a campaign of ${sc.bulk.perCampaign} recipients submitted every second; latency from the campaign's create request to the sink's 250.`,
  );
  L.push('');
  L.push('| window (s) | submitted | accepted | p50 (s) | p99 (s) | max (s) |');
  L.push('| ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const w of a.bulkWindows) {
    const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-');
    const p99 = w.p99S <= BULK_P99_LIMIT_S ? f(w.p99S) : `**${f(w.p99S)}**`;
    L.push(
      `| ${w.startS}-${w.startS + WINDOW_MS / 1000} | ${w.offered} | ${w.accepted} | ${f(w.p50S)} | ${p99} | ${f(w.maxS)} |`,
    );
  }
  L.push('');

  L.push('## 2. Connection caps, at the sink');
  L.push('');
  L.push(
    'Connections that carried each capped domain, from the sink’s log of each connection’s open and end (the end is the first of the client’s FIN, the server’s close after a 421, and the socket’s close) and the domains of the messages it carried. ' +
      'Leases: the most the senders held at once in Redis, polled every 500 ms.',
  );
  L.push('');
  L.push(
    '| domain | cap | max concurrent at the sink | when (s) | connections | shared with another domain | most messages on one (limit) | most leases polled | senders holding its leases (share of polls: 1 / 2 / ...) |',
  );
  L.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const c of a.connections) {
    const max = c.maxConcurrent > c.cap ? `**${c.maxConcurrent}**` : String(c.maxConcurrent);
    L.push(
      `| ${c.domain} | ${c.cap} | ${max} | ${c.maxConcurrentAtS.toFixed(1)} | ${c.connections} | ${c.mixed} | ${c.maxAcceptedPerConnection} (${c.messagesPerConnection ?? '-'}) | ${c.maxLeasesPolled} | ${shares(c.holdersHistogram)} |`,
    );
  }
  L.push('');
  L.push(
    `Uncapped domains share connections: ${a.shared.connections} connections carried only uncapped domains, at most ${a.shared.maxConcurrent} at once, ${a.shared.multiDomain} of them carried more than one domain.`,
  );
  L.push('');

  const slow = a.adaptive.slow;
  L.push(`## 3. Adaptive slow-down: ${sc.adaptive.domain}`);
  L.push('');
  L.push(
    `Rate ${sc.policy.domains.get(sc.adaptive.domain)?.ratePerSec ?? '?'}/s. The sink answers \`421 4.7.0 try again later\` to ${Math.round(sc.adaptive.share * 100)}% of its recipients for ${sc.adaptive.faultS} s from its ${sc.adaptive.faultAfter}th (here from ${a.adaptive.faultAt === undefined ? 'never' : `${s1(a.adaptive.faultAt, a.origin)} s`}); ` +
      `rule try-later: ${sc.adaptive.threshold} matching replies → rate × ${sc.adaptive.factor} for ${sc.adaptive.durationS} s, then +${sc.adaptive.recovery.step} every ${sc.adaptive.recovery.everyS} s. Deferred recipients retry after 2 s.`,
  );
  L.push('');
  if (slow) {
    L.push(
      `Fired at ${s1(slow.at, a.origin)} s; slowed until ${s1(slow.until, a.origin)} s; factor back to 1 at ${s1(slow.recoveredBy, a.origin)} s. ` +
        `While slowed (from 1 s after firing): ${a.adaptive.slowedAttemptRate.toFixed(1)} attempts/s and ${a.adaptive.slowedAcceptRate.toFixed(1)} accepted/s at the sink. ` +
        `Full rate (95%, three 2-s bins running) reached ${a.adaptive.recoveryLagS === undefined ? 'never while backlog lasted' : `${a.adaptive.recoveryLagS.toFixed(1)} s after the factor was back to 1`}.`,
    );
  } else {
    L.push('**The slow-down never fired.**');
  }
  L.push('');
  L.push(
    'Events logged by the senders (each change once across workers; recoveries are reported by a 5-s timer):',
  );
  L.push('');
  for (const e of a.adaptive.events) L.push(`- ${eventLine(e, a.origin)}`);
  L.push('');
  L.push(
    'Timeline in 2-s bins at the sink (attempts = accepted + refused; factor as polled from Redis at the end of the bin):',
  );
  L.push('');
  L.push(...timelineTable(a.adaptive.timeline, true));
  L.push('');

  const sus = a.suspension;
  L.push(`## 4. Suspension: ${sc.suspend.domain}`);
  L.push('');
  L.push(
    `Rate ${sc.policy.domains.get(sc.suspend.domain)?.ratePerSec ?? '?'}/s. The sink answers \`451 4.7.1 [TSS04] ...\` to every recipient for ${sc.suspend.faultS} s from its ${sc.suspend.faultAfter}th (here from ${a.suspension.faultAt === undefined ? 'never' : `${s1(a.suspension.faultAt, a.origin)} s`}); ` +
      `rule tss04: ${sc.suspend.threshold} matching replies → suspended for ${sc.suspend.durationS} s.`,
  );
  L.push('');
  if (sus.start !== undefined && sus.until !== undefined) {
    L.push(
      `Suspended from ${s1(sus.start, a.origin)} s to ${s1(sus.until, a.origin)} s (Redis time): ${sus.acceptedDuring} messages accepted and ${sus.attemptsDuring} attempts at the sink in that span; ` +
        `first acceptance ${sus.resumedAfterS === undefined ? 'never' : `${sus.resumedAfterS.toFixed(2)} s`} after it ended.`,
    );
  } else {
    L.push('**The suspension never fired.**');
  }
  L.push('');
  for (const e of sus.events) L.push(`- ${eventLine(e, a.origin)}`);
  L.push('');
  L.push(...timelineTable(sus.timeline, false));
  L.push('');

  L.push('## What the senders were busy with');
  L.push('');
  L.push(
    'The send queue polled every 500 ms, averaged over 5-s bins: batches waiting to be picked up, waiting in the delayed set for their slot (or a connection, or the end of a suspension), and held by the workers (4 senders × concurrency), with the domains the held batches were for.',
  );
  L.push('');
  L.push('| t (s) | waiting | delayed | held by workers | held, by domain |');
  L.push('| ---: | ---: | ---: | ---: | --- |');
  for (const q of a.queue) {
    const top = Object.entries(q.activeByDomain)
      .filter(([, n]) => n >= 0.5)
      .sort((x, y) => y[1] - x[1])
      .map(([d, n]) => `${d} ${n.toFixed(1)}`)
      .join(', ');
    L.push(
      `| ${q.startS}-${q.startS + 5} | ${q.waiting.toFixed(0)} | ${q.delayed.toFixed(0)} | ${q.active.toFixed(1)} | ${top} |`,
    );
  }
  L.push('');

  const t = a.totals;
  L.push('## 5. Nothing lost');
  L.push('');
  L.push(
    `${t.completed} of ${t.campaigns} campaigns completed with sent = total (${t.sent} of ${t.recipients} recipients). ` +
      `The sink accepted ${t.acceptedAtSink} messages for ${t.uniqueAtSink} distinct recipients: ${t.duplicates} duplicates; it refused ${t.refusedAtSink} recipients on purpose (retried).`,
  );
  L.push('');
  L.push('## Policy of this run');
  L.push('');
  L.push('```yaml');
  L.push(sc.policyYaml.trimEnd());
  L.push('```');
  L.push('');
  return L.join('\n');
}
