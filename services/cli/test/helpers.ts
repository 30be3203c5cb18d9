/**
 * The CLI as an operator runs it: its own Node process (`npm run volley` without npm's banner)
 * against the API served over HTTP by a real engine (Redis, API, sender processes, a capture
 * SMTP server) from services/sender's test harness.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Harness, KEY, sharedRedis } from '@volley/sender/test-harness';
import { ROOT, TSX_NODE_ARGS } from '@volley/testkit';
import { runCli as runCliHere } from '../src/program.ts';

export const CLI = join(ROOT, 'services/cli/src/main.ts');
export const ADMIN_KEY = 'cli-admin-key-0123456789abcdef';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Engine {
  harness: Harness;
  url: string;
  /** The environment of a CLI run against this engine. */
  env: Record<string, string>;
  dir: string;
  stop(): Promise<void>;
}

type HarnessOptions = Parameters<Harness['start']>[0];

export async function startEngine(
  senders = 1,
  api: HarnessOptions['api'] = {},
  more: Pick<HarnessOptions, 'capture' | 'env'> = {},
): Promise<Engine> {
  const redis = await sharedRedis();
  const harness = new Harness(redis.redis, redis.url);
  await harness.start({ senders, api: { adminKey: ADMIN_KEY, ...api }, ...more });
  const url = await harness.app.listen({ host: '127.0.0.1', port: 0 });
  const dir = mkdtempSync(join(tmpdir(), 'volley-cli-'));
  return {
    harness,
    url,
    dir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      VOLLEY_API_URL: url,
      VOLLEY_API_KEY: KEY,
      // No engine record here: the CLI must not find the checkout's `npm start`.
      VOLLEY_LOCAL_DIR: dir,
    },
    async stop() {
      await harness.stop();
      await redis.stop();
    },
  };
}

export function spawnCli(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [...TSX_NODE_ARGS, CLI, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function runCli(args: string[], env: Record<string, string>): Promise<Run> {
  return finished(spawnCli(args, env));
}

export function finished(child: ChildProcess): Promise<Run> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Every stdout line parsed as JSON (failing on a line that is not). */
export function jsonLines(out: string): Record<string, unknown>[] {
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Writes a file into `dir` and answers its path. */
export function file(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/**
 * `volley campaign send` of the definition in `dir` (see DEFINITION) to the recipients in
 * `list`, started and watched to its end.
 */
export function sendAndWatch(dir: string, list: string): string[] {
  return [
    'campaign',
    'send',
    join(dir, 'campaign.yaml'),
    '--recipients',
    list,
    '--start',
    '--watch',
    '--interval',
    '200',
  ];
}

export const DEFINITION = `from: Volley Test <news@sender.example>
subject: Hello {{name}}
htmlFile: body.html
headers:
  X-Campaign: cli-test
`;

/** The CLI in this process, piped (no terminal): for the checks that need no separate process. */
export async function inProcess(args: string[], env: Record<string, string>): Promise<Run> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (b: Buffer) => (out += b.toString()));
  stderr.on('data', (b: Buffer) => (err += b.toString()));
  // No Ctrl-C comes in this process: a claim never resolves.
  const interrupts = { claim: () => ({ interrupted: new Promise<void>(() => {}), release() {} }) };
  const code = await runCliHere(args, { stdout, stderr }, env, interrupts);
  return { code, stdout: out, stderr: err };
}
