/**
 * The campaign every run sends: a personalized HTML + text message of a chosen size, and a
 * deterministic recipient list spread evenly over a number of domains. Volley, the naive loop
 * and the wire baseline all derive their messages from here, so they move the same bytes.
 */
import { compileCampaignTemplates, MessageComposer, type DkimSigner } from '@volley/message';
import type { Recipient } from '@volley/contracts';

export const FROM_DOMAIN = 'sender.bench.example';
export const FROM = `Volley Bench <news@${FROM_DOMAIN}>`;
const SUBJECT = '{{firstName}}, your {{plan}} update for {{city}}';

export interface Templates {
  from: string;
  subject: string;
  html: string;
  text: string;
}

const FIRST = [
  'Ada',
  'Grace',
  'Alan',
  'Edsger',
  'Barbara',
  'Donald',
  'Frances',
  'Ken',
  'Radia',
  'Leslie',
];
const LAST = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Dijkstra',
  'Liskov',
  'Knuth',
  'Allen',
  'Thompson',
  'Perlman',
  'Lamport',
];
const CITIES = [
  'Lisbon',
  'Oslo',
  'Nairobi',
  'Osaka',
  'Lima',
  'Tallinn',
  'Austin',
  'Porto',
  'Hanoi',
  'Quito',
];
const PLANS = ['Starter', 'Team', 'Business', 'Enterprise'];

/** Variables of recipient `i`: a few short strings and a flag, like a real newsletter's. */
export function varsOf(i: number): Record<string, string | boolean> {
  return {
    firstName: FIRST[i % FIRST.length] ?? 'Ada',
    lastName: LAST[Math.floor(i / 10) % LAST.length] ?? 'Lovelace',
    city: CITIES[Math.floor(i / 7) % CITIES.length] ?? 'Lisbon',
    plan: PLANS[i % PLANS.length] ?? 'Team',
    code: `B${(i * 2654435761) % 0xffffffff}`.slice(0, 10),
    vip: i % 5 === 0,
  };
}

function benchDomain(i: number, domains: number): string {
  return `d${String(i % domains).padStart(3, '0')}.bench.example`;
}

export function recipientOf(i: number, domains: number): Recipient {
  return { email: `user${i}@${benchDomain(i, domains)}`, vars: varsOf(i) };
}

export function recipients(count: number, domains: number): Recipient[] {
  const out: Recipient[] = new Array<Recipient>(count);
  for (let i = 0; i < count; i++) out[i] = recipientOf(i, domains);
  return out;
}

// Filler that reads like a newsletter; varied so no part of the body is a long run of one byte.
const PARAGRAPHS = [
  'This quarter we shipped faster search, a redesigned billing page and exports that finish in seconds rather than minutes.',
  'Teams in {{city}} told us what slowed them down; most of this release comes straight from those conversations.',
  'Your {{plan}} plan now includes audit logs, single sign-on for every member and a longer history of past activity.',
  'We also fixed dozens of small annoyances: sticky filters, clearer error messages and keyboard shortcuts that work everywhere.',
  'If anything looks off after the update, reply to this message and a person on our support team will read it.',
  'Next month we will publish the roadmap for the second half of the year, with dates we intend to keep.',
];

function htmlTemplate(paragraphs: number): string {
  const body: string[] = [];
  for (let k = 0; k < paragraphs; k++) {
    body.push(`<p style="margin:0 0 12px 0">${PARAGRAPHS[k % PARAGRAPHS.length] ?? ''}</p>`);
  }
  return [
    '<!doctype html><html><head><meta charset="utf-8"><title>{{plan}} update</title></head>',
    '<body style="font-family:Helvetica,Arial,sans-serif;color:#222">',
    '<h1 style="font-size:20px">Hello {{firstName}} {{lastName}},</h1>',
    ...body,
    '{{#if vip}}<p><strong>As one of our first customers, use code {{code}} for a free month.</strong></p>{{/if}}',
    '<p>Sent to {{email}}. <a href="https://bench.example/u?c={{code}}">Unsubscribe</a></p>',
    '</body></html>',
  ].join('\n');
}

function textTemplate(paragraphs: number): string {
  const body: string[] = [];
  for (let k = 0; k < paragraphs; k++) body.push(PARAGRAPHS[(k + 2) % PARAGRAPHS.length] ?? '');
  return [
    'Hello {{firstName}} {{lastName}},',
    '',
    ...body.flatMap((p) => [p, '']),
    '{{#if vip}}As one of our first customers, use code {{code}} for a free month.{{/if}}',
    '',
    'Sent to {{email}}. Unsubscribe: https://bench.example/u?c={{code}}',
  ].join('\n');
}

/**
 * Templates whose rendered HTML + text come to about `bytes` (HTML about two thirds), measured
 * on a sample recipient. MIME headers and quoted-printable encoding add to this on the wire.
 */
export function templatesOfSize(bytes: number): Templates {
  let htmlParas = 0;
  let textParas = 0;
  const sample = { ...varsOf(0), email: recipientOf(0, 1).email };
  for (let guard = 0; guard < 10_000; guard++) {
    const t = {
      from: FROM,
      subject: SUBJECT,
      html: htmlTemplate(htmlParas),
      text: textTemplate(textParas),
    };
    const r = compileCampaignTemplates(t).render(sample);
    const htmlLen = Buffer.byteLength(r.html ?? '');
    const textLen = Buffer.byteLength(r.text ?? '');
    // Grow each part to its share (HTML two thirds, text one third) one paragraph at a time.
    if (htmlLen < (2 * bytes) / 3) htmlParas++;
    else if (textLen < bytes / 3) textParas++;
    else return t;
  }
  throw new Error(`could not build templates of ${bytes} bytes`);
}

/**
 * One message exactly as a Volley sender composes it (same composer, same templates, signed by
 * the same signer when DKIM is on), for the wire baseline to send the same bytes. Line ends are
 * LF: smtp-source adds the CR itself.
 */
export function sampleMessage(
  t: Templates,
  domains: number,
  signer?: DkimSigner,
): { raw: string; bytes: number } {
  const r = recipientOf(1, domains);
  const content = compileCampaignTemplates(t).render({ ...(r.vars ?? {}), email: r.email });
  const composed = new MessageComposer({
    campaignId: '0123456789abcdef0123',
    from: t.from,
  }).compose(1, r.email, content);
  const raw = signer ? signer.sign(composed.raw, FROM_DOMAIN) : composed.raw;
  return { raw: raw.replace(/\r\n/g, '\n'), bytes: Buffer.byteLength(raw) };
}
