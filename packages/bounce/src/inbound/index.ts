export { startBounceServer, type BounceServer, type BounceServerOptions } from './server.ts';
export {
  routeAddress,
  type AddressDecision,
  type InboundAddress,
  type RefusalReason,
} from './addresses.ts';
export { applyReport, type Effect, type EffectContext, type EffectRecord } from './effects.ts';
export { ClientRateLimit, clientNetwork } from './rate-limit.ts';
