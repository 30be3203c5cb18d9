/**
 * `npm run bench:upload`: streams a recipient list (NDJSON and CSV) over HTTP into the API,
 * deployed as its own process with a redis-server of its own, and measures rows/s and the API's
 * memory next to three baselines measured in the same process, interleaved with the uploads:
 * reading the same bytes and discarding them, splitting them into lines and running JSON.parse
 * (or split(',')) on each, and the upload's own parsing without storing anything.
 * See benchmarks/README.md.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { log } from './lib/log.ts';
import { describeMachine } from './lib/machine.ts';
import { runMain } from './lib/main.ts';
import { cpuSeconds, peakRssBytes, rssBytes, sampleRss } from './lib/proc-stats.ts';
import { summarizeProfiles } from './lib/profile.ts';
import { requireRedisServer } from './lib/deployment.ts';
import { openResults, profilesDir } from './lib/results.ts';
import { UPLOAD_CLI, type UploadFormat } from './lib/upload-args.ts';
import { buildBody, streamPost, type UploadBody } from './lib/upload-client.ts';
import { startUploadDeployment } from './lib/upload-deploy.ts';
import {
  KINDS,
  summarizeUploads,
  uploadFlagLine,
  uploadMarkdown,
  type UploadRun,
  type UploadRunKind,
} from './lib/upload-report.ts';

/**
 * The discard baseline streams the body this many times over in one request: once, it takes a
 * few tens of milliseconds, too short to time on a shared machine.
 */
const DISCARD_REPEAT = 5;
const MiB = 2 ** 20;

async function main(): Promise<void> {
  const o = UPLOAD_CLI.parseOrExit(process.argv.slice(2));
  requireRedisServer();
  const env = describeMachine();
  const { dir: outDir, startedAt, stamp } = openResults(o.out);
  const profileDir = o.profile ? profilesDir(`upload-${stamp}`) : undefined;

  // Built before anything starts, so that building them costs no run anything.
  const bodies = new Map<UploadFormat, UploadBody>();
  for (const f of o.formats) {
    const b = buildBody(f, o.rows);
    bodies.set(f, b);
    log(`${f}: ${o.rows} rows, ${(b.bytes / 1e6).toFixed(1)} MB`);
  }

  const d = await startUploadDeployment(profileDir ? { apiCpuProfileDir: profileDir } : {});
  const { api, base, auth } = d;
  try {
    env.redis = d.redisVersion;

    const runOne = async (
      kind: UploadRunKind,
      body: UploadBody,
      rep: number,
    ): Promise<UploadRun> => {
      const id = kind === 'upload' ? await d.draft() : undefined;
      const url =
        kind === 'upload' ? `${base}/v1/campaigns/${id}/recipients` : `${base}/bench/${kind}`;
      const repeat = kind === 'discard' ? DISCARD_REPEAT : 1;
      const before = rssBytes(api.pid) ?? Number.NaN;
      const cpu0 = { api: cpuSeconds(api.pid), redis: cpuSeconds(d.redisPid) };
      const rss = sampleRss(api.pid);
      const startedAt = new Date().toISOString();
      let res;
      let peak: number;
      try {
        res = await streamPost(url, auth, body, o.timeoutS * 1000, repeat);
      } finally {
        peak = rss.stop();
      }
      const apiCpu = (cpuSeconds(api.pid) ?? Number.NaN) - (cpu0.api ?? Number.NaN);
      const redisCpu = (cpuSeconds(d.redisPid) ?? Number.NaN) - (cpu0.redis ?? Number.NaN);
      if (res.status !== 200) {
        throw new Error(`${kind} ${body.format}: ${res.status} ${res.body.slice(0, 500)}`);
      }
      const answer = JSON.parse(res.body) as Record<string, unknown>;
      // Every run must have done the whole job, or its rate means nothing.
      const expect: Record<UploadRunKind, [string, number]> = {
        discard: ['bytes', body.bytes * repeat],
        lines: ['rows', body.rows],
        parse: ['added', body.rows],
        upload: ['added', body.rows],
      };
      const [field, want] = expect[kind];
      if (answer[field] !== want) {
        throw new Error(
          `${kind} ${body.format}: expected ${field} ${want}, got ${res.body.slice(0, 500)}`,
        );
      }
      // Each upload goes into a fresh draft; the previous one's memory is given back first.
      if (id) await d.drop(id);
      return {
        kind,
        format: body.format,
        rep,
        startedAt,
        rows: body.rows * repeat,
        bytes: body.bytes * repeat,
        seconds: res.seconds,
        rowsPerS: (body.rows * repeat) / res.seconds,
        mbPerS: (body.bytes * repeat) / 1e6 / res.seconds,
        apiCpuS: apiCpu,
        redisCpuS: redisCpu,
        rssBeforeMiB: before / MiB,
        rssPeakMiB: peak / MiB,
      };
    };

    // A short warm-up, not recorded: the first request of a process pays for JIT and lazy loading.
    for (const b of bodies.values()) {
      const small = buildBody(b.format, Math.min(20_000, o.rows));
      for (const k of KINDS) await runOne(k, small, 0);
    }

    const runs: UploadRun[] = [];
    // Interleaved: every repetition runs each kind once per format, so slow drift of a shared
    // machine hits the upload and its baselines alike.
    for (let rep = 1; rep <= o.reps; rep++) {
      for (const f of o.formats) {
        const body = bodies.get(f) as UploadBody;
        for (const k of KINDS) {
          const r = await runOne(k, body, rep);
          runs.push(r);
          log(
            `rep ${rep}/${o.reps} ${f} ${k}: ${Math.round(r.rowsPerS)} rows/s (${r.mbPerS.toFixed(0)} MB/s, ` +
              `${r.seconds.toFixed(2)} s), API CPU ${r.apiCpuS.toFixed(2)} s, redis CPU ${r.redisCpuS.toFixed(2)} s, ` +
              `API RSS ${r.rssBeforeMiB.toFixed(0)} → peak ${r.rssPeakMiB.toFixed(0)} MiB`,
          );
        }
      }
    }
    env.loadAvgEnd = loadavg();
    const hwm = (peakRssBytes(api.pid) ?? Number.NaN) / MiB;
    const summary = summarizeUploads(runs, o.formats, hwm);
    const bytes: Partial<Record<UploadFormat, number>> = {};
    for (const [f, b] of bodies) bytes[f] = b.bytes;
    const md = uploadMarkdown(o, env, summary, bytes, startedAt, DISCARD_REPEAT);
    const name = `${stamp}-upload-${o.quick ? 'quick' : 'full'}`;
    writeFileSync(join(outDir, `${name}.md`), md);
    writeFileSync(
      join(outDir, `${name}.json`),
      `${JSON.stringify(
        {
          startedAt,
          flags: uploadFlagLine(o),
          options: o,
          environment: env,
          bytes,
          summary,
          runs,
        },
        null,
        2,
      )}\n`,
    );
    process.stdout.write(`\n${md}\n`);
    log(
      `results: ${['json', 'md'].map((x) => relative(process.cwd(), join(outDir, `${name}.${x}`))).join(', ')}`,
    );
  } finally {
    await d.stop();
  }
  if (profileDir) {
    const summaryPath = join(profileDir, 'summary.md');
    writeFileSync(summaryPath, summarizeProfiles(profileDir));
    log(`CPU profile summary: ${relative(process.cwd(), summaryPath)}`);
  }
}

runMain('bench:upload', main);
