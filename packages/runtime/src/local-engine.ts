/**
 * The record of the local engine (`npm start`) in its state folder: `engine.json`, written by
 * the supervisor and read by anything that wants to reach it (`npm run admin`, `npm run demo`,
 * a second `npm start`). Its creation is also the lock that makes one engine per folder: it is
 * created with link(2), which fails if the file exists, so two starts cannot both win; a
 * record whose process is gone (or whose PID now belongs to another process) holds nothing.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ROOT } from './launch.ts';

export interface LocalEngineRecord {
  pid: number;
  /** The kernel's start time of `pid` (Linux), so a PID reused by another process is not taken for the engine. */
  processStart: string | undefined;
  startedAt: string;
  /** `starting` until every service is up. */
  state: 'starting' | 'running';
  redisUrl?: string;
  apiUrl?: string;
  /** The key the local API accepts; the file is readable by its owner only. */
  apiKey?: string;
  /**
   * The file in the state folder holding the engine's VOLLEY_DKIM_SECRET, which `npm run admin`
   * seals domain keys with; absent when the engine was given the secret in its environment.
   */
  dkimSecretFile?: string;
  mailViewUrl?: string;
  /** Each service's /metrics port. */
  metricsPorts?: Record<string, number>;
  /** Every process the engine runs, by name (redis, api, sender, ...). */
  pids?: Record<string, number>;
}

/** The state folder of the local engine: VOLLEY_LOCAL_DIR, relative to the repository root. */
export function localStateDir(env: Record<string, string | undefined> = process.env): string {
  return resolve(ROOT, env.VOLLEY_LOCAL_DIR?.trim() || '.volley');
}

const RECORD = 'engine.json';

/** The kernel's start time of a process (field 22 of /proc/PID/stat), or undefined off Linux. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; fields after it are plain.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the process that wrote `record` is still that process. */
function isAlive(record: LocalEngineRecord): boolean {
  if (!isRunning(record.pid)) return false;
  const now = processStart(record.pid);
  return record.processStart === undefined || now === undefined || now === record.processStart;
}

function parse(text: string): LocalEngineRecord | undefined {
  try {
    const o = JSON.parse(text) as Partial<LocalEngineRecord>;
    if (typeof o.pid !== 'number' || typeof o.startedAt !== 'string') return undefined;
    return o as LocalEngineRecord;
  } catch {
    return undefined;
  }
}

/** The engine that runs with state in `dir`, or undefined when none does. */
export function runningEngine(dir: string): LocalEngineRecord | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, RECORD), 'utf8');
  } catch {
    return undefined;
  }
  const record = parse(text);
  return record && isAlive(record) ? record : undefined;
}

/** Writes `data` to `path` in one step (a reader never sees half a file). */
function writeWhole(path: string, data: string): string {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  return tmp;
}

export type LockResult = { ok: true; lock: EngineLock } | { ok: false; holder: LocalEngineRecord };

export interface EngineLock {
  record: LocalEngineRecord;
  /** Rewrites the record (this process still holds it) with what clients need. */
  update(fields: Partial<LocalEngineRecord>): void;
  /** Removes the record, if it is still this process's. */
  release(): void;
}

/**
 * Takes the state folder for this process, or names the live engine that holds it. A record
 * left by a dead engine is removed first, under a second lock (`engine.json.break`) so that
 * two starts that both found it stale cannot remove each other's new record.
 */
export function lockStateDir(dir: string): LockResult {
  const path = join(dir, RECORD);
  const record: LocalEngineRecord = {
    pid: process.pid,
    processStart: processStart(process.pid),
    startedAt: new Date().toISOString(),
    state: 'starting',
  };
  // Three rounds: a stale record is broken in one, and a race with another start is lost in
  // the next; more would only mean a folder that keeps changing under us.
  for (let round = 0; round < 3; round++) {
    const tmp = writeWhole(path, JSON.stringify(record, null, 2));
    try {
      linkSync(tmp, path);
      rmSync(tmp, { force: true });
      return { ok: true, lock: ownLock(path, record) };
    } catch (err) {
      rmSync(tmp, { force: true });
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue; // removed in between: try again
    }
    const holder = parse(text);
    if (holder && isAlive(holder)) return { ok: false, holder };
    breakStale(path, text);
  }
  throw new Error(`could not lock ${dir}: another start keeps changing ${RECORD}`);
}

function breakStale(path: string, staleText: string): void {
  const breaker = `${path}.break`;
  const tmp = writeWhole(breaker, String(process.pid));
  try {
    linkSync(tmp, breaker);
  } catch {
    // Another start is breaking it. A breaker left by a start that died here is old: remove
    // it so the next round can proceed.
    const other = Number(readFileSync(breaker, 'utf8'));
    if (!Number.isInteger(other) || !isRunning(other)) rmSync(breaker, { force: true });
    return;
  } finally {
    rmSync(tmp, { force: true });
  }
  try {
    let now = '';
    try {
      now = readFileSync(path, 'utf8');
    } catch {
      return;
    }
    if (now === staleText) rmSync(path, { force: true });
  } finally {
    rmSync(breaker, { force: true });
  }
}

function ownLock(path: string, record: LocalEngineRecord): EngineLock {
  let current = record;
  const mine = (): boolean => parse(readFileSafe(path))?.pid === process.pid;
  return {
    get record() {
      return current;
    },
    update(fields) {
      if (!mine()) return;
      current = { ...current, ...fields };
      renameSync(writeWhole(path, JSON.stringify(current, null, 2)), path);
    },
    release() {
      if (mine()) rmSync(path, { force: true });
    },
  };
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
