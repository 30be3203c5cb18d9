/**
 * The pages of the unsubscribe routes: small, self-contained HTML (no script, no outside
 * resource), safe to show whatever the campaign's From holds.
 */

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/**
 * The address with most of its local part hidden: enough for its owner to recognise it, little
 * for anyone else the link reaches (a forwarded message, a link scanner's log).
 */
function maskAddress(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return '…';
  const local = email.slice(0, at);
  const shown = local.length <= 2 ? local.slice(0, 1) : local.slice(0, 2);
  return `${shown}…${email.slice(at)}`;
}

/**
 * Headers of every page: no caching (the answer depends on the token), no referrer (the URL
 * holds the token), not indexed, not framed, and a policy that allows nothing but the inline
 * style and a form posting back to this origin.
 */
export const PAGE_HEADERS = {
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-robots-tag': 'noindex, nofollow',
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
} as const;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>${escape(title)}</title>
<style>
body{font-family:system-ui,sans-serif;background:#f6f7f9;color:#1d2330;margin:0;padding:3rem 1rem}
main{max-width:32rem;margin:0 auto;background:#fff;border-radius:8px;padding:2rem;box-shadow:0 1px 3px #0002}
h1{font-size:1.4rem;margin-top:0}
button{font:inherit;font-weight:600;background:#c0392b;color:#fff;border:0;border-radius:6px;padding:.7rem 1.4rem;cursor:pointer}
.muted{color:#5b6475;font-size:.9rem}
</style>
</head>
<body><main>
${body}
</main></body>
</html>
`;
}

export interface PageSubject {
  /** The campaign's From, as its recipient saw it. */
  from: string;
  email: string;
}

/** GET: what the link is for, and a button; the unsubscribe happens only when it is pressed. */
export function confirmPage(s: PageSubject, already: boolean): string {
  const who = escape(maskAddress(s.email));
  const sender = escape(s.from);
  if (already) {
    return page(
      'Unsubscribed',
      `<h1>You are unsubscribed</h1>
<p><strong>${who}</strong> gets no more messages from ${sender}.</p>`,
    );
  }
  return page(
    'Unsubscribe',
    `<h1>Unsubscribe?</h1>
<p>Stop messages from ${sender} to <strong>${who}</strong>.</p>
<form method="post">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit" id="unsubscribe">Unsubscribe</button>
</form>
<p class="muted">Nothing changes until you press the button.</p>`,
  );
}

/** POST: done (also when it was done before: the request is idempotent). */
export function donePage(s: PageSubject): string {
  return page(
    'Unsubscribed',
    `<h1 id="done">You are unsubscribed</h1>
<p><strong>${escape(maskAddress(s.email))}</strong> gets no more messages from ${escape(s.from)}.</p>`,
  );
}

/** An error, for a person who followed the link in a browser. */
export function errorPage(status: number, detail: string): string {
  return page(
    'Unsubscribe',
    `<h1>This link does not work</h1>
<p>${escape(detail)}</p>
<p class="muted">Error ${status}. If you keep getting messages, reply to one of them and ask to be removed.</p>`,
  );
}
