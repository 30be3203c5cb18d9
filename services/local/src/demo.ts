/**
 * `npm run demo`: sends a demo campaign of about 1,000 recipients over several domains to the
 * running engine over REST, shows live progress and ends with a summary.
 */
import type { CampaignCounts } from '@volley/contracts';
import { localStateDir, runningEngine } from '@volley/runtime';

/** The engine `npm start` runs in this checkout, unless the environment names another API. */
const engine = runningEngine(localStateDir());
const API =
  process.env.VOLLEY_API_URL ??
  engine?.apiUrl ??
  `http://127.0.0.1:${process.env.VOLLEY_API_PORT ?? 8080}`;
const KEY = process.env.VOLLEY_API_KEY ?? engine?.apiKey ?? 'volley-local-dev-key';
const COUNT = Number(process.env.VOLLEY_DEMO_RECIPIENTS ?? 1000);
const DOMAINS = [
  'example.com',
  'example.net',
  'example.org',
  'mail.example',
  'inbox.test',
  'post.test',
];
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
  'Vint',
];

async function api(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  let res: Response;
  try {
    res = await fetch(`${API}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${KEY}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : null,
    });
  } catch {
    throw new Error(
      `cannot reach the API at ${API}: is the engine running? Start it with \`npm start\``,
    );
  }
  return { status: res.status, json: await res.json().catch(() => ({})) };
}

async function main(): Promise<void> {
  const recipients = Array.from({ length: COUNT }, (_, i) => ({
    email: `user${i}@${DOMAINS[i % DOMAINS.length]}`,
    vars: { name: FIRST[i % FIRST.length], number: i, plan: i % 3 === 0 ? 'Pro' : 'Free' },
  }));
  const started = Date.now();
  const created = await api('POST', '/v1/campaigns', {
    from: 'Volley Demo <demo@volley.example>',
    subject: 'Hello {{name}}, your {{plan}} plan is ready',
    html:
      '<h1>Hello {{name}}!</h1><p>This is demo message <b>#{{number}}</b> from Volley.</p>' +
      '<p>Your plan: {{plan}}. <a href="https://volley.example/account">Manage your account</a></p>',
    recipients,
  });
  if (created.status !== 202) {
    throw new Error(
      `the API refused the campaign (${created.status}): ${JSON.stringify(created.json)}`,
    );
  }
  const { id } = created.json as { id: string };
  process.stdout.write(`campaign ${id}: ${COUNT} recipients over ${DOMAINS.length} domains\n`);

  const tty = process.stdout.isTTY;
  let last = '';
  // A demo of ~1,000 messages takes seconds; 10 minutes means something is stuck.
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    const { json } = await api('GET', `/v1/campaigns/${id}`);
    const c = json as { status: string; counts: CampaignCounts };
    const doneN = c.counts.sent + c.counts.bounced + c.counts.failed + c.counts.suppressed;
    const pct = c.counts.total ? Math.floor((100 * doneN) / c.counts.total) : 100;
    const secs = (Date.now() - started) / 1000;
    const bar = '#'.repeat(Math.floor(pct / 4)).padEnd(25, '.');
    const line = `[${bar}] ${String(pct).padStart(3)}%  sent ${c.counts.sent}  deferred ${c.counts.deferred}  bounced ${c.counts.bounced}  failed ${c.counts.failed}  ${c.status}  ${(c.counts.sent / Math.max(secs, 0.001)).toFixed(0)} msg/s`;
    if (tty) process.stdout.write(`\r${line}`);
    else if (line !== last) process.stdout.write(`${line}\n`);
    last = line;
    if (c.status === 'completed' || c.status === 'cancelled') {
      if (tty) process.stdout.write('\n');
      process.stdout.write(
        `\ndone in ${secs.toFixed(1)} s: ${c.counts.sent} sent, ${c.counts.bounced} bounced, ${c.counts.failed} failed, ` +
          `${c.counts.suppressed} suppressed (${(c.counts.sent / secs).toFixed(0)} msg/s)\n` +
          `messages are in the capture folder (.volley/mail by default); events: GET /v1/campaigns/${id}/events\n`,
      );
      process.exit(c.counts.sent === c.counts.total ? 0 : 1);
    }
    if (Date.now() > deadline)
      throw new Error('the campaign did not finish within 10 minutes; check the engine logs');
    // Polling a REST API for progress is what a user would do; 250 ms keeps the bar lively.
    await new Promise((r) => setTimeout(r, 250));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`\ndemo: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
