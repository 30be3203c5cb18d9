/**
 * Per-destination traffic shaping shared by every sender worker through Redis: GCRA rate
 * reservations, connection leases and adaptive backoff, driven by a policy file.
 */
export { resolveRule, matchAdaptive, type Policy } from './policy.ts';
export { parsePolicy } from './policy-parse.ts';
export { parseRate } from './policy-checker.ts';
export { PolicyError } from './policy-error.ts';
export { defaultPolicy } from './default-policy.ts';
export { PolicyWatcher } from './watcher.ts';
export { reserve, reserveMany, startedLate, type Slot } from './gcra.ts';
export { acquireLease, renewLeases, releaseLease, countLeases } from './leases.ts';
export type { ShapingEvent } from './adaptive.ts';
export type { ShapingContext } from './lua.ts';
export { ConnectionSlots } from './connection-slots.ts';
export { Shaper, type Plan, type ShapingSnapshot } from './shaper.ts';
