/**
 * One round of the cluster-wide gauges, computed by the collector lock's holder: queue depths,
 * the backlog split, running campaigns' progress, shaping state per provider and Redis health.
 */
import type { Queue } from 'bullmq';
import { masterNodes, type RedisClient } from '@volley/redis';
import type { Keys } from '@volley/contracts';
import type { CampaignStore, Queues } from '@volley/campaigns';
import type { CollectorMetrics } from '@volley/metrics';
import type { Shaper } from '@volley/shaping';
import type { WebhookStore } from '@volley/webhooks';
import { BacklogReader } from './backlog.ts';

/** BullMQ job states exported per queue. */
const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed'] as const;

export interface GaugeRoundOptions {
  redis: RedisClient;
  keys: Keys;
  store: CampaignStore;
  queues: Queues;
  webhooks: Queue;
  webhookStore: WebhookStore;
  /** Undefined with shaping off. */
  shaper: Shaper | undefined;
  metrics: CollectorMetrics;
}

/** Reads one Redis INFO field as a number. */
function infoField(info: string, name: string): number | undefined {
  const m = new RegExp(`^${name}:(\\d+)`, 'm').exec(info);
  return m ? Number(m[1]) : undefined;
}

export class GaugeRound {
  private readonly backlog: BacklogReader;

  constructor(private readonly o: GaugeRoundOptions) {
    this.backlog = new BacklogReader(o.redis, o.keys);
  }

  /** Computes every cluster-wide gauge once; each part's failure leaves the others set. */
  async run(now = Date.now()): Promise<void> {
    const c = this.o.metrics.cluster;
    const results = await Promise.allSettled([
      this.queues(),
      this.campaignsAndBacklog(now),
      this.shaping(),
      this.redisHealth(),
      this.deadLetters(),
    ]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      c.redisUp.set(this.o.redis.status === 'ready' ? 1 : 0);
      throw failed.reason;
    }
  }

  private async queues(): Promise<void> {
    const g = this.o.metrics.cluster.queueJobs;
    const { send, control } = this.o.queues;
    for (const q of [send, control, this.o.webhooks]) {
      const counts = await q.getJobCounts(...JOB_STATES);
      for (const state of JOB_STATES) g.set({ queue: q.name, state }, counts[state] ?? 0);
    }
  }

  private async campaignsAndBacklog(now: number): Promise<void> {
    const { store, metrics } = this.o;
    const c = metrics.cluster;
    const statuses = new Map<string, string | undefined>();
    const status = async (id: string): Promise<string | undefined> => {
      if (!statuses.has(id)) statuses.set(id, await store.status(id));
      return statuses.get(id);
    };
    const split = await this.backlog.read(now, status);

    // Running campaigns: progress, and the recipients not expanded into jobs yet.
    const running = await store.runningIds();
    const progress: { id: string; total: number; done: number; deferred: number; rate: number }[] =
      [];
    let unexpanded = 0;
    for (const id of running) {
      const w = await store.windowState(id);
      if (!w || w.status !== 'running') continue;
      const rec = await store.get(id);
      if (!rec) continue;
      const k = rec.counts;
      const done = k.sent + k.bounced + k.suppressed + k.failed;
      const rate = await store.recentRate(id, 10, now);
      progress.push({ id, total: k.total, done, deferred: k.deferred, rate });
      unexpanded += Math.max(0, w.total - w.cursor);
    }
    // Replaced at once, without an await in between: a scrape never sees half a round, and a
    // campaign that ended has no series left.
    c.campaignRecipients.reset();
    c.campaignRate.reset();
    for (const p of progress) {
      c.campaignRecipients.set({ campaign: p.id, state: 'total' }, p.total);
      c.campaignRecipients.set({ campaign: p.id, state: 'done' }, p.done);
      c.campaignRecipients.set({ campaign: p.id, state: 'deferred' }, p.deferred);
      c.campaignRate.set({ campaign: p.id }, p.rate);
    }
    c.campaignsRunning.set(progress.length);

    // Scheduled campaigns wait as delayed expand jobs of their first window.
    let scheduled = 0;
    const control = this.o.queues.control;
    const delayedExpands = await control.getJobs(['delayed'], 0, -1);
    for (const job of delayedExpands) {
      if (job.data.from !== 0 || (await status(job.data.campaignId)) !== 'scheduled') continue;
      scheduled += (await store.get(job.data.campaignId))?.counts.total ?? 0;
    }

    const m = split.messages;
    c.backlog.set({ state: 'sendable' }, m.sendable);
    c.backlog.set({ state: 'throttled' }, m.throttled);
    c.backlog.set({ state: 'retrying' }, m.retrying);
    c.backlog.set({ state: 'paused' }, m.paused);
    c.backlog.set({ state: 'scheduled' }, scheduled);
    c.backlog.set({ state: 'unexpanded' }, unexpanded);
    c.oldestSendable.set(
      split.oldestDueAt === undefined ? 0 : Math.max(0, (now - split.oldestDueAt) / 1000),
    );
  }

  private async shaping(): Promise<void> {
    const c = this.o.metrics.cluster;
    const shaper = this.o.shaper;
    const snap = shaper && (await shaper.snapshot());
    c.shapingRate.reset();
    c.shapingFactor.reset();
    c.shapingSuspended.reset();
    c.shapingConnections.reset();
    if (!shaper || !snap) return;
    const by = new Map<
      string,
      { rate?: number; factor: number; suspended: number; inUse: number; limit?: number }
    >();
    for (const d of snap.destinations) {
      const p = by.get(d.metricLabel) ?? { factor: 1, suspended: 0, inUse: 0 };
      // For `other` (each domain limited on its own) the lowest effective rate is the one to watch.
      if (d.effectiveRatePerSec !== undefined) {
        p.rate =
          p.rate === undefined ? d.effectiveRatePerSec : Math.min(p.rate, d.effectiveRatePerSec);
      }
      p.factor = Math.min(p.factor, d.factor);
      if (d.suspensions.length > 0) p.suspended++;
      p.inUse += d.connectionsInUse;
      if (d.effectiveConnections !== undefined) {
        p.limit = (p.limit ?? 0) + d.effectiveConnections;
      }
      by.set(d.metricLabel, p);
    }
    // `other` is always there: the defaults are the rule of every domain no provider names.
    if (!by.has('other')) {
      const rule = shaper.policy.defaults;
      by.set('other', {
        ...(rule.ratePerSec === undefined ? {} : { rate: rule.ratePerSec }),
        factor: 1,
        suspended: 0,
        inUse: 0,
      });
    }
    for (const [provider, p] of by) {
      if (p.rate !== undefined) c.shapingRate.set({ provider }, p.rate);
      c.shapingFactor.set({ provider }, p.factor);
      c.shapingSuspended.set({ provider }, p.suspended);
      c.shapingConnections.set({ provider, state: 'in_use' }, p.inUse);
      if (p.limit !== undefined) c.shapingConnections.set({ provider, state: 'limit' }, p.limit);
    }
  }

  private async redisHealth(): Promise<void> {
    const c = this.o.metrics.cluster;
    // Summed over a cluster's masters: what the deployment holds, not what one node does.
    const infos = await Promise.all(masterNodes(this.o.redis).map((n) => n.info()));
    const sum = (field: string) => infos.reduce((a, i) => a + (infoField(i, field) ?? 0), 0);
    c.redisUp.set(1);
    c.redisMemory.set(sum('used_memory'));
    c.redisMaxMemory.set(sum('maxmemory'));
    c.redisClients.set(sum('connected_clients'));
  }

  private async deadLetters(): Promise<void> {
    const store = this.o.webhookStore;
    let total = 0;
    for (const t of await store.tenants()) total += await store.deadLetterCount(t);
    this.o.metrics.cluster.deadLetters.set(total);
  }
}
