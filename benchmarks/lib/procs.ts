/**
 * Every process the harness starts goes through here, so that each one is stopped by its PID
 * at the end: after a normal run, after an error, and on Ctrl-C or SIGTERM.
 */
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import {
  superviseChild,
  tail,
  waitForPort as sharedWaitForPort,
  type ChildHandle,
} from '@volley/runtime';

/** Lines kept per process, for error messages: enough context without unbounded memory. */
const KEEP_LINES = 200;

/** Anything started by this run that must be stopped at the end: a child, or a helper's server. */
interface Stoppable {
  stop(graceMs?: number): Promise<void>;
  /** Synchronous last resort, for `process.on('exit')`. */
  killNow(): void;
}

export interface Proc extends Stoppable, Omit<ChildHandle, 'stop'> {
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<Stoppable>();

/**
 * Tracks a process started by a helper that owns it (redis via @volley/redis), so that it is
 * stopped with the others on error or Ctrl-C. Returns the function to stop it with.
 */
export function track(pid: number, stop: () => Promise<void>): () => Promise<void> {
  const entry: Stoppable = {
    stop: async () => {
      await stop();
      live.delete(entry);
    },
    killNow: () => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    },
  };
  live.add(entry);
  return () => entry.stop();
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  opts: {
    env?: Record<string, string>;
    cwd?: string;
    /** Every line the process prints (stdout and stderr), beyond the last ones kept in `lines`. */
    onLine?: (line: string) => void;
  } = {},
): Proc {
  const spawnOpts: SpawnOptions = { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd };
  if (opts.env) spawnOpts.env = opts.env;
  const child = spawn(command, args, spawnOpts);
  if (child.pid === undefined) {
    // spawn reports ENOENT asynchronously; a missing pid means the start failed.
    throw new Error(`could not start ${name} (${command}): is it installed?`);
  }
  const h = superviseChild(name, child, KEEP_LINES);
  const onLine = opts.onLine;
  if (onLine) {
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', onLine);
    }
  }
  const proc: Proc = {
    ...h,
    async stop(graceMs = 5000) {
      await h.stop('SIGTERM', graceMs);
      live.delete(proc);
    },
    killNow() {
      if (h.running()) child.kill('SIGKILL');
    },
  };
  live.add(proc);
  void h.exited.then(() => live.delete(proc));
  return proc;
}

export { tail };

/** Stops every process still running, each by its own PID, all in parallel. */
export async function stopAll(graceMs = 5000): Promise<void> {
  await Promise.all([...live].map((p) => p.stop(graceMs)));
}

/** Last resort when the harness is exiting and can no longer wait: SIGKILL by PID. */
function killAllNow(): void {
  for (const p of live) p.killNow();
}

/**
 * On Ctrl-C or SIGTERM: stop every child, then exit with the conventional 128+signal code.
 * A second signal kills the children at once. `process.on('exit')` catches anything else that
 * ends the harness (an uncaught error), where only synchronous work is possible.
 */
export function installSignalHandlers(onStop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      killAllNow();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    stopping = true;
    process.stderr.write(`\nbench: ${signal}: stopping every process started by this run...\n`);
    onStop()
      .catch(() => undefined)
      .finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.on('exit', killAllNow);
}

let clkTck: number | undefined;
/** Clock ticks per second of /proc/<pid>/stat times: asked once; 100 on mainstream Linux builds. */
function ticksPerSecond(): number {
  if (clkTck === undefined) {
    const n = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim());
    clkTck = Number.isInteger(n) && n > 0 ? n : 100;
  }
  return clkTck;
}

/** Waits until something accepts TCP connections on 127.0.0.1:port, or the process exits. */
export async function waitForPort(port: number, proc: Proc, timeoutMs: number): Promise<void> {
  try {
    await sharedWaitForPort(port, { what: proc.name, timeoutMs, exited: proc.exited });
  } catch (err) {
    throw new Error(`${(err as Error).message}; output:\n${tail(proc.lines)}`, { cause: err });
  }
}

export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields are counted after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Field 14 (utime) and 15 (stime) of proc(5); the slice starts at field 3.
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / ticksPerSecond();
  } catch {
    return undefined;
  }
}

/** Bytes the process passed to read(2) and friends: for smtp-sink, what it took off the wire. */
export function readBytes(pid: number): number | undefined {
  try {
    const m = /^rchar:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Peak resident memory (VmHWM) in bytes, or undefined once the process is gone. */
export function peakRssBytes(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s*(\d+)\s*kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Sum of CPU seconds of several processes; a process that is gone counts as missing. */
export function cpuOf(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    const s = cpuSeconds(pid);
    if (s === undefined) throw new Error(`process ${pid} is gone: its CPU time cannot be read`);
    total += s;
  }
  return total;
}
