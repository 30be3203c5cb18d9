/** Reading a campaign's event stream (written by the scripts in scripts.ts and feedback-scripts.ts). */
import type { RecipientEvent } from '@volley/contracts';
import type { RedisClient } from '@volley/redis';

function num(v: string | undefined): number {
  return v === undefined ? 0 : Number(v);
}

/** Per-recipient events of campaign `id` from `stream`, oldest first, after stream id `cursor`. */
export async function readEvents(
  redis: RedisClient,
  stream: string,
  id: string,
  cursor: string | undefined,
  limit: number,
): Promise<{ events: (RecipientEvent & { id: string })[]; next: string | undefined }> {
  const start = cursor ? `(${cursor}` : '-';
  const rows = await redis.xrange(stream, start, '+', 'COUNT', limit);
  const events = rows.map(([sid, flat]) => {
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i] as string] = flat[i + 1] as string;
    const ev: RecipientEvent & { id: string } = {
      id: sid,
      campaignId: id,
      index: num(f.i),
      email: f.e ?? '',
      outcome: (f.o ?? 'failed') as RecipientEvent['outcome'],
      at: num(f.t),
    };
    if (f.r) ev.reason = f.r;
    if (f.d) ev.detail = f.d;
    if (f.s) ev.source = f.s;
    if (f.x) ev.status = f.x;
    if (f.y) ev.replyCode = Number(f.y);
    if (f.h) ev.hardBounce = f.h === '1';
    if (f.l) ev.late = f.l === '1';
    return ev;
  });
  const last = rows[rows.length - 1];
  return { events, next: rows.length === limit && last ? last[0] : undefined };
}
