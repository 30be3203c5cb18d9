/**
 * What a process has used so far, read from /proc by its PID: CPU time, bytes read and memory.
 * Each answers undefined once the process is gone (cpuOf, which sums several, fails instead).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clkTck: number | undefined;
/** Clock ticks per second of /proc/<pid>/stat times: asked once; 100 on mainstream Linux builds. */
export function ticksPerSecond(): number {
  if (clkTck === undefined) {
    const n = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim());
    clkTck = Number.isInteger(n) && n > 0 ? n : 100;
  }
  return clkTck;
}

/** A `Name: value` line of /proc/<pid>/<file> as a number (kB fields in bytes). */
function procField(pid: number, file: 'status' | 'io', field: string): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s*(\\d+)(\\s*kB)?`, 'm').exec(
      readFileSync(`/proc/${pid}/${file}`, 'utf8'),
    );
    if (!m) return undefined;
    return Number(m[1]) * (m[2] ? 1024 : 1);
  } catch {
    return undefined;
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

/** Bytes the process passed to read(2) and friends: for smtp-sink, what it took off the wire. */
export function readBytes(pid: number): number | undefined {
  return procField(pid, 'io', 'rchar');
}

/** Peak resident memory (VmHWM) in bytes. */
export function peakRssBytes(pid: number): number | undefined {
  return procField(pid, 'status', 'VmHWM');
}

/** Resident memory (VmRSS) in bytes. */
export function rssBytes(pid: number): number | undefined {
  return procField(pid, 'status', 'VmRSS');
}

/**
 * Samples a process's VmRSS every `everyMs` until stopped; answers the highest value seen.
 * VmHWM would give the peak since the process started, not the peak of one run.
 */
export function sampleRss(pid: number, everyMs = 20): { stop(): number } {
  let peak = rssBytes(pid) ?? Number.NaN;
  const timer = setInterval(() => {
    const v = rssBytes(pid);
    if (v !== undefined && !(v <= peak)) peak = v;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const v = rssBytes(pid);
      if (v !== undefined && !(v <= peak)) peak = v;
      return peak;
    },
  };
}
