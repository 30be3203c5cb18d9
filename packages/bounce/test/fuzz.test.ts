// Mangled reports must never make the parser throw, and whatever it reports must stay within
// its bounds: a broken report is at worst `none` or `unparseable`, never a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseBounce, type BounceReport } from '@volley/bounce';
import { ARF_REPORT, EXIM_TEXT, POSTFIX_DSN, QMAIL_TEXT, SENDMAIL_TEXT } from './fixtures.ts';

/** Fixed, so that a failure reproduces; printed by fast-check with the counterexample. */
const SEED = 20261206;

const KINDS = new Set(['bounce', 'feedback', 'autoreply', 'none', 'unparseable']);

function assertWellFormed(report: BounceReport): void {
  assert.ok(KINDS.has(report.kind), report.kind);
  if (report.kind === 'unparseable') assert.match(report.error?.code ?? '', /^BOUNCE_/);
  for (const r of report.recipients) {
    assert.ok(r.recipient.length <= 320);
    assert.ok(r.diagnostic.length <= 2000);
    assert.match(r.status, /^$|^[245]\.\d{1,3}\.\d{1,3}$/);
    assert.match(r.replyCode, /^$|^[245]\d\d$/);
  }
}

/** A report with a slice cut out and arbitrary text put in its place. */
const mangled = fc
  .tuple(
    fc.constantFrom(POSTFIX_DSN, ARF_REPORT, EXIM_TEXT, QMAIL_TEXT, SENDMAIL_TEXT),
    fc.nat(),
    fc.nat({ max: 400 }),
    fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.constantFrom(
        '--B1',
        '--B1--',
        '\r\n\r\n',
        'Content-Type: multipart/mixed; boundary="B1"\r\n',
        ': ;<>@',
        '\u0000\u00ff',
      ),
    ),
  )
  .map(([text, at, cut, insert]) => {
    const i = at % text.length;
    return text.slice(0, i) + insert + text.slice(i + cut);
  });

test('mangled reports never throw and stay within bounds', async () => {
  await fc.assert(
    fc.asyncProperty(mangled, async (message) => {
      assertWellFormed(await parseBounce(message));
    }),
    { seed: SEED, numRuns: 300 },
  );
});

test('arbitrary bytes never throw', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 4000 }), async (bytes) => {
      assertWellFormed(await parseBounce(Buffer.from(bytes)));
    }),
    { seed: SEED, numRuns: 200 },
  );
});
