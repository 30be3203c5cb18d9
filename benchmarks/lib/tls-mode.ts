/**
 * `npm run bench -- --tls`: what STARTTLS to the relay costs. Each repetition runs the same
 * campaign twice through the same deployment shape, against the smtp-server sink of
 * tls-sink.ts: once plain and once offering STARTTLS with a certificate made for the run (the
 * senders get it as `?ca=FILE` and use STARTTLS because it is offered), in an order that
 * alternates between repetitions; then the naive nodemailer loop over STARTTLS. Issue #18 asks
 * for the TLS run to keep at least 0.85× the plain run's throughput. Postfix's smtp-sink cannot
 * do TLS, so there is no wire ceiling in this mode; the sink counts which sessions and messages
 * were encrypted, and a TLS run with a message in plaintext fails the benchmark.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, relative } from 'node:path';
import type { Policy } from '@volley/shaping';
import { fmt } from './format.ts';
import { log } from './log.ts';
import { commandOutput, machineSection, packageVersion } from './machine.ts';
import { campaignRun, jsonHead, naiveRun, type ModeSetup } from './mode.ts';
import type { NaiveConfig } from './naive-config.ts';
import { summarizeProfiles } from './profile.ts';
import { scratchDir, writeReport } from './results.ts';
import { runNaive, runVolley, type RunResult } from './runs.ts';
import { makeSinkCertificate, type SinkChoice } from './sink.ts';
import { median, spread, type Spread } from './stats.ts';
import type { TlsSinkStats } from './tls-sink.ts';

/** Issue #18: with STARTTLS to the relay, at least this share of the plain run's throughput. */
const TARGET_RATIO = 0.85;

type Arm = 'plain' | 'tls';

/** One run as the report reads it; CPU in µs per accepted message. */
export interface TlsRun {
  rep: number;
  kind: 'volley' | 'naive';
  arm: Arm;
  /** Position within its repetition (1 to 3). */
  order: number;
  messages: number;
  failed: number;
  /** The sink's steady rate (median of 1-s windows between 10% and 90% done). */
  rate: number;
  /** Volley's senders, or the naive loop's process. */
  clientUsPerMsg: number;
  sinkUsPerMsg: number;
  /** API and Redis: Volley's processes other than the senders (none for the naive loop). */
  restUsPerMsg: number;
  /** Bytes the sink read per message: TLS records are larger than the SMTP they carry. */
  bytesPerMessage: number;
  sink: TlsSinkStats | undefined;
  loadAvg1: number;
}

export interface TlsSummary {
  rate: Record<Arm, Spread>;
  /** Throughput TLS ÷ plain, one per repetition (the two runs of a repetition are adjacent). */
  ratios: number[];
  medianRatio: number;
  targetRatio: number;
  met: boolean;
  /** µs per message, per side, plain and TLS, and TLS − plain within each repetition. */
  cpu: Record<'sender' | 'sink' | 'rest' | 'all', Record<Arm | 'cost', Spread>>;
  naive: { rate: Spread; clientUsPerMsg: Spread; sinkUsPerMsg: Spread; volleyOverNaive: Spread };
  /** Every way a run's encryption was not what its arm says; empty when all is right. */
  tlsProblems: string[];
}

export interface TlsSetup extends ModeSetup {
  policy: Policy | undefined;
  /** nodemailer's DKIM options when the run signs (RSA only). */
  naiveDkim: NaiveConfig['dkim'];
  /**
   * `--profile`: V8 CPU profiles of the senders, the API and the sink, one folder per arm
   * (`plain/`, `tls/`) so that the two runs of a repetition do not share one; none: no profiling.
   */
  profileDir?: string | undefined;
}

function tlsRun(
  r: RunResult,
  kind: TlsRun['kind'],
  arm: Arm,
  order: number,
  clientKey: string,
): TlsRun {
  const us = (k: string): number => (r.cpuPer1000[k] ?? Number.NaN) * 1000;
  return {
    rep: r.rep,
    kind,
    arm,
    order,
    messages: r.messages,
    failed: r.failed,
    rate: r.throughput.rate,
    clientUsPerMsg: us(clientKey),
    sinkUsPerMsg: us('sink'),
    restUsPerMsg: kind === 'volley' ? us('api') + us('redis') : Number.NaN,
    bytesPerMessage: r.bytesPerMessage,
    sink: r.sinkStats,
    loadAvg1: loadavg()[0] ?? Number.NaN,
  };
}

/** What is wrong with a run's encryption, from the sink's own counts. */
export function encryptionProblems(r: TlsRun): string[] {
  const name = `${r.kind} ${r.arm} rep ${r.rep}`;
  const s = r.sink;
  if (!s) return [`${name}: the sink's counts could not be read`];
  const out: string[] = [];
  if (s.messages < r.messages)
    out.push(`${name}: the sink counted ${s.messages} messages, the run ${r.messages}`);
  if (r.arm === 'tls') {
    if (s.tlsSessions === 0) out.push(`${name}: no session negotiated TLS`);
    const plaintext = s.messages - s.tlsMessages;
    if (plaintext > 0) out.push(`${name}: ${plaintext} messages arrived without TLS`);
  } else if (s.tlsSessions > 0) {
    out.push(`${name}: ${s.tlsSessions} sessions negotiated TLS in the plain run`);
  }
  return out;
}

export function summarizeTls(runs: TlsRun[]): TlsSummary {
  const volley = runs.filter((r) => r.kind === 'volley');
  const naive = runs.filter((r) => r.kind === 'naive');
  const of = (arm: Arm, f: (r: TlsRun) => number): Spread =>
    spread(volley.filter((r) => r.arm === arm).map(f));
  const reps = [...new Set(runs.map((r) => r.rep))].sort((a, b) => a - b);
  const pair = (rep: number, arm: Arm): TlsRun | undefined =>
    volley.find((r) => r.rep === rep && r.arm === arm);
  /** `f` of the TLS run over (or minus) `f` of the plain run, within each repetition. */
  const paired = (f: (r: TlsRun) => number, op: (t: number, p: number) => number): number[] =>
    reps.map((rep) => {
      const t = pair(rep, 'tls');
      const p = pair(rep, 'plain');
      return t && p ? op(f(t), f(p)) : Number.NaN;
    });
  const ratios = paired(
    (r) => r.rate,
    (t, p) => t / p,
  );
  const medianRatio = median(ratios);
  const side = (f: (r: TlsRun) => number): Record<Arm | 'cost', Spread> => ({
    plain: of('plain', f),
    tls: of('tls', f),
    cost: spread(paired(f, (t, p) => t - p)),
  });
  const volleyOverNaive = reps.map((rep) => {
    const t = pair(rep, 'tls');
    const n = naive.find((r) => r.rep === rep);
    return t && n ? t.rate / n.rate : Number.NaN;
  });
  return {
    rate: { plain: of('plain', (r) => r.rate), tls: of('tls', (r) => r.rate) },
    ratios,
    medianRatio,
    targetRatio: TARGET_RATIO,
    met: Number.isFinite(medianRatio) && medianRatio >= TARGET_RATIO,
    cpu: {
      sender: side((r) => r.clientUsPerMsg),
      sink: side((r) => r.sinkUsPerMsg),
      rest: side((r) => r.restUsPerMsg),
      all: side((r) => r.clientUsPerMsg + r.sinkUsPerMsg + r.restUsPerMsg),
    },
    naive: {
      rate: spread(naive.map((r) => r.rate)),
      clientUsPerMsg: spread(naive.map((r) => r.clientUsPerMsg)),
      sinkUsPerMsg: spread(naive.map((r) => r.sinkUsPerMsg)),
      volleyOverNaive: spread(volleyOverNaive),
    },
    tlsProblems: runs.flatMap(encryptionProblems),
  };
}

function markdown(
  s: TlsSetup,
  runs: TlsRun[],
  sum: TlsSummary,
  versions: [string, string][],
): string {
  const { o } = s;
  const c = (x: Spread, d = 0): string =>
    x.values.length > 1
      ? `${fmt(x.median, d)} (${fmt(x.min, d)}–${fmt(x.max, d)})`
      : fmt(x.median, d);
  const signed = (x: Spread): string => (x.median > 0 ? `+${c(x)}` : c(x));
  const ciphers = [
    ...new Set(runs.flatMap((r) => (r.arm === 'tls' ? Object.keys(r.sink?.ciphers ?? {}) : []))),
  ];
  const sessions = (r: TlsRun): string =>
    r.sink ? `${fmt(r.sink.tlsSessions)} of ${fmt(r.sink.sessions)}` : 'n/a';
  const tlsMsgs = (r: TlsRun): string =>
    r.sink ? `${fmt(r.sink.tlsMessages)} of ${fmt(r.sink.messages)}` : 'n/a';
  const cpuRow = (label: string, x: Record<Arm | 'cost', Spread>): string =>
    `| ${label} | ${c(x.plain)} | ${c(x.tls)} | ${signed(x.cost)} |`;
  return [
    `# Volley benchmark, STARTTLS to the relay, ${o.quick ? 'quick' : 'full'} run of ${s.startedAt}`,
    '',
    `${fmt(o.recipients)} recipients over ${o.domains} domains, ${fmt(o.size)} B per message, ${o.senders} senders, ` +
      `shaping ${o.domainLimits === 'off' ? 'off' : o.domainLimits}, DKIM ${o.dkim}, ${o.reps} repetition${o.reps === 1 ? '' : 's'}. ` +
      "Each repetition runs the campaign against npm's smtp-server as the sink (its own Node process, " +
      'accepting and discarding) plain and with STARTTLS, the order alternating, then the naive nodemailer ' +
      'loop over STARTTLS. The certificate is a self-signed P-256 one for 127.0.0.1 made for the run; the ' +
      'senders verify it (`?ca=FILE`). The wire ceiling of `npm run bench` does not apply here: ' +
      "Postfix's smtp-sink cannot do TLS.",
    '',
    `**STARTTLS ÷ plain throughput: ${fmt(sum.medianRatio, 3)}×** (median of the per-repetition ratios); ` +
      `target at least ${sum.targetRatio}×: **${sum.met ? 'met' : 'missed'}**.`,
    '',
    `**TLS costs ${fmt(sum.cpu.sender.cost.median)} µs of sender CPU and ${fmt(sum.cpu.sink.cost.median)} µs ` +
      'of sink CPU per message** (TLS − plain within each repetition, median).',
    '',
    sum.tlsProblems.length === 0
      ? `Encryption checked at the sink: every message of the STARTTLS runs arrived over TLS (${ciphers.join(', ') || 'n/a'}), none of the plain runs negotiated it.`
      : `**Encryption check FAILED**: ${sum.tlsProblems.join('; ')}.`,
    '',
    '| median (range) | plain | STARTTLS | TLS − plain |',
    '| --- | ---: | ---: | ---: |',
    `| msg/s at the sink | ${c(sum.rate.plain)} | ${c(sum.rate.tls)} | |`,
    cpuRow(`sender CPU µs/message (all ${o.senders})`, sum.cpu.sender),
    cpuRow('sink CPU µs/message', sum.cpu.sink),
    cpuRow('rest (API + Redis) CPU µs/message', sum.cpu.rest),
    cpuRow('all of it', sum.cpu.all),
    '',
    `Naive nodemailer loop over STARTTLS (${fmt(o.naiveMessages)} messages, a pool of 10): ` +
      `${c(sum.naive.rate)} msg/s, client ${c(sum.naive.clientUsPerMsg)} µs/message, sink ${c(sum.naive.sinkUsPerMsg)} µs/message; ` +
      `Volley over STARTTLS ÷ naive loop over STARTTLS: ${c(sum.naive.volleyOverNaive, 2)}×.`,
    '',
    '| rep | order | run | msg/s | TLS ÷ plain | client µs/msg | sink µs/msg | API + Redis µs/msg | bytes read/msg | TLS sessions | messages over TLS | not accepted | load (1 min) |',
    '| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...runs.map((r) => {
      const ratio =
        r.kind === 'volley' && r.arm === 'tls' ? fmt(sum.ratios[r.rep - 1] ?? Number.NaN, 3) : '';
      const name =
        r.kind === 'volley'
          ? `Volley, ${r.arm === 'tls' ? 'STARTTLS' : 'plain'}`
          : 'naive, STARTTLS';
      return `| ${r.rep} | ${r.order} | ${name} | ${fmt(r.rate)} | ${ratio} | ${fmt(r.clientUsPerMsg)} | ${fmt(r.sinkUsPerMsg)} | ${fmt(r.restUsPerMsg)} | ${fmt(r.bytesPerMessage)} | ${sessions(r)} | ${tlsMsgs(r)} | ${fmt(r.failed)} | ${fmt(r.loadAvg1, 2)} |`;
    }),
    '',
    ...machineSection(s.machine, versions, s.flags),
    'How to read it: see "STARTTLS to the relay" in `benchmarks/README.md`.',
    '',
  ].join('\n');
}

/** Runs the repetitions and writes `<stamp>-tls.{md,json}`; the exit status (1: mail lost or sent in the clear). */
export async function runTlsMode(s: TlsSetup): Promise<number> {
  const { o } = s;
  const dir = scratchDir('tls-sink');
  try {
    const tls = makeSinkCertificate(dir);
    const sinks: Record<Arm, SinkChoice> = {
      plain: { kind: 'smtp-server' },
      tls: { kind: 'smtp-server', tls },
    };
    const runs: TlsRun[] = [];
    const show = (r: TlsRun): void =>
      log(
        `  ${r.kind} ${r.arm}: ${fmt(r.rate)} msg/s, client ${fmt(r.clientUsPerMsg)} µs/msg, sink ${fmt(r.sinkUsPerMsg)} µs/msg, ` +
          `TLS sessions ${r.sink?.tlsSessions ?? 'n/a'} of ${r.sink?.sessions ?? 'n/a'}, load ${fmt(r.loadAvg1, 2)}`,
      );
    for (let rep = 1; rep <= o.reps; rep++) {
      const order: Arm[] = rep % 2 === 1 ? ['plain', 'tls'] : ['tls', 'plain'];
      for (const [k, arm] of order.entries()) {
        log(`repetition ${rep}/${o.reps}: Volley, ${arm === 'tls' ? 'STARTTLS' : 'plain'} relay`);
        const armProfiles = s.profileDir ? join(s.profileDir, arm) : undefined;
        const sink: SinkChoice = {
          kind: 'smtp-server',
          tls: arm === 'tls' ? tls : undefined,
          profileDir: armProfiles ? join(armProfiles, `rep${rep}-sink`) : undefined,
        };
        const r = await runVolley(
          { ...campaignRun(s, rep), policy: s.policy, sink, profileDir: armProfiles },
          (v) => (s.machine.redis = v),
        );
        const run = tlsRun(r, 'volley', arm, k + 1, 'sender');
        runs.push(run);
        show(run);
      }
      log(
        `repetition ${rep}/${o.reps}: naive nodemailer loop over STARTTLS (${o.naiveMessages} messages)`,
      );
      const n = await runNaive({ ...naiveRun(o, rep), dkim: s.naiveDkim, sink: sinks.tls });
      const run = tlsRun(n, 'naive', 'tls', 3, 'naive');
      runs.push(run);
      show(run);
    }
    s.machine.loadAvgEnd = loadavg();
    if (s.profileDir) {
      for (const arm of ['plain', 'tls'] as const) {
        const summaryPath = join(s.profileDir, arm, 'summary.md');
        writeFileSync(summaryPath, summarizeProfiles(join(s.profileDir, arm)));
        log(`CPU profile summary (${arm}): ${relative(process.cwd(), summaryPath)}`);
      }
    }
    const summary = summarizeTls(runs);
    const versions: [string, string][] = [
      [
        'smtp-server (sink) / nodemailer',
        `${packageVersion('smtp-server')} / ${packageVersion('nodemailer')}`,
      ],
      [
        'OpenSSL (certificate) / Node',
        `${commandOutput('openssl', ['version']) ?? 'unknown'} / ${process.versions.openssl}`,
      ],
    ];
    const md = markdown(s, runs, summary, versions);
    writeReport(join(s.outDir, `${s.stamp}-tls`), md, { ...jsonHead(s), summary, runs });
    const lost = runs.filter((r) => r.failed > 0);
    for (const r of lost)
      log(`ERROR: ${r.kind} ${r.arm} rep ${r.rep}: ${r.failed} messages not accepted by the sink`);
    for (const p of summary.tlsProblems) log(`ERROR: ${p}`);
    return lost.length > 0 || summary.tlsProblems.length > 0 ? 1 : 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
