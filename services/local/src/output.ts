/**
 * What the local engine prints: its own lines and every service's log lines, each with a time.
 * On a terminal, short readable lines; anywhere else (a pipe, a file, CI), JSON lines as the
 * services write them, so the output can be searched and parsed.
 */
import {
  lineWriter,
  parseRecord,
  prettyRecord,
  resolveLogFormat,
  type LogFormat,
} from '@volley/runtime';

export class Output {
  private readonly write = lineWriter(1);
  readonly format: LogFormat;
  private readonly color: boolean;

  constructor(configured: LogFormat | undefined) {
    this.format = resolveLogFormat(configured);
    this.color = this.format === 'pretty' && Boolean(process.stdout.isTTY);
  }

  private record(record: Record<string, unknown>): void {
    this.write(
      `${this.format === 'json' ? JSON.stringify(record) : prettyRecord(record, this.color)}\n`,
    );
  }

  /** A line of the engine itself; `fields` go into the JSON record, or after the text. */
  say(msg: string, fields: Record<string, unknown> = {}, level = 30): void {
    this.record({ level, time: new Date().toISOString(), service: 'volley', msg, ...fields });
  }

  /** A line printed by a service or by redis-server. */
  line(name: string, raw: string): void {
    const record = parseRecord(raw);
    if (record && this.format === 'json') this.write(`${raw}\n`);
    // Plain text (a start-up error on stderr, Redis's log) becomes a record like the rest.
    else
      this.record(record ?? { level: 30, time: new Date().toISOString(), service: name, msg: raw });
  }
}
