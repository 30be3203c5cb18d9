/**
 * `npm run -s bounce:classify -- FILE.eml`: prints what a message reports per recipient, as a
 * JSON array of {recipient, status, replyCode, reason, hardBounce} in the order the message
 * lists them (`[]` for a message that is not a bounce). Exit 0 when the file was read, 2 for
 * wrong usage or a file that cannot be read.
 */
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { classifyReport } from './corpus.ts';
import { MAX_MESSAGE_BYTES } from './limits.ts';
import { parseBounce } from './parse.ts';

const USAGE = 'usage: npm run -s bounce:classify -- FILE.eml';

const READ_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory, not a message file',
};

/**
 * The first bytes of the file, one more than the parser reads, so that a huge file costs no
 * more memory than a long message and the parser still sees that it was cut.
 */
async function readBounded(path: string): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const buf = Buffer.alloc(MAX_MESSAGE_BYTES + 1);
    let filled = 0;
    while (filled < buf.length) {
      const { bytesRead } = await file.read(buf, filled, buf.length - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buf.subarray(0, filled);
  } finally {
    await file.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length !== 1 || argv[0] === '' || argv[0]?.startsWith('-')) {
    const what =
      argv.length === 0
        ? 'no file given'
        : argv.length > 1
          ? `${argv.length} arguments given, one file expected`
          : `unknown option ${argv[0]}`;
    process.stderr.write(`bounce:classify: ${what}\n${USAGE}\n`);
    return 2;
  }
  const path = argv[0] ?? '';
  let raw: Buffer;
  try {
    // `npm run` starts the script in the repository root; a relative path is the user's.
    raw = await readBounded(resolve(process.env.INIT_CWD ?? process.cwd(), path));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const reason = READ_ERRORS[code] ?? (err instanceof Error ? err.message : String(err));
    process.stderr.write(`bounce:classify: cannot read ${path}: ${reason}\n${USAGE}\n`);
    return 2;
  }
  const report = await parseBounce(raw);
  if (report.kind === 'unparseable' && report.error) {
    process.stderr.write(
      `bounce:classify: ${path} is not readable as a message (${report.error.code}): ${report.error.message}\n`,
    );
  }
  process.stdout.write(`${JSON.stringify(classifyReport(report), null, 2)}\n`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
