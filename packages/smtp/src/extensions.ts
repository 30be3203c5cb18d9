/** The service extensions a server announces in its EHLO reply (RFC 5321 4.1.1.1). */
import type { ServerReply } from './reply-parser.ts';

/** What the server announced in its EHLO reply. */
export interface SmtpExtensions {
  pipelining: boolean;
  starttls: boolean;
  eightBitMime: boolean;
  smtpUtf8: boolean;
  enhancedStatusCodes: boolean;
  /** SIZE limit in bytes; 0 when none was announced or it is unlimited. */
  size: number;
  /** AUTH mechanisms, upper case. */
  auth: ReadonlySet<string>;
}

/** Before EHLO, and after a HELO: nothing may be assumed. */
export const NO_EXTENSIONS: SmtpExtensions = {
  pipelining: false,
  starttls: false,
  eightBitMime: false,
  smtpUtf8: false,
  enhancedStatusCodes: false,
  size: 0,
  auth: new Set(),
};

export function parseExtensions(reply: ServerReply): SmtpExtensions {
  const ext = { ...NO_EXTENSIONS, auth: new Set<string>() };
  // The first line is the server's name; each further line is one keyword with parameters.
  for (const line of reply.text.split('\n').slice(1)) {
    const [keyword = '', ...params] = line.slice(4).trim().split(/\s+/);
    const kw = keyword.toUpperCase();
    if (kw === 'PIPELINING') ext.pipelining = true;
    else if (kw === 'STARTTLS') ext.starttls = true;
    else if (kw === '8BITMIME') ext.eightBitMime = true;
    else if (kw === 'SMTPUTF8') ext.smtpUtf8 = true;
    else if (kw === 'ENHANCEDSTATUSCODES') ext.enhancedStatusCodes = true;
    else if (kw === 'SIZE') ext.size = Math.max(0, Number(params[0]) || 0);
    else if (kw === 'AUTH' || kw.startsWith('AUTH=')) {
      // "AUTH=PLAIN LOGIN" is the pre-RFC 4954 form some servers still send.
      const mechs = kw.startsWith('AUTH=') ? [kw.slice(5), ...params] : params;
      for (const m of mechs) if (m) ext.auth.add(m.toUpperCase());
    }
  }
  return ext;
}
