/**
 * `npm run test:repeat -- [RUNS] [--load] [--busy N] [--out DIR] [FILTER...]`: runs the test
 * suite RUNS times in a row (default 5), optionally while the machine is loaded, and lists every
 * test that failed at least once with its failure. A test that fails only under load points at
 * a race, an unawaited event or a bound that depends on speed; this is the loop that finds them,
 * to run again before larger changes.
 *
 * --load     runs the quick benchmark (`npm run bench -- --quick`) beside the tests, again and
 *            again until the last run ends: real processes competing for both cores.
 * --busy N   also keeps N processes spinning on the CPU for the whole loop.
 * --out DIR  also writes the summary to DIR/<start time>-test-repeat.md (DIR relative to the
 *            repository, as the benchmarks' --out), so a loop's result can be kept with the code.
 *
 * Each run's spec output and failures are kept in a folder printed at the start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  writeFileSync,
  closeSync,
  existsSync,
} from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { TSX_NODE_ARGS } from '@volley/runtime';
import { ROOT, runnerArgs, testFiles } from './lib/test-files.ts';

const USAGE = `usage: npm run test:repeat -- [RUNS] [--load] [--busy N] [--out DIR] [FILTER...]
  RUNS       how many times to run the suite (default 5, at most 50)
  --load     run the quick benchmark beside the tests until the last run ends
  --busy N   keep N CPU-spinning processes beside the tests (0-8)
  --out DIR  also write the summary to DIR/<start time>-test-repeat.md (DIR relative to the repository)
  FILTER     only test files whose path contains one of these`;

/** A whole-suite run takes about 10 minutes here quiet and up to 25 loaded; no run of the loop may outlive this. */
const RUN_LIMIT_MS = 30 * 60_000;

function usage(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

function parse(): {
  runs: number;
  load: boolean;
  busy: number;
  out: string | undefined;
  filter: string[];
} {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        load: { type: 'boolean', default: false },
        busy: { type: 'string', default: '0' },
        out: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      allowPositionals: true,
    });
  } catch (err) {
    usage((err as Error).message);
  }
  if (parsed.values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const positionals = [...parsed.positionals];
  let runs = 5;
  if (positionals[0] !== undefined && /^\d+$/.test(positionals[0])) {
    runs = Number(positionals.shift());
    if (runs < 1 || runs > 50) usage(`RUNS must be 1-50, got ${runs}`);
  }
  const busy = Number(parsed.values.busy);
  if (!Number.isInteger(busy) || busy < 0 || busy > 8) {
    usage(`--busy must be a whole number 0-8, got ${JSON.stringify(parsed.values.busy)}`);
  }
  const out = parsed.values.out;
  if (out !== undefined && out.trim() === '') usage('--out needs a folder');
  return { runs, load: parsed.values.load, busy, out, filter: positionals };
}

interface Failure {
  file: string;
  test: string;
  message: string;
}

interface RunResult {
  run: number;
  exitCode: number | null;
  pass: number;
  fail: number;
  seconds: number;
  load: { median: number; max: number };
  failures: Failure[];
}

function waitExit(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

/** The processes that load the machine; every one is stopped by its PID at the end. */
class Load {
  private readonly children = new Set<ChildProcess>();
  private stopped = false;
  private benchRuns = 0;

  constructor(
    private readonly dir: string,
    private readonly maxMs: number,
  ) {}

  busy(n: number): void {
    // Each spinner also stops by itself after the loop's longest possible time.
    const script = `const end = Date.now() + ${this.maxMs}; while (Date.now() < end) {}`;
    for (let i = 0; i < n; i++)
      this.track(spawn(process.execPath, ['-e', script], { stdio: 'ignore' }));
  }

  bench(maxRuns: number): void {
    if (this.stopped || this.benchRuns >= maxRuns) return;
    this.benchRuns++;
    const out = openSync(join(this.dir, `load-bench-${this.benchRuns}.log`), 'w');
    const child = spawn(
      process.execPath,
      [...TSX_NODE_ARGS, 'benchmarks/run.ts', '--quick', '--out', join(this.dir, 'bench')],
      {
        cwd: ROOT,
        stdio: ['ignore', out, out],
      },
    );
    closeSync(out);
    this.track(child);
    void waitExit(child).then(() => this.bench(maxRuns));
  }

  private track(child: ChildProcess): void {
    this.children.add(child);
    void waitExit(child).then(() => this.children.delete(child));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // SIGTERM lets the benchmark stop the redis-server and sinks it started.
    const all = [...this.children];
    for (const c of all) c.kill('SIGTERM');
    const timer = setTimeout(() => all.forEach((c) => c.kill('SIGKILL')), 20_000);
    await Promise.all(all.map(waitExit));
    clearTimeout(timer);
  }
}

/** Marks every process a run starts, down to the redis-servers the tests start detached. */
// Not a VOLLEY_ name: the services warn about VOLLEY_ variables they do not know.
const RUN_TAG = 'TEST_REPEAT_RUN';

/**
 * Kills what a run left behind: a run stopped at its time limit takes its test files' after
 * hooks with it, so their redis-servers (detached, in groups of their own) and the test files
 * themselves would go on competing with the next run. Each carries the run's tag in its
 * environment, inherited from the runner; nothing else on the machine does.
 */
function killTagged(tag: string): number {
  const needle = `\0${RUN_TAG}=${tag}\0`;
  let killed = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${entry}/environ`, 'latin1');
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    if (!`\0${environ}\0`.includes(needle)) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
      killed++;
    } catch {
      // Exited meanwhile.
    }
  }
  return killed;
}

async function runOnce(run: number, files: string[], dir: string): Promise<RunResult> {
  const log = join(dir, `run-${run}.log`);
  const failuresFile = join(dir, `run-${run}.failures.jsonl`);
  const reporters = [
    '--test-reporter=spec',
    `--test-reporter-destination=${log}`,
    `--test-reporter=${join(ROOT, 'scripts/lib/failure-reporter.mjs')}`,
    `--test-reporter-destination=${failuresFile}`,
  ];
  const errLog = openSync(join(dir, `run-${run}.stderr.log`), 'w');
  const started = Date.now();
  const tag = `${dir}#${run}`;
  const child = spawn(process.execPath, runnerArgs(files, reporters), {
    cwd: ROOT,
    env: { ...process.env, [RUN_TAG]: tag },
    stdio: ['ignore', 'ignore', errLog],
  });
  closeSync(errLog);
  // One sample at the start, so a run shorter than the interval still reports its load.
  const samples: number[] = [loadavg()[0] ?? 0];
  const sampler = setInterval(() => samples.push(loadavg()[0] ?? 0), 5000);
  const limit = setTimeout(() => child.kill('SIGKILL'), RUN_LIMIT_MS);
  const exitCode = await waitExit(child);
  clearTimeout(limit);
  clearInterval(sampler);
  const leftovers = killTagged(tag);
  if (leftovers > 0) console.log(`run ${run}: killed ${leftovers} processes it left running`);
  const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
  const count = (name: string): number =>
    Number(new RegExp(`^ℹ ${name} (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  const failures = existsSync(failuresFile)
    ? readFileSync(failuresFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Failure)
    : [];
  samples.sort((a, b) => a - b);
  return {
    run,
    exitCode,
    pass: count('pass'),
    fail: count('fail'),
    seconds: (Date.now() - started) / 1000,
    load: { median: samples[Math.floor(samples.length / 2)] ?? 0, max: samples.at(-1) ?? 0 },
    failures,
  };
}

function summary(results: RunResult[], opts: { load: boolean; busy: number }): string {
  const lines = [
    `# test:repeat, ${results.length} runs (${opts.load ? 'benchmark beside' : 'no benchmark'}, ${opts.busy} busy processes)`,
    '',
    '| run | exit | pass | fail | seconds | 1-min load median / max |',
    '|---:|---:|---:|---:|---:|---|',
    ...results.map(
      (r) =>
        `| ${r.run} | ${r.exitCode} | ${r.pass} | ${r.fail} | ${r.seconds.toFixed(0)} | ${r.load.median.toFixed(1)} / ${r.load.max.toFixed(1)} |`,
    ),
    '',
  ];
  const byTest = new Map<string, { runs: number[]; first: Failure }>();
  for (const r of results) {
    for (const f of r.failures) {
      const key = `${f.file}\u0000${f.test}`;
      const seen = byTest.get(key);
      if (seen) seen.runs.push(r.run);
      else byTest.set(key, { runs: [r.run], first: f });
    }
  }
  if (byTest.size === 0) {
    const broken = results.filter((r) => r.exitCode !== 0);
    lines.push(
      broken.length === 0
        ? 'Every test passed in every run.'
        : `No test failure was reported, but runs ${broken.map((r) => r.run).join(', ')} exited non-zero: see their logs.`,
    );
  } else {
    lines.push('Tests that failed at least once:', '');
    for (const { runs, first } of byTest.values()) {
      lines.push(`- ${first.test} (${first.file}): failed in runs ${runs.join(', ')}`);
      lines.push(...first.message.split('\n').map((l) => `    ${l}`));
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const opts = parse();
  const files = testFiles(opts.filter);
  if (files.length === 0) usage(`no test files matched ${opts.filter.join(' ')}`);
  const dir = mkdtempSync(join(tmpdir(), 'volley-test-repeat-'));
  // Made before the loop, so a folder that cannot be made stops it before hours are spent.
  const outDir = opts.out === undefined ? undefined : resolve(ROOT, opts.out);
  if (outDir) mkdirSync(outDir, { recursive: true });
  // When the loop started, written as the benchmarks' reports are named: 20261207T101500Z.
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  console.log(`test:repeat: ${opts.runs} runs of ${files.length} files; logs in ${dir}`);
  const load = new Load(dir, opts.runs * RUN_LIMIT_MS);
  const stopLoad = (): void => {
    void load.stop().then(() => process.exit(130));
  };
  process.once('SIGINT', stopLoad);
  process.once('SIGTERM', stopLoad);
  load.busy(opts.busy);
  // A quick benchmark takes about a minute; this bounds the loop's benchmark count.
  if (opts.load) load.bench(opts.runs * 30);
  const results: RunResult[] = [];
  try {
    for (let run = 1; run <= opts.runs; run++) {
      const r = await runOnce(run, files, dir);
      results.push(r);
      console.log(
        `run ${run}/${opts.runs}: exit ${r.exitCode}, ${r.pass} passed, ${r.fail} failed, ` +
          `${r.seconds.toFixed(0)} s, 1-min load median ${r.load.median.toFixed(1)} (max ${r.load.max.toFixed(1)})` +
          r.failures.map((f) => `\n  ✖ ${f.test} (${f.file})`).join(''),
      );
    }
  } finally {
    await load.stop();
  }
  const text = summary(results, opts);
  writeFileSync(join(dir, 'summary.md'), `${text}\n`);
  console.log(`\n${text}\n\nsummary: ${join(dir, 'summary.md')}`);
  if (outDir) {
    const kept = join(outDir, `${stamp}-test-repeat.md`);
    writeFileSync(kept, `${text}\n`);
    console.log(`kept: ${relative(ROOT, kept)}`);
  }
  process.exit(results.every((r) => r.exitCode === 0) ? 0 : 1);
}

await main();
