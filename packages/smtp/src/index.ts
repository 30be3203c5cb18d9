export {
  classifyReply,
  type SmtpReply,
  type Classification,
  type Disposition,
} from './classify.ts';
export {
  RelayPool,
  type RelayPoolOptions,
  type SendResult,
  type OutgoingMessage,
} from './relay-pool.ts';
