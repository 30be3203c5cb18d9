/** The templates of a campaign. */
export type TemplateField = 'subject' | 'html' | 'text';

/** A template that cannot be used, naming the field it is in. */
export class TemplateError extends Error {
  readonly code: string = 'VOLLEY_TEMPLATE_INVALID';
  constructor(
    readonly field: TemplateField,
    readonly detail: string,
  ) {
    super(`${field} template: ${detail}`);
    this.name = 'TemplateError';
  }
}
