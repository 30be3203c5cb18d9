/**
 * Per-destination traffic shaping shared by every sender worker through Redis: GCRA rate
 * reservations, connection leases and adaptive backoff, driven by a policy file.
 */
export {
  resolveRule,
  matchAdaptive,
  type Policy,
  type Rule,
  type Provider,
  type AdaptiveRule,
  type Resolution,
} from './policy.ts';
export { parsePolicy } from './policy-parse.ts';
export { parseRate } from './policy-checker.ts';
export { PolicyError, type PolicyProblem } from './policy-error.ts';
export { defaultPolicy, DEFAULT_POLICY_PATH } from './default-policy.ts';
export {
  PolicyWatcher,
  type PolicyWatcherEvents,
  type PolicyWatcherOptions,
  type ReloadResult,
} from './watcher.ts';
export {
  reserve,
  reserveMany,
  startedLate,
  type ReserveRequest,
  type Slot,
  type BatchSlots,
} from './gcra.ts';
export {
  acquireLease,
  renewLeases,
  releaseLease,
  countLeases,
  type AcquireResult,
} from './leases.ts';
export {
  observe,
  adaptiveState,
  activeKeys,
  tick,
  type ShapingEvent,
  type Reply,
  type AdaptiveState,
  type Suspension,
} from './adaptive.ts';
export type { ShapingContext } from './lua.ts';
export {
  ConnectionSlots,
  type ConnectionSlotsOptions,
  type HeldLease,
} from './connection-slots.ts';
export {
  Shaper,
  type ShaperOptions,
  type Plan,
  type ConnectionLease,
  type DestinationSnapshot,
  type ShapingSnapshot,
} from './shaper.ts';
