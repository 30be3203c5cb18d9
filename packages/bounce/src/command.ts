/**
 * The SMTP command a remote server's reply answered, as the reporting MTAs say it in their
 * own words. Sisimai's reasons depend on it: "user unknown" after RCPT TO is an unknown
 * mailbox, after DATA it is a content filter answering with that phrase.
 */
import type { SmtpCommand } from '@volley/smtp';

interface CommandRule {
  command: SmtpCommand;
  re: RegExp;
}

/** Phrases naming the command, checked in order; the first that matches wins. */
const RULES: CommandRule[] = [
  // Postfix: "(in reply to RCPT TO command)", "(in reply to end of DATA command)".
  { command: 'rcpt', re: /in reply to RCPT TO command/i },
  { command: 'data', re: /in reply to (end of )?DATA command/i },
  { command: 'mail', re: /in reply to MAIL FROM command/i },
  { command: 'ehlo', re: /in reply to (EHLO|HELO) command/i },
  {
    command: 'connect',
    re: /while (receiving the initial server greeting|performing the HELO handshake)|refused to talk to me/i,
  },
  // Exim and its relatives: "SMTP error from remote mail server after RCPT TO:<a@b>:".
  { command: 'rcpt', re: /after RCPT( TO)?\b|after RCPT command/i },
  { command: 'data', re: /after (end of data|DATA|sending the message|the message was sent)\b/i },
  { command: 'mail', re: /after MAIL( FROM)?\b/i },
  { command: 'connect', re: /after (initial connection|connecting|the connection)\b/i },
  { command: 'ehlo', re: /after (EHLO|HELO)\b/i },
  // qmail and DragonFly.
  {
    command: 'rcpt',
    re: /does not like recipient|did not like our RCPT|most progress was RCPT TO/i,
  },
  {
    command: 'data',
    re: /failed after I sent the message|did not like our (final )?DATA|most progress was DATA/i,
  },
  { command: 'mail', re: /sender was rejected|did not like our MAIL/i },
  { command: 'connect', re: /didn't like our greeting|did not like our greeting/i },
  // 1&1 and GMX: "SMTP error from remote server for TEXT command" (TEXT is the message).
  { command: 'data', re: /\b(for|after) (TEXT|DATA) command/i },
  { command: 'rcpt', re: /\bfor RCPT( TO)? command/i },
  { command: 'mail', re: /\bfor MAIL( FROM)? command/i },
  // Yahoo ("[RCPT_TO]"), x6 ("(Error following RCPT command)", "(DATA)").
  { command: 'rcpt', re: /\[RCPT_TO\]|following RCPT command|\(RCPT( TO)?\)/i },
  { command: 'data', re: /\[DATA\]|following DATA command|\(DATA\)/i },
  { command: 'mail', re: /\[MAIL_FROM\]|following MAIL command|\(MAIL( FROM)?\)/i },
];

/** Sendmail-style transcripts: ">>> RCPT To:<...>" followed by "<<< 550 ...". */
function transcriptCommand(text: string): SmtpCommand | undefined {
  let last: SmtpCommand | undefined;
  // InterScan writes the other way round: "Sent <<< RCPT TO:<a@b>", "Received >>> 550 ...".
  for (const m of text.matchAll(/^[ \t]*(?:>>>|In:|Sent <<<)[ \t]*([A-Za-z]{4})/gim)) {
    const verb = (m[1] ?? '').toUpperCase();
    if (verb === 'RCPT') last = 'rcpt';
    else if (verb === 'MAIL') last = 'mail';
    else if (verb === 'DATA') last = 'data';
    else if (verb === 'EHLO' || verb === 'HELO') last = 'ehlo';
  }
  return last;
}

/** The command a block of report text says the reply answered, if it says. */
export function commandIn(text: string): SmtpCommand | undefined {
  // Reports wrap long lines anywhere, "in reply to RCPT\n    TO command" included.
  const flat = text.replace(/[ \t]*\r?\n[ \t]*/g, ' ');
  for (const rule of RULES) if (rule.re.test(flat)) return rule.command;
  // m-FILTER: "-------SMTP command" on one line, the command on the next.
  const labelled = /SMTP command:?\s*\n?\s*(RCPT|MAIL|DATA|EHLO|HELO)\b/i.exec(text)?.[1];
  if (labelled) return transcriptCommand(`>>> ${labelled}`);
  return transcriptCommand(text);
}
