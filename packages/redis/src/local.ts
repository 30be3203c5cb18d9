import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer } from 'node:net';
import { portIsFree, waitForPort } from '@volley/runtime';

export interface LocalRedis {
  url: string;
  port: number;
  pid: number;
  /** Resolves when the server has exited, whoever stopped it. */
  exited: Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL after a grace period) and waits for its exit. */
  stop(): Promise<void>;
}

const CANDIDATES = ['redis-server', '/usr/bin/redis-server', '/usr/local/bin/redis-server'];

/** The redis-server binary on this machine, or undefined. */
export function findRedisServer(): string | undefined {
  for (const bin of CANDIDATES) {
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return bin;
  }
  return undefined;
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A server left running by an earlier run that was killed (SIGKILL leaves children behind)
 * would share the data folder with the new one; it is stopped first. Only a process whose
 * command line is redis-server, working in this data folder, is signalled. Whoever calls this must own
 * the folder (the local engine holds its lock): a live engine's server is not stale.
 */
async function stopStale(pidFile: string, dataDir: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 1) return;
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    // Only the server of this data folder (redis-server works in its --dir; it rewrites its
    // command line, so the folder is not there): a PID reused by another Redis is left alone.
    if (cmd.includes('redis-server') && readlinkSync(`/proc/${pid}/cwd`) === resolve(dataDir)) {
      process.kill(pid, 'SIGTERM');
      // A process exit of another tree has no event to await: poll /proc for up to 10 s.
      for (let i = 0; i < 200 && existsSync(`/proc/${pid}`); i++) await sleep(50);
    }
  } catch {
    // Not running any more.
  }
  rmSync(pidFile, { force: true });
}

export interface LocalRedisOptions {
  /** Folder for the AOF and RDB files; none means an in-memory server. */
  dataDir?: string;
  port?: number;
  /** A port to try first; when it is taken, a free one is used instead. */
  preferredPort?: number;
  /** Forwarded lines of the server's log, for debugging. */
  onLog?: (line: string) => void;
  /** More redis-server arguments (cluster mode, say); they come last and win. */
  extraArgs?: string[];
}

/**
 * Starts redis-server as a child process on loopback. Used by `npm start`, the tests and
 * the benchmarks; never a mock.
 */
export async function startLocalRedis(opts: LocalRedisOptions = {}): Promise<LocalRedis> {
  const bin = findRedisServer();
  if (!bin) {
    throw new Error(
      'redis-server was not found on PATH. Install it (Debian/Ubuntu: `sudo apt-get install -y redis-server`) ' +
        'or point REDIS_URL at a running Redis.',
    );
  }
  if (opts.dataDir) {
    mkdirSync(opts.dataDir, { recursive: true });
    // Before a port is chosen: the stale server may hold the port this one should have.
    await stopStale(join(opts.dataDir, 'redis.pid'), opts.dataDir);
  }
  for (let tries = 0; ; tries++) {
    // The preferred port is checked first: a server already on it would answer the readiness
    // probe below in place of ours.
    const preferred =
      tries === 0 && opts.preferredPort && (await portIsFree(opts.preferredPort))
        ? opts.preferredPort
        : undefined;
    const port = opts.port ?? preferred ?? (await freePort());
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'yes'];
    args.push('--save', '', '--daemonize', 'no', '--loglevel', 'warning');
    if (opts.dataDir) {
      args.push('--dir', opts.dataDir, '--appendonly', 'yes', '--appendfsync', 'everysec');
    } else {
      args.push('--appendonly', 'no');
    }
    args.push(...(opts.extraArgs ?? []));
    // Its own process group: a Ctrl-C in the terminal must not stop Redis before the services
    // that still write to it have drained; the owner stops it last.
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const forward = (buf: Buffer): void => {
      for (const line of buf.toString().split('\n')) if (line.trim()) opts.onLog?.(line);
    };
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
    try {
      const exited = new Promise((r) => child.once('exit', r));
      await waitForPort(port, { what: 'redis-server', timeoutMs: 10_000, exited });
    } catch (err) {
      child.kill('SIGKILL');
      // Another process may have taken the port between freePort() and the bind.
      if (opts.port === undefined && tries < 3) continue;
      throw err;
    }
    if (opts.dataDir) writeFileSync(join(opts.dataDir, 'redis.pid'), String(child.pid));
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      pid: child.pid ?? -1,
      exited,
      async stop() {
        if (child.exitCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }
      },
    };
  }
}
