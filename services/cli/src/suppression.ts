/** `volley suppression list|add|remove|import|export`: the tenant's suppression list. */
import { createWriteStream } from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { streamingFetch } from '@volley/api-client';
import { ok } from './api.ts';
import { apiTarget, clientFor } from './config.ts';
import type { CommandContext, Exit } from './context.ts';
import { CliError, table } from './output.ts';
import { formatCount } from './progress.ts';
import { streamFile } from './upload.ts';

export const SOURCES = ['bounce', 'complaint', 'unsubscribe', 'manual'] as const;
type Source = (typeof SOURCES)[number];

export interface FilterOptions {
  reason?: string;
  source?: Source;
  json: boolean;
}

function api(ctx: CommandContext) {
  const target = apiTarget(ctx.env);
  return { client: clientFor(target), base: target.baseUrl };
}

function filter(o: FilterOptions) {
  return { ...(o.reason ? { reason: o.reason } : {}), ...(o.source ? { source: o.source } : {}) };
}

export async function listCommand(
  ctx: CommandContext,
  o: FilterOptions & { limit: number; all?: boolean },
): Promise<Exit> {
  const out = ctx.output(o.json);
  const { client, base } = api(ctx);
  const rows: string[][] = [];
  let cursor: string | undefined;
  do {
    const page = await ok(
      client.GET('/v1/suppressions', {
        params: { query: { limit: o.limit, ...filter(o), ...(cursor ? { cursor } : {}) } },
      }),
      base,
    );
    for (const e of page.entries) {
      if (out.human) rows.push([e.email, e.source, e.reason, e.at ?? '', e.campaignId ?? '']);
      else out.json(e);
    }
    cursor = page.next;
  } while (o.all && cursor);
  if (out.human) {
    if (rows.length)
      table([['EMAIL', 'SOURCE', 'REASON', 'AT', 'CAMPAIGN'], ...rows]).forEach((l) => out.line(l));
    else out.note('no suppressed addresses');
    if (cursor) out.note('more entries: give --all to list every one');
  }
  return 0;
}

export async function addCommand(
  ctx: CommandContext,
  emails: string[],
  o: { reason?: string; json: boolean },
): Promise<Exit> {
  const out = ctx.output(o.json);
  const { client, base } = api(ctx);
  const res = await ok(
    client.POST('/v1/suppressions', {
      body: { emails, ...(o.reason ? { reason: o.reason } : {}) },
    }),
    base,
  );
  out.emit({ type: 'added', ...res }, () => [
    `${res.added} added, ${res.existing} already suppressed`,
  ]);
  return 0;
}

export async function removeCommand(
  ctx: CommandContext,
  email: string,
  o: { json: boolean },
): Promise<Exit> {
  const out = ctx.output(o.json);
  const { client, base } = api(ctx);
  await ok(client.DELETE('/v1/suppressions/{email}', { params: { path: { email } } }), base);
  out.emit({ type: 'removed', email }, () => [`${email} is no longer suppressed`]);
  return 0;
}

export async function importCommand(
  ctx: CommandContext,
  file: string,
  o: FilterOptions & { maxInvalid?: number },
): Promise<Exit> {
  const out = ctx.output(o.json);
  const { client, base } = api(ctx);
  const streamed = streamFile(out, file, 'import');
  let res;
  try {
    res = await ok(
      client.POST('/v1/suppressions/import', {
        params: {
          query: {
            ...filter(o),
            ...(o.maxInvalid !== undefined ? { maxInvalid: o.maxInvalid } : {}),
          },
        },
        // Typed as text by the document; sent as it is read, and let go once sent (see
        // uploadRecipients in @volley/api-client).
        body: streamed.body as unknown as string,
        bodySerializer: (b: unknown) => b,
        headers: { 'content-type': 'text/csv' },
        fetch: streamingFetch,
        ...{ duplex: 'half' as const },
      }),
      base,
    );
  } finally {
    await streamed.finish();
  }
  out.emit({ type: 'import', ...res }, () => [
    `imported ${formatCount(res.rows)} rows: ${formatCount(res.added)} added, ${formatCount(res.existing)} already suppressed, ${formatCount(res.invalid)} invalid`,
    ...res.errors.map((e) => `  ${e.line !== undefined ? `line ${e.line}` : e.path}: ${e.message}`),
  ]);
  return 0;
}

export async function exportCommand(
  ctx: CommandContext,
  o: FilterOptions & { output?: string },
): Promise<Exit> {
  const { client, base } = api(ctx);
  const res = await ok(
    client.GET('/v1/suppressions/export', { params: { query: filter(o) }, parseAs: 'stream' }),
    base,
  );
  if (!res) throw new CliError('the export answered no body');
  const sink: Writable = o.output ? createWriteStream(o.output) : ctx.streams.stdout;
  await pipeline(Readable.fromWeb(res), sink, {
    end: o.output !== undefined,
  });
  return 0;
}
