/**
 * The capture folder of `npm start`: one `.eml` file per message, as a mailbox stores it after
 * final delivery (a `Return-Path` and a `Delivered-To` per recipient in front, RFC 5321 4.4),
 * and `index.ndjson`, a line per message (file, time, envelope, subject), which the mail view
 * lists and searches without opening every file. At most `retain` messages are kept: past
 * that, the oldest go, a tenth at a time so the index is not rewritten for every message.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { appendFile, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface StoredMessage {
  /** File name in the folder: `<ms since epoch>-<seq>.eml`. */
  file: string;
  receivedAt: number;
  from: string;
  to: string[];
  subject: string;
  size: number;
}

const INDEX_FILE = 'index.ndjson';
/** A message file's name; anything else is not ours to open. */
const MESSAGE_FILE = /^\d{13}-\d{7}\.eml$/;

/** The index, oldest first; lines that do not parse (a crash mid-line) are skipped. */
export function readIndex(dir: string): StoredMessage[] {
  let text: string;
  try {
    text = readFileSync(join(dir, INDEX_FILE), 'utf8');
  } catch {
    return [];
  }
  const out: StoredMessage[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const m = JSON.parse(line) as StoredMessage;
      if (typeof m.file === 'string' && MESSAGE_FILE.test(m.file)) out.push(m);
    } catch {
      // A torn last line.
    }
  }
  return out;
}

/** Removes every captured message and the index. Returns how many messages there were. */
export function cleanCaptureDir(dir: string): number {
  const n = readIndex(dir).length;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return n;
}

/** The subject header of a raw message, unfolded; enough for a list (the view decodes it). */
function subjectOf(raw: Buffer): string {
  const head = raw.subarray(0, Math.min(raw.length, 64 * 1024)).toString('latin1');
  const end = head.search(/\r?\n\r?\n/);
  const m = /^subject:[ \t]*(.*(?:\r?\n[ \t].*)*)/im.exec(end >= 0 ? head.slice(0, end) : head);
  return (m?.[1] ?? '').replace(/\r?\n[ \t]+/g, ' ');
}

export class CaptureStore {
  private seq = 0;
  private count: number;
  /** Stores run one after another, so the index is never rewritten under an append. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dir: string,
    private readonly retain: number,
  ) {
    mkdirSync(dir, { recursive: true });
    this.count = readIndex(dir).length;
  }

  /** Writes the message and its index line; resolves once both are on disk. */
  store(from: string, to: string[], raw: Buffer, receivedAt: number): Promise<void> {
    const next = this.chain.then(() => this.write(from, to, raw, receivedAt));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async write(from: string, to: string[], raw: Buffer, receivedAt: number): Promise<void> {
    const file = `${receivedAt}-${String(++this.seq % 10_000_000).padStart(7, '0')}.eml`;
    const trace = [`Return-Path: <${from}>`, ...to.map((r) => `Delivered-To: ${r}`), ''].join(
      '\r\n',
    );
    const data = Buffer.concat([Buffer.from(trace), raw]);
    await writeFile(join(this.dir, file), data);
    const entry: StoredMessage = {
      file,
      receivedAt,
      from,
      to,
      subject: subjectOf(raw),
      size: data.length,
    };
    await appendFile(join(this.dir, INDEX_FILE), `${JSON.stringify(entry)}\n`);
    this.count++;
    if (this.count > this.retain + Math.ceil(this.retain / 10)) await this.prune();
  }

  private async prune(): Promise<void> {
    const all = readIndex(this.dir);
    const drop = all.slice(0, Math.max(0, all.length - this.retain));
    const keep = all.slice(drop.length);
    const tmp = join(this.dir, `${INDEX_FILE}.tmp`);
    await writeFile(tmp, keep.map((m) => `${JSON.stringify(m)}\n`).join(''));
    await rename(tmp, join(this.dir, INDEX_FILE));
    await Promise.all(drop.map((m) => rm(join(this.dir, m.file), { force: true })));
    this.count = keep.length;
  }

  /** Waits for every store begun so far. */
  async idle(): Promise<void> {
    await this.chain;
  }
}

/** The raw message of `file` in `dir`, or undefined for a name that is not a message's. */
export async function readMessage(dir: string, file: string): Promise<Buffer | undefined> {
  if (!MESSAGE_FILE.test(file)) return undefined;
  try {
    return await readFile(join(dir, file));
  } catch {
    return undefined;
  }
}
