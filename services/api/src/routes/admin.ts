import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.ts';

/** Tenants and API keys, under /v1/admin, authenticated by VOLLEY_ADMIN_KEY. */
export function registerAdminRoutes(_admin: FastifyInstance, _ctx: ApiContext): void {}
