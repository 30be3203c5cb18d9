/**
 * Windows of a campaign's recipients become send jobs: batches of one domain each, queued
 * with the rate slots reserved for them. The next window is asked for as the last one drains
 * (refill), and a sweep catches a request lost in a crash.
 */
import { DelayedError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import {
  enqueueExpand,
  type CampaignStore,
  type FinalizeResult,
  type Queues,
} from '@volley/campaigns';
import { JOBS, type ExpandJob, type SendBatchJob } from '@volley/contracts';
import type { Plan, Shaper } from '@volley/shaping';
import { planBatches, type PlannedBatch } from './batching.ts';
import type { CampaignCache } from './campaigns.ts';
import { IN_PROCESS_WAIT_MS, UPLOAD_RECHECK_MS, WINDOW_FULL_RECHECK_MS } from './timing.ts';

/** MX lookups run at once while a window's destinations are planned (mx mode). */
const MX_LOOKUPS_AT_ONCE = 32;

/** Refill requests remembered per process; beyond that the memory starts afresh. */
const REFILLS_REMEMBERED = 10_000;

/** A batch's place in its destination's rate, reserved when its window is expanded. */
interface WindowSlot {
  delayMs: number;
  shaping?: SendBatchJob['shaping'];
}

export interface ExpanderOptions {
  log: Logger;
  store: CampaignStore;
  queues: Queues;
  campaigns: CampaignCache;
  /** Undefined without traffic shaping. */
  shaper: Shaper | undefined;
  planFor: (domain: string) => Promise<Plan | undefined>;
  /** Counts batches held back (SenderMetrics.shapingDelay). */
  shapingDelay: (provider: string, reason: string, n?: number) => void;
  /** Recipients expanded at once (VOLLEY_EXPAND_WINDOW). */
  expandWindow: number;
  /** Largest batch (VOLLEY_BATCH_SIZE); a rate-limited destination's batches may be smaller. */
  batchSize: number;
  /** Below this many recipients in flight the next window is expanded. */
  lowWater: number;
}

export class Expander {
  private readonly refillAsked = new Set<string>();

  constructor(private readonly o: ExpanderOptions) {}

  /** Expands the window of the campaign that starts at `job.data.from` into send jobs. */
  async expand(job: Job<ExpandJob>, token: string | undefined): Promise<void> {
    const { store } = this.o;
    const { campaignId: id, from } = job.data;
    let state = await store.windowState(id);
    if (!state) return;
    if (state.status === 'scheduled') {
      const res = await store.start(id);
      if (res.status === 'uploading') {
        // Due while recipients are still streaming in: start once the upload has ended.
        await job.moveToDelayed(Date.now() + UPLOAD_RECHECK_MS, token);
        throw new DelayedError();
      }
      state = await store.windowState(id);
      if (!state) return;
    }
    if (state.status !== 'running' || state.cursor !== from || from >= state.total) return;
    if (from > 0 && state.inWindow > this.o.lowWater) {
      // The window is still full: wait in BullMQ's delayed set rather than expanding past the bound.
      await job.moveToDelayed(Date.now() + WINDOW_FULL_RECHECK_MS, token);
      throw new DelayedError();
    }
    const rows = await store.recipientWindow(id, from, this.o.expandWindow);
    const { shaper, batchSize } = this.o;
    const batches = planBatches(id, from, rows, (domain) =>
      shaper ? Math.min(batchSize, shaper.plan(domain).batchSize) : batchSize,
    );
    const rt = await this.o.campaigns.get(id);
    if (!rt) return;
    const now = Date.now();
    const slots = await this.reserveWindow(id, batches);
    // Adding before advancing the cursor: a crash in between re-adds the same job ids (a no-op
    // while they exist), never skips a recipient.
    await this.o.queues.send.addBulk(
      batches.map((b, k) => {
        const slot = slots[k];
        const data: SendBatchJob = {
          batchId: b.batchId,
          campaignId: id,
          tenant: rt.tenant,
          domain: b.domain,
          recipients: b.recipients,
          attempt: 1,
          firstAttemptAt: now,
        };
        if (slot?.shaping) data.shaping = slot.shaping;
        return {
          name: JOBS.sendBatch,
          data,
          opts: { jobId: b.batchId, ...(slot && slot.delayMs > 0 ? { delay: slot.delayMs } : {}) },
        };
      }),
    );
    await store.advanceCursor(id, from, from + rows.length);
    this.o.log.debug(
      { campaignId: id, from, count: rows.length, batches: batches.length },
      'window expanded',
    );
  }

  /**
   * What recorded outcomes say: a campaign completed, or a window with room to refill (its
   * expansion is asked for).
   */
  async afterOutcomes(id: string, signals: readonly FinalizeResult[]): Promise<void> {
    let refillAt = -1;
    for (const s of signals) {
      if (s.completed) {
        this.o.log.info({ campaignId: id }, 'campaign completed');
        this.refillAsked.forEach((k) => k.startsWith(`${id}:`) && this.refillAsked.delete(k));
      }
      if (s.refill) refillAt = Math.max(refillAt, s.cursor);
    }
    if (refillAt >= 0) await this.askRefill(id, refillAt);
  }

  /**
   * Safety net for a refill request lost in a crash: every running campaign is looked at. A
   * finished (or deleted) campaign still listed as running, which a crash between its last
   * outcome and the set's update leaves, is taken out.
   */
  async sweep(): Promise<void> {
    const { store } = this.o;
    for (const id of await store.runningIds()) {
      const s = await store.windowState(id);
      if (!s || s.status === 'completed' || s.status === 'cancelled') {
        await store.leaveRunning(id, s ? Date.now() : undefined);
        continue;
      }
      if (s.status !== 'running') continue;
      if (s.cursor < s.total && s.inWindow <= this.o.lowWater) {
        await enqueueExpand(this.o.queues.control, id, s.cursor);
      }
    }
  }

  /** Enqueues the expansion of the window at `cursor`, once per process and window. */
  private async askRefill(id: string, cursor: number): Promise<void> {
    const key = `${id}:${cursor}`;
    if (this.refillAsked.has(key)) return;
    this.refillAsked.add(key);
    if (this.refillAsked.size > REFILLS_REMEMBERED) this.refillAsked.clear();
    await enqueueExpand(this.o.queues.control, id, cursor);
  }

  /**
   * Reserves the rate slots of a window's batches as they are queued: each batch of a
   * rate-limited destination is added to the delayed set until its slot, holding it, so it is
   * taken up once, when due. (Taken up at once only to be put back in the delayed set, the
   * batches of a large start kept the due ones waiting behind them for seconds.) One round
   * trip per destination; destinations without a rate are checked when sent.
   */
  private async reserveWindow(
    campaignId: string,
    batches: readonly PlannedBatch[],
  ): Promise<(WindowSlot | undefined)[]> {
    const out: (WindowSlot | undefined)[] = batches.map(() => undefined);
    const { shaper, shapingDelay } = this.o;
    if (!shaper) return out;
    const domains = [...new Set(batches.map((b) => b.domain))];
    const plans = new Map<string, Plan | undefined>();
    // In mx mode a plan may need an MX lookup: a few at a time, not one per domain at once.
    for (let i = 0; i < domains.length; i += MX_LOOKUPS_AT_ONCE) {
      const part = domains.slice(i, i + MX_LOOKUPS_AT_ONCE);
      const got = await Promise.all(part.map((d) => this.o.planFor(d)));
      part.forEach((d, k) => plans.set(d, got[k]));
    }
    const byKey = new Map<string, { plan: Plan; idx: number[] }>();
    batches.forEach((b, k) => {
      const plan = plans.get(b.domain);
      if (!plan || plan.rule.ratePerSec === undefined) return;
      let group = byKey.get(plan.key);
      if (!group) byKey.set(plan.key, (group = { plan, idx: [] }));
      group.idx.push(k);
    });
    await Promise.all(
      [...byKey.values()].map(async ({ plan, idx }) => {
        const sizes = idx.map((k) => batches[k]?.recipients.length ?? 1);
        const r = await shaper.reserveBatches(plan, sizes, campaignId);
        if (r.status === 'suspended') {
          const delayMs = Math.max(0, Math.ceil((r.suspendedUntil ?? r.reservedAt) - r.reservedAt));
          for (const k of idx) out[k] = { delayMs };
          shapingDelay(plan.metricLabel, 'suspended', idx.length);
          return;
        }
        idx.forEach((k, j) => {
          const slot = r.slots[j];
          if (!slot) return;
          out[k] = {
            delayMs: slot.delayMs,
            shaping: {
              heldSince: r.reservedAt,
              count: slot.granted,
              startAt: slot.startAt,
              key: plan.key,
            },
          };
          if (slot.delayMs > IN_PROCESS_WAIT_MS) {
            shapingDelay(plan.metricLabel, 'rate');
          }
        });
      }),
    );
    return out;
  }
}
