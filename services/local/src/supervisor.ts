/**
 * The local engine's services as child processes: started as a deployment starts them, each
 * in its own process group (so Ctrl-C reaches only the supervisor, which stops them in order,
 * one SIGTERM each, and senders drain instead of seeing a second signal and quitting), and
 * stopped within a deadline: whatever still runs after it is killed, so no process outlives
 * the engine whatever state Redis is in.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT, TSX_NODE_ARGS } from '@volley/runtime';

export const SERVICES = ['api', 'sender', 'bounce', 'collector'] as const;
export type Service = (typeof SERVICES)[number];

/** The line each service logs once it serves; the supervisor waits for all four. */
const STARTED: Record<Service, string> = {
  api: 'api listening',
  sender: 'sender started',
  bounce: 'bounce started',
  collector: 'collector started',
};

export interface Started {
  metricsPort?: number;
  address?: string;
}

export interface ServiceChild {
  name: Service;
  child: ChildProcess;
  /** Resolves with what the service reported when it started serving. */
  started: Promise<Started>;
  exited: Promise<void>;
}

export function startService(
  name: Service,
  env: NodeJS.ProcessEnv,
  onLine: (name: Service, line: string) => void,
): ServiceChild {
  const child = spawn(
    process.execPath,
    [...TSX_NODE_ARGS, resolve(ROOT, `services/${name}/src/main.ts`)],
    {
      cwd: ROOT,
      env: { ...env, VOLLEY_PARENT_PID: String(process.pid) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  const exited = new Promise<void>((done) => {
    child.once('exit', () => done());
    child.once('error', () => done());
  });
  let markStarted: (s: Started) => void = () => undefined;
  const started = new Promise<Started>((done) => (markStarted = done));
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (l) => {
      onLine(name, l);
      if (!l.includes(STARTED[name])) return;
      try {
        const o = JSON.parse(l) as { msg?: unknown; metricsPort?: unknown; address?: unknown };
        if (o.msg !== STARTED[name]) return;
        markStarted({
          ...(typeof o.metricsPort === 'number' ? { metricsPort: o.metricsPort } : {}),
          ...(typeof o.address === 'string' ? { address: o.address } : {}),
        });
      } catch {
        // Not a log record.
      }
    });
  }
  return { name, child, started, exited };
}

function running(c: ChildProcess): boolean {
  return c.exitCode === null && c.signalCode === null;
}

/**
 * SIGTERM to each child, then SIGKILL to any still running after `deadlineMs`. Resolves with
 * the names of those that had to be killed.
 */
export async function stopChildren(
  children: readonly ServiceChild[],
  deadlineMs: number,
): Promise<Service[]> {
  const killed: Service[] = [];
  const timer = setTimeout(() => {
    for (const c of children) {
      if (running(c.child)) {
        killed.push(c.name);
        c.child.kill('SIGKILL');
      }
    }
  }, deadlineMs);
  for (const c of children) if (running(c.child)) c.child.kill('SIGTERM');
  await Promise.all(children.map((c) => c.exited));
  clearTimeout(timer);
  return killed;
}
