import type { ApiContext, V1 } from '../context.ts';

/** Campaign statistics: counts by state and bounce reason, current rate, ETA. */
export function registerStatsRoutes(_v1: V1, _ctx: ApiContext): void {}
