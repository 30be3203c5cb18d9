/** `volley campaign …`: send, upload, watch, list, show, start, pause, resume, cancel, events, stats. */
import { extname } from 'node:path';
import { uploadRecipients, type RecipientFormat, type VolleyClient } from '@volley/api-client';
import { ok } from './api.ts';
import { apiTarget, clientFor, type Target } from './config.ts';
import type { CommandContext, Exit } from './context.ts';
import { readDefinition } from './definition.ts';
import { type Output, UsageError, table } from './output.ts';
import { formatCount, formatDuration } from './progress.ts';
import { streamFile } from './upload.ts';
import { watchCampaign } from './watch.ts';

export const STATUSES = [
  'draft',
  'scheduled',
  'running',
  'paused',
  'completed',
  'cancelled',
] as const;

interface Api {
  client: VolleyClient;
  target: Target;
}

function api(ctx: CommandContext): Api {
  const target = apiTarget(ctx.env);
  return { client: clientFor(target), target };
}

/** The upload format: --format, else the file's extension. */
function recipientFormat(file: string, format: string | undefined): RecipientFormat {
  if (format === 'csv' || format === 'ndjson') return format;
  if (format !== undefined) throw new UsageError(`--format is csv or ndjson, not ${format}`);
  const ext = extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.ndjson' || ext === '.jsonl') return 'ndjson';
  throw new UsageError(
    `cannot tell the format of ${file} from its name: give --format csv or --format ndjson`,
  );
}

export interface UploadOptions {
  recipients: string;
  format?: string;
  maxInvalid?: number;
}

async function upload(
  out: Output,
  { client, target }: Api,
  id: string,
  o: UploadOptions,
): Promise<void> {
  const format = recipientFormat(o.recipients, o.format);
  const streamed = streamFile(out, o.recipients, 'upload');
  const started = Date.now();
  let result;
  let ended: number;
  try {
    result = await ok(
      uploadRecipients(
        client,
        id,
        format,
        streamed.body,
        o.maxInvalid === undefined ? {} : { maxInvalid: o.maxInvalid },
      ),
      target.baseUrl,
    );
    ended = Date.now();
  } finally {
    await streamed.finish();
  }
  // Up to the API's answer: the progress bar's last frame (finish) is not part of the upload.
  const seconds = (ended - started) / 1000;
  const rate = seconds > 0 ? result.rows / seconds : 0;
  out.emit(
    {
      type: 'upload',
      id,
      ...result,
      bytes: streamed.meter.bytes,
      seconds,
      rowsPerSecond: Math.round(rate),
    },
    () => [
      `uploaded ${formatCount(result.rows)} rows in ${formatDuration(seconds)} (${formatCount(rate)} rows/s): ` +
        `${out.paint('green', `${formatCount(result.added)} added`)}, ${formatCount(result.duplicates)} duplicates, ` +
        `${result.invalid ? out.paint('red', `${formatCount(result.invalid)} invalid`) : '0 invalid'}; the campaign has ${formatCount(result.total)} recipients`,
      ...result.errors.map(
        (e) =>
          `  ${out.paint('red', e.line !== undefined ? `line ${e.line}` : e.path)}: ${e.message}`,
      ),
      ...(result.invalid > result.errors.length
        ? [`  (${formatCount(result.invalid - result.errors.length)} more invalid rows not listed)`]
        : []),
    ],
  );
}

async function start(out: Output, { client, target }: Api, id: string): Promise<string> {
  const res = await ok(
    client.POST('/v1/campaigns/{id}/start', { params: { path: { id } } }),
    target.baseUrl,
  );
  out.emit({ type: 'started', id: res.id, status: res.status }, () => [
    `campaign ${res.id} is ${res.status}`,
  ]);
  return res.status;
}

async function watch(
  ctx: CommandContext,
  out: Output,
  a: Api,
  id: string,
  intervalMs: number,
): Promise<Exit> {
  // Ctrl-C stops this watch only while it runs; the summary after it, and anything before,
  // end on Ctrl-C as usual.
  const claim = ctx.interrupts.claim();
  let r;
  try {
    r = await watchCampaign(a.client, a.target.baseUrl, id, out, {
      intervalMs,
      interrupted: claim.interrupted,
    });
  } finally {
    claim.release();
  }
  if (r.interrupted) return 130;
  return r.status === 'completed' ? 0 : 1;
}

export interface SendOptions extends UploadOptions {
  start?: boolean;
  watch?: boolean;
  interval: number;
  json: boolean;
}

export async function sendCommand(
  ctx: CommandContext,
  file: string,
  o: SendOptions,
): Promise<Exit> {
  const out = ctx.output(o.json);
  // Checked before anything is created: a wrong flag must leave no stray draft behind.
  recipientFormat(o.recipients, o.format);
  const def = readDefinition(file);
  if (o.start && def.sendAt) {
    throw new UsageError(`${file} has a sendAt: the campaign starts then, so give no --start`);
  }
  if (o.watch && !o.start && !def.sendAt) {
    throw new UsageError('--watch needs --start (a draft does not send)');
  }
  const a = api(ctx);
  const created = await ok(
    a.client.POST('/v1/campaigns', { body: def.sendAt ? def : { ...def, draft: true } }),
    a.target.baseUrl,
  );
  out.emit({ type: 'created', id: created.id, status: created.status }, () => [
    `created campaign ${out.paint('bold', created.id)} (${created.status})`,
  ]);
  try {
    await upload(out, a, created.id, o);
  } catch (err) {
    out.note(
      `campaign ${created.id} stays ${created.status}; upload again with: volley campaign upload ${created.id} --recipients FILE`,
    );
    throw err;
  }
  if (o.start) {
    const status = await start(out, a, created.id);
    if (status === 'completed' && !o.watch) return 0;
  }
  if (o.watch) return watch(ctx, out, a, created.id, o.interval);
  return 0;
}

export async function uploadCommand(
  ctx: CommandContext,
  id: string,
  o: UploadOptions & { json: boolean },
): Promise<Exit> {
  recipientFormat(o.recipients, o.format);
  await upload(ctx.output(o.json), api(ctx), id, o);
  return 0;
}

export async function watchCommand(
  ctx: CommandContext,
  id: string,
  o: { interval: number; json: boolean },
): Promise<Exit> {
  return watch(ctx, ctx.output(o.json), api(ctx), id, o.interval);
}

export async function actionCommand(
  ctx: CommandContext,
  action: 'start' | 'pause' | 'resume' | 'cancel',
  id: string,
  o: { json: boolean },
): Promise<Exit> {
  const out = ctx.output(o.json);
  const a = api(ctx);
  if (action === 'start') {
    await start(out, a, id);
    return 0;
  }
  const path = `/v1/campaigns/{id}/${action}` as const;
  const res = await ok(a.client.POST(path, { params: { path: { id } } }), a.target.baseUrl);
  out.emit({ type: action, id: res.id, status: res.status }, () => [
    `campaign ${res.id} is ${res.status}`,
  ]);
  return 0;
}

type Campaign = Awaited<ReturnType<typeof getCampaign>>;

async function getCampaign(a: Api, id: string) {
  return ok(a.client.GET('/v1/campaigns/{id}', { params: { path: { id } } }), a.target.baseUrl);
}

function countsLine(c: Campaign['counts']): string {
  return `${formatCount(c.sent)}/${formatCount(c.total)}`;
}

export interface ListOptions {
  status: string[];
  createdAfter?: string;
  createdBefore?: string;
  limit: number;
  cursor?: string;
  all?: boolean;
  json: boolean;
}

export async function listCommand(ctx: CommandContext, o: ListOptions): Promise<Exit> {
  const out = ctx.output(o.json);
  const a = api(ctx);
  const rows: Campaign[] = [];
  let cursor = o.cursor ?? '';
  let next: string | undefined;
  do {
    const page = await ok(
      a.client.GET('/v1/campaigns', {
        params: {
          query: {
            limit: o.limit,
            cursor,
            ...(o.status.length ? { status: o.status as (typeof STATUSES)[number][] } : {}),
            ...(o.createdAfter ? { createdAfter: o.createdAfter } : {}),
            ...(o.createdBefore ? { createdBefore: o.createdBefore } : {}),
          },
        },
      }),
      a.target.baseUrl,
    );
    if (out.human) rows.push(...page.campaigns);
    else for (const c of page.campaigns) out.json(c);
    next = page.next;
    cursor = next ?? '';
  } while (o.all && next);
  if (out.human) {
    if (rows.length === 0) out.note('no campaigns');
    else {
      table([
        ['ID', 'STATUS', 'CREATED', 'SENT/TOTAL', 'SUBJECT'],
        ...rows.map((c) => [c.id, c.status, c.createdAt, countsLine(c.counts), c.subject]),
      ]).forEach((l) => out.line(l));
    }
    if (next) out.note(`more: volley campaign list --cursor ${next} (or --all)`);
  } else if (next) {
    out.json({ type: 'next', cursor: next });
  }
  return 0;
}

export async function showCommand(
  ctx: CommandContext,
  id: string,
  o: { json: boolean },
): Promise<Exit> {
  const out = ctx.output(o.json);
  const c = await getCampaign(api(ctx), id);
  out.emit(c, () => [
    `${out.paint('bold', c.id)}  ${c.status}`,
    `  from     ${c.from}`,
    `  subject  ${c.subject}`,
    `  created  ${c.createdAt}`,
    ...(c.sendAt ? [`  sendAt   ${c.sendAt}`] : []),
    ...(c.startedAt ? [`  started  ${c.startedAt}`] : []),
    ...(c.completedAt ? [`  ended    ${c.completedAt}`] : []),
    ...(c.cancelledAt ? [`  cancelled ${c.cancelledAt}`] : []),
    ...table(Object.entries(c.counts).map(([k, v]) => [`  ${k}`, formatCount(v)])),
  ]);
  return 0;
}

export async function statsCommand(
  ctx: CommandContext,
  id: string,
  o: { json: boolean },
): Promise<Exit> {
  const out = ctx.output(o.json);
  const a = api(ctx);
  const s = await ok(
    a.client.GET('/v1/campaigns/{id}/stats', { params: { path: { id } } }),
    a.target.baseUrl,
  );
  const reasons = (r: Record<string, number>) =>
    Object.entries(r)
      .sort((x, y) => y[1] - x[1])
      .map(([k, v]) => `${k} ${formatCount(v)}`)
      .join(', ') || '-';
  out.emit(s, () => [
    `${out.paint('bold', s.id)}  ${s.status}  ${(s.progress.fraction * 100).toFixed(1)}% done, ` +
      `${formatCount(s.rate.perSecond)}/s, ETA ${formatDuration(s.eta.seconds)}${s.eta.note ? ` (${s.eta.note})` : ''}`,
    ...table(Object.entries(s.counts).map(([k, v]) => [`  ${k}`, formatCount(v)])),
    `  bounced by reason: ${reasons(s.reasons.bounced)}`,
    `  failed by reason: ${reasons(s.reasons.failed)}`,
    `  complaints: ${reasons(s.feedback.complained)}`,
  ]);
  return 0;
}

export async function eventsCommand(
  ctx: CommandContext,
  id: string,
  o: { limit?: number; json: boolean },
): Promise<Exit> {
  const out = ctx.output(o.json);
  const a = api(ctx);
  let cursor: string | undefined;
  let printed = 0;
  const max = o.limit ?? Number.POSITIVE_INFINITY;
  do {
    const page = await ok(
      a.client.GET('/v1/campaigns/{id}/events', {
        params: {
          path: { id },
          query: { limit: Math.min(1000, max - printed), ...(cursor ? { cursor } : {}) },
        },
      }),
      a.target.baseUrl,
    );
    for (const e of page.events) {
      if (out.human) {
        const colour = e.outcome === 'sent' ? 'green' : e.outcome === 'deferred' ? 'yellow' : 'red';
        out.line(
          `${e.at}  ${out.paint(colour, e.outcome.padEnd(10))} ${e.email}${e.reason ? `  ${e.reason}` : ''}${e.detail ? `  ${e.detail}` : ''}`,
        );
      } else out.json(e);
    }
    printed += page.events.length;
    cursor = page.next;
  } while (cursor && printed < max);
  if (printed === 0 && out.human) out.note('no events yet');
  return 0;
}
