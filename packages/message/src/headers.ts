/**
 * The custom headers a campaign may set: checked once when the campaign is created and again
 * when its composer is built, so that nothing the API accepted can break the MIME structure.
 */

export class HeaderError extends Error {
  readonly code = 'VOLLEY_HEADER_INVALID';
  constructor(
    readonly header: string,
    readonly detail: string,
  ) {
    super(`header ${JSON.stringify(header)}: ${detail}`);
    this.name = 'HeaderError';
  }
}

/** Headers Volley writes itself or that shape the MIME structure; a campaign may not set them. */
const STRUCTURAL = new Set([
  'from',
  'to',
  'cc',
  'bcc',
  'subject',
  'date',
  'message-id',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'content-disposition',
  'return-path',
  'received',
  'sender',
  'reply-to',
  'dkim-signature',
  'list-unsubscribe',
  'list-unsubscribe-post',
  // Top-level MIME fields Volley does not write: they would apply to the whole multipart body
  // and change how links in the HTML part resolve.
  'content-id',
  'content-base',
  'content-location',
]);

const NAME = /^[!-9;-~]{1,76}$/; // printable ASCII without ':' (RFC 5322 §2.2)

/** Validates custom headers; throws HeaderError naming the first bad one. */
export function validateCustomHeaders(headers: Record<string, unknown>): Record<string, string> {
  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (!NAME.test(name))
      throw new HeaderError(name, 'names use printable ASCII without ":" or spaces');
    if (STRUCTURAL.has(name.toLowerCase())) {
      throw new HeaderError(name, 'is set by Volley and cannot be given (use the campaign fields)');
    }
    if (typeof value !== 'string') throw new HeaderError(name, 'value must be a string');
    if (/[\r\n\0]/.test(value)) throw new HeaderError(name, 'value must not contain CR, LF or NUL');
    if (value.length > 900) throw new HeaderError(name, 'value is longer than 900 characters');
    out.push([name, value]);
  }
  // fromEntries defines own properties, so a header named "__proto__" is kept, not swallowed
  // by the prototype setter.
  return Object.fromEntries(out);
}
