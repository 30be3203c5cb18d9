import Handlebars from 'handlebars';

export interface CampaignTemplates {
  subject: string;
  html?: string | undefined;
  text?: string | undefined;
}

export interface RenderedContent {
  subject: string;
  html: string | undefined;
  text: string | undefined;
}

export interface CompiledTemplates {
  render(vars: Record<string, unknown>): RenderedContent;
}

export class TemplateError extends Error {
  readonly code = 'VOLLEY_TEMPLATE_INVALID';
  constructor(
    readonly field: 'subject' | 'html' | 'text',
    readonly detail: string,
  ) {
    super(`${field} template: ${detail}`);
    this.name = 'TemplateError';
  }
}

/**
 * One isolated Handlebars environment: no helpers or partials registered by anything else
 * can leak into campaign templates. Handlebars >= 4.6 refuses prototype access by default,
 * which is what keeps `{{constructor.constructor}}` and friends inert.
 */
const hbs = Handlebars.create();

function parse(field: TemplateError['field'], src: string): void {
  try {
    hbs.parse(src);
  } catch (err) {
    // Deeply nested blocks overflow the parser's stack: a RangeError, reported like any syntax error.
    const msg = err instanceof Error ? err.message : String(err);
    throw new TemplateError(field, msg.split('\n').slice(0, 4).join(' ').slice(0, 500));
  }
}

/** Checks the syntax of every template; throws TemplateError naming the field. */
export function validateTemplates(t: CampaignTemplates): void {
  parse('subject', t.subject);
  if (t.html !== undefined) parse('html', t.html);
  if (t.text !== undefined) parse('text', t.text);
}

const RUNTIME = {
  // Campaign variables are data: a missing one renders empty rather than failing the send.
  strict: false,
  knownHelpersOnly: false,
};

/** Compiles a campaign's templates once; the result renders per recipient. */
export function compileCampaignTemplates(t: CampaignTemplates): CompiledTemplates {
  validateTemplates(t);
  const subject = hbs.compile(t.subject, { ...RUNTIME, noEscape: true });
  const html = t.html === undefined ? undefined : hbs.compile(t.html, { ...RUNTIME });
  const text = t.text === undefined ? undefined : hbs.compile(t.text, { ...RUNTIME, noEscape: true });
  return {
    render(vars) {
      return {
        subject: subject(vars),
        html: html?.(vars),
        text: text?.(vars),
      };
    },
  };
}
