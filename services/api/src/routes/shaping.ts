import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ShapingSnapshot } from '@volley/shaping';
import { tenantOf } from '../auth.ts';
import { iso, type ApiContext, type V1 } from '../context.ts';
import { operation } from '../operation.ts';
import { ShapingResponse } from '../schemas.ts';

const DESCRIPTION =
  'Per destination: the limits of its rule, the adaptive factor, connections in use, messages waiting for their slot, and suspensions in force.';

/**
 * The shaping state as one tenant may see it. A destination's limits, adaptive factor,
 * slow-down, connections, backlog and destination-wide suspensions hold every tenant's mail
 * to it alike, so every tenant is shown them: they explain its own rate and are no other
 * tenant's secret. A suspension of one campaign names that campaign: only the tenant's own are
 * kept. A destination under the default rule is keyed by a recipient domain (`default:<d>`,
 * see resolveRule) and is listed only while slowed or suspended; one listed only for other
 * tenants' campaigns is left out, since its name would tell where they send.
 */
function tenantView(snap: ShapingSnapshot, owned: ReadonlySet<string>): ShapingSnapshot {
  const destinations: ShapingSnapshot['destinations'] = [];
  for (const d of snap.destinations) {
    const suspensions = d.suspensions.filter(
      (s) => s.campaignId === undefined || owned.has(s.campaignId),
    );
    const hidden = suspensions.length < d.suspensions.length;
    if (hidden && d.key.startsWith('default:') && suspensions.length === 0 && !d.slow) continue;
    destinations.push(hidden ? { ...d, suspensions } : d);
  }
  return { ...snap, destinations };
}

/** GET /v1/shaping: the caller's view of the traffic-shaping state. */
export function registerShapingRoute(v1: V1, ctx: ApiContext): void {
  v1.get(
    '/shaping',
    {
      schema: operation({
        operationId: 'getShaping',
        summary: 'Traffic-shaping state',
        description: `${DESCRIPTION} Suspensions of single campaigns are shown for the caller's campaigns only; the whole state is at GET /v1/admin/shaping.`,
        tag: 'shaping',
        access: 'apiKey',
        response: { 200: ShapingResponse },
      }),
    },
    async (req) => {
      const tenant = tenantOf(req);
      if (!ctx.shaper) return { enabled: false, destinations: [] };
      const snap = await ctx.shaper.snapshot();
      const ids = [
        ...new Set(snap.destinations.flatMap((d) => d.suspensions.map((s) => s.campaignId ?? ''))),
      ].filter((id) => id !== '');
      const scores = ids.length
        ? await ctx.redis.zmscore(ctx.keys.tenantCampaigns(tenant), ...ids)
        : [];
      const owned = new Set(ids.filter((_id, k) => scores[k] !== null));
      const view = tenantView(snap, owned);
      return { enabled: true, ...view, at: iso(view.at) };
    },
  );
}

/** GET /v1/admin/shaping: every tenant's state, for the operator (registered in the admin scope). */
export function registerAdminShapingRoute(plain: FastifyInstance, ctx: ApiContext): void {
  const admin = plain.withTypeProvider<TypeBoxTypeProvider>();
  admin.get(
    '/shaping',
    {
      schema: operation({
        operationId: 'getShapingOfAllTenants',
        summary: 'Traffic-shaping state of every tenant',
        description: `${DESCRIPTION} Includes every campaign's suspensions, of all tenants.`,
        tag: 'admin',
        access: 'adminKey',
        response: { 200: ShapingResponse },
      }),
    },
    async () => {
      if (!ctx.shaper) return { enabled: false, destinations: [] };
      const snap = await ctx.shaper.snapshot();
      return { enabled: true, ...snap, at: iso(snap.at) };
    },
  );
}
