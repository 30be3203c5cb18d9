/** Command-line flags of `npm run bench`, validated once with messages that say what to do. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseFlags, wholeNumberFlags } from './flags.ts';

export type DkimMode = 'off' | 'rsa' | 'ed25519';

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
}

export const USAGE = `Usage: npm run bench -- [flags]

  --quick                 smoke-sized run: 20,000 recipients, 1 repetition (under 2 minutes)
  --senders N             sender processes (default 2)
  --recipients N          campaign size (default 100000; quick 20000)
  --domains N             recipient domains the campaign is spread over (default 20)
  --size BYTES            rendered HTML + text per message (default 4096)
  --reps N                repetitions of each run, interleaved (default 3; quick 1)
  --naive-messages N      messages of the naive loop baseline (default 30000; quick 10000)
  --wire-messages N       messages of the smtp-source baseline (default: the campaign size, at least 50000)
  --dkim off|on|rsa|ed25519
                          DKIM-sign every message (on = RSA 2048) with a key made for the run
  --domain-limits off|on|FILE
                          per-domain traffic shaping: off (default, measures capacity), on (the
                          engine's default policy) or a policy file; on reports rate conformance
  --timeout SECONDS       longest one run may take (default: 120 + 1 s per 500 messages)
  --out DIR               where results go (default benchmarks/results; quick: benchmarks/results/tmp)
  --profile               V8 CPU profiles of the API and senders, with a summary, in
                          benchmarks/results/tmp/profiles/<time>/ (profiling slows them)
  --help                  this text
`;

export class UsageError extends Error {
  constructor(message: string) {
    super(`${message}\n\n${USAGE}`);
    this.name = 'UsageError';
  }
}

const int = wholeNumberFlags((message) => new UsageError(message));

function dkimMode(text: string | undefined): DkimMode {
  if (text === undefined) return 'off';
  const v = text.toLowerCase();
  if (['on', 'true', 'yes', '1', 'rsa'].includes(v)) return 'rsa';
  if (v === 'ed25519') return 'ed25519';
  if (['off', 'false', 'no', '0'].includes(v)) return 'off';
  throw new UsageError(`--dkim=${JSON.stringify(text)} must be off, on, rsa or ed25519`);
}

function limitsMode(text: string | undefined): string {
  if (text === undefined) return 'off';
  const v = text.toLowerCase();
  if (['on', 'true', 'yes', '1', 'default'].includes(v)) return 'on';
  if (['off', 'false', 'no', '0'].includes(v)) return 'off';
  const path = resolve(text);
  if (!existsSync(path)) {
    throw new UsageError(
      `--domain-limits=${JSON.stringify(text)} must be on, off or a policy file that exists`,
    );
  }
  return path;
}

export function parseBenchArgs(argv: string[]): BenchOptions | 'help' {
  // `--dkim`, `--dkim on` and `--dkim=on` all work (and the same for --domain-limits): a bare
  // switch means on, as people type it, while parseArgs would take the next flag as its value.
  const normalized: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--dkim' || a === '--domain-limits') {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('-')) {
        normalized.push(`${a}=${next}`);
        i++;
      } else {
        normalized.push(`${a}=on`);
      }
    } else {
      normalized.push(a);
    }
  }
  const values = parseFlags(
    normalized,
    {
      quick: { type: 'boolean' },
      senders: { type: 'string' },
      recipients: { type: 'string' },
      domains: { type: 'string' },
      size: { type: 'string' },
      reps: { type: 'string' },
      'naive-messages': { type: 'string' },
      'wire-messages': { type: 'string' },
      dkim: { type: 'string' },
      'domain-limits': { type: 'string' },
      timeout: { type: 'string' },
      out: { type: 'string' },
      profile: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    (message) => new UsageError(message),
  );
  if (values.help) return 'help';
  const quick = values.quick ?? false;
  // 1,000,000 is the API's largest inline list; larger campaigns need the upload endpoint.
  const recipients = int('recipients', values.recipients, quick ? 20_000 : 100_000, 100, 1_000_000);
  const naiveMessages = int(
    'naive-messages',
    values['naive-messages'],
    quick ? 10_000 : 30_000,
    100,
    10_000_000,
  );
  // At least 50,000: the wire runs at thousands per second, and fewer would leave it no steady state.
  const wireMessages = int(
    'wire-messages',
    values['wire-messages'],
    Math.max(recipients, 50_000),
    100,
    10_000_000,
  );
  const largest = Math.max(recipients, naiveMessages, wireMessages);
  return {
    quick,
    senders: int('senders', values.senders, 2, 1, 64),
    recipients,
    domains: int('domains', values.domains, 20, 1, 100_000),
    // Below 512 bytes the template's own markup is already larger than asked.
    size: int('size', values.size, 4096, 512, 1024 * 1024),
    reps: int('reps', values.reps, quick ? 1 : 3, 1, 50),
    naiveMessages,
    wireMessages,
    dkim: dkimMode(values.dkim),
    domainLimits: limitsMode(values['domain-limits']),
    // 500 msg/s is far below any healthy run; slower than that, something is stuck.
    timeoutS: int('timeout', values.timeout, 120 + Math.ceil(largest / 500), 10, 86_400),
    out: values.out ?? (quick ? 'benchmarks/results/tmp' : 'benchmarks/results'),
    profile: values.profile ?? false,
  };
}
