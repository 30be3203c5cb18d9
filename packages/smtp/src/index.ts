export {
  classifyReply,
  isHardBounce,
  type SmtpReply,
  type SmtpCommand,
  type ReportContext,
  type Classification,
  type Disposition,
} from './classify.ts';
export {
  SmtpClient,
  SmtpReplyError,
  SmtpConnectionError,
  SmtpEnvelopeError,
  type ServerReply,
  type SmtpStage,
  type SmtpConnectionStage,
  type SmtpClientOptions,
  type SmtpTlsOptions,
  type SmtpExtensions,
} from './client.ts';
export {
  SmtpPool,
  failureReply,
  isNoSlot,
  type SmtpPoolOptions,
  type SmtpPoolStats,
  type SlotLease,
} from './pool.ts';
export { RelayPool, type RelayPoolOptions } from './relay-pool.ts';
export type { OutgoingMessage, Route, SendResult, Transport } from './transport.ts';
export {
  MxResolver,
  type MxResolverOptions,
  type MxLookup,
  type MxHost,
  type MxFailure,
} from './mx-resolver.ts';
export { MxPool, type MxPoolOptions, type MxDestinationStatus } from './mx-pool.ts';
