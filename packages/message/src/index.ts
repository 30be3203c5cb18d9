export {
  TemplateError,
  type TemplateField,
  validateTemplates,
  compileCampaignTemplates,
  type CampaignTemplates,
  type CompiledTemplates,
  type RenderedContent,
} from './templates.ts';
export { TemplateCostError, ORDINARY_LIST } from './template-cost.ts';
export {
  TemplateBudgetError,
  DEFAULT_RENDER_LIMITS,
  type BudgetLimit,
  type RenderLimits,
} from './render-budget.ts';
export { htmlToText } from './html-text.ts';
export { MessageComposer, type ComposerOptions, type ComposedMessage } from './compose.ts';
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
