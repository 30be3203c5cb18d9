export {
  TemplateError,
  validateTemplates,
  compileCampaignTemplates,
  type CampaignTemplates,
  type CompiledTemplates,
  type RenderedContent,
} from './templates.ts';
export { htmlToText } from './html-text.ts';
export {
  MessageComposer,
  readMessageId,
  type ComposerOptions,
  type ComposedMessage,
} from './compose.ts';
export { encodeQuotedPrintable, encodeHeaderValue } from './encoding.ts';
export {
  parseMailbox,
  normalizeEmail,
  isValidEmail,
  validateCustomHeaders,
  HeaderError,
  type Mailbox,
} from './address.ts';
export { DkimSigner, DkimKeyError, type DkimKeyConfig } from './dkim.ts';
export {
  TokenError,
  createToken,
  readToken,
  verpAddress,
  readVerpAddress,
  type TokenPurpose,
} from './tokens.ts';
