/**
 * `npm run bench`: sends a real campaign through Volley deployed as separate processes (one
 * API, N senders, Redis) into Postfix's smtp-sink, next to two baselines measured in the same
 * run and interleaved with it. See benchmarks/README.md for what each figure means.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { findRedisServer } from '@volley/redis';
import { BENCH_CLI, type BenchOptions } from './lib/args.ts';
import { throughputChart } from './lib/chart.ts';
import { log } from './lib/log.ts';
import { commandOutput, describeMachine, packageVersion } from './lib/machine.ts';
import { runMain } from './lib/main.ts';
import { summarizeProfiles } from './lib/profile.ts';
import { flagLine, markdown, summarize, type Environment, type Notice } from './lib/report.ts';
import { runNaive, runVolley, runWire, type RunResult } from './lib/runs.ts';
import { requireRedisServer, senderTuning } from './lib/deployment.ts';
import { openResults, profilesDir } from './lib/results.ts';
import { checkPostfixTools } from './lib/sink.ts';
import { policyFor } from './lib/conformance.ts';
import { prepareDkim, type DkimSetup } from './lib/dkim.ts';
import { runMetricsAb } from './lib/metrics-ab.ts';
import { runRealistic } from './lib/realistic.ts';
import { runTlsMode } from './lib/tls-mode.ts';
import { campaignRun, naiveRun } from './lib/mode.ts';
import { realisticRecipients } from './lib/realistic-workload.ts';
import { recipients, sampleMessage, templatesOfSize } from './lib/workload.ts';

function environment(): Environment {
  const redisBin = findRedisServer();
  const redisLine = redisBin ? commandOutput(redisBin, ['--version']) : undefined;
  return {
    ...describeMachine(),
    redis: /v=(\S+)/.exec(redisLine ?? '')?.[1] ?? 'unknown',
    postfix: commandOutput('dpkg-query', ['-W', '-f=${Version}', 'postfix']) ?? 'unknown',
    nodemailer: packageVersion('nodemailer'),
    bullmq: packageVersion('bullmq'),
  };
}

function notices(o: BenchOptions, dkim: DkimSetup | undefined): Notice[] {
  const out: Notice[] = [];
  if (dkim && !dkim.available) {
    out.push({
      flag: `--dkim ${o.dkim}`,
      message:
        'DKIM signing is not available: the senders of this version cannot sign ' +
        `(${dkim.reason ?? 'unknown reason'}). The flag is recorded, but every figure below was measured ` +
        'WITHOUT DKIM signing.',
    });
  } else if (dkim) {
    out.push({
      flag: `--dkim ${o.dkim}`,
      message:
        `every message is DKIM-signed (${dkim.mode === 'rsa' ? 'RSA 2048' : 'Ed25519'}, relaxed/relaxed) with a key ` +
        "made for this run: by the senders, and once for the wire baseline's message. " +
        (dkim.naive
          ? "The naive loop signs with nodemailer's DKIM option."
          : 'The naive loop sends UNSIGNED messages: nodemailer signs with RSA only.'),
    });
  }
  // The realistic workload runs no baselines: its report is about the limits themselves.
  if (o.domainLimits !== 'off' && o.workload !== 'realistic') {
    out.push({
      flag: `--domain-limits ${o.domainLimits}`,
      message:
        `per-domain traffic shaping is ON (${o.domainLimits === 'on' ? "the engine's default policy" : `policy ${o.domainLimits}`}). ` +
        "Volley's throughput is then bounded by the policy's limits, so its ratios to the baselines (which have " +
        'no limits) do not measure the engine; the rate conformance table does.',
    });
  }
  if (o.quick) {
    out.push({
      flag: '--quick',
      message:
        'a smoke-sized run (one repetition, a small campaign): check that everything works, not a reference.',
    });
  }
  return out;
}

async function main(): Promise<number> {
  const o = BENCH_CLI.parseOrExit(process.argv.slice(2));
  // The STARTTLS mode's sink is smtp-server: smtp-sink and smtp-source cannot do TLS.
  if (!o.tls) checkPostfixTools();
  requireRedisServer();
  const senderEnv = senderTuning();
  // Each sender holds this many connections to the sink (the engine's default is 10).
  const poolSize = Number(senderEnv.VOLLEY_SMTP_POOL_SIZE ?? 10);
  const env = environment();
  const { dir: outDir, startedAt, stamp } = openResults(o.out);
  const work = mkdtempSync(join(tmpdir(), 'volley-bench-'));
  const profileDir = o.profile ? profilesDir(stamp) : undefined;

  try {
    // `off` measures the engine's capacity; otherwise the policy's limits bound the throughput.
    // Unset, the senders load the engine's default policy; `off` and a file path pass through.
    if (o.domainLimits !== 'on') senderEnv.VOLLEY_SHAPING_POLICY = o.domainLimits;
    const policy = policyFor(o.domainLimits);
    const dkimSetup = o.dkim === 'off' ? undefined : prepareDkim(o.dkim, work);
    // Signing happens everywhere or nowhere, so that the three runs stay comparable.
    const dkim = dkimSetup?.available ? dkimSetup : undefined;
    if (dkim) Object.assign(senderEnv, dkim.senderEnv);
    const found = notices(o, dkimSetup);
    for (const n of found) log(`NOTE ${n.flag}: ${n.message}`);
    const templates = templatesOfSize(o.size);
    const sample = sampleMessage(templates, o.domains, dkim?.signer);
    const emlPath = join(work, 'message.eml');
    writeFileSync(emlPath, sample.raw);
    log(`message: ${o.size} B of rendered HTML + text, ${sample.bytes} B as composed by Volley`);
    // Built and serialized once: the create request's JSON is the client's cost, not the API's.
    const list =
      o.workload === 'realistic'
        ? realisticRecipients(o.recipients)
        : recipients(o.recipients, o.domains);
    const body = JSON.stringify({ ...templates, recipients: list });
    log(
      `campaign body: ${o.recipients} recipients, ${(Buffer.byteLength(body) / 1e6).toFixed(1)} MB of JSON`,
    );

    // The modes without baselines write their own report from the same campaign and machine.
    const mode = {
      o,
      senderEnv,
      body,
      machine: env,
      flags: flagLine(o),
      outDir,
      startedAt,
      stamp,
    };
    if (o.metricsAb) return await runMetricsAb({ ...mode, policy });
    if (o.tls) return await runTlsMode({ ...mode, policy, naiveDkim: dkim?.naive, profileDir });
    if (o.workload === 'realistic') {
      if (!policy) throw new Error('a realistic workload runs under a shaping policy');
      return await runRealistic({ ...mode, policy });
    }

    const runs: RunResult[] = [];
    const show = (r: RunResult): void => {
      const cpu = Object.entries(r.cpuPer1000)
        .map(([k, v]) => `${k} ${v.toFixed(3)}`)
        .join(', ');
      log(
        `  ${r.kind} rep ${r.rep}: ${Math.round(r.throughput.rate)} msg/s steady ` +
          `(${Math.round(r.throughput.overall)} overall, ${r.messages} msgs in ${r.throughput.activeS.toFixed(1)} s); ` +
          `CPU s/1000: ${cpu}`,
      );
      if (r.volley) {
        const v = r.volley;
        log(
          `    ingest ${Math.round(v.ingestRate)} rcpt/s, latency p50 ${v.latency.p50S.toFixed(2)} s p99 ${v.latency.p99S.toFixed(2)} s, ` +
            `redis ${Math.round(v.redis.perRecipientBytes)} B/recipient, events ${Math.round(v.eventsThroughput.rate)} msg/s`,
        );
      }
    };
    // Interleaved: every repetition runs each kind once, so slow drift of a shared, noisy machine
    // hits all three alike, and each Volley run has both baselines next to it in time.
    for (let rep = 1; rep <= o.reps; rep++) {
      log(
        `repetition ${rep}/${o.reps}: wire ceiling (smtp-source, ${o.senders * poolSize} connections)`,
      );
      const wire = await runWire({
        rep,
        messages: o.wireMessages,
        connections: o.senders * poolSize,
        emlPath,
        timeoutS: o.timeoutS,
      });
      runs.push(wire);
      show(wire);
      log(`repetition ${rep}/${o.reps}: naive nodemailer loop (${o.naiveMessages} messages)`);
      const naive = await runNaive({ ...naiveRun(o, rep), dkim: dkim?.naive });
      runs.push(naive);
      show(naive);
      log(
        `repetition ${rep}/${o.reps}: Volley (1 API, ${o.senders} senders, ${o.recipients} recipients)`,
      );
      const volley = await runVolley(
        { ...campaignRun({ o, body, senderEnv }, rep), profileDir, policy },
        (v) => (env.redis = v),
      );
      runs.push(volley);
      show(volley);
    }
    env.loadAvgEnd = loadavg();

    const summary = summarize(runs);
    const base = `${stamp}-${o.quick ? 'quick' : 'full'}`;
    const chartName = `${base}.svg`;
    const subtitle = `${o.recipients} recipients, ${o.domains} domains, ${o.size} B, ${o.reps} rep${o.reps === 1 ? '' : 's'}, ${env.cpuModel}, ${env.cores} cores, Node ${env.node}`;
    const medians = {
      volley: summary.throughput.volley.median,
      naive: summary.throughput.naive.median,
      wire: summary.throughput.wire.median,
    };
    writeFileSync(
      join(outDir, chartName),
      await throughputChart(runs, medians, o.senders, subtitle),
    );
    const md = markdown(o, env, summary, found, startedAt, chartName, dkim?.mode ?? 'off');
    writeFileSync(join(outDir, `${base}.md`), md);
    const json = {
      startedAt,
      flags: flagLine(o),
      options: o,
      senderEnv,
      notices: found,
      dkimApplied: dkim?.mode ?? 'off',
      environment: env,
      summary,
      runs,
    };
    writeFileSync(join(outDir, `${base}.json`), `${JSON.stringify(json, null, 2)}\n`);
    process.stdout.write(`\n${md}\n`);
    if (profileDir) {
      const summaryPath = join(profileDir, 'summary.md');
      writeFileSync(summaryPath, summarizeProfiles(profileDir));
      log(`CPU profile summary: ${relative(process.cwd(), summaryPath)}`);
    }
    log(
      `results: ${['json', 'md', 'svg'].map((x) => relative(process.cwd(), join(outDir, `${base}.${x}`))).join(', ')}`,
    );
    // The smoke test asserts no speed, but it does assert that every message arrived.
    const lost = runs.filter((r) => r.failed > 0);
    for (const r of lost)
      log(`ERROR: ${r.kind} rep ${r.rep}: ${r.failed} messages were not accepted by the sink`);
    return lost.length > 0 ? 1 : 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

runMain('bench', main);
