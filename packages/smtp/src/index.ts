/**
 * Volley's SMTP side: a transport (smart hosts or direct to MX) that routes each message over
 * pooled, pipelined connections and classifies the reply. The client, its session and its
 * errors stay inside: a caller sees a SendResult, never a socket or an exception.
 */
export {
  classifyReply,
  isHardBounce,
  type SmtpReply,
  type SmtpCommand,
  type ReportContext,
  type Disposition,
} from './classify.ts';
// The one reading of RFC 3463 codes: the bounce parser and the feedback store use it too.
export { enhancedStatus, enhancedAtStart, isEnhancedStatus } from './enhanced-status.ts';
export type { SlotLease } from './pool.ts';
// The client's timeouts with their defaults: the senders' termination grace period is derived
// from them (deploy/k8s/base/sender.yaml).
export { resolveOptions } from './options.ts';
export { RelayPool } from './relay-pool.ts';
export type { Route, SendResult, Transport } from './transport.ts';
export { RouteTable, createTransport, type RoutedDestination } from './routing.ts';
export { MxResolver, type MxResolverOptions } from './mx-resolver.ts';
export { MxPool, type MxPoolOptions } from './mx-pool.ts';
