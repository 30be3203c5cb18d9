import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { DEFAULT_TENANT } from '@volley/contracts';
import type { ApiContext } from './context.ts';
import { ApiProblem } from './problem.ts';
import { TenantStore } from './tenants.ts';

export interface Principal {
  tenant: string;
  /** Id of the API key used (`env` for VOLLEY_API_KEY): what rate limits count by. */
  keyId: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** The token of `Authorization: Bearer <token>`; a 401 problem saying how to send it otherwise. */
export function bearerToken(req: FastifyRequest): string {
  const header = req.headers.authorization;
  if (!header) {
    throw new ApiProblem(401, 'Unauthorized', 'send the API key as `Authorization: Bearer <key>`');
  }
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m?.[1]) {
    throw new ApiProblem(401, 'Unauthorized', 'send the API key as `Authorization: Bearer <key>`');
  }
  return m[1];
}

/**
 * Compares a presented secret with a configured one in constant time. Both are hashed first
 * so the comparison does not depend on (or reveal) their lengths.
 */
export function secretMatcher(secret: string): (given: string) => boolean {
  const expected = digest(secret);
  return (given) => timingSafeEqual(digest(given), expected);
}

/**
 * The authentication hook of every /v1 route except /v1/admin. VOLLEY_API_KEY authenticates
 * as the default tenant; a key made by the admin API or CLI as its own tenant. Stored keys
 * are looked up by their SHA-256 on every request, so a revoked key fails at once; the lookup
 * needs no constant-time compare, since an attacker timing it learns about a hash, not the key.
 */
export function authenticate(ctx: ApiContext): (req: FastifyRequest) => Promise<void> {
  const isEnvKey = ctx.config.apiKey ? secretMatcher(ctx.config.apiKey) : () => false;
  const tenants = new TenantStore(ctx.redis, ctx.keys);
  return async (req) => {
    const token = bearerToken(req);
    if (isEnvKey(token)) {
      req.principal = { tenant: DEFAULT_TENANT, keyId: 'env' };
      return;
    }
    const rec = await tenants.lookup(token);
    if (!rec) throw new ApiProblem(401, 'Unauthorized', 'the API key is not valid');
    req.principal = { tenant: rec.tenant, keyId: rec.id };
  };
}

/** The tenant of an authenticated request; every read and write is scoped by it. */
export function tenantOf(req: FastifyRequest): string {
  const tenant = req.principal?.tenant;
  if (!tenant) throw new ApiProblem(401, 'Unauthorized', 'the request is not authenticated');
  return tenant;
}
