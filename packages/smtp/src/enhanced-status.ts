/**
 * The enhanced mail system status code of RFC 3463 ("5.1.1": class, subject, detail), found in
 * SMTP replies, in the text of bounces, in a DSN's Status field and in reported feedback. One
 * home for its format, so the client, the classifier, the bounce parser and the feedback store
 * all read and accept the same codes.
 */

/**
 * The code itself: only 2xx, 4xx and 5xx replies carry one, and the class repeats no other
 * first digit; up to three digits each for subject and detail (RFC 3463 section 2).
 */
const CODE = String.raw`[245]\.\d{1,3}\.\d{1,3}`;

/**
 * After the basic code, as servers send it: "550 5.1.1", "550-5.1.1", "550 #5.1.0" (the "#"
 * some Microsoft servers put before it), with any spaces before the code, and nothing that
 * continues the number after it.
 */
const AFTER_CODE = new RegExp(String.raw`^\s*[245]\d\d[ -]+#?(${CODE})(?![.\d])`);

/** Anywhere in the text, but not a fragment of an IP address such as "10.2.5.100". */
const ANYWHERE = new RegExp(String.raw`(?<![\d.])(${CODE})(?![.\d])`);

/** At the start of a field's value, before any comment: "5.1.1 (bad address)". */
const AT_START = new RegExp(String.raw`^(${CODE})\b`);

/** The whole value is one code. */
const WHOLE = new RegExp(`^${CODE}$`);

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

/**
 * The code a DSN's Status field (RFC 3464 section 2.3.4) starts with, spaces around it
 * ignored: "5.1.1 (bad address)" gives "5.1.1".
 */
export function enhancedAtStart(value: string | undefined): string | undefined {
  return AT_START.exec((value ?? '').trim())?.[1];
}

/** Whether `value` is exactly one enhanced status code, as stored with reported feedback. */
export function isEnhancedStatus(value: string): boolean {
  return WHOLE.test(value);
}
