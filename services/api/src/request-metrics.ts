/**
 * Request rate, latency and errors of the API by route pattern: `/v1/campaigns/:id`, never the
 * URL a client sent, so the series stay as many as the routes.
 */
import type { FastifyInstance } from 'fastify';
import { methodLabel, type ApiMetrics } from '@volley/metrics';

/** Label of requests no route matched (404s of made-up paths). */
const UNMATCHED = 'unmatched';

export function registerRequestMetrics(app: FastifyInstance, metrics: ApiMetrics): void {
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? UNMATCHED;
    const method = methodLabel(req.method);
    metrics.requests.inc({ method, route, status: String(reply.statusCode) });
    metrics.requestDuration.observe({ method, route }, reply.elapsedTime / 1000);
    done();
  });
}
