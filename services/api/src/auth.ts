import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { ApiContext } from './context.ts';
import { ApiProblem } from './problem.ts';

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

/**
 * Bearer-key authentication. Keys are compared by their SHA-256 digest in constant time, so
 * the plaintext key is held only long enough to hash it.
 */
export function bearerAuth(apiKey: string): (req: FastifyRequest) => Promise<void> {
  const expected = digest(apiKey);
  return async (req) => {
    const header = req.headers.authorization;
    if (!header) {
      throw new ApiProblem(
        401,
        'Unauthorized',
        'send the API key as `Authorization: Bearer <key>`',
      );
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m?.[1] || !timingSafeEqual(digest(m[1]), expected)) {
      throw new ApiProblem(401, 'Unauthorized', 'the API key is not valid');
    }
    req.principal = { tenant: 'default', keyId: 'env' };
  };
}

/** The authentication hook of every /v1 route except /v1/admin. */
export function authenticate(ctx: ApiContext): (req: FastifyRequest) => Promise<void> {
  return bearerAuth(ctx.config.apiKey);
}

/** The tenant of an authenticated request; every read and write is scoped by it. */
export function tenantOf(req: FastifyRequest): string {
  const tenant = req.principal?.tenant;
  if (!tenant) throw new ApiProblem(401, 'Unauthorized', 'the request is not authenticated');
  return tenant;
}
