import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createToken } from '@volley/message';
import { launchChromium, type Chromium } from '@volley/testkit/chromium';
import { apiFixture, auth, type ApiFixture } from './fixture.ts';

const SECRET = 'browser-test-secret-0123456';

let fx: ApiFixture;
let browser: Chromium;
let origin: string;

before(async () => {
  fx = await apiFixture({
    unsubscribeUrl: 'http://127.0.0.1/unsubscribe',
    verpSecret: SECRET,
  });
  origin = await fx.app.listen({ host: '127.0.0.1', port: 0 });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await fx?.close();
});

test('in Chromium, the link shows a page that does not unsubscribe; its button does', async () => {
  const created = await fx.app.inject({
    method: 'POST',
    url: '/v1/campaigns',
    headers: auth,
    payload: {
      from: 'Acme <news@acme.example>',
      subject: 's',
      text: 't',
      recipients: [{ email: 'reader@one.example' }],
    },
  });
  const { id } = created.json<{ id: string }>();
  const url = `${origin}/unsubscribe/${createToken(SECRET, 'unsubscribe', id, 0)}`;

  const page = await browser.context.newPage();
  const shown = await page.goto(url);
  assert.equal(shown?.status(), 200);
  assert.equal(await page.locator('h1').textContent(), 'Unsubscribe?');
  assert.equal(await page.locator('button#unsubscribe').isVisible(), true);
  assert.deepEqual(await fx.store.suppressedFlags('default', ['reader@one.example']), [false]);
  assert.equal(
    (await fx.store.get(id))?.counts.unsubscribed,
    0,
    'opening the page changed nothing',
  );

  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST'),
    page.locator('button#unsubscribe').click(),
  ]);
  assert.equal(answer.status(), 200);
  assert.equal(answer.request().redirectedFrom(), null);
  assert.equal(await answer.request().headerValue('cookie'), null);
  assert.equal(
    await answer.request().headerValue('content-type'),
    'application/x-www-form-urlencoded',
  );
  await page.locator('h1#done').waitFor();
  assert.equal(await page.locator('h1#done').textContent(), 'You are unsubscribed');
  assert.equal(page.url(), url, 'no redirect');

  assert.deepEqual(await fx.store.suppressedFlags('default', ['reader@one.example']), [true]);
  const { events } = await fx.store.events(id, undefined, 10);
  assert.deepEqual(
    events.map((e) => [e.outcome, e.source]),
    [['unsubscribed', 'one-click']],
  );

  // Coming back to the link later shows it done, without a button.
  await page.goto(url);
  assert.equal(await page.locator('h1').textContent(), 'You are unsubscribed');
  assert.equal(await page.locator('form').count(), 0);
  await page.close();
});
