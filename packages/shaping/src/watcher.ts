import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { PolicyError } from './policy-error.ts';
import { parsePolicy } from './policy-parse.ts';
import type { Policy } from './policy.ts';

export interface PolicyWatcherEvents {
  /** A new valid policy is in force. */
  change: [policy: Policy];
  /** A new file content was refused; the previous policy stays in force. */
  invalid: [error: PolicyError];
}

export interface PolicyWatcherOptions {
  /**
   * Quiet time after the last file event before the file is read: editors and `kubectl`
   * write in several steps, and one reload should see the finished file.
   * @defaultValue 200
   */
  debounceMs?: number;
}

export type ReloadResult =
  | { status: 'changed'; policy: Policy }
  | { status: 'unchanged'; policy: Policy }
  | { status: 'invalid'; error: PolicyError; policy: Policy };

async function readPolicy(path: string): Promise<{ text: string } | { error: PolicyError }> {
  try {
    return { text: await readFile(path, 'utf8') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const reason =
      code === 'ENOENT'
        ? 'the file does not exist; check VOLLEY_SHAPING_POLICY'
        : `the file cannot be read (${code}); check its path and permissions`;
    return { error: new PolicyError(basename(path), [{ line: 1, column: 1, reason }]) };
  }
}

/**
 * Keeps the shaping policy of a file in force: loads it, reloads it when the file changes
 * (`fs.watch` on its folder, so files replaced by a rename, like Kubernetes ConfigMaps, are
 * seen) and when {@link reload} is called (the sender calls it on SIGHUP). A new content that
 * is invalid is refused with its line and reason, and the previous policy stays in force.
 */
export class PolicyWatcher extends EventEmitter<PolicyWatcherEvents> {
  private current: Policy;
  /** The last content read, valid or not (undefined: unreadable): not reported twice. */
  private lastText: string | undefined;
  private fsWatcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly path: string,
    policy: Policy,
    text: string,
    private readonly debounceMs: number,
  ) {
    super();
    this.current = policy;
    this.lastText = text;
  }

  /**
   * Loads the file and starts watching it. Throws {@link PolicyError} when the file is
   * missing or invalid: a service must not start on a policy it cannot read.
   */
  static async open(path: string, opts: PolicyWatcherOptions = {}): Promise<PolicyWatcher> {
    const file = resolve(path);
    const read = await readPolicy(file);
    if ('error' in read) throw read.error;
    const policy = parsePolicy(read.text, basename(file));
    const w = new PolicyWatcher(file, policy, read.text, opts.debounceMs ?? 200);
    w.watch();
    return w;
  }

  /** The policy in force. */
  get policy(): Policy {
    return this.current;
  }

  /**
   * Reads the file again now. Reports the outcome to the caller (for its log line), and to
   * listeners: `change` for a new valid policy, `invalid` for a refused one.
   */
  reload(): Promise<ReloadResult> {
    return this.enqueue(true);
  }

  /** Stops watching; the policy in force stays readable. */
  close(): void {
    clearTimeout(this.timer);
    this.fsWatcher?.close();
    this.fsWatcher = undefined;
  }

  private watch(): void {
    const name = basename(this.path);
    this.fsWatcher = watch(dirname(this.path), { persistent: false }, () => {
      // Every event in the folder counts: a ConfigMap update renames `..data`, not the file.
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        void this.enqueue(false);
      }, this.debounceMs);
    });
    this.fsWatcher.on('error', (err) => {
      const reason = `stopped watching the folder (${err.message}); SIGHUP still reloads ${name}`;
      this.emit('invalid', new PolicyError(name, [{ line: 1, column: 1, reason }]));
    });
  }

  /** One load at a time, in call order, so an older read never overwrites a newer one. */
  private enqueue(explicit: boolean): Promise<ReloadResult> {
    const next = this.queue.then(() => this.load(explicit));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async load(explicit: boolean): Promise<ReloadResult> {
    const read = await readPolicy(this.path);
    const text = 'text' in read ? read.text : undefined;
    const fresh = text !== this.lastText;
    this.lastText = text;
    if (!fresh && !explicit) return { status: 'unchanged', policy: this.current };
    let error: PolicyError;
    if ('error' in read) error = read.error;
    else {
      try {
        const policy = parsePolicy(read.text, basename(this.path));
        if (!fresh) return { status: 'unchanged', policy: this.current };
        this.current = policy;
        this.emit('change', policy);
        return { status: 'changed', policy };
      } catch (err) {
        if (!(err instanceof PolicyError)) throw err;
        error = err;
      }
    }
    this.emit('invalid', error);
    return { status: 'invalid', error, policy: this.current };
  }
}
