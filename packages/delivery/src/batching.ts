import type { BatchRecipient, Recipient } from '@volley/contracts';
import { domainOf } from '@volley/message';

export interface PlannedBatch {
  batchId: string;
  domain: string;
  recipients: BatchRecipient[];
}

/**
 * Splits a window of recipients into batches of one domain each, so that a later per-domain
 * throttle can delay a batch without holding up any other domain.
 */
export function planBatches(
  campaignId: string,
  from: number,
  rows: Recipient[],
  batchSize: number | ((domain: string) => number),
): PlannedBatch[] {
  const sizeFor = typeof batchSize === 'number' ? () => batchSize : batchSize;
  const byDomain = new Map<string, BatchRecipient[]>();
  rows.forEach((r, k) => {
    const d = domainOf(r.email);
    let list = byDomain.get(d);
    if (!list) byDomain.set(d, (list = []));
    const br: BatchRecipient = { i: from + k, email: r.email };
    if (r.vars) br.vars = r.vars;
    list.push(br);
  });
  const out: PlannedBatch[] = [];
  let n = 0;
  for (const [domain, list] of byDomain) {
    // A rate-limited domain gets batches no larger than its burst, so one reservation
    // covers a whole batch and a batch never sends faster than its destination allows.
    const size = Math.max(1, sizeFor(domain));
    for (let i = 0; i < list.length; i += size) {
      out.push({
        batchId: `${campaignId}-${from}-${n++}`,
        domain,
        recipients: list.slice(i, i + size),
      });
    }
  }
  return out;
}
