import { DelayedError, Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Redis } from 'ioredis';
import type { SenderConfig } from '@volley/config';
import {
  JOBS,
  QUEUES,
  Keys,
  type BatchRecipient,
  type CampaignStatus,
  type ExpandJob,
  type SendBatchJob,
} from '@volley/contracts';
import {
  CampaignStore,
  createQueues,
  enqueueExpand,
  Recorder,
  type FinalizeResult,
  type Queues,
} from '@volley/campaigns';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  PolicyWatcher,
  Shaper,
  defaultPolicy,
  type ConnectionLease,
  type Plan,
  type Slot,
} from '@volley/shaping';
import {
  DkimSigner,
  MessageComposer,
  createToken,
  verpAddress,
  compileCampaignTemplates,
  normalizeEmail,
  parseMailbox,
  type CompiledTemplates,
} from '@volley/message';
import {
  MxPool,
  MxResolver,
  RelayPool,
  type Route,
  type SlotLease,
  type SendResult,
  type Transport,
} from '@volley/smtp';
import { connectRedis } from '@volley/redis';
import { senderMetrics, type SenderMetrics } from '@volley/metrics';
import { planBatches, type PlannedBatch } from './batching.ts';
import { retryDelayMs } from './backoff.ts';

export interface SenderEngineOptions {
  config: SenderConfig;
  logger: Logger;
  registry: Registry;
}

interface CampaignRuntime {
  id: string;
  tenant: string;
  /** Domain of the From address: picks the DKIM keys. */
  fromDomain: string;
  status: CampaignStatus;
  statusReadAt: number;
  templates: CompiledTemplates | Error;
  composer: MessageComposer | Error;
}

/** Reasons that say the address will never take mail: put it on the tenant's suppression list. */
const HARD_REASONS = new Set(['userunknown', 'hostunknown', 'notaccept']);

/** How stale a cached campaign status may be; bounds how long a pause or cancel takes to act. */
const STATUS_TTL_MS = 1000;
/** Campaigns kept compiled per process; least recently used beyond that are dropped. */
const CAMPAIGN_CACHE_SIZE = 500;
/**
 * Jobs are idempotent (the done bitmap skips finished recipients), so a job may run again as
 * often as it takes: a batch whose sender was SIGKILLed several times must stall back into the
 * queue each time, never land in "failed" with recipients that nobody will send.
 */
const WORKER_RESILIENCE = {
  maxStalledCount: 1_000_000,
  settings: {
    // Errors while processing are infrastructure trouble (Redis failover, say): retry from 1 s,
    // doubling to at most a minute.
    backoffStrategy: (attemptsMade: number) =>
      Math.min(1000 * 2 ** Math.max(0, attemptsMade - 1), 60_000),
  },
};

/**
 * A reserved slot this close is waited for in process; further away, in BullMQ's delayed set.
 * Kept short: a batch sleeping in process holds one of the worker's concurrency slots, which
 * other domains need.
 */
const IN_PROCESS_WAIT_MS = 50;
/**
 * A batch that woke holding its slot is admitted when it can start within this long. Late
 * batches (a slow promotion, a wait for a connection) are admitted into the room their own
 * unused slots left, which pushes the batches after them back by about one batch interval
 * (a tenth of a second with the default burst): waited for in process rather than by another
 * trip through the delayed set.
 */
const HELD_ADMIT_WITHIN_MS = 250;
/**
 * How long a batch waits when its destination's connection cap keeps it from sending: this
 * worker already sends as many of its batches as the cap allows, holds none of its connections
 * while the cap is full, or found no connection slot within the pool's short wait. The batch
 * comes back to any worker, and most of them hold a connection. A destination with a rate: the
 * batch holds a slot that is due, so it comes back after 250 ms however often it bounced (a
 * growing wait left a few batches 10-20 s behind their destination's backlog). Without a rate
 * nothing is due: 250 ms twice, 500 ms twice, ... up to 2 s, so a destination capped for long
 * is not polled often.
 */
function capWaitMs(waits: number, due: boolean): number {
  const steps = due ? 0 : Math.min(Math.floor((waits - 1) / 2), 3);
  const base = Math.min(250 * 2 ** steps, 2_000);
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

/**
 * How late an admitted batch may start before it presents its slot again: one batch interval
 * at the destination's rate (later than that, it arrives on top of the next batch; within it,
 * at most one batch crosses into a window, which the burst allows), and at least 50 ms, a
 * usual event-loop hiccup. See the batch loop.
 */
function lateToleranceMs(plan: Plan, slot: Slot): number {
  const rate = (plan.rule.ratePerSec ?? 0) * slot.factor;
  if (!(rate > 0)) return Infinity;
  return Math.max(50, (slot.granted * 1000) / rate);
}
const MAX_READMITS = 2;

/** MX lookups run at once while a window's destinations are planned (mx mode). */
const MX_LOOKUPS_AT_ONCE = 32;

/** A batch's place in its destination's rate, reserved when its window is expanded. */
interface WindowSlot {
  delayMs: number;
  shaping?: SendBatchJob['shaping'];
}

/** How long a batch of a paused campaign waits before it looks at the status again. */
const PARK_RECHECK_MS = 30_000;
/** How often each sender checks running campaigns for a window that needs refilling. */
const SWEEP_INTERVAL_MS = 5000;

/**
 * The sender: expands campaign windows into per-domain batches and delivers each batch
 * through pooled SMTP connections, recording every recipient's outcome exactly once.
 */
export class SenderEngine {
  private readonly cfg: SenderConfig;
  private readonly log: Logger;
  private readonly keys: Keys;
  private readonly redis: Redis;
  private readonly store: CampaignStore;
  private readonly recorder: Recorder;
  private readonly queues: Queues;
  private readonly transport: Transport;
  private readonly mxResolver: MxResolver | undefined;
  private shaper: Shaper | undefined;
  private watcher: PolicyWatcher | undefined;
  private readonly metrics: SenderMetrics;
  private readonly dkim: DkimSigner | undefined;
  private readonly campaigns = new Map<string, CampaignRuntime>();
  private readonly refillAsked = new Set<string>();
  /** Routes of capped destinations by shaping key, and the plan each was last used with. */
  private readonly routes = new Map<string, Route>();
  private readonly latestPlans = new Map<string, Plan>();
  /** Batches of each connection-capped destination this worker is sending now. */
  private readonly capBusy = new Map<string, number>();
  /** Connection leases this worker holds per capped destination, and those taken up front for its next connection. */
  private readonly leasesHeld = new Map<string, number>();
  private readonly leaseStash = new Map<string, SlotLease[]>();
  private sendWorker: Worker<SendBatchJob> | undefined;
  private controlWorker: Worker<ExpandJob> | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private closing = false;

  constructor(opts: SenderEngineOptions) {
    this.cfg = opts.config;
    this.log = opts.logger;
    this.keys = new Keys(this.cfg.redisPrefix);
    this.redis = connectRedis(this.cfg.redisUrl, { name: 'volley-sender' });
    this.store = new CampaignStore(this.redis, this.keys);
    this.recorder = new Recorder(this.store, { lowWater: this.lowWater });
    this.queues = createQueues(this.redis, this.keys);
    this.mxResolver =
      this.cfg.delivery === 'mx'
        ? new MxResolver(this.cfg.dnsServers.length ? { servers: this.cfg.dnsServers } : {})
        : undefined;
    this.transport =
      this.cfg.delivery === 'mx'
        ? new MxPool({
            resolver: this.mxResolver,
            port: this.cfg.mxPort,
            poolSize: this.cfg.poolSize,
            heloName: this.cfg.heloName,
          })
        : new RelayPool(this.cfg.relays, {
            poolSize: this.cfg.poolSize,
            heloName: this.cfg.heloName,
          });
    this.dkim = this.cfg.dkimKeys.length
      ? new DkimSigner(
          this.cfg.dkimKeys.map((k) => {
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
          }),
        )
      : undefined;
    this.metrics = senderMetrics(opts.registry);
  }

  get lowWater(): number {
    return Math.floor(this.cfg.expandWindow / 2);
  }

  /** True while Redis answers; used by /readyz. */
  ready(): boolean {
    return !this.closing && this.redis.status === 'ready';
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

  async start(): Promise<void> {
    await this.startShaping();
    const workerConnection = connectRedis(this.cfg.redisUrl, {
      name: 'volley-sender-worker',
      maxRetriesPerRequest: null,
    });
    this.sendWorker = new Worker<SendBatchJob>(
      QUEUES.send,
      (job, token) => this.processBatch(job, token),
      {
        connection: workerConnection,
        prefix: this.keys.bullPrefix,
        concurrency: this.cfg.concurrency,
        lockDuration: this.cfg.jobLockMs,
        stalledInterval: this.cfg.jobLockMs,
        ...WORKER_RESILIENCE,
      },
    );
    this.controlWorker = new Worker<ExpandJob>(
      QUEUES.control,
      (job, token) => this.processExpand(job, token),
      {
        connection: workerConnection.duplicate(),
        prefix: this.keys.bullPrefix,
        concurrency: 2,
        lockDuration: this.cfg.jobLockMs,
        stalledInterval: this.cfg.jobLockMs,
        ...WORKER_RESILIENCE,
      },
    );
    for (const w of [this.sendWorker, this.controlWorker]) {
      w.on('failed', (job, err) => {
        this.log.error({ err, jobId: job?.id, queue: w.name }, 'job failed; BullMQ will retry it');
      });
      w.on('error', (err) => this.log.error({ err, queue: w.name }, 'worker error'));
    }
    this.sweeper = setInterval(() => {
      this.sweep().catch((err: unknown) => this.log.warn({ err }, 'window sweep failed'));
    }, SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  /**
   * Stops taking work, lets in-flight batches finish until the deadline, then closes.
   * Batches cut off by the deadline stay in BullMQ and are picked up by another sender;
   * recipients already accepted are skipped there by their sent marker.
   */
  async stop(deadlineMs = this.cfg.drainTimeoutMs): Promise<void> {
    this.closing = true;
    if (this.sweeper) clearInterval(this.sweeper);
    const workers = [this.sendWorker, this.controlWorker].filter(
      (w): w is Worker => w !== undefined,
    );
    let timer: NodeJS.Timeout | undefined;
    const graceful = Promise.all(workers.map((w) => w.close()));
    const timedOut = await Promise.race([
      graceful.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), deadlineMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.log.warn(
        { deadlineMs },
        'drain deadline passed; leaving unfinished batches to other senders',
      );
      await Promise.all(workers.map((w) => w.close(true)));
    }
    this.transport.close();
    await this.shaper?.close();
    this.watcher?.close();
    await this.queues.close();
    this.redis.disconnect();
  }

  private async runtime(id: string): Promise<CampaignRuntime | undefined> {
    const now = Date.now();
    let rt = this.campaigns.get(id);
    if (rt && now - rt.statusReadAt > STATUS_TTL_MS) {
      const status = await this.store.status(id);
      if (!status) {
        this.campaigns.delete(id);
        return undefined;
      }
      rt.status = status;
      rt.statusReadAt = now;
    }
    if (rt) {
      // Re-insert to keep Map order as recency order for the LRU.
      this.campaigns.delete(id);
      this.campaigns.set(id, rt);
      return rt;
    }
    const rec = await this.store.get(id);
    if (!rec) return undefined;
    let templates: CompiledTemplates | Error;
    let composer: MessageComposer | Error;
    try {
      templates = compileCampaignTemplates(rec);
    } catch (err) {
      templates = err instanceof Error ? err : new Error(String(err));
    }
    try {
      composer = new MessageComposer({
        campaignId: id,
        from: rec.from,
        replyTo: rec.replyTo,
        headers: rec.headers,
        unsubscribe: this.unsubscribeFor(id),
      });
    } catch (err) {
      composer = err instanceof Error ? err : new Error(String(err));
    }
    const fromDomain = parseMailbox(rec.from)?.domain ?? '';
    rt = {
      id,
      tenant: rec.tenant,
      fromDomain,
      status: rec.status,
      statusReadAt: now,
      templates,
      composer,
    };
    this.campaigns.set(id, rt);
    if (this.campaigns.size > CAMPAIGN_CACHE_SIZE) {
      const oldest = this.campaigns.keys().next().value;
      if (oldest !== undefined) this.campaigns.delete(oldest);
    }
    return rt;
  }

  private async processExpand(job: Job<ExpandJob>, token: string | undefined): Promise<void> {
    const { campaignId: id, from } = job.data;
    let state = await this.store.windowState(id);
    if (!state) return;
    if (state.status === 'scheduled') {
      const res = await this.store.start(id);
      if (res.status === 'uploading') {
        // Due while recipients are still streaming in: start once the upload has ended.
        await job.moveToDelayed(Date.now() + 2000, token);
        throw new DelayedError();
      }
      state = await this.store.windowState(id);
      if (!state) return;
    }
    if (state.status !== 'running' || state.cursor !== from || from >= state.total) return;
    if (from > 0 && state.inWindow > this.lowWater) {
      // The window is still full: wait in BullMQ's delayed set rather than expanding past the bound.
      await job.moveToDelayed(Date.now() + 1000, token);
      throw new DelayedError();
    }
    const rows = await this.store.recipientWindow(id, from, this.cfg.expandWindow);
    const shaper = this.shaper;
    const batches = planBatches(id, from, rows, (domain) =>
      shaper ? Math.min(this.cfg.batchSize, shaper.plan(domain).batchSize) : this.cfg.batchSize,
    );
    const rt = await this.runtime(id);
    if (!rt) return;
    const now = Date.now();
    const slots = await this.reserveWindow(id, batches);
    // Adding before advancing the cursor: a crash in between re-adds the same job ids (a no-op
    // while they exist), never skips a recipient.
    await this.queues.send.addBulk(
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
    await this.store.advanceCursor(id, from, from + rows.length);
    this.log.debug(
      { campaignId: id, from, count: rows.length, batches: batches.length },
      'window expanded',
    );
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
    const shaper = this.shaper;
    if (!shaper) return out;
    const domains = [...new Set(batches.map((b) => b.domain))];
    const plans = new Map<string, Plan | undefined>();
    // In mx mode a plan may need an MX lookup: a few at a time, not one per domain at once.
    for (let i = 0; i < domains.length; i += MX_LOOKUPS_AT_ONCE) {
      const part = domains.slice(i, i + MX_LOOKUPS_AT_ONCE);
      const got = await Promise.all(part.map((d) => this.planFor(d)));
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
          this.metrics.shapingDelays.inc(
            { destination: plan.metricLabel, reason: 'suspended' },
            idx.length,
          );
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
            this.metrics.shapingDelays.inc({ destination: plan.metricLabel, reason: 'rate' });
          }
        });
      }),
    );
    return out;
  }

  private async processBatch(job: Job<SendBatchJob>, token: string | undefined): Promise<void> {
    const d = job.data;
    const rt = await this.runtime(d.campaignId);
    if (!rt) {
      this.log.warn(
        { campaignId: d.campaignId },
        'batch for a campaign that no longer exists; dropped',
      );
      return;
    }
    if (rt.status === 'paused' && job.id) {
      // Checked and recorded in one script, so a resume at this instant either finds the job
      // in the parked set (and promotes it) or this sees "running".
      const now = await this.store.park(d.campaignId, job.id);
      rt.status = now as CampaignStatus;
      rt.statusReadAt = Date.now();
      if (now === 'paused') {
        // Resume promotes parked jobs at once; the delay only bounds how long a job whose
        // promotion raced with this move would wait.
        await job.moveToDelayed(Date.now() + PARK_RECHECK_MS, token);
        throw new DelayedError();
      }
    }
    if (rt.status === 'cancelled') return;

    const done = await this.store.doneFlags(
      d.campaignId,
      d.recipients.map((r) => r.i),
    );
    const todo = d.recipients.filter((_r, k) => !done[k]);
    if (todo.length === 0) return;
    const suppressed = await this.store.suppressedFlags(
      rt.tenant,
      todo.map((r) => r.email),
    );

    const expired = d.attempt > 1 && Date.now() - d.firstAttemptAt > this.cfg.maxAgeMs;
    const deferred: BatchRecipient[] = [];
    /** Not sent for want of a connection slot: they wait, without counting a deferral. */
    const waiting: BatchRecipient[] = [];
    const signals: FinalizeResult[] = [];
    let sendable: BatchRecipient[] = [];
    const skipped: Promise<FinalizeResult>[] = [];
    for (const [k, r] of todo.entries()) {
      if (suppressed[k]) {
        skipped.push(this.record(rt, r, 'suppressed', 'suppressed', 'on the suppression list'));
      } else if (expired) {
        skipped.push(this.record(rt, r, 'bounced', 'expired', 'deferred past the maximum age'));
      } else {
        sendable.push(r);
      }
    }
    // Recorded together: the recorder joins them into one round trip.
    signals.push(...(await Promise.all(skipped)));

    const plan = this.shaper && sendable.length ? await this.planFor(d.domain) : undefined;
    // A destination with a connection cap takes at most that many of this worker's batch
    // slots: its batches wait on few connections, and would otherwise hold every slot while
    // other destinations' due batches go late.
    const capKey = plan?.rule.connections !== undefined ? plan.key : undefined;
    if (plan && capKey !== undefined) {
      const limit = Math.max(1, Math.min(plan.rule.connections ?? 1, this.cfg.poolSize));
      const busy = this.capBusy.get(capKey) ?? 0;
      // This worker already sends as many of its batches as the cap allows, or (with a rate)
      // holds none of its connections while the cap is full: back to the delayed set for a
      // moment, keeping the batch's rate slot.
      if (
        busy >= limit ||
        (plan.rule.ratePerSec !== undefined && !(await this.ensureConnectionSlot(plan)))
      ) {
        const waits = (d.slotWaits ?? 0) + 1;
        this.metrics.shapingDelays.inc({ destination: plan.metricLabel, reason: 'connections' });
        await job.updateData({ ...d, slotWaits: waits });
        await this.handleSignals(d.campaignId, signals);
        await job.moveToDelayed(
          Date.now() + capWaitMs(waits, plan.rule.ratePerSec !== undefined),
          token,
        );
        throw new DelayedError();
      }
      this.capBusy.set(capKey, busy + 1);
    }
    const capped = capKey === undefined ? 'false' : 'true';
    this.metrics.batchesActive.inc({ capped });
    try {
      // The slot this batch holds, unless it was reserved on another key (the policy changed).
      let held =
        plan && d.shaping && (d.shaping.key === undefined || d.shaping.key === plan.key)
          ? d.shaping
          : undefined;
      /** The first slot this run sent on: recipients left without a connection keep it. */
      let firstSlot: { heldSince: number; startAt: number } | undefined;
      let readmits = 0;
      while (sendable.length > 0) {
        let n = sendable.length;
        /** When the chunk was admitted to start (local clock), and how late it may go out. */
        let admittedAt: number | undefined;
        let tolerance = Infinity;
        if (plan && this.shaper) {
          const askedAt = Date.now();
          const slot = await this.shaper.reserve(plan, Math.min(n, held?.count ?? n), {
            campaignId: d.campaignId,
            held: held && { since: held.heldSince, startAt: held.startAt },
            admitWithinMs: held ? HELD_ADMIT_WITHIN_MS : IN_PROCESS_WAIT_MS,
          });
          if (slot.status === 'suspended' || !slot.admitted) {
            // Wait in BullMQ's delayed set for the slot (or the end of the suspension) and
            // present it then: no attempt is used, no worker is held, other domains go on.
            this.metrics.shapingDelays.inc({
              destination: plan.metricLabel,
              reason: slot.status === 'suspended' ? 'suspended' : 'rate',
            });
            await this.requeueDeferred(job, deferred);
            await job.updateData({
              ...d,
              recipients: [...waiting, ...sendable],
              shaping:
                slot.status === 'suspended'
                  ? undefined
                  : {
                      heldSince: slot.heldSince,
                      count: slot.granted,
                      startAt: slot.startAt,
                      key: plan.key,
                    },
            });
            await this.handleSignals(d.campaignId, signals);
            await job.moveToDelayed(Date.now() + slot.delayMs, token);
            throw new DelayedError();
          }
          // Admitted: these messages count against the limit from `startAt` on, whenever the
          // slot itself was (a late batch is admitted into room its unused slot left).
          if (slot.delayMs > 0) await sleep(slot.delayMs);
          // Much later than admitted (a stalled event loop, a slow answer): sent now, these
          // messages would arrive together with the batches admitted after them, above the
          // limit. Present the slot again instead; that costs the destination this batch's
          // share of the rate once. After a few times, send anyway.
          admittedAt = askedAt + slot.delayMs;
          tolerance = lateToleranceMs(plan, slot);
          const late = Date.now() - admittedAt;
          if (late > tolerance && readmits < MAX_READMITS) {
            readmits++;
            held = { heldSince: slot.heldSince, startAt: slot.startAt, count: slot.granted };
            continue;
          }
          n = Math.max(1, slot.granted);
          held = undefined;
          firstSlot ??= { heldSince: slot.heldSince, startAt: slot.startAt };
        }
        const chunk = sendable.slice(0, n);
        sendable = sendable.slice(n);
        const waitingBefore = waiting.length;
        await Promise.all(
          chunk.map(async (r) => {
            const result = await this.deliver(rt, r, plan);
            if (result.disposition === 'noslot') {
              waiting.push(r);
            } else if (result.disposition === 'deferred') {
              deferred.push(r);
              this.metrics.messages.inc({ outcome: 'deferred', reason: result.reason });
              signals.push(
                await this.store.defer(d.campaignId, r.i, r.email, {
                  reason: result.reason,
                  detail: result.text,
                  lowWater: this.lowWater,
                }),
              );
            } else {
              signals.push(result.signal);
            }
          }),
        );
        // Out much later than admitted (connections to open or wait for, a slow receiver):
        // admission counted these from their admitted start, and the next batches would arrive
        // on top of them. They count from now instead (a test saw a first batch 600 ms late
        // arrive with the next two, 15 messages in 200 ms for 20/s + burst 5).
        const sent = chunk.length - (waiting.length - waitingBefore);
        if (plan && this.shaper && admittedAt !== undefined && sent > 0) {
          if (Date.now() - admittedAt > tolerance) await this.shaper.startedLate(plan, sent);
        }
      }
      if (waiting.length > 0) {
        const waits = (d.slotWaits ?? 0) + 1;
        this.metrics.shapingDelays.inc({
          destination: plan?.metricLabel ?? 'other',
          reason: 'connections',
        });
        await this.queues.send.add(
          JOBS.sendBatch,
          {
            ...d,
            recipients: waiting,
            slotWaits: waits,
            // Their place in the rate stands: they are admitted when they are back, rather
            // than queued behind the destination's whole backlog.
            shaping:
              plan && firstSlot
                ? {
                    ...firstSlot,
                    count: Math.min(waiting.length, plan.maxBatch),
                    key: plan.key,
                  }
                : undefined,
          },
          {
            jobId: `${job.id ?? d.batchId}.w${waits}`,
            delay: capWaitMs(waits, plan?.rule.ratePerSec !== undefined),
          },
        );
      }
      await this.requeueDeferred(job, deferred);
      await this.handleSignals(d.campaignId, signals);
    } finally {
      this.metrics.batchesActive.dec({ capped });
      if (capKey !== undefined) {
        const left = (this.capBusy.get(capKey) ?? 1) - 1;
        if (left > 0) this.capBusy.set(capKey, left);
        else this.capBusy.delete(capKey);
        if (left === 0) this.dropStashedLeases(capKey);
      }
    }
  }

  /**
   * Queues the batch's deferred recipients as its next attempt, after the retry delay. The new
   * job is named after this job and the recipients it carries: unique across the batch's jobs
   * (a batch may defer some recipients, wait for its next slot, defer others; the jobs it
   * queues may do the same), and the same when a job run again after a crash queues the same
   * recipients, which then are not queued twice.
   */
  private async requeueDeferred(job: Job<SendBatchJob>, deferred: BatchRecipient[]): Promise<void> {
    const first = deferred[0];
    if (!first) return;
    const d = job.data;
    const next = d.attempt + 1;
    const jobId = `${job.id ?? d.batchId}.r${first.i}n${deferred.length}`;
    await this.queues.send.add(
      JOBS.sendBatch,
      {
        ...d,
        recipients: deferred.splice(0),
        attempt: next,
        shaping: undefined,
        slotWaits: undefined,
      },
      { jobId, delay: this.retryDelay(d.attempt, d.domain) },
    );
  }

  private async record(
    rt: CampaignRuntime,
    r: BatchRecipient,
    outcome: 'sent' | 'bounced' | 'suppressed' | 'failed',
    reason: string,
    detail: string,
    suppress = false,
  ): Promise<FinalizeResult> {
    const res = await this.recorder.record(rt.id, rt.tenant, {
      index: r.i,
      email: r.email,
      outcome,
      reason,
      detail,
      suppress,
    });
    if (res.recorded) this.metrics.messages.inc({ outcome, reason });
    return res;
  }

  /** Renders, composes and sends one message; final outcomes are recorded here. */
  private async deliver(
    rt: CampaignRuntime,
    r: BatchRecipient,
    plan: Plan | undefined,
  ): Promise<
    | { disposition: 'deferred'; reason: string; text: string }
    | { disposition: 'noslot' }
    | { disposition: 'final'; signal: FinalizeResult }
  > {
    const final = async (
      outcome: 'sent' | 'bounced' | 'failed',
      reason: string,
      detail: string,
      suppress = false,
    ) => ({
      disposition: 'final' as const,
      signal: await this.record(rt, r, outcome, reason, detail, suppress),
    });

    const to = normalizeEmail(r.email);
    if (!to) return final('failed', 'syntaxerror', 'invalid recipient address; never sent');
    if (rt.templates instanceof Error) return final('failed', 'template', rt.templates.message);
    if (rt.composer instanceof Error) return final('failed', 'template', rt.composer.message);
    let raw;
    try {
      const content = rt.templates.render({ ...(r.vars ?? {}), email: r.email });
      const size =
        content.subject.length + (content.html?.length ?? 0) + (content.text?.length ?? 0);
      if (size > this.cfg.maxMessageBytes) {
        return await final(
          'failed',
          'template',
          `rendered message is ${size} characters, over VOLLEY_MAX_MESSAGE_SIZE (${this.cfg.maxMessageBytes})`,
        );
      }
      raw = rt.composer.compose(r.i, to, content);
      if (this.cfg.bounceDomain && this.cfg.verpSecret) {
        raw.envelope.from = verpAddress(this.cfg.verpSecret, this.cfg.bounceDomain, rt.id, r.i);
      }
      if (this.dkim) raw.raw = this.dkim.sign(raw.raw, rt.fromDomain);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      return final('failed', 'template', `render failed: ${msg.slice(0, 300)}`);
    }
    const t0 = process.hrtime.bigint();
    const res: SendResult = await this.transport.send(
      raw,
      to.slice(to.lastIndexOf('@') + 1),
      plan && this.routeFor(plan),
    );
    // Nothing was sent: the destination's connection cap is full across workers.
    if (res.noSlot) return { disposition: 'noslot' };
    this.metrics.smtpTime.observe(
      { outcome: res.disposition },
      Number(process.hrtime.bigint() - t0) / 1e9,
    );
    const detail = res.text;
    if (plan && this.shaper && res.disposition !== 'delivered') {
      // Replies feed the adaptive rules (421 "try again later" slows the destination down).
      await this.shaper.observe(plan, { code: res.code, text: res.text }, rt.id);
    }
    if (res.disposition === 'delivered') return final('sent', 'delivered', detail);
    if (res.disposition === 'bounced')
      return final('bounced', res.reason, detail, HARD_REASONS.has(res.reason));
    return { disposition: 'deferred', reason: res.reason, text: detail };
  }

  /**
   * Unsubscribe targets with a signed token naming campaign and recipient: the https endpoint
   * (one-click, RFC 8058) when VOLLEY_UNSUBSCRIBE_URL is set, and a mailto on the bounce domain.
   */
  private unsubscribeFor(
    campaignId: string,
  ): ((index: number) => { url?: string; mailto?: string }) | undefined {
    const secret = this.cfg.verpSecret;
    if (!secret || (!this.cfg.unsubscribeUrl && !this.cfg.bounceDomain)) return undefined;
    const base = this.cfg.unsubscribeUrl?.replace(/\/+$/, '');
    const domain = this.cfg.bounceDomain;
    return (index) => {
      const token = createToken(secret, 'unsubscribe', campaignId, index);
      return {
        ...(base ? { url: `${base}/${token}` } : {}),
        ...(domain ? { mailto: `unsubscribe+${token}@${domain}` } : {}),
      };
    };
  }

  /**
   * The connections of a destination whose rule caps connections or messages per connection:
   * its own pools, whose new connections take a lease on the cap shared by all workers. A
   * destination with only a rate has pools of its own too: a batch admitted on its slot must
   * not wait behind an unlimited domain's backlog in the shared pool and then arrive on top of
   * the next batches (a test counted 30 in one second for 20/s + burst 5). Undefined for a
   * destination without a rate or cap, whose messages share connections.
   */
  private routeFor(plan: Plan): Route | undefined {
    const { connections, messagesPerConnection, ratePerSec } = plan.rule;
    const capped = connections !== undefined || messagesPerConnection !== undefined;
    if (!capped && ratePerSec === undefined) return undefined;
    // One entry per destination seen: with the default policy every domain has a cap, so the
    // maps are trimmed like the campaign cache (a route dropped here is rebuilt on next use;
    // pools already made keep working, they only look plans up by key).
    if (this.latestPlans.size > 10_000 && !this.latestPlans.has(plan.key)) {
      const oldest = this.latestPlans.keys().next().value;
      if (oldest !== undefined) {
        this.latestPlans.delete(oldest);
        this.routes.delete(oldest);
      }
    }
    this.latestPlans.set(plan.key, plan);
    let route = this.routes.get(plan.key);
    if (
      !route ||
      route.maxMessagesPerConnection !== messagesPerConnection ||
      (route.acquireSlot !== undefined) !== capped
    ) {
      const key = plan.key;
      route = {
        // Pools are kept per route key: a cap added by a policy change must get a pool that
        // asks for leases, not keep the uncapped one the destination had.
        key: capped ? key : `${key} uncapped`,
        maxMessagesPerConnection: messagesPerConnection,
        acquireSlot: !capped
          ? undefined
          : async () => {
              const stashed = this.leaseStash.get(key)?.pop();
              if (stashed) return stashed;
              const shaper = this.shaper;
              const current = this.latestPlans.get(key) ?? plan;
              if (!shaper || !current) return { release() {} };
              const lease = await shaper.acquireConnection(current);
              return lease ? this.slotLease(key, lease) : undefined;
            },
      };
      this.routes.set(key, route);
    }
    return route;
  }

  /** A connection lease as the pools take it; counted while held, so a batch can tell whether this worker holds any. */
  private slotLease(key: string, lease: ConnectionLease): SlotLease {
    const shaper = this.shaper;
    this.leasesHeld.set(key, (this.leasesHeld.get(key) ?? 0) + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = (this.leasesHeld.get(key) ?? 1) - 1;
        if (left > 0) this.leasesHeld.set(key, left);
        else this.leasesHeld.delete(key);
        shaper?.releaseConnection(lease).catch((err: unknown) => {
          // The lease expires by itself; its place frees within the lease ttl.
          this.log.warn({ err, key }, 'could not release a connection lease');
        });
      },
    };
  }

  /**
   * For a destination with both a rate and a connection cap: makes sure this worker can have a
   * connection before the batch reserves rate slots, which it would otherwise lose when no
   * connection could be had. Takes a lease up front (left for the pool's next connection)
   * when the worker holds none; false when the cap is full.
   */
  private async ensureConnectionSlot(plan: Plan): Promise<boolean> {
    if (!this.shaper || (this.leasesHeld.get(plan.key) ?? 0) > 0) return true;
    const lease = await this.shaper.acquireConnection(plan);
    if (!lease) return false;
    const stash = this.leaseStash.get(plan.key) ?? [];
    stash.push(this.slotLease(plan.key, lease));
    this.leaseStash.set(plan.key, stash);
    return true;
  }

  /** Gives back a lease taken up front that no connection used (the batch had nothing to send). */
  private dropStashedLeases(key: string): void {
    const stash = this.leaseStash.get(key);
    if (!stash?.length) return;
    for (const l of stash.splice(0)) l.release();
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

  /** The destination's retry schedule when the policy has one, else exponential backoff. */
  private retryDelay(attempt: number, domain: string): number {
    const schedule = this.shaper?.plan(domain).rule.retryMs;
    if (schedule?.length) {
      return schedule[Math.min(attempt - 1, schedule.length - 1)] ?? this.cfg.retryBaseMs;
    }
    return retryDelayMs(attempt, this.cfg.retryBaseMs, this.cfg.retryMaxMs);
  }

  private async handleSignals(id: string, signals: FinalizeResult[]): Promise<void> {
    let refillAt = -1;
    for (const s of signals) {
      if (s.completed) {
        this.log.info({ campaignId: id }, 'campaign completed');
        this.refillAsked.forEach((k) => k.startsWith(`${id}:`) && this.refillAsked.delete(k));
      }
      if (s.refill) refillAt = Math.max(refillAt, s.cursor);
    }
    if (refillAt >= 0) await this.askRefill(id, refillAt);
  }

  /** Enqueues the expansion of the window at `cursor`, once per process and window. */
  private async askRefill(id: string, cursor: number): Promise<void> {
    const key = `${id}:${cursor}`;
    if (this.refillAsked.has(key)) return;
    this.refillAsked.add(key);
    if (this.refillAsked.size > 10_000) this.refillAsked.clear();
    await enqueueExpand(this.queues.control, id, cursor);
  }

  /** Safety net for a refill request lost in a crash: every running campaign is looked at. */
  private async sweep(): Promise<void> {
    for (const id of await this.store.runningIds()) {
      const s = await this.store.windowState(id);
      if (!s || s.status !== 'running') continue;
      if (s.cursor < s.total && s.inWindow <= this.lowWater) {
        await enqueueExpand(this.queues.control, id, s.cursor);
      }
    }
  }
}
