import { CodedError, type CampaignStatus } from '@volley/contracts';
import { recordOf, type CampaignRecord } from './record.ts';
import type { CampaignStore } from './store.ts';

/**
 * Index entries one page looks at, at most: with a status filter that few campaigns match, a
 * page stops here and hands back a cursor, so one request never walks a tenant's whole history.
 */
const PAGE_BUDGET = 2000;
/** Index entries read per round trip while walking. */
const BATCH = 200;

/**
 * The fields a listing reads: everything but the templates and headers, which can be large and
 * which a list does not show.
 */
const SUMMARY_FIELDS = [
  'tenant',
  'status',
  'from',
  'subject',
  'requiredVars',
  'createdAt',
  'sendAt',
  'startedAt',
  'completedAt',
  'cancelledAt',
  'total',
  'sent',
  'deferred',
  'bounced',
  'suppressed',
  'failed',
  'cancelled',
  'lateBounced',
  'complained',
  'unsubscribed',
] as const;

export class CampaignListError extends CodedError<'CAMPAIGN_BAD_CURSOR'> {}

export interface CampaignFilter {
  /** Only campaigns in one of these states. */
  statuses?: readonly CampaignStatus[] | undefined;
  /** Only campaigns created strictly after this time (epoch ms). */
  createdAfter?: number | undefined;
  /** Only campaigns created strictly before this time (epoch ms). */
  createdBefore?: number | undefined;
}

export interface CampaignPage {
  /** Newest first; without templates or headers. */
  campaigns: CampaignRecord[];
  /** Cursor of the following page; absent on the last. */
  next?: string;
}

/** A place in the index: the creation time and id of the last campaign a page looked at. */
interface Position {
  score: number;
  id: string;
}

function encodeCursor(p: Position): string {
  return Buffer.from(`${p.score}:${p.id}`).toString('base64url');
}

function decodeCursor(cursor: string): Position {
  const m = /^(\d{1,16}):([a-f0-9]{1,64})$/.exec(Buffer.from(cursor, 'base64url').toString());
  const p = m ? { score: Number(m[1]), id: m[2] ?? '' } : undefined;
  if (!p || encodeCursor(p) !== cursor) {
    throw new CampaignListError(
      'CAMPAIGN_BAD_CURSOR',
      'the cursor is not one this API gave; pass the `next` of the previous page as it was',
    );
  }
  return p;
}

/**
 * Up to `count` index entries after `from` (newest first) within the filter's time range.
 * Campaigns created in the same millisecond share a score and come in descending id order, so
 * the ones at `from`'s score that are not below its id were seen already and are skipped.
 */
async function entriesAfter(
  store: CampaignStore,
  key: string,
  from: Position | undefined,
  filter: CampaignFilter,
  count: number,
): Promise<Position[]> {
  const min = filter.createdAfter === undefined ? '-inf' : `(${filter.createdAfter}`;
  const before = filter.createdBefore;
  const max =
    from !== undefined && (before === undefined || from.score < before)
      ? String(from.score)
      : before === undefined
        ? '+inf'
        : `(${before}`;
  const out: Position[] = [];
  for (let offset = 0; out.length === 0;) {
    const flat = await store.redis.zrevrangebyscore(
      key,
      max,
      min,
      'WITHSCORES',
      'LIMIT',
      offset,
      count,
    );
    for (let k = 0; k + 1 < flat.length; k += 2) {
      const p = { id: flat[k] ?? '', score: Number(flat[k + 1]) };
      if (from && p.score === from.score && p.id >= from.id) continue;
      out.push(p);
    }
    if (flat.length < count * 2) break;
    offset += count;
  }
  return out;
}

async function summaries(
  store: CampaignStore,
  ids: readonly string[],
): Promise<(CampaignRecord | undefined)[]> {
  // One command per campaign rather than a MULTI: the campaigns' keys may live on different
  // nodes of a cluster. ioredis writes them all before reading any answer.
  return Promise.all(
    ids.map(async (id) => {
      const values = await store.redis.hmget(store.keys.campaign(id), ...SUMMARY_FIELDS);
      const h: Record<string, string | undefined> = {};
      SUMMARY_FIELDS.forEach((f, k) => (h[f] = values[k] ?? undefined));
      // Indexed but gone: a create still in flight, or a campaign that retention removed.
      if (!h.tenant) return undefined;
      return recordOf(id, h, await store.draftTotal(id, h.status));
    }),
  );
}

/**
 * One page of a tenant's campaigns, newest first. The cursor is the place of the last campaign
 * looked at, so campaigns created while a client pages come before its first page and never
 * shift later pages. A filtered page may hold fewer than `limit` campaigns (even none) while
 * `next` is present.
 */
export async function listCampaigns(
  store: CampaignStore,
  tenant: string,
  opts: CampaignFilter & { cursor?: string | undefined; limit: number },
): Promise<CampaignPage> {
  let at = opts.cursor ? decodeCursor(opts.cursor) : undefined;
  const key = store.keys.tenantCampaigns(tenant);
  const wanted = opts.statuses?.length ? new Set<string>(opts.statuses) : undefined;
  const campaigns: CampaignRecord[] = [];
  let examined = 0;
  while (campaigns.length < opts.limit && examined < PAGE_BUDGET) {
    const batch = await entriesAfter(
      store,
      key,
      at,
      opts,
      Math.min(BATCH, PAGE_BUDGET - examined, wanted ? BATCH : opts.limit - campaigns.length),
    );
    if (batch.length === 0) return { campaigns };
    let ids = batch.map((p) => p.id);
    if (wanted) {
      const statuses = await Promise.all(
        ids.map((id) => store.redis.hget(store.keys.campaign(id), 'status')),
      );
      ids = ids.filter((_id, k) => wanted.has(statuses[k] ?? ''));
    }
    const records = await summaries(store, ids);
    const kept = new Map(records.flatMap((r) => (r && r.tenant === tenant ? [[r.id, r]] : [])));
    for (const p of batch) {
      examined++;
      at = p;
      const r = kept.get(p.id);
      // The status is read again with the summary: it may have moved on since the filter's read.
      if (r && (!wanted || wanted.has(r.status))) campaigns.push(r);
      if (campaigns.length === opts.limit) break;
    }
  }
  if (!at) return { campaigns };
  const more = (await entriesAfter(store, key, at, opts, 1)).length > 0;
  return more ? { campaigns, next: encodeCursor(at) } : { campaigns };
}
