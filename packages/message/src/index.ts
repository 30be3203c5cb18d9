export {
  TemplateError,
  validateTemplates,
  compileCampaignTemplates,
  type CampaignTemplates,
  type CompiledTemplates,
  type RenderedContent,
} from './templates.ts';
export { TemplateCostError } from './template-cost.ts';
export { TemplateBudgetError, DEFAULT_RENDER_LIMITS, type RenderLimits } from './render-budget.ts';
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
  normalizeLocalPart,
  normalizeDomain,
  domainOf,
} from './address.ts';
export { validateCustomHeaders, HeaderError } from './headers.ts';
export { DkimSigner, type DkimKeyConfig } from './dkim.ts';
export {
  TokenError,
  createToken,
  readToken,
  tokenNames,
  verpAddress,
  readVerpAddress,
  type TokenSubject,
} from './tokens.ts';
export { linkToken, readLinkToken, MAX_LINK_TOKEN_CHARS } from './unsubscribe-link.ts';
export { templateVariables, missingVariables } from './variables.ts';
