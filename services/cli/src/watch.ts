/**
 * `volley campaign watch ID`: polls the campaign's statistics until it ends, with a bar, the
 * send rate, the ETA, the outcome counts and the commonest bounce and deferral reasons (the
 * latter tallied from the event stream as the watch reads it), all redrawn together in a
 * terminal. Ctrl-C stops watching only: the campaign goes on.
 */
import type { VolleyClient } from '@volley/api-client';
import { ok } from './api.ts';
import type { Output } from './output.ts';
import { formatCount, formatDuration, startLiveView, type LiveView } from './progress.ts';

const FINAL = new Set(['completed', 'cancelled']);
/** Event pages read per poll at most, so a huge backlog of events never delays the view. */
const EVENT_PAGES_PER_POLL = 5;
const EVENT_PAGE = 1000;
const TOP_REASONS = 3;

export interface WatchOptions {
  intervalMs: number;
  /** Resolves when the user asks to stop watching (Ctrl-C). */
  interrupted: Promise<void>;
}

type Stats = Awaited<ReturnType<typeof fetchStats>>;

async function fetchStats(client: VolleyClient, baseUrl: string, id: string) {
  return ok(client.GET('/v1/campaigns/{id}/stats', { params: { path: { id } } }), baseUrl);
}

function top(counts: Record<string, number>): string {
  const list = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, TOP_REASONS);
  return list.length ? list.map(([r, n]) => `${r} ${formatCount(n)}`).join(', ') : '-';
}

/** Deferral reasons, read from the campaign's events as they come. */
class Deferrals {
  readonly counts: Record<string, number> = {};
  private cursor: string | undefined;

  constructor(
    private readonly client: VolleyClient,
    private readonly baseUrl: string,
    private readonly id: string,
  ) {}

  async poll(): Promise<void> {
    for (let p = 0; p < EVENT_PAGES_PER_POLL; p++) {
      const page = await this.page(EVENT_PAGE);
      for (const e of page.events) {
        if (e.outcome !== 'deferred') continue;
        const reason = e.reason ?? 'other';
        this.counts[reason] = (this.counts[reason] ?? 0) + 1;
      }
      if (!page.next) {
        // A short page has no `next`; the next poll starts after its last event.
        if (page.events.length) this.cursor = await this.lastId(page.events.length);
        return;
      }
      this.cursor = page.next;
    }
  }

  /**
   * The events endpoint gives a cursor only with a full page; after a short one, ask again
   * for the same events with a page of exactly their count, which returns it.
   */
  private async lastId(count: number): Promise<string | undefined> {
    const again = await this.page(count);
    return again.next ?? this.cursor;
  }

  /** Up to `limit` events after the cursor. */
  private page(limit: number) {
    return ok(
      this.client.GET('/v1/campaigns/{id}/events', {
        params: {
          path: { id: this.id },
          query: { limit, ...(this.cursor ? { cursor: this.cursor } : {}) },
        },
      }),
      this.baseUrl,
    );
  }
}

/** The lines of summaryLines: drawn under the live bar, or printed once the watch ends. */
const SUMMARY_LINES = 3;

function summaryLines(out: Output, s: Stats, deferrals: Record<string, number>): string[] {
  const c = s.counts;
  return [
    `${out.paint('bold', s.id)} ${s.status}: ${out.paint('green', `sent ${formatCount(c.sent)}`)}, ` +
      `${out.paint('yellow', `deferred ${formatCount(c.deferred)}`)}, ` +
      `${out.paint('red', `bounced ${formatCount(c.bounced)}`)}, suppressed ${formatCount(c.suppressed)}, ` +
      `failed ${formatCount(c.failed)}, queued ${formatCount(c.queued)}` +
      (c.cancelled ? `, cancelled ${formatCount(c.cancelled)}` : ''),
    `  top bounce reasons: ${top(s.reasons.bounced)}`,
    `  top deferral reasons: ${top(deferrals)}`,
  ];
}

/**
 * Watches until the campaign ends or the watch is interrupted. Resolves to the last status
 * seen and whether the watch was interrupted.
 */
export async function watchCampaign(
  client: VolleyClient,
  baseUrl: string,
  id: string,
  out: Output,
  opts: WatchOptions,
): Promise<{ status: string; interrupted: boolean }> {
  const deferrals = new Deferrals(client, baseUrl, id);
  let interrupted = false;
  void opts.interrupted.then(() => (interrupted = true));
  let view: LiveView | undefined;
  let last: Stats | undefined;
  let lastJson = '';
  try {
    for (;;) {
      const s = await fetchStats(client, baseUrl, id);
      await deferrals.poll();
      last = s;
      const progress = {
        type: 'progress',
        id: s.id,
        status: s.status,
        counts: s.counts,
        progress: s.progress,
        rate: s.rate.perSecond,
        eta: s.eta,
        reasons: { bounced: s.reasons.bounced, deferred: { ...deferrals.counts } },
      };
      if (out.live) {
        view ??= startLiveView(
          out,
          s.counts.total,
          '{bar} {percentage}% | {done} of {total} | {rate}/s | ETA {etaText} | {status}',
          SUMMARY_LINES,
        );
        // Polls come at --interval; the view's own timer draws, at most 10 times a second.
        view.update(
          s.progress.done,
          {
            done: formatCount(s.progress.done),
            rate: formatCount(s.rate.perSecond),
            etaText: formatDuration(s.eta.seconds),
            status: s.status,
          },
          summaryLines(out, s, deferrals.counts),
        );
      } else if (!out.human) {
        const line = JSON.stringify({ ...progress, at: undefined });
        // Only changes: a campaign paused overnight prints one line, not thousands.
        if (line !== lastJson) out.json({ ...progress, at: s.at });
        lastJson = line;
      }
      if (FINAL.has(s.status) || interrupted) break;
      await Promise.race([new Promise((r) => setTimeout(r, opts.intervalMs)), opts.interrupted]);
      if (interrupted) break;
    }
  } finally {
    await view?.stop();
  }
  // A live view leaves its last frame, the summary included, on the screen.
  if (last && out.human && !out.live) {
    for (const l of summaryLines(out, last, deferrals.counts)) out.line(l);
  }
  if (interrupted) {
    out.note(
      `stopped watching; campaign ${id} goes on (${last?.status ?? 'unknown'}). ` +
        `Watch again with: volley campaign watch ${id}`,
    );
  }
  return { status: last?.status ?? 'unknown', interrupted };
}
