/**
 * The one way the tests and the benchmarks start a process: a program, a TypeScript file of
 * the repository, or a Volley service in a Node process of its own. Every process started here
 * is recorded until it exits, so that none outlives whoever started it: `stopAll` stops them by
 * PID (SIGTERM, then SIGKILL), `stopAllOnSignals` does so on Ctrl-C and SIGTERM, and when this
 * process exits any way at all (an uncaught error included) whatever is still running is killed.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { superviseChild, type ChildHandle } from './process.ts';

/** The repository root: TypeScript files are started from here, where tsx resolves. */
export const ROOT = resolve(import.meta.dirname, '../../..');

/**
 * The export condition under which each workspace's package.json names its TypeScript sources.
 * Without it Node takes the `default` target, the JavaScript that `npm run build` compiles into
 * `dist/`: what production runs. Development, tests and benchmarks run the sources through tsx,
 * so that a change needs no build and a stale `dist/` can never be what a test judged.
 */
const SOURCE_CONDITION = '@volley/source';

/** Node's options that run a TypeScript file of the repository: tsx, on the workspaces' sources. */
export const TSX_NODE_ARGS: readonly string[] = [
  '--import',
  'tsx',
  `--conditions=${SOURCE_CONDITION}`,
];

/** Anything this process started and must stop: a launched child or an adopted server. */
interface Running {
  stop(graceMs: number): Promise<unknown>;
  /** Synchronous last resort, for `process.on('exit')`. */
  killNow(): void;
}

const running = new Set<Running>();
let exitHooked = false;

function record(entry: Running): void {
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', () => {
      for (const r of running) r.killNow();
    });
  }
  running.add(entry);
}

export interface LaunchOptions {
  /** The child's whole environment; without it the child inherits this process's. */
  env?: Record<string, string>;
  cwd?: string;
  /** Every line the process prints (stdout and stderr), beyond the last ones kept in `lines`. */
  onLine?: (line: string) => void;
  /** Lines kept for `lines` and error messages (tests keep a run's whole output). */
  keepLines?: number;
  /** Runs the process as this user and group (only root may ask for another). */
  user?: { uid: number; gid: number };
  /**
   * In a process group of its own, as a shell runs a foreground job: signal the group
   * (`process.kill(-pid, 'SIGINT')`) to do what Ctrl-C in its terminal does.
   */
  processGroup?: boolean;
}

/** Lines kept by default: enough context for an error message without unbounded memory. */
const KEEP_LINES = 200;

/** Starts `command` with its output piped and watched; see the module comment for stopping. */
export function launch(
  name: string,
  command: string,
  args: string[],
  opts: LaunchOptions = {},
): ChildHandle {
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: opts.cwd,
    detached: opts.processGroup === true,
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.user ? { uid: opts.user.uid, gid: opts.user.gid } : {}),
  });
  if (child.pid === undefined) {
    // spawn reports ENOENT asynchronously; a missing pid means the start failed.
    child.once('error', () => undefined);
    throw new Error(`could not start ${name} (${command}): is it installed?`);
  }
  const handle = superviseChild(name, child, opts.keepLines ?? KEEP_LINES, opts.onLine);
  const entry: Running = {
    stop: (graceMs) => handle.stop('SIGTERM', graceMs),
    killNow: () => {
      if (handle.running()) child.kill('SIGKILL');
    },
  };
  record(entry);
  void handle.exited.then(() => running.delete(entry));
  return handle;
}

export interface TsLaunchOptions extends Omit<LaunchOptions, 'env' | 'cwd'> {
  /** Added to PATH and HOME, the only variables of this process the child gets. */
  env?: Record<string, string>;
  /** Options for Node itself: a heap limit, say. */
  nodeArgs?: string[];
  /**
   * Writes V8 CPU profiles into this folder. A folder per process: tsx's loader thread writes
   * a profile of its own next to the main one.
   */
  cpuProfileDir?: string;
}

/** Starts a TypeScript file of the repository (`script`, from the root) in its own Node process. */
export function launchTs(name: string, script: string, opts: TsLaunchOptions = {}): ChildHandle {
  return launchNode(name, [...TSX_NODE_ARGS, join(ROOT, script)], opts);
}

/** Node with `args` (options, then the file), profiled if asked, in a clean environment. */
function launchNode(name: string, args: string[], opts: TsLaunchOptions): ChildHandle {
  const { env, nodeArgs = [], cpuProfileDir, ...rest } = opts;
  const profile = cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`] : [];
  return launch(name, process.execPath, [...nodeArgs, ...profile, ...args], {
    ...rest,
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
  });
}

/** How a service is run: its TypeScript through tsx, or the JavaScript compiled into `dist/`. */
export type ServiceRuntime = 'tsx' | 'compiled';

export interface ServiceLaunchOptions extends TsLaunchOptions {
  name?: string;
  /** @defaultValue 'tsx' */
  runtime?: ServiceRuntime;
}

/** The compiled entry point of a service; fails, saying how to make it, if it is not built. */
function compiledEntry(service: string): string {
  const file = join(ROOT, 'services', service, 'dist', 'main.js');
  if (!existsSync(file)) {
    throw new Error(`${file} does not exist: run \`npm run build\` to compile the services`);
  }
  return file;
}

/**
 * Starts a service as a deployment runs it: its own process, configured only through its
 * environment, logging at info unless `env` says otherwise. `runtime: 'compiled'` runs plain
 * `node` on `services/<service>/dist/main.js`, without tsx, resolving every workspace to its
 * compiled `dist/` as the container image does.
 */
export function launchService(service: string, opts: ServiceLaunchOptions = {}): ChildHandle {
  const { name = service, env, runtime = 'tsx', ...rest } = opts;
  const withEnv = { ...rest, env: { VOLLEY_LOG_LEVEL: 'info', ...env } };
  return runtime === 'compiled'
    ? launchNode(name, [compiledEntry(service)], withEnv)
    : launchTs(name, `services/${service}/src/main.ts`, withEnv);
}

/**
 * Records a process started by a helper that owns it (redis-server through @volley/redis), so
 * that it is stopped with the others. Returns the function to stop it with.
 */
export function adopt(pid: number, stop: () => Promise<void>): () => Promise<void> {
  const entry: Running = {
    stop: async () => {
      await stop();
      running.delete(entry);
    },
    killNow: () => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    },
  };
  record(entry);
  return async () => {
    await entry.stop(0);
  };
}

/** Stops every process still running, each by its own PID, all at once: SIGTERM, then SIGKILL. */
export async function stopAll(graceMs = 5000): Promise<void> {
  await Promise.all([...running].map((r) => r.stop(graceMs)));
}

/**
 * On Ctrl-C or SIGTERM: stops every process started here, then exits with the conventional
 * 128 + signal status. A second signal kills them at once.
 */
export function stopAllOnSignals(label: string, graceMs = 5000): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    const status = signal === 'SIGINT' ? 130 : 143;
    // The exit hook kills what is left.
    if (stopping) process.exit(status);
    stopping = true;
    process.stderr.write(`\n${label}: ${signal}: stopping every process it started...\n`);
    stopAll(graceMs)
      .catch(() => undefined)
      .finally(() => process.exit(status));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
