import { randomBytes } from 'node:crypto';
import {
  CodedError,
  SUPPRESSION_SOURCES,
  type Keys,
  type SuppressionSource,
} from '@volley/contracts';
import { BACKFILL, COMMIT_IMPORT, PAGE, SUPPRESS_MANY, UNSUPPRESS } from './suppression-scripts.ts';
import { type RedisClient, LuaScript } from '@volley/redis';

/** One address on a tenant's suppression list. */
export interface SuppressionEntry {
  /** Lower-cased, as the sender compares it. */
  email: string;
  source: SuppressionSource;
  /** Bounce reason, complaint feedback type, unsubscribe method, or what an operator gave. */
  reason: string;
  /** When it was suppressed (epoch ms); absent for entries older than dates were kept. */
  at?: number;
  /** The campaign whose message led to it, for bounces, complaints and unsubscribes. */
  campaignId?: string;
  /** The diagnostic text of a bounce, or why a soft-bounced address was suppressed. */
  detail?: string;
}

/**
 * An address to suppress: the entry it becomes, with the address normalized and lower-cased by
 * the caller. `at` defaults to the time of the call; in `detail`, control characters become
 * spaces and 200 characters are kept.
 */
export type SuppressionInput = SuppressionEntry;

export class SuppressionError extends CodedError<
  'SUPPRESSION_BAD_CURSOR' | 'SUPPRESSION_INVALID'
> {}

/** Reasons are filter values and stored per entry: short lower-case tokens. */
export const SUPPRESSION_REASON = /^[a-z0-9][a-z0-9._-]{0,39}$/;

/** What entries suppressed before dates and reasons were kept are shown with. */
const LEGACY = JSON.stringify({ s: 'manual', r: 'unknown' });
/** Entries per script call: amortizes the round trip without holding Redis for long. */
const CHUNK = 1000;
/** Entries one page may examine to find matches of a filter, so a call never blocks Redis for long. */
const PAGE_BUDGET = 5000;

const suppressMany = new LuaScript(SUPPRESS_MANY);
const commitImport = new LuaScript(COMMIT_IMPORT);
const unsuppress = new LuaScript(UNSUPPRESS);
const backfill = new LuaScript(BACKFILL);
const page = new LuaScript(PAGE);

function describe(email: string, at: string | number, raw: string): SuppressionEntry {
  let stored: { s?: unknown; r?: unknown; c?: unknown; d?: unknown } = {};
  try {
    stored = JSON.parse(raw || LEGACY) as typeof stored;
  } catch {
    // An unreadable description is shown as a manual entry rather than failing the whole page.
  }
  const source = SUPPRESSION_SOURCES.find((s) => s === stored.s) ?? 'manual';
  const entry: SuppressionEntry = {
    email,
    source,
    reason: typeof stored.r === 'string' ? stored.r : 'unknown',
  };
  const ms = Number(at);
  if (ms > 0) entry.at = ms;
  if (typeof stored.c === 'string') entry.campaignId = stored.c;
  if (typeof stored.d === 'string') entry.detail = stored.d;
  return entry;
}

function stored(e: SuppressionInput): string {
  if (!SUPPRESSION_REASON.test(e.reason) || !SUPPRESSION_SOURCES.includes(e.source)) {
    throw new SuppressionError(
      'SUPPRESSION_INVALID',
      `${e.email}: source ${e.source} / reason ${JSON.stringify(e.reason)} is invalid`,
    );
  }
  // Addresses come normalized (no tab or line break), so the staged row splits unambiguously.
  const out: { s: string; r: string; c?: string; d?: string } = { s: e.source, r: e.reason };
  if (e.campaignId) out.c = e.campaignId;
  // eslint-disable-next-line no-control-regex -- control characters are what is replaced
  if (e.detail) out.d = e.detail.replace(/[\x00-\x1f\x7f]/g, ' ').slice(0, 200);
  return JSON.stringify(out);
}

/** Opaque page cursor: the date and address of the last entry a page examined. */
function encodeCursor(score: string, email: string): string {
  return Buffer.from(`${score}:${email}`).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  const text = Buffer.from(cursor, 'base64url').toString();
  const m = /^(\d{1,16}):(.+@.+)$/.exec(text);
  if (!m || encodeCursor(m[1] ?? '', m[2] ?? '') !== cursor) {
    throw new SuppressionError(
      'SUPPRESSION_BAD_CURSOR',
      'the cursor is not one this API gave; pass the `next` of the previous page as it was',
    );
  }
  return [m[1] ?? '', m[2] ?? ''];
}

/** A tenant's suppression list: what the sender checks, with each entry's source, reason and date. */
export class SuppressionList {
  constructor(
    readonly redis: RedisClient,
    readonly keys: Keys,
  ) {}

  private listKeys(tenant: string): string[] {
    return [
      this.keys.suppression(tenant),
      this.keys.suppressionLog(tenant),
      this.keys.suppressionInfo(tenant),
    ];
  }

  /** Suppresses the addresses of a campaign's recipients that bounced hard (`suppress` set). */
  async addBounces(
    tenant: string,
    campaignId: string,
    entries: readonly { email: string; reason?: string; detail?: string; suppress?: boolean }[],
    now = Date.now(),
  ): Promise<void> {
    const bounced = entries
      .filter((e) => e.suppress)
      .map((e) => ({
        email: e.email.toLowerCase(),
        source: 'bounce' as const,
        reason: e.reason !== undefined && SUPPRESSION_REASON.test(e.reason) ? e.reason : 'unknown',
        campaignId,
        ...(e.detail ? { detail: e.detail } : {}),
      }));
    if (bounced.length > 0) await this.add(tenant, bounced, now);
  }

  /** Suppresses addresses; an address already on the list keeps its entry. */
  async add(
    tenant: string,
    entries: readonly SuppressionInput[],
    now = Date.now(),
  ): Promise<{ added: number; existing: number }> {
    let added = 0;
    let existing = 0;
    for (let i = 0; i < entries.length; i += CHUNK) {
      const args: (string | number)[] = [];
      for (const e of entries.slice(i, i + CHUNK)) args.push(e.email, e.at ?? now, stored(e));
      const [a, x] = (await suppressMany.run(this.redis, this.listKeys(tenant), args)) as [
        number,
        number,
      ];
      added += a;
      existing += x;
    }
    return { added, existing };
  }

  /** Takes an address off the list (and forgets its soft bounces); false when it was not on it. */
  async remove(tenant: string, email: string): Promise<boolean> {
    const removed = await unsuppress.run(
      this.redis,
      [...this.listKeys(tenant), this.keys.softBounces(tenant, email)],
      [email],
    );
    return removed === 1;
  }

  async get(tenant: string, email: string): Promise<SuppressionEntry | undefined> {
    await this.backfill(tenant);
    const [[, member], [, score], [, raw]] = (await this.redis
      .multi()
      .sismember(this.keys.suppression(tenant), email)
      .zscore(this.keys.suppressionLog(tenant), email)
      .hget(this.keys.suppressionInfo(tenant), email)
      .exec()) as [[unknown, number], [unknown, string | null], [unknown, string | null]];
    if (member !== 1) return undefined;
    return describe(email, score ?? 0, raw ?? '');
  }

  /** Entries on the list. */
  async count(tenant: string): Promise<number> {
    return this.redis.scard(this.keys.suppression(tenant));
  }

  /**
   * One page of the list, oldest first, optionally of one reason and/or source. `next` is
   * absent on the last page; a filtered page may hold fewer than `limit` entries (even none)
   * while `next` is present.
   */
  async page(
    tenant: string,
    opts: { cursor?: string; limit: number; reason?: string; source?: SuppressionSource },
  ): Promise<{ entries: SuppressionEntry[]; next?: string }> {
    const [afterS, afterM] = opts.cursor ? decodeCursor(opts.cursor) : ['', ''];
    if (!opts.cursor) await this.backfill(tenant);
    const [more, lastS, lastM, flat] = (await page.run(
      this.redis,
      [this.keys.suppressionLog(tenant), this.keys.suppressionInfo(tenant)],
      [afterS, afterM, opts.limit, PAGE_BUDGET, opts.reason ?? '', opts.source ?? ''],
    )) as [number, string, string, string[]];
    const entries: SuppressionEntry[] = [];
    for (let k = 0; k + 2 < flat.length; k += 3) {
      entries.push(describe(flat[k] as string, flat[k + 1] as string, flat[k + 2] as string));
    }
    return more === 1 && lastM ? { entries, next: encodeCursor(lastS, lastM) } : { entries };
  }

  /** Every entry (of a reason and/or source), oldest first, a page at a time. */
  async *all(
    tenant: string,
    filter: { reason?: string; source?: SuppressionSource } = {},
  ): AsyncGenerator<SuppressionEntry[]> {
    let cursor: string | undefined;
    do {
      const p = await this.page(tenant, { ...filter, limit: CHUNK, cursor });
      if (p.entries.length > 0) yield p.entries;
      cursor = p.next;
    } while (cursor);
  }

  /**
   * Addresses suppressed before dates and reasons were kept are members of the set alone;
   * they are given an entry (date unknown, reason `unknown`) the first time the list is read.
   * All writes keep the three keys in step, so equal sizes mean there is nothing to do.
   */
  private async backfill(tenant: string): Promise<void> {
    const [set, log, info] = this.listKeys(tenant) as [string, string, string];
    const [[, members], [, dated]] = (await this.redis.multi().scard(set).zcard(log).exec()) as [
      [unknown, number],
      [unknown, number],
    ];
    if (members === dated) return;
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.sscan(set, cursor, 'COUNT', CHUNK);
      if (batch.length > 0) await backfill.run(this.redis, [set, log, info], [LEGACY, ...batch]);
      cursor = next;
    } while (cursor !== '0');
  }

  /**
   * A CSV import is staged first and applied only once the whole file proved valid, so a
   * refused file changes nothing. The staged rows expire after a day should the API die.
   */
  beginImport(): string {
    return randomBytes(8).toString('hex');
  }

  async stage(
    tenant: string,
    importId: string,
    entries: readonly SuppressionInput[],
    now = Date.now(),
  ): Promise<void> {
    if (entries.length === 0) return;
    const key = this.keys.suppressionImport(tenant, importId);
    const rows = entries.map((e) => `${e.email}\t${e.at ?? now}\t${stored(e)}`);
    await this.redis
      .multi()
      .rpush(key, ...rows)
      .expire(key, 86_400)
      .exec();
  }

  /** Applies a staged import, CHUNK rows per call. */
  async commitImport(
    tenant: string,
    importId: string,
  ): Promise<{ added: number; existing: number }> {
    const keys = [this.keys.suppressionImport(tenant, importId), ...this.listKeys(tenant)];
    let added = 0;
    let existing = 0;
    for (;;) {
      const [a, x, left] = (await commitImport.run(this.redis, keys, [CHUNK])) as number[];
      added += a ?? 0;
      existing += x ?? 0;
      if (!left) break;
    }
    return { added, existing };
  }

  async dropImport(tenant: string, importId: string): Promise<void> {
    await this.redis.unlink(this.keys.suppressionImport(tenant, importId));
  }
}
