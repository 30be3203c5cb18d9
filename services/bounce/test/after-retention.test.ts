// Feedback that comes after retention removed a finished campaign's recipient list: the
// messages a real sender wrote carry the address in their tokens (a keyed hash in the VERP and
// mailto local parts, encrypted in the one-click link), so a one-click POST to the API, a
// mailto unsubscribe, a DSN and a complaint to the real bounce service still suppress the
// address for the campaign's tenant; a report about another address changes nothing. Links
// and return paths of messages sent before the tokens carried the address (40 characters)
// still work while the recipient list is there.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Retention } from '@volley/campaigns';
import { createToken, verpAddress } from '@volley/message';
import { arf, dsn, unsubscribeMail } from '@volley/bounce/test-reports';
import { SmtpTestClient, type CapturedMessage } from '@volley/testkit';
import { Harness, KEY, sharedRedis } from '@volley/sender/test-harness';
import { DOMAIN, SECRET, sample, startBounceService, type BounceService } from './service.ts';

const UNSUBSCRIBE_URL = 'https://links.sender.example/u';
const DAY = 86_400_000;
const NAMES = ['ada', 'bob', 'cy', 'dee', 'eve', 'fay'];
const auth = { authorization: `Bearer ${KEY}` };

let shared: Awaited<ReturnType<typeof sharedRedis>>;
let h: Harness;
let bounce: BounceService;
/** The campaign whose recipient list retention removed. */
let id: string;

before(async () => {
  shared = await sharedRedis();
  h = new Harness(shared.redis, shared.url);
  bounce = await startBounceService({ REDIS_URL: shared.url, VOLLEY_REDIS_PREFIX: h.keys.prefix });
  await h.start({
    senders: 1,
    env: {
      VOLLEY_BOUNCE_DOMAIN: DOMAIN,
      VOLLEY_VERP_SECRET: SECRET,
      VOLLEY_UNSUBSCRIBE_URL: UNSUBSCRIBE_URL,
    },
    api: { unsubscribeUrl: UNSUBSCRIBE_URL, verpSecret: SECRET, unsubscribeRateLimit: 0 },
  });
  id = await send(NAMES);
  // 31 days on: the default retention (30 days) has passed for the finished campaign.
  const later = Date.now() + 31 * DAY;
  const retention = new Retention(shared.redis, h.keys, {
    retentionMs: 30 * DAY,
    clock: () => later,
  });
  assert.deepEqual((await retention.sweep()).purged, [id]);
  assert.equal(await shared.redis.exists(h.keys.recipients(id)), 0, 'the recipient list is gone');
});

after(async () => {
  await h?.stop();
  await bounce?.proc.stop('SIGTERM', 10_000);
  await shared?.stop();
});

/** Sends a campaign to `<name>@dest.test` for each name through the real sender; its id. */
async function send(names: string[]): Promise<string> {
  const cid = await h.create({
    from: 'News <news@sender.example>',
    subject: 'Hello {{name}}',
    text: 'Hi {{name}}',
    recipients: names.map((name) => ({ email: `${name}@dest.test`, vars: { name } })),
  });
  await h.completed(cid);
  return cid;
}

/** The message the sender delivered to `to` for campaign `cid`. */
function delivered(to: string, cid = id): CapturedMessage {
  const m = h.capture.messages.find(
    (x) => x.to.includes(to) && x.raw.toString('latin1').includes(`Message-ID: <${cid}.`),
  );
  assert.ok(m, `the message to ${to} was sent`);
  return m;
}

/** The targets of a delivered message's List-Unsubscribe header. */
function targets(to: string): { url: string; mailto: string } {
  const raw = delivered(to).raw.toString('utf8');
  const m = /\r\nList-Unsubscribe: <([^>]+)>,\r\n <mailto:([^>]+)>\r\n/.exec(raw);
  assert.ok(m?.[1] && m[2], `the message to ${to} carries both targets`);
  return { url: m[1], mailto: m[2] };
}

interface Entry {
  email: string;
  source: string;
  reason: string;
  campaignId?: string;
}

/** The default tenant's suppression entry of `email`, or undefined. */
async function entry(email: string): Promise<Entry | undefined> {
  const res = await h.app.inject({
    url: `/v1/suppressions/${encodeURIComponent(email)}`,
    headers: auth,
  });
  return res.statusCode === 200 ? res.json<Entry>() : undefined;
}

async function oneClick(path: string): Promise<number> {
  const res = await h.app.inject({
    method: 'POST',
    url: path,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'List-Unsubscribe=One-Click',
  });
  return res.statusCode;
}

/**
 * Hands a message to the bounce service as an MTA would; the service answers 250 only once
 * its effects are stored, so they can be read right after.
 */
async function mail(from: string, to: string, raw: string): Promise<void> {
  const client = new SmtpTestClient({ port: bounce.smtpPort, ignoreTLS: true });
  try {
    await client.connect();
    const answer = await client.send({ from, to }, raw);
    assert.equal(answer.code, 250, `the bounce service took the message: ${answer.text}`);
  } finally {
    await client.quit();
  }
}

async function afterRetention(effect: string): Promise<number> {
  return sample(await bounce.metrics(), 'volley_feedback_after_retention_total', { effect });
}

describe('feedback after retention', () => {
  test("(a) a one-click POST to the link of the message that was sent suppresses the address for the campaign's tenant", async () => {
    const { url } = targets('ada@dest.test');
    assert.ok(url.startsWith(`${UNSUBSCRIBE_URL}/`));
    const path = new URL(url).pathname;
    // The confirmation page still names the address (masked) and the sender.
    const page = await h.app.inject({ url: path, headers: { accept: 'text/html' } });
    assert.equal(page.statusCode, 200, page.body);
    assert.match(page.body, /news@sender\.example/);
    assert.equal(await entry('ada@dest.test'), undefined, 'a GET changes nothing');

    assert.equal(await oneClick(path), 200);
    const e = await entry('ada@dest.test');
    assert.deepEqual([e?.source, e?.reason, e?.campaignId], ['unsubscribe', 'one-click', id]);
    assert.equal(await oneClick(path), 200, 'idempotent');
  });

  test('(b) a mailto unsubscribe from the address the token was made for suppresses it; from another, nothing', async () => {
    const { mailto } = targets('bob@dest.test');
    await mail('someone@else.example', mailto, unsubscribeMail('someone@else.example', mailto));
    assert.equal(await entry('someone@else.example'), undefined);
    assert.equal(await entry('bob@dest.test'), undefined);

    // Mail clients send from the address, in either case.
    await mail('Bob@Dest.test', mailto, unsubscribeMail('Bob <Bob@Dest.test>', mailto));
    const e = await entry('bob@dest.test');
    assert.deepEqual([e?.source, e?.reason, e?.campaignId], ['unsubscribe', 'mailto', id]);
    assert.equal(await afterRetention('unsubscribe'), 1);
  });

  test('(c) a DSN hard bounce to the VERP return path suppresses the address', async () => {
    const verp = delivered('cy@dest.test').from;
    assert.match(verp, /^bounces\+[a-z2-7]{48}@/);
    await mail('', verp, dsn({ returnPath: verp, recipient: 'cy@dest.test', status: '5.1.1' }));
    const e = await entry('cy@dest.test');
    assert.deepEqual([e?.source, e?.reason, e?.campaignId], ['bounce', 'userunknown', id]);
    assert.equal(await afterRetention('hard_bounce'), 1);
  });

  test('(d) an ARF complaint suppresses the address, at fbl@ by the returned return path', async () => {
    const verp = delivered('dee@dest.test').from;
    await mail('', `fbl@${DOMAIN}`, arf({ rcptTo: 'dee@dest.test', returnPath: verp }));
    const e = await entry('dee@dest.test');
    assert.deepEqual([e?.source, e?.reason, e?.campaignId], ['complaint', 'abuse', id]);
    assert.equal(await afterRetention('complaint'), 1);
  });

  test("(e) a DSN whose Final-Recipient does not match the token's address changes nothing; the matching one does", async () => {
    const verp = delivered('eve@dest.test').from;
    const mismatches = () =>
      bounce.metrics().then((m) =>
        sample(m, 'volley_bounce_effects_total', {
          effect: 'unmatched',
          reason: 'address_mismatch',
        }),
      );
    const before = await mismatches();
    // Another recipient of the same campaign, and an address outside it: the token is eve's.
    for (const other of ['fay@dest.test', 'victim@elsewhere.example']) {
      await mail('', verp, dsn({ returnPath: verp, recipient: other, status: '5.1.1' }));
      assert.equal(await entry(other), undefined, other);
    }
    assert.equal(await entry('eve@dest.test'), undefined);
    assert.equal(await mismatches(), before + 2);

    await mail('', verp, dsn({ returnPath: verp, recipient: 'eve@dest.test', status: '5.1.1' }));
    assert.equal((await entry('eve@dest.test'))?.reason, 'userunknown');
  });

  test('(f) links and return paths sent before the tokens carried the address (40 characters) still work before retention, and not after', async () => {
    const cid = await send(['gil', 'hal', 'ivy']);
    // What the senders wrote before: the first layout, the same token for the link and the mailto.
    const legacy = (i: number) => createToken(SECRET, 'unsubscribe', cid, i);
    assert.equal(legacy(0).length, 40);
    assert.equal(await oneClick(`/u/${legacy(0)}`), 200);
    assert.equal((await entry('gil@dest.test'))?.reason, 'one-click');

    const mailto = `unsubscribe+${legacy(1)}@${DOMAIN}`;
    await mail('hal@dest.test', mailto, unsubscribeMail('hal@dest.test', mailto));
    assert.equal((await entry('hal@dest.test'))?.reason, 'mailto');

    const verp = verpAddress(SECRET, DOMAIN, cid, 2);
    assert.match(verp, /^bounces\+[a-z2-7]{40}@/);
    await mail('', verp, dsn({ returnPath: verp, recipient: 'ivy@dest.test', status: '5.1.1' }));
    assert.equal((await entry('ivy@dest.test'))?.reason, 'userunknown');

    // After retention such a token names nobody any more: a 404, and nothing changes.
    assert.equal(await oneClick(`/u/${createToken(SECRET, 'unsubscribe', id, 5)}`), 404);
    assert.equal(await entry('fay@dest.test'), undefined);
  });
});
