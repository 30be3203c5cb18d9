/**
 * The enhanced mail system status code of RFC 3463 ("5.1.1": class, subject, detail), found in
 * SMTP replies and in the text of bounces. One parser for the client's replies and the
 * classifier, so both read the same code from the same text.
 */

/**
 * After the basic code, as servers send it: "550 5.1.1", "550-5.1.1", "550 #5.1.0" (the "#"
 * some Microsoft servers put before it), with any spaces before the code. Only 2xx, 4xx and
 * 5xx replies carry one, and the class repeats no other first digit. Up to three digits each
 * for subject and detail (RFC 3463 section 2), and nothing that continues the number after it.
 */
const AFTER_CODE = /^\s*[245]\d\d[ -]+#?([245]\.\d{1,3}\.\d{1,3})(?![.\d])/;

/** Anywhere in the text, but not a fragment of an IP address such as "10.2.5.100". */
const ANYWHERE = /(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![.\d])/;

/** The enhanced status code right after the reply code at the start of `text`, if any. */
export function enhancedAfterCode(text: string): string | undefined {
  return AFTER_CODE.exec(text)?.[1];
}

/** The first enhanced status code anywhere in `text` that is not part of an IP address. */
export function enhancedAnywhere(text: string): string | undefined {
  return ANYWHERE.exec(text)?.[1];
}

/**
 * The code after the reply code, or else the first one anywhere in the text: some servers put
 * it later in the line ("550 Requested action not taken: 5.1.1 user unknown").
 */
export function enhancedStatus(text: string): string | undefined {
  return enhancedAfterCode(text) ?? enhancedAnywhere(text);
}
