/** What a result was measured on: the machine, the commit, and how busy the machine was. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, type } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '@volley/runtime';
import { fmt } from './format.ts';

export interface Machine {
  cpuModel: string;
  cores: number;
  node: string;
  /** The version of the run's own redis-server, once a run has asked it. */
  redis: string;
  os: string;
  commit: string;
  loadAvgStart: number[];
  loadAvgEnd: number[];
}

/** What a command prints, trimmed, run from the repository root; undefined when it fails. */
export function commandOutput(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** The installed version of an npm package, or `unknown`. */
export function packageVersion(name: string): string {
  try {
    const pkg = JSON.parse(
      readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8'),
    ) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The commit measured, and how many paths were uncommitted: work in progress changes the engine. */
export function commitLabel(): string {
  const commit = commandOutput('git', ['rev-parse', '--short=12', 'HEAD']);
  const dirty = commandOutput('git', ['status', '--porcelain']);
  return commit
    ? `${commit}${dirty ? ` (with uncommitted changes in ${dirty.split('\n').length} paths)` : ''}`
    : 'unknown';
}

/** The machine at the start of a benchmark; `redis` and `loadAvgEnd` are filled in later. */
export function describeMachine(): Machine {
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    redis: 'unknown',
    os: `${type()} ${release()}`,
    commit: commitLabel(),
    loadAvgStart: loadavg(),
    loadAvgEnd: [],
  };
}

/** A file name's time stamp: 2026-11-28T04:28:21.123Z is 20261128T042821Z. */
export function fileStamp(iso: string): string {
  return iso.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** A report's "Machine" section: `extra` rows after Redis, the flags of the run last. */
export function machineSection(m: Machine, extra: [string, string][], flags: string): string[] {
  const row = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  const load = (l: number[]): string => fmt(l[0] ?? Number.NaN, 2);
  return [
    '## Machine',
    '',
    row(['', '']),
    row(['---', '---']),
    row(['CPU', `${m.cpuModel}, ${m.cores} cores`]),
    row(['OS', m.os]),
    row(['Node', m.node]),
    row(['Redis', m.redis]),
    ...extra.map(row),
    row(['commit', m.commit]),
    row(['load average at start / end (1 min)', `${load(m.loadAvgStart)} / ${load(m.loadAvgEnd)}`]),
    row(['flags', `\`${flags}\``]),
    '',
  ];
}
