import { decodeHTML, decodeHTMLAttribute, escapeText } from 'entities';

/**
 * HTML's character references, decoded as a browser decodes them (the entities package: every
 * named one, numeric ones with invalid code points as U+FFFD, the legacy names without a
 * semicolon where the spec allows them), in one pass and linear time. Attribute values go
 * through decodeHTMLAttribute instead: there `&copy=` in a URL stays as written.
 */
const decodeText = (s: string): string => decodeHTML(s);

/**
 * Removes `<!-- ... -->` and the raw-text elements whose content is not shown. Written as
 * indexOf scans rather than lazy regular expressions: those rescan the rest of the input from
 * every unclosed opener, which is quadratic, and the HTML comes from campaign authors.
 */
function stripHidden(html: string): string {
  const lower = html.toLowerCase();
  const opener = /<!--|<(script|style|head|title)\b[^<>]*>/gi;
  let out = '';
  let from = 0;
  let m: RegExpExecArray | null;
  while ((m = opener.exec(html)) !== null) {
    out += html.slice(from, m.index);
    const close = m[1] === undefined ? '-->' : `</${m[1].toLowerCase()}`;
    const end = lower.indexOf(close, opener.lastIndex);
    // Unclosed: browsers hide the rest of the document too.
    if (end < 0) return out;
    const gt = m[1] === undefined ? end + 2 : html.indexOf('>', end);
    if (gt < 0) return out;
    from = gt + 1;
    opener.lastIndex = from;
  }
  return out + html.slice(from);
}

/** `<a href="...">label</a>` as "label (href)", scanning each anchor once. */
function linksToText(html: string): string {
  const lower = html.toLowerCase();
  const opener = /<a\b([^<>]*)>/gi;
  let out = '';
  let from = 0;
  let m: RegExpExecArray | null;
  while ((m = opener.exec(html)) !== null) {
    const end = lower.indexOf('</a', opener.lastIndex);
    const gt = end < 0 ? -1 : html.indexOf('>', end);
    if (gt < 0) break; // unclosed anchors are left to the tag stripper
    const href = /(?:^|\s)href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'<>]+))/i.exec(m[1] ?? '');
    const target = href?.[1] ?? href?.[2] ?? href?.[3] ?? '';
    const label = html
      .slice(opener.lastIndex, end)
      .replace(/<[^<>]*>/g, '')
      .trim();
    const shown = decodeText(label);
    const decodedTarget = decodeHTMLAttribute(target);
    const plainTarget = decodedTarget.replace(/^mailto:/i, '');
    let text: string;
    if (!target || target.startsWith('#') || shown === plainTarget || shown === decodedTarget)
      text = label;
    else {
      // The text is decoded as a whole at the end, and the target was decoded as an attribute
      // now: escaped back, it comes out of that as it is, and the tag patterns pass it by.
      const t = escapeText(decodedTarget);
      text = label ? `${label} (${t})` : t;
    }
    out += html.slice(from, m.index) + text;
    from = gt + 1;
    opener.lastIndex = from;
  }
  return out + html.slice(from);
}

const BLOCKS = 'p|div|h[1-6]|tr|table|ul|ol|blockquote|section|article|header|footer';

/**
 * A readable plain-text alternative for an HTML body, for campaigns that give only HTML.
 * Links keep their target, block elements become line breaks, scripts and styles vanish.
 * Runs in linear time: every pattern below stops at the next "<" or ">".
 */
export function htmlToText(html: string): string {
  let s = stripHidden(html)
    // Line breaks in the source are spaces in HTML; only tags make lines.
    .replace(/[ \t\r\n\f]+/g, ' ');
  s = linksToText(s)
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<li\b[^<>]*>/gi, '\n* ')
    .replace(new RegExp(`</(${BLOCKS})\\s*>`, 'gi'), '\n\n')
    .replace(new RegExp(`<(${BLOCKS})\\b[^<>]*>`, 'gi'), '\n')
    .replace(/<\/t[dh]\s*>/gi, ' ')
    .replace(/<[^<>]+>/g, '');
  s = decodeText(s)
    .replace(/[ \t\f\v\u00a0]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{3,}/g, '\n\n');
  return s.trim();
}
