/**
 * One message, start to reply: render, compose, sign, send, classify. Nothing here reads or
 * writes Redis or BullMQ; the batch records what comes back.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { TEMPLATE_LIMIT_SETTINGS } from '@volley/config';
import {
  TemplateBudgetError,
  domainOf,
  normalizeEmail,
  verpAddress,
  type CompiledTemplates,
  type MessageComposer,
} from '@volley/message';
import type { BatchRecipient } from '@volley/contracts';
import { isHardBounce, type Route, type SendResult, type Transport } from '@volley/smtp';
import type { CampaignRuntime, CompiledCampaign } from './campaigns.ts';

export interface DelivererOptions {
  transport: Transport;
  /** Largest rendered message (subject and bodies, in characters): VOLLEY_MAX_MESSAGE_SIZE. */
  maxMessageBytes: number;
  /** VERP return paths on the bounce domain, signed with the secret; undefined: the From address. */
  verp: { secret: string; bounceDomain: string } | undefined;
  /** Reports each reply's latency (volley_smtp_transaction_duration_seconds). */
  smtpTime: (disposition: string, provider: string | undefined, seconds: number) => void;
}

/** What became of one message. */
export interface Delivery {
  /**
   * `sent`, `bounced`, `failed`: final, to be recorded. `deferred`: to be retried. `noslot`:
   * nothing was sent, the destination's connection cap is full across workers; the message
   * waits for a connection without counting a deferral. `later`: not even rendered, the
   * campaign is demoted (render-cost.ts) and the batch may render no more of it now.
   * `cancelled`: nothing was sent, the campaign was cancelled while the message waited for a
   * connection; its claim is to be turned into a cancelled recipient.
   */
  outcome: 'sent' | 'bounced' | 'failed' | 'deferred' | 'noslot' | 'later' | 'cancelled';
  /** Sisimai's vocabulary (`delivered`, `userunknown`, `template`, ...). */
  reason: string;
  /** The server's reply, or what went wrong. */
  detail: string;
  /** The address goes on the tenant's suppression list (a hard bounce). */
  suppress: boolean;
  /** The server's answer when it did not take the message: the adaptive rules learn from it. */
  refusal: SendResult | undefined;
}

const LATER: Delivery = {
  outcome: 'later',
  reason: 'template',
  detail: 'campaign demoted for going over the render budget; waits its turn',
  suppress: false,
  refusal: undefined,
};

const CANCELLED: Delivery = {
  outcome: 'cancelled',
  reason: 'cancelled',
  detail: 'campaign cancelled while the message waited for a connection; never sent',
  suppress: false,
  refusal: undefined,
};

/** Thrown by a message's builder to the transport: the message could not be made. */
class MessageNotBuilt extends Error {
  readonly code = 'VOLLEY_MESSAGE_NOT_BUILT';
}

/** The built message is a failure to record, not bytes to send. */
function notBuilt(built: Buffer | Delivery): built is Delivery {
  return !Buffer.isBuffer(built);
}

function notSent(outcome: 'failed', reason: string, detail: string): Delivery {
  return { outcome, reason, detail, suppress: false, refusal: undefined };
}

export class Deliverer {
  /** Renders of demoted campaigns take turns, one per turn of the event loop. */
  private costlyTurn: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: DelivererOptions) {}

  /**
   * Waits for a render's turn in a demoted campaign: its renders may each take up to the time
   * budget, and one after another they would hold the event loop (other batches' replies,
   * BullMQ's lock renewals) for a whole batch's worth.
   */
  private async takeTurn(): Promise<void> {
    const turn = this.costlyTurn.then(() => nextTurn());
    this.costlyTurn = turn;
    await turn;
  }

  /** The signed message of `r`, or why it cannot be made (a failure to record). */
  private build(
    c: CompiledCampaign,
    templates: CompiledTemplates,
    composer: MessageComposer,
    r: BatchRecipient,
    to: string,
  ): Buffer | Delivery {
    try {
      const content = templates.render({ ...(r.vars ?? {}), email: r.email });
      const size =
        content.subject.length + (content.html?.length ?? 0) + (content.text?.length ?? 0);
      if (size > this.opts.maxMessageBytes) {
        return notSent(
          'failed',
          'template',
          `rendered message is ${size} characters, over VOLLEY_MAX_MESSAGE_SIZE (${this.opts.maxMessageBytes})`,
        );
      }
      const raw = composer.compose(r.i, to, content).raw;
      // Bytes from here to the socket: one encoding pass, and the socket writes them as they are.
      return Buffer.from(c.dkim ? c.dkim.sign(raw, c.fromDomain) : raw, 'utf8');
    } catch (err) {
      if (err instanceof TemplateBudgetError) {
        c.renderCost.overBudget(err.spentMs);
        return notSent(
          'failed',
          'template',
          `${err.message} (${TEMPLATE_LIMIT_SETTINGS[err.limit]}); never sent`,
        );
      }
      const msg = err instanceof Error ? err.message : String(err);
      return notSent('failed', 'template', `render failed: ${msg.slice(0, 300)}`);
    }
  }

  /**
   * Renders, composes, signs and sends one message to `r`, over the route's own connections
   * when it has one. Never throws: a template or address that cannot make a message fails it.
   * A demoted campaign's message is rendered in its turn, and only if `mayRender` still says so
   * then; else it comes back `later`. A message whose campaign is cancelled (`c.status`, which
   * the sender sets as it hears of the cancel) by the time a connection takes it is not handed
   * to SMTP: it comes back `cancelled`.
   */
  async deliver(
    c: CompiledCampaign & Partial<Pick<CampaignRuntime, 'status'>>,
    r: BatchRecipient,
    route: Route | undefined,
    mayRender: () => boolean = () => true,
    /** Provider label of the recipient's destination, for the latency metric. */
    provider?: string,
  ): Promise<Delivery> {
    const to = normalizeEmail(r.email);
    if (!to) return notSent('failed', 'syntaxerror', 'invalid recipient address; never sent');
    const { templates, composer } = c;
    if (templates instanceof Error) return notSent('failed', 'template', templates.message);
    if (composer instanceof Error) return notSent('failed', 'template', composer.message);
    if (c.refused !== undefined) {
      return notSent('failed', 'sending-domain', `${c.refused}; never sent`);
    }
    // Unsigned, built once a connection is ready for it (see OutgoingMessage), so a message
    // waiting for a connection holds only its recipient; kept once built, for a retry on
    // another connection.
    let built: Buffer | Delivery | undefined;
    const build = (): Buffer => {
      // Claimed before the cancel, but still waiting for a connection when this process heard
      // of it: only messages already in an open transaction go out after a cancel. Checked
      // here, where the connection takes the message, also for one built (signed) earlier.
      if (c.status === 'cancelled') built = CANCELLED;
      // Demoted while it waited for a connection: as if it had been when the batch reached it.
      if (built === undefined && c.renderCost.demoted && !mayRender()) built = LATER;
      built ??= this.build(c, templates, composer, r, to);
      if (notBuilt(built)) throw new MessageNotBuilt(built.detail);
      return built;
    };
    if (c.renderCost.demoted) {
      await this.takeTurn();
      if (!mayRender()) return LATER;
      // Rendered in its turn, not when a connection comes free.
      built = this.build(c, templates, composer, r, to);
      if (notBuilt(built)) return built;
    }
    if (built === undefined && c.dkim) {
      // A signed message is built at once: a batch's signatures back to back cost less sender
      // CPU than one signature per reply (RSA 2048: 684 against 850 us a message, bench).
      built = this.build(c, templates, composer, r, to);
      if (notBuilt(built)) return built;
    }
    const verp = this.opts.verp;
    const envelope = {
      from: verp
        ? verpAddress(verp.secret, verp.bounceDomain, c.id, r.i, to)
        : composer.envelopeFrom,
      to,
    };
    const t0 = process.hrtime.bigint();
    const res = await this.opts.transport.send({ envelope, raw: build }, domainOf(to), route);
    // The message could not be made: nothing was sent, whatever the transport made of it.
    if (built !== undefined && notBuilt(built)) return built;
    if (res.noSlot) {
      return {
        outcome: 'noslot',
        reason: res.reason,
        detail: res.text,
        suppress: false,
        refusal: undefined,
      };
    }
    this.opts.smtpTime(res.disposition, provider, Number(process.hrtime.bigint() - t0) / 1e9);
    if (res.disposition === 'delivered') {
      return {
        outcome: 'sent',
        reason: 'delivered',
        detail: res.text,
        suppress: false,
        refusal: undefined,
      };
    }
    if (res.disposition === 'bounced') {
      // The classifier decides what suppresses, for replies and bounce reports alike.
      const suppress = isHardBounce(res.reason, res.code ?? res.enhanced);
      return { outcome: 'bounced', reason: res.reason, detail: res.text, suppress, refusal: res };
    }
    return {
      outcome: 'deferred',
      reason: res.reason,
      detail: res.text,
      suppress: false,
      refusal: res,
    };
  }
}
