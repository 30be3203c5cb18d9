/**
 * `npm run demo`: sends a demo campaign of about 1,000 recipients over several domains to the
 * running engine over REST, shows live progress and ends with a summary.
 */
import { createVolleyClient } from '@volley/api-client';
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

/** A call's answer, or an error that says what failed and why, for a call the demo needs. */
async function answer<T>(
  what: string,
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let res: Awaited<typeof call>;
  try {
    res = await call;
  } catch {
    throw new Error(
      `cannot reach the API at ${API}: is the engine running? Start it with \`npm start\``,
    );
  }
  if (res.data === undefined) {
    throw new Error(
      `the API refused to ${what} (${res.response.status}): ${JSON.stringify(res.error)}`,
    );
  }
  return res.data;
}

async function main(): Promise<void> {
  // Made here, not at import, so that a bad VOLLEY_API_URL is reported like any other failure.
  const volley = createVolleyClient({ baseUrl: API, apiKey: KEY });
  const recipients = Array.from({ length: COUNT }, (_, i) => ({
    email: `user${i}@${DOMAINS[i % DOMAINS.length]}`,
    vars: { name: FIRST[i % FIRST.length], number: i, plan: i % 3 === 0 ? 'Pro' : 'Free' },
  }));
  const started = Date.now();
  const { id } = await answer(
    'create the campaign',
    volley.POST('/v1/campaigns', {
      body: {
        from: 'Volley Demo <demo@volley.example>',
        subject: 'Hello {{name}}, your {{plan}} plan is ready',
        html:
          '<h1>Hello {{name}}!</h1><p>This is demo message <b>#{{number}}</b> from Volley.</p>' +
          '<p>Your plan: {{plan}}. <a href="https://volley.example/account">Manage your account</a></p>',
        recipients,
      },
    }),
  );
  process.stdout.write(`campaign ${id}: ${COUNT} recipients over ${DOMAINS.length} domains\n`);

  const tty = process.stdout.isTTY;
  let last = '';
  // A demo of ~1,000 messages takes seconds; 10 minutes means something is stuck.
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    const c = await answer(
      'read the campaign',
      volley.GET('/v1/campaigns/{id}', { params: { path: { id } } }),
    );
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
