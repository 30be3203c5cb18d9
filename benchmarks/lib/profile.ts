/**
 * Summary of the V8 CPU profiles written with `--profile`: where the API and sender spend their
 * CPU, by package and by function (self time), so a bottleneck can be named without a browser.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: a workspace package, an npm package, Node's internals, or V8. */
function owner(url: string, fn: string): string {
  const ws = /\/(packages|services)\/([^/]+)\//.exec(url);
  if (ws && !url.includes('node_modules')) return `${ws[1]}/${ws[2]}`;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm?.[1]) return nm[1];
  if (url.startsWith('node:')) return 'node internals';
  if (fn.startsWith('(')) return fn;
  return '(native code: syscalls, buffers, V8 builtins)';
}

function shortUrl(url: string): string {
  return url
    .replace(/^.*node_modules\//, '')
    .replace(/^.*\/(packages|services)\//, '$1/')
    .replace(/^file:\/\//, '');
}

function table(m: Map<string, number>, total: number, n: number): string[] {
  return [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `| ${((100 * v) / total).toFixed(1)}% | ${k.replace(/\|/g, '\\|')} |`);
}

/** The profile of a process's main thread: the largest file in its folder (the loader thread's is small). */
function mainProfile(dir: string): string | undefined {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f));
  return files.sort((a, b) => statSync(b).size - statSync(a).size)[0];
}

/** A span of the monotonic clock (µs, as `process.hrtime` and V8's profiles count it). */
export interface ProfileWindow {
  fromUs: number;
  toUs: number;
}

/** Now on the clock CPU profiles use (µs), to mark a window for `summarizeProfiles`. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Markdown summary of every process folder under `profilesDir`; busy time only (idle left out).
 * With `windowOf`, each process counts only the samples inside the window it answers for the
 * folder's name, and the summary gives its busy share of that window.
 */
export function summarizeProfiles(
  profilesDir: string,
  top = 25,
  windowOf?: (processName: string) => ProfileWindow | undefined,
): string {
  if (!existsSync(profilesDir)) return '';
  const out: string[] = ['# CPU profiles (share of busy time, idle excluded)', ''];
  for (const name of readdirSync(profilesDir).sort()) {
    const dir = join(profilesDir, name);
    if (!statSync(dir).isDirectory()) continue;
    const file = mainProfile(dir);
    if (!file) continue;
    const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const window = windowOf?.(name);
    const byNode = new Map<number, number>();
    let at = p.startTime;
    p.samples.forEach((id, i) => {
      const dt = p.timeDeltas[i] ?? 0;
      at += dt;
      if (window && (at < window.fromUs || at > window.toUs)) return;
      byNode.set(id, (byNode.get(id) ?? 0) + dt);
    });
    const byOwner = new Map<string, number>();
    const byFn = new Map<string, number>();
    let busy = 0;
    for (const node of p.nodes) {
      const t = byNode.get(node.id) ?? 0;
      const cf = node.callFrame;
      if (cf.functionName === '(idle)' || t === 0) continue;
      busy += t;
      const o = owner(cf.url, cf.functionName);
      byOwner.set(o, (byOwner.get(o) ?? 0) + t);
      const fn =
        `${cf.functionName || '(anonymous)'} ${cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : ''}`.trim();
      byFn.set(fn, (byFn.get(fn) ?? 0) + t);
    }
    const inWindow = window
      ? ` of a ${((window.toUs - window.fromUs) / 1e6).toFixed(2)} s window (${((100 * busy) / (window.toUs - window.fromUs)).toFixed(0)}% of a core)`
      : '';
    out.push(
      `## ${name}: ${(busy / 1e6).toFixed(1)} s busy${inWindow}`,
      '',
      `Profile: \`${file}\``,
      '',
    );
    out.push('| share | package |', '| ---: | --- |', ...table(byOwner, busy, 15), '');
    out.push('| share | function (self time) |', '| ---: | --- |', ...table(byFn, busy, top), '');
  }
  return out.join('\n');
}
