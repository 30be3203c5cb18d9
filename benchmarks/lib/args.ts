/** Command-line flags of `npm run bench`, validated once with messages that say what to do. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineCli, flag, FlagError } from './flags.ts';
import { OUT_FLAG, outOption } from './results.ts';

export type DkimMode = 'off' | 'rsa' | 'ed25519';

/** Who the campaign goes to: domains spread evenly, or shaped like a real list. */
export type Workload = 'uniform' | 'realistic';

export interface BenchOptions {
  quick: boolean;
  senders: number;
  /** Rendered HTML + text bytes per message (MIME headers and encoding come on top). */
  size: number;
  domains: number;
  recipients: number;
  reps: number;
  naiveMessages: number;
  wireMessages: number;
  /** DKIM signing of every message, with a key made for the run; `on` means RSA 2048. */
  dkim: DkimMode;
  /**
   * Per-domain traffic shaping of the senders: `off` measures the engine's capacity, `on` runs
   * the engine's default policy, anything else is the path of a policy file.
   */
  domainLimits: string;
  /** Seconds one run may take before it is abandoned as stuck. */
  timeoutS: number;
  out: string;
  /** Write a V8 CPU profile of every API and sender process under results/tmp/profiles. */
  profile: boolean;
  /** Run the campaign with the send-path metrics on and off instead of the baselines. */
  metricsAb: boolean;
  /**
   * `realistic`: a list shaped like a real one under a shaping policy, reporting what limits
   * the rate, instead of the baselines (benchmarks/lib/realistic.ts).
   */
  workload: Workload;
  /**
   * STARTTLS to the relay: each repetition runs the campaign against the smtp-server sink plain
   * and with STARTTLS, and the naive loop over STARTTLS, instead of the baselines (tls-mode.ts).
   */
  tls: boolean;
}

/** Pairs of on and off runs the metrics A/B needs: a cost of a few percent hides in fewer. */
const MIN_AB_REPS = 3;

function dkimMode(text: string, name: string): DkimMode {
  const v = text.toLowerCase();
  if (['on', 'true', 'yes', '1', 'rsa'].includes(v)) return 'rsa';
  if (v === 'ed25519') return 'ed25519';
  if (['off', 'false', 'no', '0'].includes(v)) return 'off';
  throw new FlagError(`--${name}=${JSON.stringify(text)} must be off, on, rsa or ed25519`);
}

function limitsMode(text: string, name: string): string {
  const v = text.toLowerCase();
  if (['on', 'true', 'yes', '1', 'default'].includes(v)) return 'on';
  if (['off', 'false', 'no', '0'].includes(v)) return 'off';
  const path = resolve(text);
  if (!existsSync(path)) {
    throw new FlagError(
      `--${name}=${JSON.stringify(text)} must be on, off or a policy file that exists`,
    );
  }
  return path;
}

function workloadOf(text: string, name: string): Workload {
  const v = text.toLowerCase();
  if (v === 'uniform' || v === 'realistic') return v;
  throw new FlagError(`--${name}=${JSON.stringify(text)} must be uniform or realistic`);
}

export const BENCH_CLI = defineCli(
  'npm run bench',
  {
    quick: flag.switch('smoke-sized run: 20,000 recipients, 1 repetition (under 2 minutes)'),
    senders: flag.int('N', 'sender processes', 1, 64).default(2),
    // 1,000,000 is the API's largest inline list; larger campaigns need the upload endpoint.
    recipients: flag.int('N', 'campaign size', 100, 1_000_000).defaultIs('100000; quick 20000'),
    domains: flag.int('N', 'recipient domains the campaign is spread over', 1, 100_000).default(20),
    // Below 512 bytes the template's own markup is already larger than asked.
    size: flag.int('BYTES', 'rendered HTML + text per message', 512, 1024 * 1024).default(4096),
    reps: flag.int('N', 'repetitions of each run, interleaved', 1, 50).defaultIs('3; quick 1'),
    'naive-messages': flag
      .int('N', 'messages of the naive loop baseline', 100, 10_000_000)
      .defaultIs('30000; quick 10000'),
    'wire-messages': flag
      .int('N', 'messages of the smtp-source baseline', 100, 10_000_000)
      .defaultIs('the campaign size, at least 50000'),
    // `--dkim`, `--dkim on` and `--dkim=on` all work: a bare switch means on, as people type it.
    dkim: flag
      .custom(
        'off|on|rsa|ed25519',
        'DKIM-sign every message (on = RSA 2048) with a key made for the run',
        dkimMode,
      )
      .bareMeans('on')
      .default('off'),
    'domain-limits': flag
      .custom(
        'off|on|FILE',
        "per-domain traffic shaping: off (measures capacity), on (the engine's\n" +
          'default policy) or a policy file; on reports rate conformance',
        limitsMode,
      )
      .bareMeans('on')
      .defaultIs('off; realistic workload: on'),
    workload: flag
      .custom(
        'uniform|realistic',
        'uniform: --domains spread evenly; realistic: a few large providers and a\n' +
          'long tail of small domains under the shaping policy, reporting what\n' +
          'limits the rate (no baselines)',
        workloadOf,
      )
      .default('uniform'),
    timeout: flag
      .int('SECONDS', 'longest one run may take', 10, 86_400)
      .defaultIs('120 + 1 s per 500 messages'),
    out: OUT_FLAG,
    profile: flag.switch(
      'V8 CPU profiles of the API and senders, with a summary, in\n' +
        'benchmarks/results/tmp/profiles/<time>/ (profiling slows them)',
    ),
    tls: flag.switch(
      'what STARTTLS to the relay costs: each repetition runs the campaign against\n' +
        'an smtp-server sink plain and with STARTTLS (a certificate made for the run;\n' +
        'the order alternating), and the naive loop over STARTTLS; no wire baseline',
    ),
    'metrics-ab': flag.switch(
      'what the send-path metrics cost: each repetition runs the campaign with\n' +
        `VOLLEY_SEND_METRICS=on and off (no baselines); at least ${MIN_AB_REPS} repetitions`,
    ),
  },
  (v): BenchOptions => {
    const recipients = v.recipients ?? (v.quick ? 20_000 : 100_000);
    const naiveMessages = v['naive-messages'] ?? (v.quick ? 10_000 : 30_000);
    // At least 50,000: the wire runs at thousands per second, and fewer would leave it no steady state.
    const wireMessages = v['wire-messages'] ?? Math.max(recipients, 50_000);
    const largest = Math.max(recipients, naiveMessages, wireMessages);
    const reps = v.reps ?? (v.quick && !v['metrics-ab'] ? 1 : 3);
    if (v['metrics-ab'] && reps < MIN_AB_REPS) {
      throw new FlagError(
        `--metrics-ab needs --reps ${MIN_AB_REPS} or more: the cost is the median of the on ÷ off ratios of the repetitions`,
      );
    }
    const realistic = v.workload === 'realistic';
    const domainLimits = v['domain-limits'] ?? (realistic ? 'on' : 'off');
    if (realistic && domainLimits === 'off') {
      throw new FlagError(
        '--workload realistic measures what the shaping policy lets through: use --domain-limits on or a policy file',
      );
    }
    if (realistic && v['metrics-ab']) {
      throw new FlagError('--workload realistic and --metrics-ab are separate modes: choose one');
    }
    if (v.tls && (realistic || v['metrics-ab'])) {
      throw new FlagError(
        `--tls and ${realistic ? '--workload realistic' : '--metrics-ab'} are separate modes: choose one`,
      );
    }
    return {
      quick: v.quick,
      senders: v.senders,
      recipients,
      domains: v.domains,
      size: v.size,
      reps,
      naiveMessages,
      wireMessages,
      dkim: v.dkim,
      domainLimits,
      // 500 msg/s is far below any healthy run; slower than that, something is stuck. A
      // realistic list is held to its providers' limits: the default policy lets Google's
      // share of it (38%) through at 100/s, about 4 ms per recipient, so 10 ms leaves room.
      timeoutS: v.timeout ?? 120 + Math.ceil(realistic ? recipients / 100 : largest / 500),
      out: outOption(v.out, v.quick),
      profile: v.profile,
      metricsAb: v['metrics-ab'],
      workload: v.workload,
      tls: v.tls,
    };
  },
);
