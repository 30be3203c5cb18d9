/**
 * A private Postfix instance for end-to-end tests: Debian's `postfix` package, started with its
 * own configuration, queue and data folders in a fresh temp folder, listening on one free
 * loopback port, relaying by recipient domain through a transport map the test gives, and
 * never looking anything up in DNS. The system's own Postfix (/etc/postfix, port 25) is never
 * read for its settings, started, stopped or changed.
 *
 * Tests call `stop()` in `after`. A test process that dies without doing so (a crash, SIGKILL,
 * Ctrl-C) still leaves no master behind: a small watchdog shell, started before Postfix, stops
 * the instance and removes its folder as soon as the test process's end of a pipe closes.
 *
 * Linux only (the instance's processes are found in /proc); needs root, as Postfix's master
 * does.
 *
 * ```ts
 * let pf: PostfixInstance;
 * before(async () => {
 *   pf = await startPostfix({
 *     transport: { 'bounce.volley.test': loopbackNexthop(bouncePort), 'dest.test': loopbackNexthop(sinkPort) },
 *   });
 *   // Send through smtp://127.0.0.1:${pf.port}. A recipient the sink refuses with 5xx makes
 *   // Postfix send a DSN (null sender, multipart/report) to the envelope sender's server.
 * });
 * after(() => pf?.stop());
 * ```
 *
 * Postfix prepends one Received header and changes nothing else in what it relays. Mail for a
 * next hop that does not answer is retried every second; `mainCf: { maximal_queue_lifetime:
 * '0', bounce_queue_lifetime: '0' }` returns it after one attempt instead (a DSN with 4.4.1).
 * `logTail()` and `queue()` tell why mail did not arrive.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync } from 'node:fs';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '@volley/redis';
import { waitForPort } from '@volley/runtime';
import { PostfixError, checkHostname, checkSettings, findPostfix } from './postfix-config.ts';
import { transportTable, writeInstance, type PostfixCommands } from './postfix-config.ts';

export { loopbackNexthop } from './postfix-config.ts';

export interface PostfixOptions {
  /**
   * Recipient domain → Postfix next hop, e.g. `{ 'bounce.volley.test': loopbackNexthop(port) }`.
   * SMTP next hops are `smtp:[127.x.x.x]:port` (a literal loopback address and an explicit port:
   * nothing is looked up, and nothing leaves the machine); `error:5.1.1 text` and `discard:` are
   * allowed too. Mail for any other domain bounces at once with 5.1.2.
   */
  transport: Record<string, string>;
  /** Names the instance in its banner, Received headers and DSNs. @defaultValue 'mta.volley.test' */
  myhostname?: string;
  /**
   * main.cf settings applied last, over this module's own (`maximal_queue_lifetime: '0'` to
   * return deferred mail after one attempt, say). Values are written as they are.
   */
  mainCf?: Record<string, string>;
  /** How long the instance may take to answer SMTP. @defaultValue 30000 */
  startTimeoutMs?: number;
}

/** One message in the instance's queue, as `postqueue -j` reports it. */
export interface QueuedMessage {
  queueName: string;
  queueId: string;
  sender: string;
  recipients: { address: string; delayReason?: string }[];
}

export interface PostfixInstance {
  host: '127.0.0.1';
  /** Its SMTP server (smtpd), on 127.0.0.1 only. */
  port: number;
  /** The master daemon's PID; the instance's daemons all run in its session. */
  pid: number;
  myhostname: string;
  /** The temp folder holding everything below; removed by `stop()`. */
  dir: string;
  configDir: string;
  queueDir: string;
  /** Postfix's own log (maillog_file). */
  logFile: string;
  /** The last `lines` lines of the log, for failure messages. */
  logTail(lines?: number): string;
  /** The messages Postfix still holds (incoming, active, deferred, hold). */
  queue(): Promise<QueuedMessage[]>;
  /**
   * Asks Postfix to try every queued message now, whatever its next retry time
   * (`postqueue -f`, what an operator runs once a next hop is back).
   */
  flush(): Promise<void>;
  /** PIDs of the instance's live processes (master and daemons); none once stopped. */
  processes(): number[];
  /**
   * Stops this instance only (what `postfix -c DIR stop` does), waits until none of its
   * processes is left and removes its folder. Safe to call twice.
   */
  stop(): Promise<void>;
}

/**
 * Starts a private Postfix; see the module comment. Tests call `stop()` in `after`.
 * A port taken between choosing it and Postfix binding it is retried on another port.
 */
export async function startPostfix(opts: PostfixOptions): Promise<PostfixInstance> {
  const bins = findPostfix();
  if (process.getuid?.() !== 0) {
    throw new PostfixError(
      'POSTFIX_NEEDS_ROOT',
      'startPostfix needs root: the Postfix master starts as root and runs its daemons as the ' +
        'postfix user. Run the tests as root (CI does), or leave the Postfix tests out.',
    );
  }
  // Every option is checked before anything is created or started.
  const checked: Checked = {
    transport: transportTable(opts.transport),
    extra: checkSettings(opts.mainCf),
    myhostname: checkHostname(opts.myhostname ?? 'mta.volley.test'),
  };
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(bins, checked, opts);
    } catch (err) {
      // Only a lost port is retried; every other failure would fail the same way again.
      if (!(err instanceof PostfixError && err.portTaken) || attempt >= 3) throw err;
    }
  }
}

interface Checked {
  transport: string;
  extra: Record<string, string>;
  myhostname: string;
}

async function startOnce(
  bins: PostfixCommands,
  { transport, extra, myhostname }: Checked,
  opts: PostfixOptions,
): Promise<PostfixInstance> {
  const timeoutMs = opts.startTimeoutMs ?? 30_000;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'volley-postfix-'));
  // The daemons run as the postfix user and must reach the queue inside.
  chmodSync(dir, 0o755);
  const configDir = join(dir, 'etc');
  const queueDir = join(dir, 'queue');
  const logFile = join(dir, 'maillog');
  const outFile = join(dir, 'start-fg.out');
  try {
    writeInstance(dir, port, myhostname, transport, extra);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const releaseWatchdog = startWatchdog(bins.postfix, configDir, dir);
  const out = openSync(outFile, 'a');
  // start-fg keeps the master our grandchild (postfix-script waits for it), so its exit is an
  // event here and the system's init never has to reap it. Its output goes to a file, not a
  // pipe: a pipe would break once this process is gone.
  const child = spawn(bins.postfix, ['-c', configDir, 'start-fg'], {
    detached: true,
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  child.unref();
  child.once('error', () => {
    // Reported through the exit below (a failed spawn emits both).
  });
  const exited = exitOf(child);

  let pid = 0;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= teardown());
  async function teardown(): Promise<void> {
    if (pid === 0) pid = masterPid(queueDir);
    if (child.exitCode === null && child.signalCode === null) {
      child.ref(); // The exit awaited below must keep this process alive.
      if (pid > 0) {
        // What `postfix stop` does (SIGTERM to the master, which passes it on to its daemons),
        // without its one-second polling: postfix-script, our child, exits with the master.
        signal(pid, 'SIGTERM');
      } else {
        // Start-up failed before the master wrote its PID.
        await run(bins.postfix, ['-c', configDir, 'stop']);
        signal(-(child.pid ?? 0), 'SIGTERM');
      }
      // Postfix's own stop gives the master 5 s before killing its process group.
      const timer = setTimeout(() => {
        signal(-pid, 'SIGKILL');
        signal(-(child.pid ?? 0), 'SIGKILL');
      }, 5_000);
      await exited;
      clearTimeout(timer);
    }
    // The daemons get the master's SIGTERM as it exits; wait until the last one is gone.
    if (pid > 0 && !(await sessionGone(pid, 5_000))) {
      signal(-pid, 'SIGKILL');
      await sessionGone(pid, 5_000);
    }
    releaseWatchdog();
    rmSync(dir, { recursive: true, force: true });
  }

  try {
    await waitForPort(port, { what: 'postfix', timeoutMs, exited });
    const banner = await greeting(port, timeoutMs);
    if (!banner.startsWith('220 ') || !banner.includes(basename(dir)))
      throw new PortTaken(`port ${port} answered "${banner}", not this instance's smtpd`);
    pid = masterPid(queueDir);
    if (pid === 0) throw new Error(`no master PID in ${queueDir}/pid/master.pid`);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    const log =
      `${configErrors(bins.postfix, configDir)}\n--- start-fg output ---\n` +
      `${tailOf(outFile, 10)}\n--- ${logFile} ---\n${tailOf(logFile, 40)}`;
    await stop();
    throw new PostfixError(
      'POSTFIX_START_FAILED',
      `Postfix did not start on 127.0.0.1:${port}: ${why}\n--- postfix -c ${configDir} ---\n${log}`,
      err instanceof PortTaken || log.includes('Address already in use'),
    );
  }

  return {
    host: '127.0.0.1',
    port,
    pid,
    myhostname,
    dir,
    configDir,
    queueDir,
    logFile,
    logTail: (lines = 40) => tailOf(logFile, lines),
    async flush() {
      const r = await run(bins.postqueue, ['-c', configDir, '-f']);
      if (r.code !== 0) throw new Error(`postqueue -f failed: ${r.output}`);
    },
    processes: () => sessionMembers(pid),
    async queue() {
      const r = await run(bins.postqueue, ['-c', configDir, '-j']);
      if (r.code !== 0) throw new Error(`postqueue -j failed: ${r.output}`);
      return r.output
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => toQueued(JSON.parse(l) as PostqueueLine));
    },
    stop,
  };
}

class PortTaken extends Error {}

/**
 * postfix(1) reports an error in main.cf only to a terminal or to syslog (absent in a
 * container), before its own log file is known. So a failed start is repeated as `postfix
 * status` on a pseudo-terminal (script(1), from Debian's essential util-linux) to read why.
 */
function configErrors(postfix: string, configDir: string): string {
  // The paths go in the environment, so no quoting can go wrong.
  const r = spawnSync('script', ['-qec', '"$PF" -c "$PF_DIR" status', '/dev/null'], {
    encoding: 'utf8',
    timeout: 10_000,
    env: { ...process.env, SHELL: '/bin/sh', PF: postfix, PF_DIR: configDir },
  });
  const errors = (r.stdout ?? '')
    .split(/\r?\n/)
    .filter((l) => /\b(fatal|error|warning)\b/.test(l))
    .join('\n');
  return errors || '(no error in the configuration)';
}

/**
 * Stops the instance and removes its folder once the test process's end of the pipe closes
 * without "done" (the process died). Its own session, so Ctrl-C in a terminal does not stop
 * it before it has done its work.
 */
const WATCHDOG = `read -r word
[ "$word" = done ] && exit 0
"$1" -c "$2" stop >/dev/null 2>&1
rm -rf "$3" 2>/dev/null || { sleep 1; rm -rf "$3"; }
`;

function startWatchdog(postfix: string, configDir: string, dir: string): () => void {
  const w = spawn('/bin/sh', ['-c', WATCHDOG, 'volley-postfix-watchdog', postfix, configDir, dir], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  // Neither the watchdog nor its pipe may keep the test process alive.
  w.unref();
  if (w.stdin instanceof Socket) w.stdin.unref();
  w.stdin?.on('error', () => {
    // The watchdog is gone already; nothing is left for it to do.
  });
  return () => {
    w.stdin?.end('done\n');
  };
}

/** Reads the server's greeting, so start-up returns only once smtpd itself answers. */
function greeting(port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no SMTP greeting on port ${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('data', (b: Buffer) => {
      text += b.toString('latin1');
      if (!text.includes('\n')) return;
      clearTimeout(timer);
      sock.end('QUIT\r\n');
      resolve(text.split(/\r?\n/)[0] ?? '');
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.once('close', () => {
      clearTimeout(timer);
      reject(new Error(`port ${port} closed the connection before a greeting: ${text}`));
    });
  });
}

/**
 * Live processes (zombies do not count) of session `sid`. The master starts a session of its
 * own and every daemon it forks stays in it, so this is exactly the instance's processes.
 */
function sessionMembers(sid: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // Exited while we looked.
    }
    // pid (comm) state ppid pgrp session ...; comm may hold spaces and parentheses.
    const [state, , , session] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (session === String(sid) && state !== 'Z' && state !== 'X') pids.push(Number(name));
  }
  return pids;
}

/** Polls /proc (an exit of a process that is not our child has no event) until `sid` is empty. */
async function sessionGone(sid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (sessionMembers(sid).length > 0) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/** The master's PID as it wrote it at start, or 0. */
function masterPid(queueDir: string): number {
  try {
    const pid = Number(readFileSync(join(queueDir, 'pid', 'master.pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 1 ? pid : 0;
  } catch {
    return 0;
  }
}

/** Signals a process (a group when negative); one that is gone already needs nothing. */
function signal(pid: number, sig: NodeJS.Signals): void {
  if (pid === 0) return;
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.once('error', (err) => resolve({ code: null, output: err.message }));
    child.once('close', (code) => resolve({ code, output }));
  });
}

function tailOf(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log written)';
  }
}

interface PostqueueLine {
  queue_name: string;
  queue_id: string;
  sender: string;
  recipients: { address: string; delay_reason?: string }[];
}

function toQueued(l: PostqueueLine): QueuedMessage {
  return {
    queueName: l.queue_name,
    queueId: l.queue_id,
    sender: l.sender,
    recipients: l.recipients.map((r) => ({
      address: r.address,
      ...(r.delay_reason ? { delayReason: r.delay_reason } : {}),
    })),
  };
}
