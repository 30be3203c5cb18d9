import type { ApiContext, V1 } from '../context.ts';

/** The tenant's suppression list. */
export function registerSuppressionRoutes(_v1: V1, _ctx: ApiContext): void {}
