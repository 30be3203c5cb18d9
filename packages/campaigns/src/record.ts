import type { CampaignCounts, CampaignStatus } from '@volley/contracts';

export interface CampaignDefinition {
  from: string;
  subject: string;
  html?: string | undefined;
  text?: string | undefined;
  replyTo?: string | undefined;
  headers?: Record<string, string> | undefined;
  /** Variables every recipient must have (dotted paths); uploads refuse rows without them. */
  requiredVars?: string[] | undefined;
}

export interface CampaignRecord extends CampaignDefinition {
  id: string;
  tenant: string;
  status: CampaignStatus;
  createdAt: number;
  sendAt?: number | undefined;
  startedAt?: number | undefined;
  completedAt?: number | undefined;
  cancelledAt?: number | undefined;
  /** Next recipient index to expand into send jobs. */
  cursor: number;
  counts: CampaignCounts;
}

/** A counter field of the campaign hash (absent: none counted yet). */
export function num(v: string | undefined): number {
  return v === undefined ? 0 : Number(v);
}

function optNum(v: string | undefined): number | undefined {
  return v === undefined || v === '' ? undefined : Number(v);
}

/**
 * Status and counts of a campaign from the fields of its hash (all of them, or those a
 * listing reads). `draftTotal` is the length of a draft's or a scheduled campaign's recipient
 * list, which is not frozen into `total` until it starts.
 */
export function recordOf(
  id: string,
  h: Record<string, string | undefined>,
  draftTotal: number | undefined,
): CampaignRecord {
  const status = h.status as CampaignStatus;
  const total = draftTotal ?? num(h.total);
  const sent = num(h.sent);
  const deferred = num(h.deferred);
  const bounced = num(h.bounced);
  const suppressed = num(h.suppressed);
  const failed = num(h.failed);
  // Neither final nor waiting for a retry: still to be sent (or, once cancelled, never to be).
  const open = Math.max(0, total - sent - deferred - bounced - suppressed - failed);
  // Counted by the cancel itself (campaigns cancelled before it was: derived, as then).
  const cancelled = status === 'cancelled' ? (optNum(h.cancelled) ?? open + deferred) : 0;
  // Once cancelled, what is neither final nor cancelled is in flight: it ends as SMTP answers.
  const inFlight = Math.max(0, total - sent - bounced - suppressed - failed - cancelled);
  return {
    id,
    tenant: h.tenant ?? '',
    status,
    from: h.from ?? '',
    subject: h.subject ?? '',
    html: h.html,
    text: h.text,
    replyTo: h.replyTo,
    headers: h.headers ? (JSON.parse(h.headers) as Record<string, string>) : undefined,
    requiredVars: h.requiredVars ? (JSON.parse(h.requiredVars) as string[]) : undefined,
    createdAt: num(h.createdAt),
    sendAt: optNum(h.sendAt),
    startedAt: optNum(h.startedAt),
    completedAt: optNum(h.completedAt),
    cancelledAt: optNum(h.cancelledAt),
    cursor: num(h.cursor),
    counts: {
      total,
      queued: status === 'cancelled' ? inFlight : open,
      cancelled,
      sent,
      deferred: status === 'cancelled' ? 0 : deferred,
      bounced,
      suppressed,
      failed,
      lateBounced: num(h.lateBounced),
      complained: num(h.complained),
      unsubscribed: num(h.unsubscribed),
    },
  };
}
