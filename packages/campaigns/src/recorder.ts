import type { CampaignStore, FinalEntry, FinalizeResult } from './store.ts';

export interface RecorderOptions {
  /** Longest an outcome waits for others to share its round trip. @defaultValue 5 */
  flushMs?: number;
  /** Outcomes of one campaign recorded in one call at most. @defaultValue 128 */
  maxBatch?: number;
  /** The window's low-water mark, passed to the finalize script. */
  lowWater: number;
}

interface Pending {
  tenant: string;
  entries: FinalEntry[];
  waiters: { resolve(r: FinalizeResult): void; reject(e: unknown): void }[];
}

/**
 * Coalesces final outcomes of the same campaign that arrive within a few milliseconds into one
 * finalize round trip. A sender records about one outcome per SMTP reply; one Lua call per reply
 * was the largest Redis cost per message and a tenth of the sender's CPU.
 *
 * The price is the duplicate window: an outcome is recorded at most `flushMs` later than it
 * would be alone. Each `record` resolves only once its outcome is in Redis, so a batch (and a
 * graceful drain) that awaits its records has nothing left unrecorded.
 */
export class Recorder {
  private readonly pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | undefined;
  private readonly flushMs: number;
  private readonly maxBatch: number;

  constructor(
    private readonly store: CampaignStore,
    private readonly opts: RecorderOptions,
  ) {
    this.flushMs = opts.flushMs ?? 5;
    this.maxBatch = opts.maxBatch ?? 128;
  }

  record(campaignId: string, tenant: string, entry: FinalEntry): Promise<FinalizeResult> {
    return new Promise((resolve, reject) => {
      let p = this.pending.get(campaignId);
      if (!p) {
        p = { tenant, entries: [], waiters: [] };
        this.pending.set(campaignId, p);
      }
      p.entries.push(entry);
      p.waiters.push({ resolve, reject });
      if (p.entries.length >= this.maxBatch) {
        this.pending.delete(campaignId);
        void this.write(campaignId, p);
      } else {
        this.timer ??= setTimeout(() => void this.flush(), this.flushMs);
      }
    });
  }

  /** Writes everything pending now. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const all = [...this.pending];
    this.pending.clear();
    await Promise.all(all.map(([id, p]) => this.write(id, p)));
  }

  private async write(campaignId: string, p: Pending): Promise<void> {
    try {
      const results = await this.store.finalizeMany(
        campaignId,
        p.tenant,
        p.entries,
        this.opts.lowWater,
      );
      results.forEach((r, k) => p.waiters[k]?.resolve(r));
    } catch (err) {
      for (const w of p.waiters) w.reject(err);
    }
  }
}
