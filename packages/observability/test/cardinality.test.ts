import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { REASONS } from '@volley/metrics';
import { waitUntil } from '@volley/testkit';
import { Deployment, SERVICES, seriesByMetric } from './deployment.ts';

/** Three named providers (by domain suffix); every other domain is limited on its own. */
const POLICY = `
version: 1
defaults:
  rate: unlimited
providers:
  alpha: { domains: [alpha.example], rate: unlimited }
  beta: { domains: [beta.example], rate: unlimited }
  gamma: { domains: [gamma.example], rate: unlimited }
`;
const PROVIDERS = 3;

const CAMPAIGNS = 100;
const PER_CAMPAIGN = 100;

/** Recipient `n` of the run, each at a domain of its own: 10,000 domains. */
function address(n: number): string {
  const suffix = ['alpha.example', 'beta.example', 'gamma.example', 'example'][n % 4];
  return `user${n}@d${n}.${suffix}`;
}

/** A mix of reasons, as receivers answer: bounces, deferrals that pass on retry. */
function receiver() {
  const deferred = new Set<string>();
  return (a: string) => {
    const n = Number(/^user(\d+)@/.exec(a)?.[1] ?? 0);
    if (n % 50 === 1) return { code: 550, message: '5.1.1 user unknown' };
    if (n % 50 === 2) return { code: 552, message: '5.2.2 mailbox full' };
    if (n % 50 === 3) return { code: 554, message: '5.7.1 message detected as spam' };
    if (n % 50 === 4) return { code: 550, message: `5.7.1 rejected by policy for ${a}` };
    if (n % 50 === 5 && !deferred.has(a)) {
      deferred.add(a);
      return { code: 451, message: '4.7.1 greylisted, try again later' };
    }
    return undefined;
  };
}

/**
 * How many values each label may take, from the sets the code bounds them to: the largest of
 * them wherever a label name is used by several metrics. `campaign` is 0: only running
 * campaigns have series, and these are counted once every campaign has ended.
 */
const LABEL_VALUES: Record<string, number> = {
  service: 1,
  outcome: 8,
  provider: PROVIDERS + 2, // the named ones, other, shared (the senders' shared pools)
  reason: REASONS.size + 1, // + other
  state: 6,
  capped: 2,
  queue: 3,
  result: 3,
  kind: 4, // deliverability kinds (2); Node's GC kinds (4)
  level: 2,
  source: 3,
  method: 8,
  route: 60, // the API's route patterns and `unmatched`
  status: 60, // the HTTP status codes Fastify answers
  le: 16, // the longest bucket list, +Inf included
  campaign: 0,
  // prom-client's process metrics: libuv handle and resource types, V8 heap spaces, version.
  type: 30,
  space: 10,
  version: 1,
  major: 1,
  minor: 1,
  patch: 1,
};

function labelsOf(line: string): string[] {
  const inner = /\{(.*)\}/.exec(line)?.[1] ?? '';
  return [...inner.matchAll(/([a-zA-Z_]+)="/g)].map((m) => m[1] ?? '');
}

/** The bound of one metric family: the product of its labels' value counts. */
function bound(lines: string[]): number {
  const names = new Set(lines.flatMap(labelsOf));
  let b = 1;
  for (const n of names) {
    const v = LABEL_VALUES[n];
    assert.ok(v !== undefined, `label ${n} has no declared bound (${lines[0]})`);
    b *= v;
  }
  // A histogram family has _sum and _count besides its buckets.
  return names.has('le') ? b + (b / LABEL_VALUES.le!) * 2 : b;
}

const d = new Deployment();
before(async () => {
  await d.start({ policy: POLICY, onRecipient: receiver(), senders: 2 });
});
after(async () => {
  await d.stop();
});

async function runCampaigns(from: number, count: number): Promise<void> {
  const ids: string[] = [];
  for (let c = from; c < from + count; c++) {
    const res = await d.api('POST', '/v1/campaigns', {
      from: 'News <news@sender.example>',
      subject: 'Campaign {{c}}',
      text: 'Hello',
      recipients: Array.from({ length: PER_CAMPAIGN }, (_, k) => ({
        email: address(c * PER_CAMPAIGN + k),
        vars: { c },
      })),
    });
    const body = await res.text();
    assert.equal(res.status, 202, body);
    ids.push((JSON.parse(body) as { id: string }).id);
  }
  await waitUntil(
    async () => {
      for (const id of ids) {
        const r = await d.api('GET', `/v1/campaigns/${id}`);
        if (((await r.json()) as { status: string }).status !== 'completed') return false;
      }
      return true;
    },
    `${count} campaigns to complete`,
    300_000,
    500,
  );
  // The collector's next round drops the ended campaigns' series.
  await waitUntil(
    async () => !(await d.metrics('collector')).includes('volley_campaign_recipients{'),
    'campaign series to be removed',
  );
}

/** Series every service exports now, and the bound their labels allow. */
async function measure(): Promise<{ total: number; bound: number; perService: string }> {
  let total = 0;
  let sum = 0;
  const parts: string[] = [];
  for (const [name] of d.metricsPorts) {
    const text = await d.metrics(name);
    assert.doesNotMatch(
      text,
      /@|d\d+\.(alpha\.|beta\.|gamma\.)?example/,
      `${name}: no address or domain in a label`,
    );
    let n = 0;
    for (const [family, lines] of seriesByMetric(text)) {
      const b = bound(lines);
      assert.ok(lines.length <= b, `${name} ${family}: ${lines.length} series, bound ${b}`);
      n += lines.length;
      sum += b;
    }
    total += n;
    parts.push(`${name} ${n}`);
  }
  return { total, bound: sum, perService: parts.join(', ') };
}

test('10,000 recipient domains and 100 campaigns over time: every service exports a number of series bounded by its label sets, never a domain', async () => {
  assert.deepEqual(
    [...new Set([...d.metricsPorts.keys()].map((n) => n.replace(/\d+$/, '')))].sort(),
    [...SERVICES].sort(),
  );
  await runCampaigns(0, CAMPAIGNS / 2);
  const half = await measure();
  await runCampaigns(CAMPAIGNS / 2, CAMPAIGNS / 2);
  const all = await measure();
  console.log(
    `series after ${CAMPAIGNS / 2} campaigns: ${half.total} (${half.perService}); after ${CAMPAIGNS} campaigns and ${CAMPAIGNS * PER_CAMPAIGN} domains: ${all.total} (${all.perService}); bound from label sets ${all.bound}`,
  );
  // Twice the campaigns and domains add no series beyond what new label values (reasons,
  // routes) could: the families stay within their bounds, checked in measure().
  assert.ok(all.total <= all.bound);
});
