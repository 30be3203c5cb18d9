/**
 * `npm run bench:cli-upload`: `volley campaign send campaign.yaml --recipients list.csv` (a
 * draft created from the definition file, then the CSV streamed to it: what issue 16 measures)
 * against the API's own upload client (the one `npm run bench:upload` times) uploading the same
 * file into a draft, interleaved in the same run against the same API (issue 16: the CLI's rate
 * within 10% of it, its memory constant, its progress display redrawn at most 10 times a second).
 *
 * The CLI runs as a person runs it: its own process, in a pseudo-terminal (util-linux `script`),
 * so the progress bar is drawn; stdout goes to a file, so its answer is the JSON line with the
 * rows and the seconds it measured itself (first byte read to the API's answer, as the upload
 * client's figure is). `script` records the terminal's bytes with their timing, from which the
 * redraws a second are counted. The CLI's memory is sampled from /proc while it runs, for the
 * full file, for one a tenth of its size and for one four times its size: constant memory is
 * a peak that does not grow with the file once past the start (the tenth ends before the
 * buffers it has sent are collected; the full file and the fourfold one show any growth).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ROOT, TSX_NODE_ARGS } from '@volley/runtime';
import { requireRedisServer } from './lib/deployment.ts';
import { defineCli, flag } from './lib/flags.ts';
import { cell, fmt } from './lib/format.ts';
import { log } from './lib/log.ts';
import { describeMachine, machineSection } from './lib/machine.ts';
import { runMain } from './lib/main.ts';
import { cpuSeconds, rssBytes } from './lib/proc-stats.ts';
import { OUT_FLAG, openResults, outOption } from './lib/results.ts';
import { spread, type Spread } from './lib/stats.ts';
import { buildBody, streamPost, type UploadBody } from './lib/upload-client.ts';
import { startUploadDeployment, type UploadDeployment } from './lib/upload-deploy.ts';
import { countRedraws, type Redraws } from './lib/terminal-log.ts';

const CLI = defineCli(
  'npm run bench:cli-upload',
  {
    quick: flag.switch('smoke-sized run: 100,000 rows; results go to benchmarks/results/tmp'),
    rows: flag
      .int('N', 'rows of the CSV file', 10_000, 20_000_000)
      .defaultIs('1000000; quick 100000'),
    reps: flag.int('N', 'repetitions of every run, interleaved', 1, 20).default(3),
    out: OUT_FLAG,
  },
  (v) => {
    const rows = v.rows ?? (v.quick ? 100_000 : 1_000_000);
    return {
      quick: v.quick,
      rows,
      reps: v.reps,
      out: outOption(v.out, v.quick),
    };
  },
);

const MiB = 2 ** 20;
/**
 * The campaign definition `volley campaign send` reads: the same campaign as the drafts the
 * upload client fills (benchmarks/lib/upload-deploy.ts).
 */
const DEFINITION = 'campaign.yaml';
const DEFINITION_TEXT = [
  'from: news@bench.example',
  "subject: 'Hello {{name}}'",
  "text: 'Hello {{name}}, you are on the {{plan}} plan.'",
  '',
].join('\n');

/** How often the CLI's resident memory is read while it runs. */
const RSS_EVERY_MS = 20;
/** The progress display's promise (services/cli/src/progress.ts). */
const MAX_REDRAWS_PER_SECOND = 10;

interface ApiRun {
  rep: number;
  seconds: number;
  rowsPerS: number;
  /** CPU of the API process and of redis-server over the run, per row. */
  apiCpuUsPerRow: number;
  redisCpuUsPerRow: number;
}

/** CPU seconds of the API and redis-server so far, to take the difference over a run. */
function serverCpu(d: UploadDeployment): { api: number; redis: number } {
  return { api: cpuSeconds(d.api.pid) ?? Number.NaN, redis: cpuSeconds(d.redisPid) ?? Number.NaN };
}

function cpuPerRow(
  before: { api: number; redis: number },
  d: UploadDeployment,
  rows: number,
): { apiCpuUsPerRow: number; redisCpuUsPerRow: number } {
  const now = serverCpu(d);
  return {
    apiCpuUsPerRow: ((now.api - before.api) * 1e6) / rows,
    redisCpuUsPerRow: ((now.redis - before.redis) * 1e6) / rows,
  };
}

/** 10,000 rows/s is far below any healthy run; slower than that, something is stuck. */
function timeoutMsFor(rows: number): number {
  return (60 + Math.ceil(rows / 10_000)) * 1000;
}

interface CliRun extends ApiRun {
  file: 'full' | 'tenth' | 'fourfold';
  rows: number;
  /** Wall time from spawning the CLI to its exit: its start-up included. */
  wallSeconds: number;
  peakRssMiB: number;
  /** CPU of the CLI process over the upload's span of the samples, per row. */
  cpuUsPerRow: number;
  /** Resident memory in the first and the last quarter of the upload (medians of the samples). */
  rssFirstQuarterMiB: number;
  rssLastQuarterMiB: number;
  redraws: Redraws;
}

/** The process under `root` (itself or a descendant) whose command name is `name`. */
function findProcess(root: number, name: string): number | undefined {
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === name) return pid;
      const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
      if (kids) queue.push(...kids.split(/\s+/).map(Number));
    } catch {
      // Gone between the listing and the read: not the one.
    }
  }
  return undefined;
}

function median(values: number[]): number {
  return spread(values).median;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

async function runCli(
  d: UploadDeployment,
  dir: string,
  file: { path: string; rows: number; kind: CliRun['file'] },
  rep: number,
): Promise<CliRun> {
  const timeoutMs = timeoutMsFor(file.rows);
  const answer = join(dir, 'answer.json');
  const screen = join(dir, 'screen.log');
  const timing = join(dir, 'screen.timing');
  const node = [process.execPath, ...TSX_NODE_ARGS, join(ROOT, 'services/cli/src/main.ts')];
  const command =
    `exec ${node.map(shellQuote).join(' ')} campaign send ${shellQuote(join(dir, DEFINITION))} ` +
    `--recipients ${shellQuote(file.path)} > ${shellQuote(answer)}`;
  const started = process.hrtime.bigint();
  const cpu0 = serverCpu(d);
  const child = spawn(
    'script',
    [
      '--quiet',
      '--return',
      '--flush',
      '--logging-format',
      'classic',
      '--log-out',
      screen,
      '--log-timing',
      timing,
      '--command',
      command,
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        SHELL: '/bin/sh',
        TERM: 'xterm-256color',
        VOLLEY_API_URL: d.base,
        VOLLEY_API_KEY: d.apiKey,
      },
    },
  );
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const samples: { at: number; rss: number; cpu: number }[] = [];
  let cliPid: number | undefined;
  const sampler = setInterval(() => {
    cliPid ??= child.pid === undefined ? undefined : findProcess(child.pid, 'node');
    const rss = cliPid === undefined ? undefined : rssBytes(cliPid);
    const cpu = cliPid === undefined ? undefined : cpuSeconds(cliPid);
    if (rss !== undefined && cpu !== undefined) samples.push({ at: Date.now(), rss, cpu });
  }, RSS_EVERY_MS);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const status = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
  clearTimeout(timer);
  clearInterval(sampler);
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const out = readFileSync(answer, 'utf8').trim();
  if (status !== 0) {
    throw new Error(
      `volley campaign send exited with ${String(status)}: ${out.slice(0, 500)} ${stderr.slice(0, 500)}`,
    );
  }
  // Piped, the CLI answers JSON lines: `created` with the draft's id, then `upload`.
  const result = JSON.parse(out.split('\n').at(-1) ?? '{}') as {
    type?: string;
    id?: string;
    rows?: number;
    added?: number;
    seconds?: number;
  };
  if (
    result.type !== 'upload' ||
    result.id === undefined ||
    result.added !== file.rows ||
    typeof result.seconds !== 'number'
  ) {
    throw new Error(`volley campaign send: expected ${file.rows} added, got ${out.slice(0, 500)}`);
  }
  const server = cpuPerRow(cpu0, d, file.rows);
  await d.drop(result.id);
  const redraws = countRedraws(readFileSync(screen), readFileSync(timing, 'utf8'));
  // The upload's own span among the samples: the last `seconds` before the process ended.
  const end = samples.at(-1)?.at ?? Date.now();
  const from = end - result.seconds * 1000;
  const during = samples.filter((s) => s.at >= from);
  const quarter = (q: number): number =>
    median(
      during
        .filter(
          (s) =>
            s.at >= from + (q * (end - from)) / 4 && s.at < from + ((q + 1) * (end - from)) / 4 + 1,
        )
        .map((s) => s.rss / MiB),
    );
  return {
    rep,
    file: file.kind,
    rows: file.rows,
    seconds: result.seconds,
    rowsPerS: file.rows / result.seconds,
    ...server,
    wallSeconds,
    peakRssMiB: Math.max(...samples.map((s) => s.rss)) / MiB,
    cpuUsPerRow:
      (((during.at(-1)?.cpu ?? Number.NaN) - (during[0]?.cpu ?? Number.NaN)) * 1e6) / file.rows,
    rssFirstQuarterMiB: quarter(0),
    rssLastQuarterMiB: quarter(3),
    redraws,
  };
}

async function runApi(d: UploadDeployment, body: UploadBody, rep: number): Promise<ApiRun> {
  const timeoutMs = timeoutMsFor(body.rows);
  const id = await d.draft();
  const cpu0 = serverCpu(d);
  const res = await streamPost(`${d.base}/v1/campaigns/${id}/recipients`, d.auth, body, timeoutMs);
  if (res.status !== 200) throw new Error(`upload: ${res.status} ${res.body.slice(0, 500)}`);
  const added = (JSON.parse(res.body) as { added?: number }).added;
  if (added !== body.rows)
    throw new Error(`upload: expected ${body.rows} added, got ${res.body.slice(0, 500)}`);
  const server = cpuPerRow(cpu0, d, body.rows);
  await d.drop(id);
  return { rep, seconds: res.seconds, rowsPerS: body.rows / res.seconds, ...server };
}

function writeFile(path: string, body: UploadBody): void {
  writeFileSync(path, Buffer.concat(body.chunks));
}

async function main(): Promise<void> {
  const o = CLI.parseOrExit(process.argv.slice(2));
  requireRedisServer();
  const env = describeMachine();
  const { dir: outDir, startedAt, stamp } = openResults(o.out);
  const dir = mkdtempSync(join(tmpdir(), 'volley-cli-upload-'));
  const tenthRows = Math.max(1000, Math.round(o.rows / 10));
  const body = buildBody('csv', o.rows);
  const tenth = buildBody('csv', tenthRows);
  const fullFile = { path: join(dir, 'recipients.csv'), rows: o.rows, kind: 'full' as const };
  const tenthFile = { path: join(dir, 'tenth.csv'), rows: tenthRows, kind: 'tenth' as const };
  const fourfoldFile = {
    path: join(dir, 'fourfold.csv'),
    rows: o.rows * 4,
    kind: 'fourfold' as const,
  };
  writeFileSync(join(dir, DEFINITION), DEFINITION_TEXT);
  writeFile(fullFile.path, body);
  writeFile(tenthFile.path, tenth);
  writeFile(fourfoldFile.path, buildBody('csv', fourfoldFile.rows));
  log(
    `csv: ${fmt(o.rows)} rows, ${(body.bytes / 1e6).toFixed(1)} MB; a tenth: ${fmt(tenthRows)} rows; fourfold: ${fmt(fourfoldFile.rows)} rows`,
  );

  const d = await startUploadDeployment({});
  const apiRuns: ApiRun[] = [];
  const cliRuns: CliRun[] = [];
  try {
    env.redis = d.redisVersion;
    // Warm-up, not recorded: the API's first requests pay for JIT and lazy loading.
    await runApi(d, tenth, 0);
    await runCli(d, dir, tenthFile, 0);
    for (let rep = 1; rep <= o.reps; rep++) {
      // Alternating which goes first, so a drift of the machine within a repetition hits both.
      const api = async (): Promise<void> => {
        const r = await runApi(d, body, rep);
        apiRuns.push(r);
        log(
          `rep ${rep}/${o.reps} upload client: ${fmt(r.rowsPerS)} rows/s (${r.seconds.toFixed(2)} s)`,
        );
      };
      const cli = async (): Promise<void> => {
        const r = await runCli(d, dir, fullFile, rep);
        cliRuns.push(r);
        log(
          `rep ${rep}/${o.reps} volley campaign send: ${fmt(r.rowsPerS)} rows/s (${r.seconds.toFixed(2)} s, ` +
            `${r.wallSeconds.toFixed(2)} s with start-up), peak RSS ${r.peakRssMiB.toFixed(0)} MiB, ` +
            `CPU ${r.cpuUsPerRow.toFixed(2)} µs/row, ${r.redraws.frames} redraws, at most ${r.redraws.maxPerSecond} in a second`,
        );
      };
      if (rep % 2 === 1) {
        await api();
        await cli();
      } else {
        await cli();
        await api();
      }
      for (const file of [tenthFile, fourfoldFile]) {
        const r = await runCli(d, dir, file, rep);
        cliRuns.push(r);
        log(
          `rep ${rep}/${o.reps} volley campaign send, ${file.kind} (${fmt(file.rows)} rows): peak RSS ${r.peakRssMiB.toFixed(0)} MiB`,
        );
      }
    }
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  env.loadAvgEnd = loadavg();

  const full = cliRuns.filter((r) => r.file === 'full');
  const small = cliRuns.filter((r) => r.file === 'tenth');
  const fourfold = cliRuns.filter((r) => r.file === 'fourfold');
  const ratio = spread(
    full.map((c) => c.rowsPerS / (apiRuns.find((a) => a.rep === c.rep)?.rowsPerS ?? Number.NaN)),
  );
  const summary = {
    apiRowsPerS: spread(apiRuns.map((r) => r.rowsPerS)),
    cliRowsPerS: spread(full.map((r) => r.rowsPerS)),
    cliToApi: ratio,
    apiCpuUsPerRowClient: spread(apiRuns.map((r) => r.apiCpuUsPerRow)),
    apiCpuUsPerRowCli: spread(full.map((r) => r.apiCpuUsPerRow)),
    redisCpuUsPerRowClient: spread(apiRuns.map((r) => r.redisCpuUsPerRow)),
    redisCpuUsPerRowCli: spread(full.map((r) => r.redisCpuUsPerRow)),
    cliWallRowsPerS: spread(full.map((r) => r.rows / r.wallSeconds)),
    peakRssFullMiB: spread(full.map((r) => r.peakRssMiB)),
    cliCpuUsPerRow: spread(full.map((r) => r.cpuUsPerRow)),
    peakRssTenthMiB: spread(small.map((r) => r.peakRssMiB)),
    peakRssFourfoldMiB: spread(fourfold.map((r) => r.peakRssMiB)),
    /** Peak for four times the file over the peak for the file, within each repetition. */
    peakRssFourfoldToFull: spread(
      fourfold.map(
        (r) => r.peakRssMiB / (full.find((f) => f.rep === r.rep)?.peakRssMiB ?? Number.NaN),
      ),
    ),
    rssFirstQuarterMiB: spread(full.map((r) => r.rssFirstQuarterMiB)),
    rssLastQuarterMiB: spread(full.map((r) => r.rssLastQuarterMiB)),
    maxRedrawsPerSecond: Math.max(...cliRuns.map((r) => r.redraws.maxPerSecond)),
    redrawsPerSecond: spread(
      full.map((r) => (r.redraws.frames - 1) / Math.max(r.redraws.spanSeconds, 1e-3)),
    ),
  };
  const met = (ok: boolean): string => (ok ? 'met' : 'not met');
  const row = (what: string, s: Spread, digits = 0, unit = ''): string =>
    `| ${what} | ${cell(s, digits, unit)} |`;
  const md = [
    '# `volley campaign send` against the upload client of bench:upload',
    '',
    `A CSV file of ${fmt(o.rows)} rows (${(body.bytes / 1e6).toFixed(1)} MB), uploaded ${o.reps} times by each, interleaved, alternating which goes first: \`volley campaign send campaign.yaml --recipients\` creates its draft from the definition file and streams the file to it, the upload client streams it into a draft made for it, both on the same API. The CLI in a pseudo-terminal (util-linux \`script\`), so its progress bar is drawn; its rate from the seconds it reports (first byte read to the API's answer), as the upload client's figure is timed. Medians, with the range.`,
    '',
    '| figure | median (min–max) |',
    '| --- | ---: |',
    row('upload client, rows/s', summary.apiRowsPerS),
    row('volley campaign send, rows/s', summary.cliRowsPerS),
    row('the CLI ÷ the upload client, within each repetition', summary.cliToApi, 3),
    row('volley campaign send, rows/s with its start-up', summary.cliWallRowsPerS),
    row('API CPU per row, upload client', summary.apiCpuUsPerRowClient, 2, ' µs'),
    row('API CPU per row, volley campaign send', summary.apiCpuUsPerRowCli, 2, ' µs'),
    row('Redis CPU per row, upload client', summary.redisCpuUsPerRowClient, 2, ' µs'),
    row('Redis CPU per row, volley campaign send', summary.redisCpuUsPerRowCli, 2, ' µs'),
    row('CLI CPU per row during the upload', summary.cliCpuUsPerRow, 2, ' µs'),
    row(`CLI peak RSS, ${fmt(o.rows)} rows`, summary.peakRssFullMiB, 0, ' MiB'),
    row(`CLI peak RSS, ${fmt(tenthRows)} rows`, summary.peakRssTenthMiB, 0, ' MiB'),
    row(`CLI peak RSS, ${fmt(fourfoldFile.rows)} rows`, summary.peakRssFourfoldMiB, 0, ' MiB'),
    row(
      `CLI peak RSS, ${fmt(fourfoldFile.rows)} rows ÷ ${fmt(o.rows)} rows, within each repetition`,
      summary.peakRssFourfoldToFull,
      3,
    ),
    row('CLI RSS in the first quarter of the upload', summary.rssFirstQuarterMiB, 0, ' MiB'),
    row('CLI RSS in the last quarter of the upload', summary.rssLastQuarterMiB, 0, ' MiB'),
    row(
      'progress redraws a second, mean from the first frame to the last',
      summary.redrawsPerSecond,
      1,
    ),
    `| progress redraws in any one second, most seen | ${summary.maxRedrawsPerSecond} |`,
    '',
    `Issue 16: the CLI within 10% of the upload client (ratio ≥ 0.90): ${met(ratio.median >= 0.9)}; redrawn at most ${MAX_REDRAWS_PER_SECOND} times a second (the mean from the first frame to the last): ${met(summary.redrawsPerSecond.max <= MAX_REDRAWS_PER_SECOND)} (the most in any one second as \`script\` recorded the bytes, ${summary.maxRedrawsPerSecond}, carries the jitter of when \`script\` read them; on the CLI's own clock frames are at least 100 ms apart, the last one included: services/cli/test/progress.test.ts); memory constant (four times the rows, at most 10% more peak RSS): ${met(summary.peakRssFourfoldToFull.median <= 1.1)}, the peak for ${fmt(fourfoldFile.rows)} rows is ${summary.peakRssFourfoldToFull.median.toFixed(3)}× the peak for ${fmt(o.rows)} (a tenth: ${summary.peakRssTenthMiB.median.toFixed(0)} MiB; its upload ends before the buffers it has sent reach the amount at which the garbage collector frees them).`,
    '',
    ...machineSection(env, [], `--rows ${o.rows} --reps ${o.reps}`),
  ].join('\n');
  const name = `${stamp}-cli-upload${o.quick ? '-quick' : ''}`;
  writeFileSync(join(outDir, `${name}.md`), `${md}\n`);
  writeFileSync(
    join(outDir, `${name}.json`),
    `${JSON.stringify({ startedAt, options: o, environment: env, summary, apiRuns, cliRuns }, null, 2)}\n`,
  );
  process.stdout.write(`\n${md}\n`);
  log(
    `results: ${['md', 'json'].map((x) => relative(process.cwd(), join(outDir, `${name}.${x}`))).join(', ')}`,
  );
}

runMain('bench:cli-upload', main);
