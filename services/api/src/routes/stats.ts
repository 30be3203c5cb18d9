import { Type, type Static } from 'typebox';
import { FINAL_OUTCOMES, type FinalOutcome } from '@volley/contracts';
import { largestBacklogs, type CampaignRecord } from '@volley/campaigns';
import { tenantOf } from '../auth.ts';
import type { ApiContext, V1 } from '../context.ts';
import { operation } from '../operation.ts';
import { ETA_DESTINATIONS, destinationPaces, estimate } from '../eta.ts';
import { CampaignIdParams, CountsSchema, NO_SUCH_CAMPAIGN, StatusSchema } from '../schemas.ts';

/**
 * The rate is measured over this many whole seconds: long enough to smooth the bursts of
 * batched sends and shaping slots, short enough that a pause or a slowdown shows within it.
 */
const RATE_WINDOW_SEC = 10;

const ByReason = (what: string) =>
  Type.Record(Type.String(), Type.Integer({ minimum: 0 }), {
    description: `Recipients ${what}, by reason (Sisimai's vocabulary; \`undefined\` when none was given).`,
  });

const ByFeedback = (what: string) =>
  Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description: `Recipients ${what}.` });

const StatsResponse = Type.Object({
  id: Type.String(),
  status: StatusSchema,
  at: Type.String({ format: 'date-time', description: 'When these figures were read.' }),
  counts: Type.Object(CountsSchema.properties, {
    description:
      'Recipients by state, as in GET /v1/campaigns/{id}. `deferred` recipients wait for a retry and are not done.',
  }),
  reasons: Type.Object(
    {
      sent: ByReason('accepted by the receiving server (reason `delivered`)'),
      bounced: ByReason('bounced: refused for good, or deferred past the maximum age (`expired`)'),
      suppressed: ByReason('skipped because they are on the suppression list'),
      failed: ByReason('never sent: the message could not be built (`template`, `syntaxerror`)'),
    },
    {
      description:
        'Final outcomes by reason, e.g. `{"bounced": {"userunknown": 3, "mailboxfull": 1}}`; each group sums to the matching count.',
    },
  ),
  feedback: Type.Object(
    {
      lateBounced: ByReason(
        'whose bounce was reported after they reached a final state (normally `sent`)',
      ),
      complained: ByFeedback('who complained, by ARF feedback type (`abuse`, `fraud`, ...)'),
      unsubscribed: ByFeedback('who unsubscribed, by how (`one-click`, `mailto`, `manual`)'),
    },
    {
      description:
        'Feedback that followed the send: bounces reported by DSN, complaints and unsubscribes. Each group sums to the count of the same name; those recipients stay counted under their state as well. A reported bounce of a recipient still waiting for a retry gives it its final state and counts under `reasons.bounced` instead.',
    },
  ),
  progress: Type.Object(
    {
      done: Type.Integer({
        description: 'Recipients with a final outcome (sent, bounced, suppressed, failed).',
      }),
      remaining: Type.Integer({
        description:
          'Recipients still to reach one: queued plus deferred. 0 once completed or cancelled.',
      }),
      fraction: Type.Number({
        minimum: 0,
        maximum: 1,
        description:
          '`done / total`; 1 once completed. A cancelled campaign keeps the fraction it reached.',
      }),
    },
    { description: 'Deferred recipients waiting for a retry count as not done.' },
  ),
  rate: Type.Object({
    perSecond: Type.Number({
      minimum: 0,
      description: `Final outcomes per second over the last ${RATE_WINDOW_SEC} whole seconds (the current second is not counted).`,
    }),
    windowSeconds: Type.Integer(),
  }),
  eta: Type.Object(
    {
      at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
        description: 'When the last recipient should reach a final outcome.',
      }),
      seconds: Type.Union([Type.Number({ minimum: 0 }), Type.Null()], {
        description: 'Seconds from the top-level `at` until then.',
      }),
      note: Type.Optional(
        Type.String({ description: 'Why there is no estimate, when there is none.' }),
      ),
      limitedBy: Type.Optional(
        Type.Object(
          {
            destination: Type.String({
              description:
                'The shaping limit: `provider:<name>`, `domain:<d>` or `default:<d>` (see GET /v1/shaping).',
            }),
            remaining: Type.Integer({ description: 'Recipients left under it.' }),
            ratePerSec: Type.Number({
              description: 'Its rate now: the policy rate times the adaptive factor.',
            }),
          },
          {
            description:
              'The destination whose backlog sets the estimate; absent when the overall rate does.',
          },
        ),
      ),
    },
    {
      description: `The longest of: each destination's backlog (recipients left per recipient domain, the domains of one shaping limit together, such as a provider's) at its rate under the shaping policy now (times the adaptive factor, after a suspension ends), for the ${ETA_DESTINATIONS} domains with the most left; and all remaining recipients at the measured overall rate. Null when the campaign is not running (a draft, scheduled or paused campaign makes no progress, a completed or cancelled one has none to make), or when no destination has a rate limit and nothing reached a final outcome in the rate window (dividing by zero would promise never). Deferred recipients count as remaining although their retry may come later than the estimate.`,
    },
  ),
});
type Stats = Static<typeof StatsResponse>;

/** Feedback groups, as the feedback script names them in the reasons hash. */
const FEEDBACK_GROUPS = ['lateBounced', 'complained', 'unsubscribed'] as const;

/** Groups `<group>:<reason>` counts into the named groups (others are left out). */
function grouped<G extends string>(
  raw: Record<string, number>,
  groups: readonly G[],
): Record<G, Record<string, number>> {
  const out = Object.fromEntries(groups.map((o) => [o, {}])) as Record<G, Record<string, number>>;
  for (const [key, n] of Object.entries(raw)) {
    const sep = key.indexOf(':');
    const name = (sep < 0 ? key : key.slice(0, sep)) as G;
    const group = out[name] as Record<string, number> | undefined;
    if (!group || !(n > 0)) continue;
    const reason = (sep < 0 ? '' : key.slice(sep + 1)) || 'undefined';
    group[reason] = (group[reason] ?? 0) + n;
  }
  return out;
}

function progressOf(rec: CampaignRecord): Stats['progress'] {
  const c = rec.counts;
  const done = c.sent + c.bounced + c.suppressed + c.failed;
  const finished = rec.status === 'completed' || rec.status === 'cancelled';
  const remaining = finished ? 0 : c.queued + c.deferred;
  const fraction = rec.status === 'completed' ? 1 : c.total > 0 ? Math.min(1, done / c.total) : 0;
  return { done, remaining, fraction };
}

/** Campaign statistics: counts by state and bounce reason, current rate, ETA. */
export function registerStatsRoutes(v1: V1, ctx: ApiContext): void {
  v1.get(
    '/campaigns/:id/stats',
    {
      schema: operation({
        operationId: 'getCampaignStats',
        summary: 'Campaign statistics',
        description:
          'Counts by state and by reason (so bounces show as userunknown, mailboxfull, ...), the current rate of final outcomes, progress and an estimated completion time. Cheap enough to poll every second or so.',
        tag: 'campaigns',
        access: 'apiKey',
        params: CampaignIdParams,
        response: { 200: StatsResponse },
        problems: { 404: NO_SUCH_CAMPAIGN },
      }),
    },
    async (req) => {
      const rec = await ctx.loadOwned(req.params.id, tenantOf(req));
      const now = Date.now();
      const running = rec.status === 'running';
      const [reasons, perSecond, backlogs] = await Promise.all([
        ctx.store.reasonCounts(rec.id),
        ctx.store.recentRate(rec.id, RATE_WINDOW_SEC, now),
        running ? largestBacklogs(ctx.redis, ctx.keys, rec.id, ETA_DESTINATIONS) : [],
      ]);
      const progress = progressOf(rec);
      const paces = running ? await destinationPaces(ctx.shaper, backlogs, rec.id, now) : [];
      return {
        id: rec.id,
        status: rec.status,
        at: new Date(now).toISOString(),
        counts: rec.counts,
        reasons: grouped<FinalOutcome>(reasons, FINAL_OUTCOMES),
        feedback: grouped(reasons, FEEDBACK_GROUPS),
        progress,
        rate: { perSecond, windowSeconds: RATE_WINDOW_SEC },
        eta: estimate(rec.status, progress.remaining, perSecond, paces, now, RATE_WINDOW_SEC),
      };
    },
  );
}
