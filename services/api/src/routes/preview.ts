import type { ApiContext, V1 } from '../context.ts';

/** Preview of one rendered recipient and test sends, without starting the campaign. */
export function registerPreviewRoutes(_v1: V1, _ctx: ApiContext): void {}
