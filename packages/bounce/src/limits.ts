/**
 * Bounds on what the parser reads, so that a hostile message costs bounded time and memory.
 * Every pattern in this package runs on text cut to one of these sizes.
 */

/**
 * Bytes of a message that are parsed. The report parts of a DSN come before the returned
 * message, and the plain-text formats put their explanation first too, so a longer message
 * (a bounce that carries a large original) is cut here rather than refused.
 */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * Deepest multipart nesting accepted. Real reports nest three or four levels (a report inside
 * a forwarded message inside a digest); thousands of levels are an attack on the MIME parser.
 */
export const MAX_MULTIPART_DEPTH = 32;

/** Characters of a decoded text body that are scanned for recipients and replies. */
export const MAX_TEXT_CHARS = 256 * 1024;

/** Characters of one diagnostic (an SMTP reply with its continuation lines) that are kept. */
export const MAX_DIAGNOSTIC_CHARS = 2000;

/** Characters of a line that are looked at; longer lines are cut. */
export const MAX_LINE_CHARS = 2000;

/** Recipients reported for one message; a report listing more is cut here. */
export const MAX_RECIPIENTS = 1000;

/** Header fields of the original message that are kept (the X- ones the service may match on). */
export const MAX_ORIGINAL_HEADERS = 64;

/** Characters kept of one header value of the original message. */
export const MAX_HEADER_VALUE_CHARS = 1000;
