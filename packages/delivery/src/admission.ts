/**
 * Admission of a rate-limited destination's batch, part by part: each part takes up the slot
 * the batch holds (or reserves one) and is admitted when it can start now or within a moment.
 * A part that is not admitted goes back to BullMQ's delayed set with its slot. A destination's
 * first part on a worker after a quiet spell opens its connections: when that made it go out
 * much later than admitted, it is counted from then.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SendBatchJob } from '@volley/contracts';
import type { Plan, Shaper, Slot } from '@volley/shaping';
import {
  CONNECTIONS_COLD_AFTER_MS,
  HELD_ADMIT_WITHIN_MS,
  IN_PROCESS_WAIT_MS,
  MAX_READMITS,
  lateToleranceMs,
} from './timing.ts';

/** Destinations remembered per process; beyond that the least recently sent to are forgotten. */
const DESTINATIONS_REMEMBERED = 10_000;

/**
 * When this worker last sent to each rate-limited destination without a connection cap: the
 * first batch after {@link CONNECTIONS_COLD_AFTER_MS} opens the destination's connections.
 */
export class ColdStarts {
  private readonly lastSent = new Map<string, number>();

  /** True when the destination had no batch on this worker for a while; notes this one. */
  take(key: string, now: number): boolean {
    const last = this.lastSent.get(key);
    this.lastSent.delete(key);
    this.lastSent.set(key, now);
    if (this.lastSent.size > DESTINATIONS_REMEMBERED) {
      const oldest = this.lastSent.keys().next().value;
      if (oldest !== undefined) this.lastSent.delete(oldest);
    }
    return last === undefined || now - last > CONNECTIONS_COLD_AFTER_MS;
  }
}

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
   * The admitted part is out: `sent` of its messages reached a server. For a batch that had to
   * open its destination's connections (`coldStart`) and went out more than one batch interval
   * after its admitted start, they count from now instead, so the next batches do not arrive on
   * top of them (a test saw a first batch go out 600 ms late, 400 ms of it opening connections
   * to a loaded receiver, and arrive with the next two: 15 messages in 200 ms for 20/s + burst
   * 5). Only then: a reply also takes the receiver's own time (far away, or scanning content),
   * which says nothing about when the message left, and counting every batch from its reply
   * would slow a distant destination far below its rate.
   */
  async sent(sent: number, coldStart: boolean): Promise<void> {
    if (coldStart && sent > 0 && Date.now() - this.admittedAt > this.tolerance) {
      await this.shaper.startedLate(this.plan, sent);
    }
  }
}
