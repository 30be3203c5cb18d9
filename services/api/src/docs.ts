import type { FastifyInstance } from 'fastify';
import type { ApiContext } from './context.ts';

/** Serves the OpenAPI document at /openapi.json and its viewer at /docs. */
export async function registerDocs(_app: FastifyInstance, _ctx: ApiContext): Promise<void> {}
