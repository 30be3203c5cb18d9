/**
 * Admission of a rate-limited destination's batch, part by part: each part takes up the slot
 * the batch holds (or reserves one) and is admitted when it can start now or within a moment.
 * A part that is not admitted goes back to BullMQ's delayed set with its slot; one that went
 * out much later than admitted is counted from then.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SendBatchJob } from '@volley/contracts';
import type { Plan, Shaper, Slot } from '@volley/shaping';
import {
  HELD_ADMIT_WITHIN_MS,
  IN_PROCESS_WAIT_MS,
  MAX_READMITS,
  lateToleranceMs,
} from './timing.ts';

/** A slot as the batch carries it: when it was reserved, when it starts, how many it covers. */
type HeldSlot = { heldSince: number; startAt: number; count: number };

export class RateAdmission {
  /** The slot the batch holds, until a part is admitted on it. */
  private held: HeldSlot | undefined;
  private readmits = 0;
  /** When the last admitted part was to start (local clock), and how late it may go out. */
  private admittedAt = 0;
  private tolerance = Infinity;
  /** The first slot this run sent on: recipients left without a connection keep it. */
  firstSlot: { heldSince: number; startAt: number } | undefined;

  /**
   * `held`: the slot the job carries; ignored when it was reserved on another key (the
   * policy changed since).
   */
  constructor(
    private readonly shaper: Shaper,
    private readonly plan: Plan,
    private readonly campaignId: string,
    held: SendBatchJob['shaping'],
  ) {
    this.held = held && (held.key === undefined || held.key === plan.key) ? held : undefined;
  }

  /**
   * Admits the next part of at most `wanted` messages: resolves with the number admitted, once
   * they may start, or with the slot to wait for in the delayed set (not admitted, or the
   * destination is suspended).
   */
  async next(wanted: number): Promise<number | Slot> {
    for (;;) {
      const askedAt = Date.now();
      const held = this.held;
      const slot = await this.shaper.reserve(this.plan, Math.min(wanted, held?.count ?? wanted), {
        campaignId: this.campaignId,
        held: held && { since: held.heldSince, startAt: held.startAt },
        admitWithinMs: held ? HELD_ADMIT_WITHIN_MS : IN_PROCESS_WAIT_MS,
      });
      if (slot.status === 'suspended' || !slot.admitted) return slot;
      // Admitted: these messages count against the limit from `startAt` on, whenever the
      // slot itself was (a late batch is admitted into room its unused slot left).
      if (slot.delayMs > 0) await sleep(slot.delayMs);
      this.admittedAt = askedAt + slot.delayMs;
      this.tolerance = lateToleranceMs(this.plan, slot);
      // Much later than admitted (a stalled event loop, a slow answer): sent now, these
      // messages would arrive together with the batches admitted after them, above the
      // limit. Present the slot again instead; that costs the destination this batch's
      // share of the rate once. After a few times, send anyway.
      if (Date.now() - this.admittedAt > this.tolerance && this.readmits < MAX_READMITS) {
        this.readmits++;
        this.held = { heldSince: slot.heldSince, startAt: slot.startAt, count: slot.granted };
        continue;
      }
      this.held = undefined;
      this.firstSlot ??= { heldSince: slot.heldSince, startAt: slot.startAt };
      return Math.max(1, slot.granted);
    }
  }

  /**
   * The admitted part is out: `sent` of its messages reached a server. Out much later than
   * admitted (its connections had to open, the worker or the receiver was slow), they count
   * from now instead of their admitted start, so the next batches do not arrive on top of them
   * (a test saw a first batch 600 ms late arrive with the next two, 15 messages in 200 ms for
   * 20/s + burst 5). Not for a destination with a connection cap: there a late part waited for
   * one of the few connections, which already spaces its messages, and such destinations fall
   * short of their rate rather than above it (bench:shaping, caprate.example at 53-67%).
   */
  async sent(sent: number): Promise<void> {
    if (this.plan.rule.connections !== undefined) return;
    if (sent > 0 && Date.now() - this.admittedAt > this.tolerance) {
      await this.shaper.startedLate(this.plan, sent);
    }
  }
}
