/** Progress lines go to stderr, so that stdout carries only the Markdown report. */
export function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}
