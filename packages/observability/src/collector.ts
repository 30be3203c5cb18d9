/**
 * The collector, wired: the lock that picks one replica to compute the cluster-wide gauges and
 * read the event streams, and a webhook delivery worker on every replica (BullMQ hands each
 * delivery to one of them).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker, type Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { CollectorConfig } from '@volley/config';
import { Keys, QUEUES, type WebhookJob } from '@volley/contracts';
import { CampaignStore, createQueues, type Queues } from '@volley/campaigns';
import {
  OTHER_PROVIDER,
  collectorMetrics,
  resetClusterGauges,
  type CollectorMetrics,
} from '@volley/metrics';
import { PolicyWatcher, Shaper, defaultPolicy } from '@volley/shaping';
import { WebhookDeliverer, WebhookStore, webhookQueue } from '@volley/webhooks';
import { EventConsumer } from './events.ts';
import { GaugeRound } from './gauges.ts';
import { LeaderLock } from './lock.ts';
import { type RedisClient, connectRedis } from '@volley/redis';

/**
 * How often the lock holder reads the event streams: webhooks go out within about a second of
 * the event, and an idle deployment costs one read per watched stream a second.
 */
const EVENTS_POLL_MS = 1000;

export interface CollectorOptions {
  config: CollectorConfig;
  logger: Logger;
  registry: Registry;
}

/**
 * How long stopping waits for Redis once it is away (or after a webhook in flight timed out):
 * closing takes well under a second when Redis answers. Then the collector exits anyway,
 * within the grace the local supervisor gives before it kills (5 s).
 */
const STOP_WAIT_MS = 2000;

export class Collector {
  private readonly cfg: CollectorConfig;
  private readonly log: Logger;
  private readonly keys: Keys;
  private readonly redis: RedisClient;
  private readonly queues: Queues;
  private readonly webhooks: Queue<WebhookJob>;
  private readonly metrics: CollectorMetrics;
  private readonly lock: LeaderLock;
  private readonly webhookStore: WebhookStore;
  private shaper: Shaper | undefined;
  private watcher: PolicyWatcher | undefined;
  private worker: Worker<WebhookJob> | undefined;
  private workerRedis: RedisClient | undefined;
  private loop: Promise<void> | undefined;
  private readonly stopping = new AbortController();

  constructor(opts: CollectorOptions) {
    const cfg = (this.cfg = opts.config);
    this.log = opts.logger;
    this.keys = new Keys(cfg.redisPrefix);
    this.redis = connectRedis(cfg.redisUrl, {
      name: 'volley-collector',
      cluster: cfg.redisCluster,
    });
    this.queues = createQueues(this.redis, this.keys);
    this.webhooks = webhookQueue(
      this.redis,
      this.keys,
      cfg.webhookAttempts,
      cfg.webhookRetryBaseMs,
    );
    this.metrics = collectorMetrics(opts.registry);
    this.lock = new LeaderLock(this.redis, this.keys.collectorLock, cfg.lockTtlMs);
    this.webhookStore = new WebhookStore(this.redis, this.keys);
  }

  ready(): boolean {
    return !this.stopping.signal.aborted && this.redis.status === 'ready';
  }

  /** True while this replica holds the collector lock. */
  get leader(): boolean {
    return this.lock.held;
  }

  async start(): Promise<void> {
    const source = this.cfg.shapingPolicy;
    if (source !== 'off') {
      this.watcher = source ? await PolicyWatcher.open(source) : undefined;
      this.shaper = new Shaper({
        redis: this.redis,
        prefix: this.cfg.redisPrefix,
        policy: this.watcher?.policy ?? defaultPolicy(),
      });
      this.watcher?.on('change', (p) => this.shaper?.setPolicy(p));
    }
    const deliverer = new WebhookDeliverer({
      store: this.webhookStore,
      timeoutMs: this.cfg.webhookTimeoutMs,
      onAttempt: (result, seconds) => {
        this.metrics.webhookDeliveries.inc({ result });
        this.metrics.webhookDuration.observe(seconds);
      },
    });
    this.workerRedis = connectRedis(this.cfg.redisUrl, {
      name: 'volley-collector-webhooks',
      maxRetriesPerRequest: null,
      cluster: this.cfg.redisCluster,
    });
    this.worker = new Worker<WebhookJob>(QUEUES.webhooks, (job) => deliverer.process(job), {
      connection: this.workerRedis,
      prefix: this.keys.bullPrefix(QUEUES.webhooks),
      concurrency: this.cfg.webhookConcurrency,
      // A delivery is at least once: a job of a killed replica goes back to the queue.
      maxStalledCount: 1_000_000,
    });
    this.worker.on('failed', (job, err) =>
      this.log.warn({ jobId: job?.id, err: err.message }, 'webhook attempt failed; will retry'),
    );
    this.worker.on('error', (err) => this.log.error({ err }, 'webhook worker error'));
    this.loop = this.run();
  }

  /** Takes or renews the lock, and while held reads the streams and computes the gauges. */
  private async run(): Promise<void> {
    const gauges = new GaugeRound({
      redis: this.redis,
      keys: this.keys,
      store: new CampaignStore(this.redis, this.keys),
      queues: this.queues,
      webhooks: this.webhooks,
      webhookStore: this.webhookStore,
      shaper: this.shaper,
      metrics: this.metrics,
    });
    const events = new EventConsumer({
      redis: this.redis,
      keys: this.keys,
      store: new CampaignStore(this.redis, this.keys),
      webhookStore: this.webhookStore,
      webhooks: this.webhooks,
      metrics: this.metrics,
      providerOf: (domain) => this.shaper?.plan(domain).metricLabel ?? OTHER_PROVIDER,
      horizonMs: this.cfg.eventsHorizonMs,
      // A round renews the holds at least every lock period (its budget is a third of it, then
      // the pause and the gauges): twice that outlasts a slow round, and a collector gone
      // stops holding the streams within a minute at the default lock.
      holdMs: 2 * this.cfg.lockTtlMs,
    });
    const renewEvery = Math.floor(this.cfg.lockTtlMs / 3);
    let lastRenew = 0;
    let lastGauges = 0;
    let wasLeader = false;
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      try {
        const now = Date.now();
        if (now - lastRenew >= renewEvery || !this.lock.held) {
          lastRenew = now;
          const leader = await this.lock.acquire();
          if (leader !== wasLeader) {
            this.log.info({ leader }, leader ? 'collector lock taken' : 'collector lock lost');
            if (!leader) resetClusterGauges(this.metrics);
            this.metrics.leader.set(leader ? 1 : 0);
            wasLeader = leader;
          }
        }
        if (this.lock.held) {
          // Within what is left of the lock, so a slow round never outlives it.
          const r = await events.round(Date.now(), renewEvery);
          this.metrics.cluster.streamLag.set(r.lagSec);
          if (Date.now() - lastGauges >= this.cfg.intervalMs) {
            lastGauges = Date.now();
            const end = this.metrics.roundDuration.startTimer();
            await gauges.run();
            end();
          }
        }
      } catch (err) {
        this.log.warn({ err }, 'collector round failed; retrying');
      }
      await sleep(EVENTS_POLL_MS, undefined, { signal }).catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    const graceful = (async () => {
      await this.loop;
      await this.worker?.close();
      await this.lock.release().catch(() => undefined);
      await this.webhooks.close();
      await this.queues.close();
      return true;
    })().catch(() => true);
    // Every step asks Redis (the round in progress, the webhook worker's close, the lock's
    // release), and with Redis gone would wait for a reconnect that may never come. So the
    // wait ends STOP_WAIT_MS after Redis is (or goes) away, and at the latest once a webhook
    // in flight has had its timeout and Redis STOP_WAIT_MS to take its result. Then the
    // connections are dropped; the lock lapses by its own expiry, the webhook is retried.
    const redisGone = new Promise<void>((resolve) => {
      if (this.redis.status !== 'ready') resolve();
      else this.redis.once('close', () => resolve());
    });
    const closed = await Promise.race([
      graceful,
      redisGone.then(() => sleep(STOP_WAIT_MS, false, { ref: false })),
      sleep(this.cfg.webhookTimeoutMs + STOP_WAIT_MS, false, { ref: false }),
    ]);
    if (!closed) {
      this.log.warn(
        { stopWaitMs: STOP_WAIT_MS },
        'Redis did not answer while stopping; connections dropped',
      );
      void this.worker?.disconnect().catch(() => undefined);
    }
    this.watcher?.close();
    this.workerRedis?.disconnect();
    this.redis.disconnect();
  }
}
