export {
  classifyReply,
  type SmtpReply,
  type Classification,
  type Disposition,
} from './classify.ts';
export { RelayPool, type RelayPoolOptions } from './relay-pool.ts';
export type { OutgoingMessage, SendResult, Transport } from './transport.ts';
