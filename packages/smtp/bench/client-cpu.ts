/**
 * CPU per message of the old send path (a pooled nodemailer transport, `sendMail` with a
 * pre-built raw message) against the new one (SmtpPool), both into Postfix's smtp-sink on a
 * free loopback port. A quick comparison, not a test: repetitions are interleaved (old, new,
 * old, new, ...) so drift on the machine hits both alike, and the medians are printed.
 *
 *   node --import tsx packages/smtp/bench/client-cpu.ts [messages=20000] [connections=10] [reps=3]
 */
import nodemailer from 'nodemailer';
import { SmtpPool } from '../src/pool.ts';
// The same smtp-sink launcher as the tests: free port, started and stopped by PID.
import { startSink } from '../test/fixtures/servers.ts';

const MESSAGES = positiveArg(2, 20_000);
const CONNECTIONS = positiveArg(3, 10);
const REPS = positiveArg(4, 3);
/** Sends in flight: enough to keep every connection busy, few enough to keep queues short. */
const WINDOW = CONNECTIONS * 4;
/** The whole run is bounded; a hung sink or client must not hang the shell. */
const DEADLINE_MS = 10 * 60_000;

function positiveArg(i: number, fallback: number): number {
  const v = Number(process.argv[i] ?? fallback);
  if (!Number.isInteger(v) || v < 1)
    throw new Error(`argument ${i - 1} must be a positive integer`);
  return v;
}

const BODY_LINE =
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt.\r\n';
/** About 4.3 KB with headers: a body near the reference benchmark's default `--size` (4096). */
const BODY = BODY_LINE.repeat(Math.ceil(4000 / BODY_LINE.length));

function message(i: number): { envelope: { from: string; to: string }; raw: string } {
  const to = `user${i}@rcpt.example`;
  return {
    envelope: { from: 'bounces@sender.example', to },
    raw:
      `From: News <news@sender.example>\r\nTo: ${to}\r\nSubject: Campaign ${i}\r\n` +
      `Message-ID: <${i}.bench@sender.example>\r\nDate: Sat, 28 Nov 2026 00:00:00 +0000\r\n` +
      `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${BODY}`,
  };
}

type Send = (i: number) => Promise<unknown>;

/** Runs `count` sends keeping WINDOW in flight; returns CPU µs per message and messages/s. */
async function measure(count: number, send: Send): Promise<{ cpuUs: number; rate: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await send(next++);
  };
  await Promise.all(Array.from({ length: WINDOW }, worker));
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { cpuUs: (cpu.user + cpu.system) / count, rate: count / wallS };
}

interface Contender {
  name: string;
  send: Send;
  close(): Promise<void>;
}

function oldPath(port: number): Contender {
  const transport = nodemailer.createTransport({
    pool: true,
    host: '127.0.0.1',
    port,
    maxConnections: CONNECTIONS,
    maxMessages: Infinity,
    ignoreTLS: true,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  return {
    name: 'nodemailer sendMail (raw, pool)',
    send: (i) => {
      const m = message(i);
      return transport.sendMail({ envelope: m.envelope, raw: m.raw });
    },
    close: async () => transport.close(),
  };
}

function newPath(port: number): Contender {
  const pool = new SmtpPool({
    host: '127.0.0.1',
    port,
    maxConnections: CONNECTIONS,
    ignoreTLS: true,
    name: 'bench.volley.test',
  });
  return {
    name: 'SmtpPool.send',
    send: (i) => {
      const m = message(i);
      return pool.send(m.envelope, m.raw);
    },
    close: () => pool.close(),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

async function main(): Promise<void> {
  const sink = await startSink();
  const deadline = setTimeout(() => {
    console.error(`bench: no result within ${DEADLINE_MS / 1000} s; stopping smtp-sink`);
    process.kill(sink.pid, 'SIGKILL');
    process.exit(1);
  }, DEADLINE_MS);
  deadline.unref();
  const contenders = [oldPath(sink.port), newPath(sink.port)];
  try {
    console.log(
      `smtp-sink pid ${sink.pid} port ${sink.port}; ${MESSAGES} messages of ${message(0).raw.length} bytes, ` +
        `${CONNECTIONS} connections, ${WINDOW} in flight, ${REPS} interleaved repetitions (Node ${process.version})`,
    );
    // Warm-up: opens every connection and lets the JIT settle before anything is measured.
    for (const c of contenders) await measure(Math.min(MESSAGES, 3000), c.send);
    const results = new Map<string, { cpuUs: number[]; rate: number[] }>();
    for (let rep = 1; rep <= REPS; rep++) {
      for (const c of contenders) {
        const r = await measure(MESSAGES, c.send);
        const acc = results.get(c.name) ?? { cpuUs: [], rate: [] };
        acc.cpuUs.push(r.cpuUs);
        acc.rate.push(r.rate);
        results.set(c.name, acc);
        console.log(
          `  rep ${rep}  ${c.name.padEnd(32)} ${r.cpuUs.toFixed(1).padStart(7)} µs CPU/msg  ${Math.round(r.rate).toString().padStart(6)} msg/s`,
        );
      }
    }
    console.log('median:');
    for (const [name, r] of results) {
      console.log(
        `  ${name.padEnd(32)} ${median(r.cpuUs).toFixed(1).padStart(7)} µs CPU/msg  ${Math.round(median(r.rate)).toString().padStart(6)} msg/s`,
      );
    }
  } finally {
    await Promise.all(contenders.map((c) => c.close()));
    await sink.stop();
    clearTimeout(deadline);
  }
}

await main();
