import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createTransport } from 'nodemailer';
import { readIndex, startCaptureServer, type CaptureServer } from '@volley/mail-capture';
import { ROOT } from '@volley/runtime';
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
/** Stands for the outside world: the messages' HTML loads an image from it. */
let outside: Server;
const outsideRequests: string[] = [];

/** Sends `n` messages, one at a time so their order is known, numbered from `first`. */
async function sendIssues(port: number, first: number, n: number, imagePort: number) {
  const smtp = createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  for (let i = first; i < first + n; i++) {
    await smtp.sendMail({
      envelope: { from: `bounces+t${i}@bounces.localhost`, to: [`reader${i}@example.org`] },
      from: 'News <news@volley.example>',
      to: `Reader ${i} <reader${i}@example.org>`,
      subject: `Issue ${i}`,
      text: `Plain text of issue ${i}`,
      html:
        `<h1 id="greeting">Hello reader ${i}</h1>` +
        `<img id="pixel" src="http://127.0.0.1:${imagePort}/x.png?i=${i}">` +
        `<script>document.body.setAttribute('data-ran', 'yes')</script>`,
    });
  }
  smtp.close();
}

before(async () => {
  outside = createServer((req, res) => {
    outsideRequests.push(req.url ?? '');
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => outside.listen(0, '127.0.0.1', resolve));
  dir = mkdtempSync(join(tmpdir(), 'volley-mailview-'));
  capture = await startCaptureServer({ dir, retain: RETAIN, keep: false });
  view = await startMailView(dir, 0);
  // Six messages; RETAIN keeps the last four.
  await sendIssues(capture.port, 1, 6, portOf(outside));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await view?.close();
  await capture?.close();
  await new Promise((resolve) => outside?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

function portOf(server: Server): number {
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return address.port;
}

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

  // The HTML view renders the message in a sandboxed frame, where its script does not run
  // (it would mark the frame's body) and nothing is loaded from outside: the page has loaded,
  // its frame and the frame's image included, and the image's server saw no request.
  const frame = page.frameLocator('iframe#html');
  assert.equal(await frame.locator('#greeting').textContent(), 'Hello reader 5');
  assert.equal(await frame.locator('#pixel').count(), 1, 'the image is in the message');
  assert.equal(await frame.locator('body').getAttribute('data-ran'), null);
  assert.deepEqual(outsideRequests, []);
  const iframe = page.locator('iframe#html');
  assert.equal(await iframe.getAttribute('sandbox'), '');
  // Opened on its own, not in the frame, the HTML part is just as confined: the header says so.
  const src = await iframe.getAttribute('src');
  assert.match(src ?? '', /^\/m\/[^/]+\/html$/);
  const part = await fetch(new URL(src ?? '', view.url));
  assert.equal(
    part.headers.get('content-security-policy'),
    "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'",
  );
  await part.text();
  const alone = await browser.context.newPage();
  await alone.goto(new URL(src ?? '', view.url).href);
  assert.equal(await alone.locator('#greeting').textContent(), 'Hello reader 5');
  assert.equal(await alone.locator('body').getAttribute('data-ran'), null);
  assert.deepEqual(outsideRequests, []);
  await alone.close();

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

test('npm run mail:clean empties the capture folder; the running capture server stores the next messages in a new index', async () => {
  const other = mkdtempSync(join(tmpdir(), 'volley-mailclean-'));
  const running = await startCaptureServer({ dir: other, retain: 100, keep: false });
  try {
    await sendIssues(running.port, 1, 3, portOf(outside));
    assert.equal(readIndex(other).length, 3);
    const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'mail:clean'], {
      cwd: ROOT,
      env: { ...process.env, VOLLEY_CAPTURE_DIR: other },
    });
    assert.equal(stdout, `removed 3 captured messages from ${other}\n`);
    assert.deepEqual(readdirSync(other), []);

    await sendIssues(running.port, 4, 2, portOf(outside));
    const index = readIndex(other);
    assert.deepEqual(
      index.map((m) => m.to),
      [['reader4@example.org'], ['reader5@example.org']],
    );
    assert.deepEqual(
      readdirSync(other)
        .filter((f) => f.endsWith('.eml'))
        .sort(),
      index.map((m) => m.file).sort(),
    );
  } finally {
    await running.close();
    rmSync(other, { recursive: true, force: true });
  }
});
