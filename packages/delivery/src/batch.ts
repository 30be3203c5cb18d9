/**
 * One send job, top to bottom: skip what is done, suppressed or expired; let the destination's
 * connection cap and rate admit the batch part by part; deliver each message and record its
 * outcome; queue what is left (deferred, or waiting for a connection) as jobs of their own.
 */
import { DelayedError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { CampaignStore, FinalizeResult, Recorder } from '@volley/campaigns';
import type { BatchRecipient, CampaignStatus, SendBatchJob } from '@volley/contracts';
import type { SenderMetrics } from '@volley/metrics';
import type { ConnectionSlots, Plan, Shaper, Slot } from '@volley/shaping';
import type { RouteTable } from '@volley/smtp';
import { ColdStarts, RateAdmission } from './admission.ts';
import type { CampaignCache, CampaignRuntime } from './campaigns.ts';
import type { Deliverer } from './deliver.ts';
import type { Expander } from './expansion.ts';
import { DemotedRuns, renderAllowance } from './render-cost.ts';
import { expired, type Retries } from './retry.ts';
import { PARK_RECHECK_MS, capWaitMs } from './timing.ts';

export interface BatchSenderOptions {
  log: Logger;
  store: CampaignStore;
  recorder: Recorder;
  metrics: SenderMetrics;
  campaigns: CampaignCache;
  deliverer: Deliverer;
  retries: Retries;
  expander: Expander;
  /** Undefined without traffic shaping; so are the next three. */
  shaper: Shaper | undefined;
  planFor: (domain: string) => Promise<Plan | undefined>;
  slots: ConnectionSlots | undefined;
  routes: RouteTable<Plan> | undefined;
  /** Deferred past this age (VOLLEY_MAX_AGE), a recipient bounces as expired. */
  maxAgeMs: number;
  lowWater: number;
}

type FinalOutcome = 'sent' | 'bounced' | 'suppressed' | 'failed';

export class BatchSender {
  private readonly coldStarts = new ColdStarts();
  private readonly demotedRuns = new DemotedRuns();

  constructor(private readonly o: BatchSenderOptions) {}

  async process(job: Job<SendBatchJob>, token: string | undefined): Promise<void> {
    const { store } = this.o;
    const d = job.data;
    const rt = await this.o.campaigns.get(d.campaignId);
    if (!rt) {
      this.o.log.warn(
        { campaignId: d.campaignId },
        'batch for a campaign that no longer exists; dropped',
      );
      return;
    }
    if (rt.status === 'paused' && job.id) await this.parkIfPaused(rt, job, job.id, token);
    if (rt.status === 'cancelled') {
      // Claims this batch held when the cancel came (it was waiting for a slot) become
      // cancelled recipients.
      await store.claim(
        d.campaignId,
        d.recipients.map((r) => r.i),
      );
      return;
    }
    if (rt.renderCost.demoted && !job.opts.priority) {
      this.announceDemotion(rt);
      await this.o.retries.demote(job, job.data.recipients, this.demotedRuns.reserve());
      return;
    }
    if (!job.opts.priority) return this.run(job, token, rt);
    // A demoted run: one at a time, spaced; its wall time spaces the runs after it.
    const end = this.demotedRuns.start();
    if (!end) {
      // Back to the delayed set as it is: its id, priority and recipients stay.
      await job.moveToDelayed(Date.now() + this.demotedRuns.retryIn(), token);
      throw new DelayedError();
    }
    try {
      await this.run(job, token, rt);
    } finally {
      end();
    }
  }

  private async run(
    job: Job<SendBatchJob>,
    token: string | undefined,
    rt: CampaignRuntime,
  ): Promise<void> {
    const { store, metrics, shaper } = this.o;
    const d = job.data;
    const done = await store.doneFlags(
      d.campaignId,
      d.recipients.map((r) => r.i),
    );
    const todo = d.recipients.filter((_r, k) => !done[k]);
    if (todo.length === 0) return;
    const suppressed = await store.suppressedFlags(
      rt.tenant,
      todo.map((r) => r.email),
    );

    const tooOld = expired(d, Date.now(), this.o.maxAgeMs);
    const deferred: BatchRecipient[] = [];
    /** Not sent for want of a connection slot: they wait, without counting a deferral. */
    const waiting: BatchRecipient[] = [];
    /** Not rendered: their campaign is demoted and this run has spent what it may on it. */
    const later: BatchRecipient[] = [];
    const mayRender = renderAllowance(rt.renderCost, Boolean(job.opts.priority));
    const signals: FinalizeResult[] = [];
    let sendable: BatchRecipient[] = [];
    const skipped: Promise<FinalizeResult>[] = [];
    // Messages not sent count under the provider the recipient domain names in the policy.
    const skipLabel = (): string | undefined => shaper?.plan(d.domain).metricLabel;
    for (const [k, r] of todo.entries()) {
      if (suppressed[k]) {
        skipped.push(
          this.record(rt, r, 'suppressed', 'suppressed', 'on the suppression list', skipLabel()),
        );
      } else if (tooOld) {
        skipped.push(
          this.record(rt, r, 'bounced', 'expired', 'deferred past the maximum age', skipLabel()),
        );
      } else {
        sendable.push(r);
      }
    }
    // Recorded together: the recorder joins them into one round trip.
    signals.push(...(await Promise.all(skipped)));

    const plan = shaper && sendable.length ? await this.o.planFor(d.domain) : undefined;
    const capped = plan?.rule.connections !== undefined;
    if (plan && capped && this.o.slots && !(await this.o.slots.enter(plan))) {
      // This worker already sends as many of the destination's batches as its cap allows, or
      // (with a rate) holds none of its connections while the cap is full: back to the delayed
      // set for a moment, keeping the batch's rate slot.
      const waits = (d.slotWaits ?? 0) + 1;
      metrics.shapingDelay(plan.metricLabel, 'connections');
      await job.updateData({ ...d, slotWaits: waits });
      await this.o.expander.afterOutcomes(d.campaignId, signals);
      await job.moveToDelayed(
        Date.now() + capWaitMs(waits, plan.rule.ratePerSec !== undefined),
        token,
      );
      throw new DelayedError();
    }
    const provider = plan?.metricLabel;
    metrics.batchActive(capped, 1);
    try {
      const route = plan && this.o.routes?.routeFor(plan);
      const admission = plan && shaper && new RateAdmission(shaper, plan, d.campaignId, d.shaping);
      // The first batch in a while of a rate-limited destination opens its connections. Not
      // counted for a capped destination: its late batch waited for one of its few connections,
      // which spaces its messages already, and capped destinations fall short of their rate
      // (bench:shaping) rather than above it.
      const coldStart =
        plan?.rule.ratePerSec !== undefined &&
        !capped &&
        this.coldStarts.take(plan.key, Date.now());
      while (sendable.length > 0) {
        let n = sendable.length;
        if (plan && admission) {
          const admitted = await admission.next(n);
          if (typeof admitted !== 'number') {
            await this.waitForSlot(
              job,
              token,
              plan,
              admitted,
              [...waiting, ...later, ...sendable],
              {
                deferred,
                signals,
              },
            );
          } else {
            n = admitted;
          }
        }
        const chunk = sendable.slice(0, n);
        sendable = sendable.slice(n);
        // The cancel's cut: a chunk is handed to SMTP only if claimed before the cancel, in
        // the script that the cancel's count is atomic with. The status cache can be a second
        // old; this cannot.
        if (
          !(await store.claim(
            d.campaignId,
            chunk.map((r) => r.i),
          ))
        ) {
          rt.status = 'cancelled';
          return this.cancelRest(d.campaignId, [...waiting, ...later, ...sendable], signals);
        }
        /** Claimed, but the cancel came while they waited for a connection: never sent. */
        const stopped: BatchRecipient[] = [];
        const unsentBefore = waiting.length + later.length;
        await Promise.all(
          chunk.map(async (r) => {
            const res = await this.o.deliverer.deliver(rt, r, route, mayRender, provider);
            if (res.refusal && plan && shaper) {
              // Replies feed the adaptive rules (421 "try again later" slows the destination down).
              const { code, text } = res.refusal;
              await shaper.observe(plan, { code, text }, rt.id);
            }
            if (res.outcome === 'cancelled') {
              stopped.push(r);
            } else if (res.outcome === 'noslot') {
              waiting.push(r);
            } else if (res.outcome === 'later') {
              later.push(r);
            } else if (res.outcome === 'deferred') {
              deferred.push(r);
              metrics.message('deferred', res.reason, provider);
              signals.push(
                await store.defer(d.campaignId, r.i, r.email, {
                  reason: res.reason,
                  detail: res.detail,
                  lowWater: this.o.lowWater,
                }),
              );
            } else {
              signals.push(
                await this.record(
                  rt,
                  r,
                  res.outcome,
                  res.reason,
                  res.detail,
                  provider,
                  res.suppress,
                ),
              );
            }
          }),
        );
        if (stopped.length > 0) {
          return this.cancelRest(
            d.campaignId,
            [...stopped, ...waiting, ...later, ...sendable],
            signals,
          );
        }
        if (admission) {
          const unsent = waiting.length + later.length - unsentBefore;
          await admission.sent(chunk.length - unsent, coldStart);
        }
      }
      if (waiting.length > 0) {
        metrics.shapingDelay(provider, 'connections');
        await this.o.retries.requeueWaiting(job, waiting, plan, admission?.firstSlot);
      }
      if (later.length > 0) {
        this.announceDemotion(rt);
        await this.o.retries.demote(job, later, this.demotedRuns.reserve());
      }
      await this.o.retries.requeueDeferred(job, deferred);
      await this.o.expander.afterOutcomes(d.campaignId, signals);
    } finally {
      metrics.batchActive(capped, -1);
      if (plan && capped) this.o.slots?.leave(plan.key);
    }
  }

  /**
   * The campaign is cancelled: the claims this batch holds on `left` (recipients that were
   * claimed but never handed to SMTP) become cancelled recipients in the claim script, which
   * counts them once; unclaimed ones were counted by the cancel itself. Deferred recipients
   * were settled by their deferral, and nothing is queued again.
   */
  private async cancelRest(
    campaignId: string,
    left: readonly BatchRecipient[],
    signals: FinalizeResult[],
  ): Promise<void> {
    await this.o.store.claim(
      campaignId,
      left.map((r) => r.i),
    );
    await this.o.expander.afterOutcomes(campaignId, signals);
  }

  private announceDemotion(rt: CampaignRuntime): void {
    if (rt.renderCost.announced) return;
    rt.renderCost.announced = true;
    this.o.log.warn(
      { campaignId: rt.id },
      'campaign demoted: its recipients keep going over the render budget; its batches now wait while other campaigns have work',
    );
  }

  /**
   * A batch of a paused campaign waits in the delayed set. Checked and recorded in one script,
   * so a resume at this instant either finds the job in the parked set (and promotes it) or
   * this sees "running".
   */
  private async parkIfPaused(
    rt: CampaignRuntime,
    job: Job<SendBatchJob>,
    jobId: string,
    token: string | undefined,
  ): Promise<void> {
    const now = await this.o.store.park(rt.id, jobId);
    rt.status = now as CampaignStatus;
    rt.statusReadAt = Date.now();
    if (now === 'paused') {
      // Resume promotes parked jobs at once; the delay only bounds how long a job whose
      // promotion raced with this move would wait.
      await job.moveToDelayed(Date.now() + PARK_RECHECK_MS, token);
      throw new DelayedError();
    }
  }

  /**
   * Not admitted (or suspended): the batch waits in BullMQ's delayed set for its slot (or the
   * end of the suspension) and presents it then: no attempt is used, no worker is held, other
   * domains go on. What this run deferred is queued first.
   */
  private async waitForSlot(
    job: Job<SendBatchJob>,
    token: string | undefined,
    plan: Plan,
    slot: Slot,
    left: BatchRecipient[],
    run: { deferred: BatchRecipient[]; signals: FinalizeResult[] },
  ): Promise<never> {
    const d = job.data;
    const suspended = slot.status === 'suspended';
    this.o.metrics.shapingDelay(plan.metricLabel, suspended ? 'suspended' : 'rate');
    await this.o.retries.requeueDeferred(job, run.deferred);
    await job.updateData({
      ...d,
      recipients: left,
      shaping: suspended
        ? undefined
        : {
            heldSince: slot.heldSince,
            count: slot.granted,
            startAt: slot.startAt,
            key: plan.key,
          },
    });
    await this.o.expander.afterOutcomes(d.campaignId, run.signals);
    await job.moveToDelayed(Date.now() + slot.delayMs, token);
    throw new DelayedError();
  }

  private async record(
    rt: CampaignRuntime,
    r: BatchRecipient,
    outcome: FinalOutcome,
    reason: string,
    detail: string,
    provider: string | undefined,
    suppress = false,
  ): Promise<FinalizeResult> {
    const res = await this.o.recorder.record(rt.id, rt.tenant, {
      index: r.i,
      email: r.email,
      outcome,
      reason,
      detail,
      suppress,
    });
    if (res.recorded) this.o.metrics.message(outcome, reason, provider);
    return res;
  }
}
