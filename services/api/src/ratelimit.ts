import rateLimit from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import { DEFAULT_API_RATE_LIMIT } from '@volley/config';
import type { ApiContext, V1 } from './context.ts';
import { ApiProblem } from './problem.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on each route the per-key rate limit applies to, so the OpenAPI document can say so. */
    perKeyRateLimit?: RateLimit;
  }
}

export interface RateLimit {
  /** Requests one API key may make per window. */
  max: number;
  windowSeconds: number;
}

/** The limit in force for a configuration; `undefined` when rate limiting is off. */
export function rateLimitOf(config: ApiContext['config']): RateLimit | undefined {
  const max = config.rateLimit ?? DEFAULT_API_RATE_LIMIT.limit;
  if (max <= 0) return undefined;
  return { max, windowSeconds: config.rateWindowSeconds ?? DEFAULT_API_RATE_LIMIT.windowSeconds };
}

/**
 * What a request is counted by: the API key it authenticated with. The tenant is part of the
 * key so that key ids need only be unique within a tenant. A request without a principal can
 * only reach the limiter on a route that skips authentication; it is counted by client address
 * so it still cannot run unbounded.
 */
export function rateLimitKey(req: FastifyRequest): string {
  const p = req.principal;
  return p ? `key:${p.tenant}:${p.keyId}` : `ip:${req.ip}`;
}

/**
 * Rate limits requests per API key, counted in Redis so the limit holds across API replicas
 * (a fixed window per key under `keys.rateLimit`, one round trip per request).
 *
 * The check runs as a route-level `onRequest` hook. Fastify runs a scope's own `onRequest`
 * hooks (authentication) before route-level ones, so a request without a valid key is answered
 * 401 and never counted, and a request over the limit is refused before its body is read.
 */
export async function registerRateLimit(
  v1: V1,
  ctx: Pick<ApiContext, 'config' | 'redis' | 'keys'>,
): Promise<void> {
  const limit = rateLimitOf(ctx.config);
  if (!limit) return;
  v1.addHook('onRoute', (route) => {
    // A route that opts out with `config: { rateLimit: false }` is not limited by the plugin.
    if (route.config?.rateLimit !== false) {
      route.config = { ...route.config, perKeyRateLimit: limit };
    }
  });
  await v1.register(rateLimit, {
    hook: 'onRequest',
    max: limit.max,
    timeWindow: limit.windowSeconds * 1000,
    redis: ctx.redis,
    nameSpace: ctx.keys.rateLimit,
    keyGenerator: rateLimitKey,
    // RateLimit-Limit, -Remaining, -Reset (IETF draft names) on every answer, Retry-After on 429.
    enableDraftSpec: true,
    // A Redis failure is an error of the request (logged, 500), not a silent pass.
    skipOnError: false,
    errorResponseBuilder: (_req, c) => {
      const seconds = Math.max(1, Math.ceil(c.ttl / 1000));
      return new ApiProblem(
        429,
        'Too many requests',
        `this API key made more than ${c.max} requests in ${limit.windowSeconds} s; retry in ${seconds} s (see Retry-After)`,
      );
    },
  });
}
