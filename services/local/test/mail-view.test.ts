import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import { startCaptureServer, type CaptureServer } from '@volley/mail-capture';
import { launchChromium, type Chromium } from '@volley/testkit/chromium';
import { startMailView, type MailView } from '../src/mail-view.ts';

/**
 * Issue 17, item 9: captured mail was a flat folder of files without envelope, with no way to
 * browse it or clean it up. Messages are stored with their envelope, at most `retain` of them,
 * and a web view lists, searches and shows them; tested in a real headless Chromium.
 */

const RETAIN = 4;

let dir: string;
let capture: CaptureServer;
let view: MailView;
let browser: Chromium;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'volley-mailview-'));
  capture = await startCaptureServer({ dir, retain: RETAIN, keep: false });
  view = await startMailView(dir, 0);
  const smtp = createTransport({
    host: '127.0.0.1',
    port: capture.port,
    secure: false,
    ignoreTLS: true,
  });
  // Six messages, one at a time so their order is known; RETAIN keeps the last four.
  for (let i = 1; i <= 6; i++) {
    await smtp.sendMail({
      envelope: { from: `bounces+t${i}@bounces.localhost`, to: [`reader${i}@example.org`] },
      from: 'News <news@volley.example>',
      to: `Reader ${i} <reader${i}@example.org>`,
      subject: `Issue ${i}`,
      text: `Plain text of issue ${i}`,
      html: `<h1 id="greeting">Hello reader ${i}</h1><script>document.title='ran'</script>`,
    });
  }
  smtp.close();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await view?.close();
  await capture?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('stored messages carry their envelope, and only the newest are kept', () => {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.eml'))
    .sort();
  // Pruned a tenth of RETAIN (at least one) past it: 6 > 4 + 1, so back to 4.
  assert.equal(files.length, RETAIN);
  const first = readFileSync(join(dir, files[0] ?? ''), 'utf8');
  assert.match(
    first,
    /^Return-Path: <bounces\+t3@bounces\.localhost>\r\nDelivered-To: reader3@example\.org\r\n/,
  );
  assert.match(first, /\r\nSubject: Issue 3\r\n/);
});

test('in Chromium: the list, a search by recipient, and a message with envelope, HTML, text and source', async () => {
  const page = await browser.context.newPage();
  await page.goto(view.url);
  assert.equal(await page.locator('#count').textContent(), `${RETAIN} of ${RETAIN} messages`);
  const recipients = await page.locator('td.to').allTextContents();
  assert.deepEqual(recipients, [
    'reader6@example.org',
    'reader5@example.org',
    'reader4@example.org',
    'reader3@example.org',
  ]);

  await page.locator('input[name=q]').fill('READER5@');
  await Promise.all([page.waitForURL(/\?q=/), page.locator('form button').click()]);
  assert.equal(await page.locator('#count').textContent(), `1 of ${RETAIN} messages`);
  await Promise.all([page.waitForURL(/\/m\//), page.locator('a', { hasText: 'Issue 5' }).click()]);

  assert.equal(await page.locator('#subject').textContent(), 'Issue 5');
  const envelope = await page.locator('#envelope').textContent();
  assert.match(envelope ?? '', /Return-Pathbounces\+t5@bounces\.localhost/);
  assert.match(envelope ?? '', /Recipientsreader5@example\.org/);

  // The HTML view renders the message in a sandboxed frame, where its script does not run.
  const frame = page.frameLocator('iframe#html');
  assert.equal(await frame.locator('#greeting').textContent(), 'Hello reader 5');
  assert.notEqual(await page.title(), 'ran');
  assert.equal(await page.locator('iframe#html').getAttribute('sandbox'), '');

  await Promise.all([page.waitForURL(/view=text/), page.locator('#tab-text').click()]);
  assert.equal((await page.locator('pre#text').textContent())?.trim(), 'Plain text of issue 5');
  await Promise.all([page.waitForURL(/view=source/), page.locator('#tab-source').click()]);
  const source = (await page.locator('pre#source').textContent()) ?? '';
  assert.match(source, /^Return-Path: <bounces\+t5@bounces\.localhost>/);
  assert.match(source, /Subject: Issue 5/);

  const missing = await page.goto(`${view.url}/m/..%2Fetc%2Fpasswd`);
  assert.equal(missing?.status(), 404);
  await page.close();
});
