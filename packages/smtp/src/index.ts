export {
  classifyReply,
  isHardBounce,
  type SmtpReply,
  type SmtpCommand,
  type ReportContext,
  type Classification,
  type Disposition,
} from './classify.ts';
export { SmtpClient, type SmtpClientOptions } from './client.ts';
export {
  SmtpReplyError,
  SmtpConnectionError,
  SmtpEnvelopeError,
  SmtpOptionsError,
  type SmtpStage,
  type SmtpConnectionStage,
} from './errors.ts';
export type { SmtpExtensions } from './extensions.ts';
export type { SmtpTlsOptions } from './options.ts';
export type { ServerReply } from './reply-parser.ts';
export {
  SmtpPool,
  failureReply,
  isNoSlot,
  type SmtpPoolOptions,
  type SmtpPoolStats,
  type SlotLease,
} from './pool.ts';
export { RelayPool, type RelayPoolOptions } from './relay-pool.ts';
export type {
  OutgoingMessage,
  PoolConnectionCount,
  Route,
  SendResult,
  Transport,
} from './transport.ts';
export {
  RouteTable,
  createTransport,
  type RoutedDestination,
  type TransportChoice,
} from './routing.ts';
export {
  MxResolver,
  type MxResolverOptions,
  type MxLookup,
  type MxHost,
  type MxFailure,
} from './mx-resolver.ts';
export { MxPool, type MxPoolOptions } from './mx-pool.ts';
