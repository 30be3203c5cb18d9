/**
 * The tag=value lists of DKIM (RFC 6376 3.2), DMARC (RFC 7489 6.4), MTA-STS (RFC 8461 3.1) and
 * TLS-RPT (RFC 8460 3) records: `;`-separated, whitespace around tags and values allowed.
 */
export interface Tags {
  /** Tag names (lower case) to values, in order. */
  values: Map<string, string>;
  /** The first tag's name, which must be the version tag in DMARC, MTA-STS and TLS-RPT. */
  first: string | undefined;
  /** Why the list is malformed (a term without `=`, a tag given twice). */
  problems: string[];
}

export function parseTags(txt: string): Tags {
  const values = new Map<string, string>();
  const problems: string[] = [];
  let first: string | undefined;
  for (const part of txt.split(';')) {
    if (part.trim() === '') continue; // a trailing ";" is allowed
    const eq = part.indexOf('=');
    if (eq < 1) {
      problems.push(`"${part.trim()}" is not tag=value`);
      continue;
    }
    const name = part.slice(0, eq).trim().toLowerCase();
    if (values.has(name)) problems.push(`${name}= appears twice`);
    values.set(name, part.slice(eq + 1).trim());
    first ??= name;
  }
  return { values, first, problems };
}
