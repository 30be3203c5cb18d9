/**
 * Reports written as prose, which is how most MTAs other than the RFC 3464 ones report (and
 * how the RFC 3464 ones explain themselves in the human-readable part): the failed addresses,
 * each followed (or preceded) by the remote server's reply or the MTA's own explanation.
 *
 * The shapes differ by MTA but share a few: an address alone on a line (Exim, qmail, Gmail,
 * Yahoo, Sendmail), an address that starts a line followed by the reply (Postfix, OpenSMTPD,
 * Exchange, Zoho), or an address after a label ("Recipient:", "delivering your mail to").
 */
import { findAddresses, sameAddress, type FoundAddress } from './address.ts';
import { commandIn } from './command.ts';
import { splitLines } from './fields.ts';
import { MAX_DIAGNOSTIC_CHARS, MAX_RECIPIENTS } from './limits.ts';
import { originalMarker } from './original.ts';
import type { RecipientFacts } from './types.ts';

/** Lines of a report that are looked at; reports are short, and past this is a returned message. */
const MAX_REPORT_LINES = 3000;

/** Header-like labels: a line starting with one is a quoted header, never a failed recipient. */
const HEADER_LABEL =
  /^(to|from|cc|bcc|reply-to|sender|return-path|subject|date|message-id|in-reply-to|references|received|envelope-to|delivered-to|resent-[a-z-]+|x-[a-z0-9-]+|dkim-signature|authentication-results|arc-[a-z-]+|list-[a-z-]+|mail from|rcpt to)\s*:/i;

/** SMTP dialogue and replies: they carry addresses but never start a recipient's block. */
const DIALOGUE =
  /^(<<<|>>>\s*(RCPT|MAIL|DATA|EHLO|HELO|QUIT|RSET|VRFY)\b|In:|Out:|[245]\d\d[ \-:]|#?[245]\.\d)/i;

/**
 * Text before an address that marks it as a failed recipient. Kept to words that name a
 * recipient or a delivery to it, so prose that mentions some other address is not taken.
 */
const LABEL_BEFORE =
  /(?:\b(?:recipients?|addressee|userid|could not be delivered to|unable to deliver (?:message |mail )?to|deliver(?:ing|y)? (?:your |the )?(?:mail|message) to|(?:wasn't|was not|couldn't be|could not be|cannot be) delivered to|delivery to|rejected recipient|permanent errors?|address(?:es)? failed|failed recipient|undeliverable to|not delivered to)\s*:?|^\*|^>>>|^-|^•)\s*["'<([]?$/i;

/**
 * "<what failed>: <address>" at the end of a line (IMail, and others that put the address
 * last): the text before the colon has to say something failed, so that a line which merely
 * names an address ("target address: ...") is not taken for a failure.
 */
const FAILURE_BEFORE_COLON =
  /\b(fail(ed|ure)?|invalid|unknown|exceed(s|ed)?|error|reject(ed)?|no such|denied|refused|full|quota|disabled|expired|undeliver\w*|not found|could not|unable)\b[^:]{0,60}:\s*["'<]?$/i;

/** Sendmail's per-recipient lines: "550 <a@b>... User unknown". */
const SENDMAIL_RECIPIENT = /^[245]\d\d <[^<>\s]{1,320}>\.\.\. /;

/** Zoho's delay notices: "[Status: Error, Address: <a@b>, ResponseCode 421, ...]". */
const BRACKETED_STATUS = /^\[status: [a-z]+, address: <?$/i;

/** What may follow an address that starts a line: nothing, or the start of its explanation. */
const AFTER_LEADING =
  /^(["'>)\]]*)(\s*$|\s*[:,.;]|\s+\(|\s+\[|\s+on\s|\s+\.\.\.|\.\.\.|\s+[A-Za-z]|\s+<)/;

export interface RecipientBlock {
  recipient: string;
  /** The line that names the recipient and the lines after it, up to the next recipient. */
  text: string;
  /** The paragraph just before that line, for formats that explain first (Lotus Notes). */
  before: string;
}

/** The address a line introduces as a failed recipient, if it does. */
function recipientOfLine(line: string): FoundAddress | undefined {
  const trimmed = line.trim();
  if (SENDMAIL_RECIPIENT.test(trimmed)) return findAddresses(trimmed, 1)[0];
  if (trimmed === '' || HEADER_LABEL.test(trimmed) || DIALOGUE.test(trimmed)) return undefined;
  if (/\b(MAIL FROM|RCPT TO)\b/i.test(trimmed)) return undefined;
  const found = findAddresses(trimmed, 4);
  const first = found[0];
  if (!first) return undefined;
  const before = trimmed.slice(0, first.start).replace(/["'<([]+$/, '');
  const after = trimmed.slice(first.end);
  if (before.trim() === '' || /^(\*|>>>|-|•|\d+[.)])\s*$/.test(before.trim())) {
    return AFTER_LEADING.test(after) ? first : undefined;
  }
  const prefix = trimmed.slice(0, first.start);
  if (LABEL_BEFORE.test(prefix) || BRACKETED_STATUS.test(prefix)) return first;
  const lineEnds = /^[>"')\].]*\s*$/.test(after);
  return lineEnds && FAILURE_BEFORE_COLON.test(prefix) ? first : undefined;
}

/** The report's own part of a text: everything before the copy of the returned message. */
export function reportPart(text: string): string {
  const at = originalMarker(text);
  return at >= 0 ? text.slice(0, at) : text;
}

/** Blocks of the report, one per failed recipient, in the order the report lists them. */
export function recipientBlocks(report: string): RecipientBlock[] {
  const lines = splitLines(report).slice(0, MAX_REPORT_LINES);
  const starts: { index: number; address: string }[] = [];
  lines.forEach((line, index) => {
    const found = recipientOfLine(line);
    if (found) starts.push({ index, address: found.address });
  });
  const blocks: RecipientBlock[] = [];
  starts.forEach((s, i) => {
    const end = starts[i + 1]?.index ?? lines.length;
    const text = lines.slice(s.index, end).join('\n');
    const before = i === 0 ? contextAbove(lines.slice(0, s.index)) : '';
    const same = blocks.find((b) => sameAddress(b.recipient, s.address));
    // A report that names an address twice (a list, then a transcript) explains it in both.
    if (same) same.text = `${same.text}\n${text}`;
    else blocks.push({ recipient: s.address, text, before });
  });
  return blocks.slice(0, MAX_RECIPIENTS);
}

const HAS_REPLY = /(^|[\s:;'"([])[245]\d\d[\s:-]|(^|[\s#([])[245]\.\d{1,3}\.\d{1,3}\b/m;

/**
 * What the report says above its first address, for formats that explain first: the paragraph
 * right above it (Lotus Notes: the reason, then the address), or, when that paragraph only
 * introduces the list ("The following recipients were affected:"), the nearest paragraph
 * above that quotes a reply (MailMarshal: "Could not be delivered because of" / "550 ...").
 */
function contextAbove(lines: string[]): string {
  const paragraphs = lines
    .join('\n')
    .split(/\n[ \t]*\n/)
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const adjacent = paragraphs.at(-1) ?? '';
  if (!/:\s*$/.test(adjacent)) return adjacent;
  return paragraphs.slice(-4, -1).findLast((p) => HAS_REPLY.test(p)) ?? '';
}

/**
 * The part of a block that explains the failure: its paragraphs up to the one that carries an
 * SMTP reply or status code, or the first few when none does.
 */
export function diagnosticOf(block: string, recipient: string, before = ''): string {
  const firstLine = block.split('\n', 1)[0] ?? '';
  const at = firstLine.toLowerCase().indexOf(recipient.toLowerCase());
  // The recipient's own line often is the explanation, after the address ("<a@b>: host x
  // said: 550") or before it ("User mailbox exceeds allowed size: a@b").
  const rest =
    at >= 0
      ? `${firstLine
          .slice(0, at)
          .replace(/[\s"'<(:[]+$/, '')
          .replace(
            /^\s*(\*|>>>|-|•)\s*$/,
            '',
          )} ${firstLine.slice(at + recipient.length).replace(/^[>"')\]:,.\s]+/, '')}`.trim()
      : '';
  const body = block.slice(firstLine.length + 1);
  // A paragraph ending in a colon introduces the list of addresses; it explains nothing.
  if (rest === '' && body.trim() === '' && before.trim() !== '' && !/:\s*$/.test(before)) {
    return before.replace(/\s+/g, ' ').trim().slice(0, MAX_DIAGNOSTIC_CHARS);
  }
  // Sendmail quotes the remote reply ("<<< 550 ...") above its own summary line for the
  // recipient ("554 <a@b>... Remote protocol error"); the quoted reply is the cause.
  const quoted = before
    .split('\n')
    .filter((l) => /^\s*<<<\s*[45]\d\d/.test(l))
    .map((l) => l.replace(/^\s*<<<\s*/, ''));
  const paragraphs = `${[...quoted, rest].join('\n')}\n${body}`
    .split(/\n[ \t]*\n/)
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const chosen: string[] = [];
  for (const p of paragraphs.slice(0, 6)) {
    chosen.push(p);
    if (HAS_REPLY.test(p)) break;
  }
  // The reply is above the addresses, and what follows them is not an explanation.
  if (!chosen.some((p) => HAS_REPLY.test(p)) && HAS_REPLY.test(before) && !quoted.length) {
    chosen.unshift(before);
  }
  const joined = chosen
    .join('\n')
    .replace(/[ \t]*\n[ \t]*/g, ' ')
    .trim();
  return joined.length > MAX_DIAGNOSTIC_CHARS ? joined.slice(0, MAX_DIAGNOSTIC_CHARS) : joined;
}

/**
 * Recipients of a plain-text report. `failed` (X-Failed-Recipients) is the MTA's own list when
 * it gives one: blocks of other addresses are dropped, and listed addresses the prose does not
 * name get the whole report as their explanation.
 */
export function plainRecipients(text: string, failed: readonly string[] = []): RecipientFacts[] {
  const report = reportPart(text);
  let blocks = recipientBlocks(report);
  if (blocks.length === 0 && failed.length === 0) return transcriptRecipients(report);
  if (failed.length > 0) {
    const listed = blocks.filter((b) => failed.some((f) => sameAddress(f, b.recipient)));
    blocks = failed.map(
      (f) =>
        listed.find((b) => sameAddress(b.recipient, f)) ?? {
          recipient: f,
          text: report,
          before: '',
        },
    );
  }
  return blocks.map((b) => ({
    recipient: b.recipient,
    diagnostic: diagnosticOf(b.text, b.recipient, b.before),
    // A transcript quotes the command before the recipient's line ("<<< 550 <a@b>... User
    // unknown" after ">>> RCPT To:<a@b>"); with one recipient the whole report is its.
    command: commandIn(b.text) ?? (blocks.length === 1 ? commandIn(report) : undefined),
  }));
}

/** The last error reply of a session transcript ("<<< 550 ...", "Out: 451 ...", "550 ..."). */
const TRANSCRIPT_ERROR = /^\s*(?:<<<|>>>|Out:|Received >>>)?\s*([45]\d\d[ -].*)$/;

/**
 * Reports that name the recipients only in the SMTP dialogue they quote ("RCPT TO:<a@b>"):
 * Postfix's notices to the postmaster, and a few gateways' summaries. Each recipient gets the
 * last error reply of the transcript.
 */
function transcriptRecipients(report: string): RecipientFacts[] {
  const recipients: string[] = [];
  for (const m of report.matchAll(/RCPT TO:\s*<?([^\s<>]{3,320})/gi)) {
    const address = findAddresses(m[1] ?? '', 1)[0]?.address;
    if (address && !recipients.some((r) => sameAddress(r, address))) recipients.push(address);
  }
  if (recipients.length === 0) return [];
  const errors = splitLines(report)
    .map((l) => TRANSCRIPT_ERROR.exec(l)?.[1])
    .filter((l): l is string => l !== undefined);
  const diagnostic = errors.at(-1) ?? diagnosticOf(report, '');
  return recipients.slice(0, MAX_RECIPIENTS).map((recipient) => ({
    recipient,
    diagnostic: diagnostic.slice(0, MAX_DIAGNOSTIC_CHARS),
    command: commandIn(report),
  }));
}
