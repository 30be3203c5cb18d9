/**
 * The local engine's mail view: a web page over the capture folder. A list (newest first,
 * searchable by recipient), and each message with its envelope and three views: the HTML as a
 * mail client would show it (in a sandboxed frame, no scripts, nothing fetched from outside),
 * the text part and the source. Read-only, on loopback.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { simpleParser } from 'mailparser';
import { readIndex, readMessage, type StoredMessage } from '@volley/mail-capture';

/** Rows on one page of the list: a screenful and then some; the search narrows the rest. */
const PAGE = 200;

function escape(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

const STYLE = `body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:4px 8px;border-bottom:1px solid #ddd}
a{color:#0645ad}pre{white-space:pre-wrap;background:#f6f6f6;padding:1em}
iframe{width:100%;height:70vh;border:1px solid #ccc}dl{display:grid;grid-template-columns:max-content auto;gap:2px 1em}
nav a{margin-right:1em}nav a.on{font-weight:bold;text-decoration:none;color:#222}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

function list(dir: string, q: string): string {
  const needle = q.trim().toLowerCase();
  const all = readIndex(dir);
  const hits = all.filter((m) => !needle || m.to.some((r) => r.toLowerCase().includes(needle)));
  const shown = hits.slice(-PAGE).reverse();
  const row = (m: StoredMessage): string =>
    `<tr><td>${escape(new Date(m.receivedAt).toISOString())}</td><td class="to">${escape(m.to.join(', '))}</td>` +
    `<td><a href="/m/${m.file}">${escape(m.subject || '(no subject)')}</a></td><td>${escape(m.from)}</td></tr>`;
  return page(
    'Volley mail',
    `<h1>Captured mail</h1>
<form method="get" action="/"><input name="q" type="search" placeholder="recipient" value="${escape(q)}" aria-label="recipient"> <button>Search</button></form>
<p id="count">${hits.length} of ${all.length} messages${hits.length > shown.length ? `, newest ${shown.length} shown` : ''}</p>
<table><thead><tr><th>Received</th><th>To (envelope)</th><th>Subject</th><th>Return-Path</th></tr></thead>
<tbody>${shown.map(row).join('')}</tbody></table>`,
  );
}

async function message(dir: string, file: string, view: string): Promise<string | undefined> {
  const raw = await readMessage(dir, file);
  if (!raw) return undefined;
  const mail = await simpleParser(raw);
  const entry = readIndex(dir).find((m) => m.file === file);
  const views = [...(mail.html ? ['html'] : []), 'text', 'source'];
  const current = views.includes(view) ? view : (views[0] ?? 'source');
  const tabs = views
    .map(
      (v) =>
        `<a href="?view=${v}"${v === current ? ' class="on"' : ''} id="tab-${v}">${v.toUpperCase()}</a>`,
    )
    .join('');
  const body =
    current === 'html'
      ? `<iframe id="html" sandbox="" src="/m/${file}/html" title="HTML part"></iframe>`
      : current === 'text'
        ? `<pre id="text">${escape(mail.text ?? '')}</pre>`
        : `<pre id="source">${escape(raw.toString('utf8'))}</pre>`;
  const header = (name: string, value: string | undefined): string =>
    `<dt>${name}</dt><dd>${escape(value ?? '')}</dd>`;
  return page(
    mail.subject ?? file,
    `<p><a href="/">&larr; all mail</a></p><h1 id="subject">${escape(mail.subject ?? '(no subject)')}</h1>
<h2>Envelope</h2><dl id="envelope">${header('Return-Path', entry?.from)}${header('Recipients', entry?.to.join(', '))}${header('Received', entry && new Date(entry.receivedAt).toISOString())}${header('Size', entry && `${entry.size} bytes`)}</dl>
<h2>Headers</h2><dl>${header('From', mail.from?.text)}${header('To', Array.isArray(mail.to) ? mail.to.map((t) => t.text).join(', ') : mail.to?.text)}${header('Date', mail.date?.toISOString())}${header('Message-ID', mail.messageId)}</dl>
<nav>${tabs}<a href="/m/${file}/raw">download .eml</a></nav>${body}`,
  );
}

async function answer(dir: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const send = (status: number, type: string, body: string | Buffer, extra = {}): void => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...extra });
    res.end(body);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(405, 'text/plain; charset=utf-8', 'the mail view is read-only\n', { allow: 'GET, HEAD' });
    return;
  }
  if (url.pathname === '/') {
    send(200, 'text/html; charset=utf-8', list(dir, url.searchParams.get('q') ?? ''));
    return;
  }
  const m = /^\/m\/([^/]+)(\/html|\/raw)?$/.exec(url.pathname);
  const file = m?.[1] ?? '';
  if (m && m[2] === '/raw') {
    const raw = await readMessage(dir, file);
    if (raw) {
      send(200, 'message/rfc822', raw, { 'content-disposition': `attachment; filename="${file}"` });
      return;
    }
  } else if (m && m[2] === '/html') {
    const raw = await readMessage(dir, file);
    if (raw) {
      const mail = await simpleParser(raw);
      // Captured HTML is somebody's template: no scripts, no requests leaving this machine.
      send(200, 'text/html; charset=utf-8', mail.html || '', {
        'content-security-policy':
          "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'",
      });
      return;
    }
  } else if (m) {
    const html = await message(dir, file, url.searchParams.get('view') ?? '');
    if (html) {
      send(200, 'text/html; charset=utf-8', html);
      return;
    }
  }
  send(
    404,
    'text/html; charset=utf-8',
    page('Not found', '<h1>No such message</h1><p><a href="/">all mail</a></p>'),
  );
}

export interface MailView {
  url: string;
  close(): Promise<void>;
}

export function startMailView(dir: string, port: number): Promise<MailView> {
  const server = createServer((req, res) => {
    answer(dir, req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(
        `the message could not be shown: ${err instanceof Error ? err.message : String(err)}\n`,
      );
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const addr = server.address();
      const p = typeof addr === 'object' && addr ? addr.port : port;
      resolve({
        url: `http://127.0.0.1:${p}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
