/**
 * The sender, wired: Redis, the campaign store, the transport, traffic shaping and two BullMQ
 * workers (send batches, expand windows), started and drained together. The work itself is in
 * expansion.ts (windows into batches) and batch.ts (one batch, message by message).
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { SenderConfig } from '@volley/config';
import { QUEUES, Keys, type ExpandJob, type SendBatchJob } from '@volley/contracts';
import { CampaignStore, createQueues, Recorder, Retention, type Queues } from '@volley/campaigns';
import { ConnectionSlots, PolicyWatcher, Shaper, defaultPolicy, type Plan } from '@volley/shaping';
import { TenantSigners, checkDkimSecret } from '@volley/domains';
import type { DkimKeyConfig } from '@volley/message';
import { MxResolver, RouteTable, createTransport, type Transport } from '@volley/smtp';
import {
  OTHER_PROVIDER,
  SHARED_POOL,
  senderMetrics,
  type PoolConnections,
  type SenderMetrics,
} from '@volley/metrics';
import { BatchSender } from './batch.ts';
import { CampaignCache } from './campaigns.ts';
import { Deliverer } from './deliver.ts';
import { Expander } from './expansion.ts';
import { Retries } from './retry.ts';
import {
  CLOSE_AFTER_DRAIN_MS,
  RETENTION_SWEEP_MS,
  SWEEP_INTERVAL_MS,
  workerRetryDelayMs,
} from './timing.ts';
import { unsubscribeTargets } from './unsubscribe.ts';
import { type RedisClient, connectRedis } from '@volley/redis';

export interface SenderEngineOptions {
  config: SenderConfig;
  logger: Logger;
  registry: Registry;
}

/**
 * Jobs are idempotent (the done bitmap skips finished recipients), so a job may run again as
 * often as it takes: a batch whose sender was SIGKILLed several times must stall back into the
 * queue each time, never land in "failed" with recipients that nobody will send.
 */
const WORKER_RESILIENCE = {
  maxStalledCount: 1_000_000,
  settings: { backoffStrategy: workerRetryDelayMs },
};

/** DKIM keys from VOLLEY_DKIM_KEYS, read once at start; an unreadable key stops the sender. */
function staticDkimKeys(cfg: SenderConfig): DkimKeyConfig[] {
  return cfg.dkimKeys.map((k) => {
    let privateKey: string;
    try {
      privateKey = readFileSync(k.keyPath, 'utf8');
    } catch (err) {
      throw new Error(
        `VOLLEY_DKIM_KEYS: cannot read the key of ${k.selector}._domainkey.${k.domain} at ${k.keyPath}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    return { domain: k.domain, selector: k.selector, privateKey };
  });
}

/**
 * The sender: expands campaign windows into per-domain batches and delivers each batch
 * through pooled SMTP connections, recording every recipient's outcome exactly once.
 */
export class SenderEngine {
  private readonly cfg: SenderConfig;
  private readonly log: Logger;
  private readonly keys: Keys;
  private readonly redis: RedisClient;
  private readonly queueRedis: RedisClient;
  private readonly store: CampaignStore;
  private readonly recorder: Recorder;
  private readonly queues: Queues;
  private readonly mxResolver: MxResolver | undefined;
  private readonly transport: Transport;
  private readonly metrics: SenderMetrics;
  private readonly campaigns: CampaignCache;
  private readonly deliverer: Deliverer;
  private shaper: Shaper | undefined;
  private watcher: PolicyWatcher | undefined;
  private sendWorker: Worker<SendBatchJob> | undefined;
  private controlWorker: Worker<ExpandJob> | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private retentionSweeper: NodeJS.Timeout | undefined;
  /** Subscribed to the cancels channel (a subscribed connection takes no other commands). */
  private cancels: RedisClient | undefined;
  private closing = false;

  constructor(opts: SenderEngineOptions) {
    const cfg = (this.cfg = opts.config);
    this.log = opts.logger;
    this.keys = new Keys(cfg.redisPrefix);
    this.redis = connectRedis(cfg.redisUrl, { name: 'volley-sender', cluster: cfg.redisCluster });
    this.store = new CampaignStore(this.redis, this.keys, { eventsMaxLen: cfg.eventsMaxLen });
    this.recorder = new Recorder(this.store, { lowWater: this.lowWater });
    // The queues have a connection of their own. BullMQ defines its scripts (60-odd) as commands
    // of the connection it is given, and ioredis copies them onto each pipeline it makes, one per
    // auto-pipelined flush: about 30 us a pipeline against 3 without them (ioredis 5), which the
    // store's per-batch commands on this connection paid a few times a batch.
    this.queueRedis = connectRedis(cfg.redisUrl, {
      name: 'volley-sender-queues',
      cluster: cfg.redisCluster,
    });
    this.queues = createQueues(this.queueRedis, this.keys);
    this.mxResolver =
      cfg.delivery === 'mx'
        ? new MxResolver(cfg.dnsServers.length ? { servers: cfg.dnsServers } : {})
        : undefined;
    this.transport = createTransport({
      delivery: cfg.delivery,
      relays: cfg.relays,
      resolver: this.mxResolver,
      mxPort: cfg.mxPort,
      poolSize: cfg.poolSize,
      heloName: cfg.heloName,
    });
    this.metrics = senderMetrics(opts.registry, {
      concurrency: cfg.concurrency,
      enabled: cfg.sendMetrics,
    });
    this.metrics.watchConnections(() => this.connectionsByProvider());
    const unsubscribe = {
      secret: cfg.verpSecret,
      url: cfg.unsubscribeUrl,
      bounceDomain: cfg.bounceDomain,
    };
    const signers = new TenantSigners({
      redis: this.redis,
      keys: this.keys,
      secret: cfg.dkimSecret,
      ttlMs: cfg.dkimCacheMs,
      staticKeys: staticDkimKeys(cfg),
      onUnsigned: (tenant, fromDomain, reason) =>
        this.log.warn(
          { tenant, fromDomain },
          `sending unsigned: ${reason} (removed since the campaign was submitted?)`,
        ),
      onRefused: (tenant, fromDomain, reason) =>
        this.log.warn(
          { tenant, fromDomain },
          `not sending: ${reason} (another tenant's since the campaign was submitted); its recipients fail`,
        ),
    });
    this.campaigns = new CampaignCache(
      this.store,
      (id) => unsubscribeTargets(unsubscribe, id),
      Date.now,
      (tenant, fromDomain) => signers.signerFor(tenant, fromDomain),
      cfg.templateLimits,
    );
    this.deliverer = new Deliverer({
      transport: this.transport,
      maxMessageBytes: cfg.maxMessageBytes,
      verp:
        cfg.bounceDomain && cfg.verpSecret
          ? { secret: cfg.verpSecret, bounceDomain: cfg.bounceDomain }
          : undefined,
      smtpTime: (disposition, provider, s) => this.metrics.smtpReply(disposition, provider, s),
    });
  }

  /** The transport's pools by provider label, for volley_smtp_connections (read on a scrape). */
  private *connectionsByProvider(): Iterable<PoolConnections> {
    for (const c of this.transport.connections?.() ?? []) {
      yield { provider: this.providerOfRoute(c.route), open: c.open, busy: c.busy };
    }
  }

  /** A route key (a shaping key, see RouteTable) as a provider label. */
  private providerOfRoute(route: string | undefined): string {
    if (route === undefined) return SHARED_POOL;
    const key = route.replace(/ uncapped$/, '');
    const at = key.indexOf(':');
    const rest = key.slice(at + 1);
    if (key.startsWith('provider:')) return rest;
    return this.shaper?.plan(rest).metricLabel ?? OTHER_PROVIDER;
  }

  /** Below this many recipients in flight, the campaign's next window is expanded. */
  private get lowWater(): number {
    return Math.floor(this.cfg.expandWindow / 2);
  }

  /** True while Redis answers; used by /readyz. */
  ready(): boolean {
    return !this.closing && this.redis.status === 'ready' && this.queueRedis.status === 'ready';
  }

  /**
   * Loads the shaping policy: the file in VOLLEY_SHAPING_POLICY (watched, reloaded on change
   * and on SIGHUP), Volley's default policy when unset, or none with `off`.
   */
  private async startShaping(): Promise<void> {
    const source = this.cfg.shapingPolicy;
    if (source === 'off') {
      this.log.warn('traffic shaping is off (VOLLEY_SHAPING_POLICY=off): no per-domain limits');
      return;
    }
    let policy = defaultPolicy();
    if (source) {
      this.watcher = await PolicyWatcher.open(source);
      policy = this.watcher.policy;
      this.watcher.on('change', (p) => {
        this.shaper?.setPolicy(p);
        this.log.info({ path: source }, 'shaping policy reloaded');
      });
      this.watcher.on('invalid', (err) => {
        this.log.error(
          { path: source, line: err.line, column: err.column, reason: err.reason },
          'shaping policy file is invalid; the previous policy stays in force',
        );
      });
    }
    this.shaper = new Shaper({
      redis: this.redis,
      prefix: this.cfg.redisPrefix,
      policy,
      onEvent: (event) => this.log.info({ shaping: event }, `shaping: ${event.type} ${event.key}`),
      onError: (err) => this.log.warn({ err }, 'shaping timer failed; retrying'),
    });
    this.shaper.start();
  }

  /** SIGHUP: re-reads the shaping policy file now. */
  async reloadPolicy(): Promise<void> {
    if (!this.watcher) return;
    const r = await this.watcher.reload();
    this.log.info({ status: r.status }, 'shaping policy reload on request');
  }

  /** The shaping plan of a recipient domain; in mx mode providers also match by MX host. */
  private async planFor(domain: string): Promise<Plan | undefined> {
    if (!this.shaper) return undefined;
    let mxHosts: string[] = [];
    if (this.mxResolver) {
      const lookup = await this.mxResolver.resolve(domain);
      if (lookup.ok) mxHosts = lookup.hosts.map((h) => h.name);
    }
    return this.shaper.plan(domain, mxHosts);
  }

  async start(): Promise<void> {
    // A stored domain's key that cannot be opened would hold its mail back batch after batch.
    await checkDkimSecret(this.redis, this.keys, this.cfg.dkimSecret);
    await this.startShaping();
    await this.followCancels();
    const { cfg, log, store, queues, metrics, shaper } = this;
    const planFor = (domain: string) => this.planFor(domain);
    const expander = new Expander({
      log,
      store,
      queues,
      campaigns: this.campaigns,
      shaper,
      planFor,
      shapingDelay: (provider, reason, n) => metrics.shapingDelay(provider, reason, n),
      expandWindow: cfg.expandWindow,
      batchSize: cfg.batchSize,
      lowWater: this.lowWater,
    });
    const slots =
      shaper &&
      new ConnectionSlots(shaper, {
        maxBatches: cfg.poolSize,
        // The lease expires by itself; its place frees within the lease ttl.
        onReleaseError: (err, key) =>
          log.warn({ err, key }, 'could not release a connection lease'),
      });
    const batches = new BatchSender({
      log,
      store,
      recorder: this.recorder,
      metrics,
      campaigns: this.campaigns,
      deliverer: this.deliverer,
      retries: new Retries({
        queues,
        shaper,
        retryBaseMs: cfg.retryBaseMs,
        retryMaxMs: cfg.retryMaxMs,
      }),
      expander,
      shaper,
      planFor,
      slots,
      routes: slots && new RouteTable<Plan>((plan) => slots.acquire(plan)),
      maxAgeMs: cfg.maxAgeMs,
      lowWater: this.lowWater,
    });

    const workerConnection = connectRedis(cfg.redisUrl, {
      name: 'volley-sender-worker',
      maxRetriesPerRequest: null,
      cluster: cfg.redisCluster,
    });
    this.sendWorker = new Worker<SendBatchJob>(
      QUEUES.send,
      (job, token) => batches.process(job, token),
      {
        connection: workerConnection,
        prefix: this.keys.bullPrefix(QUEUES.send),
        concurrency: cfg.concurrency,
        lockDuration: cfg.jobLockMs,
        stalledInterval: cfg.jobLockMs,
        ...WORKER_RESILIENCE,
      },
    );
    this.controlWorker = new Worker<ExpandJob>(
      QUEUES.control,
      (job, token) => expander.expand(job, token),
      {
        connection: connectRedis(cfg.redisUrl, {
          name: 'volley-sender-worker',
          maxRetriesPerRequest: null,
          cluster: cfg.redisCluster,
        }),
        prefix: this.keys.bullPrefix(QUEUES.control),
        concurrency: 2,
        lockDuration: cfg.jobLockMs,
        stalledInterval: cfg.jobLockMs,
        ...WORKER_RESILIENCE,
      },
    );
    for (const w of [this.sendWorker, this.controlWorker]) {
      w.on('failed', (job, err) => {
        log.error({ err, jobId: job?.id, queue: w.name }, 'job failed; BullMQ will retry it');
      });
      w.on('error', (err) => log.error({ err, queue: w.name }, 'worker error'));
    }
    this.sweeper = setInterval(() => {
      expander.sweep().catch((err: unknown) => log.warn({ err }, 'window sweep failed'));
    }, SWEEP_INTERVAL_MS);
    this.sweeper.unref();
    const retention = new Retention(this.redis, this.keys, {
      retentionMs: cfg.retentionMs,
      queues: this.queues,
    });
    this.retentionSweeper = setInterval(() => {
      retention
        .sweep()
        .then(({ purged, backfilled, jobsRemoved }) => {
          if (purged.length > 0 || backfilled > 0) {
            log.info(
              { campaigns: purged, jobsRemoved, backfilled },
              'finished campaigns past VOLLEY_RETENTION: per-recipient data removed',
            );
          }
        })
        .catch((err: unknown) => log.warn({ err }, 'retention sweep failed'));
    }, RETENTION_SWEEP_MS);
    this.retentionSweeper.unref();
  }

  /**
   * Hears each cancel as the cancel's script publishes it, before the API answers: from then
   * on this process hands none of the campaign's messages to SMTP (the exact cancel). Missed
   * while the connection is down, a cancel still reaches the sender through the next claim or
   * status read (at most STATUS_TTL_MS old).
   */
  private async followCancels(): Promise<void> {
    const sub = connectRedis(this.cfg.redisUrl, {
      name: 'volley-sender-cancels',
      cluster: this.cfg.redisCluster,
    });
    this.cancels = sub;
    sub.on('message', (_channel: string, id: string) => this.campaigns.cancelled(id));
    sub.on('error', (err: unknown) => this.log.warn({ err }, 'cancels subscription: Redis error'));
    await sub.subscribe(this.keys.cancels);
  }

  /**
   * Stops taking work, lets in-flight batches finish until the deadline, then closes.
   * Batches cut off by the deadline stay in BullMQ and are picked up by another sender;
   * recipients already accepted are skipped there by their sent marker.
   */
  async stop(deadlineMs = this.cfg.drainTimeoutMs): Promise<void> {
    this.closing = true;
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.retentionSweeper) clearInterval(this.retentionSweeper);
    const workers = [this.sendWorker, this.controlWorker].filter(
      (w): w is Worker => w !== undefined,
    );
    const drained = await settlesWithin(Promise.all(workers.map((w) => w.close())), deadlineMs);
    if (!drained) {
      this.log.warn(
        { deadlineMs },
        'drain deadline passed; leaving unfinished batches to other senders',
      );
    }
    // Closing asks Redis (forced worker close, lease release, queue close): with Redis away
    // it would wait for a reconnect that may never come, and the process would outlive every
    // deadline. Past CLOSE_AFTER_DRAIN_MS the connections are dropped instead; what was not
    // released lapses (job locks, connection leases) and is taken up by other senders.
    const closed = await settlesWithin(
      (async () => {
        if (!drained) await Promise.all(workers.map((w) => w.close(true)));
        this.transport.close();
        await this.shaper?.close();
        this.watcher?.close();
        await this.queues.close();
      })(),
      CLOSE_AFTER_DRAIN_MS,
    );
    if (!closed) {
      this.log.warn(
        { closeMs: CLOSE_AFTER_DRAIN_MS },
        'Redis did not answer while closing; connections dropped',
      );
      this.transport.close();
      this.watcher?.close();
      for (const w of workers) void w.disconnect().catch(() => undefined);
    }
    this.queueRedis.disconnect();
    this.cancels?.disconnect();
    this.redis.disconnect();
  }
}

/** True when `work` settles within `ms`; it is not awaited further (nor its failure) after. */
async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = work.then(
    () => true,
    () => true,
  );
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}
