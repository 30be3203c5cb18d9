// The enhanced status code (RFC 3463) read from replies and bounce text: where servers put it,
// and what only looks like one (IP addresses, longer numbers, codes of replies that carry none).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { classifyReply } from '../src/classify.ts';
import {
  enhancedAfterCode,
  enhancedAnywhere,
  enhancedAtStart,
  enhancedStatus,
  isEnhancedStatus,
} from '../src/enhanced-status.ts';

/** Fixed, so that a failure reproduces; printed by fast-check with the counterexample. */
const SEED = 20261206;

describe('enhanced status after the reply code', () => {
  test('as servers send it: space, dash, "#", spaces before the code', () => {
    for (const [text, want] of [
      ['550 5.1.1 user unknown', '5.1.1'],
      ['550-5.1.1 first line of several', '5.1.1'],
      ['550 #5.1.0 Address rejected', '5.1.0'],
      ['  452  4.2.2 mailbox full', '4.2.2'],
      ['250 2.0.0 Ok: queued', '2.0.0'],
      ['421 4.7.0 try again later', '4.7.0'],
      ['550 5.7.123 three digits of detail', '5.7.123'],
    ] as const) {
      assert.equal(enhancedAfterCode(text), want, text);
    }
  });

  test('none where there is none, or where it is not one', () => {
    for (const text of [
      '550 user unknown',
      '550 Requested action not taken: 5.1.1 later in the line',
      '354 3.0.0 a 3xx reply carries no enhanced code',
      '550 6.1.1 no such class',
      '550 5.1.1234 detail longer than three digits',
      '550 5.1.1.4 part of a longer number',
      '5501 5.1.1 a four-digit code',
      '550',
      '',
    ]) {
      assert.equal(enhancedAfterCode(text), undefined, text);
    }
  });
});

describe('enhanced status anywhere in the text', () => {
  test('found later in a line or in a bounce body', () => {
    assert.equal(enhancedAnywhere('550 Requested action not taken: 5.1.1 user unknown'), '5.1.1');
    assert.equal(enhancedAnywhere('Status: 4.4.7\nAction: delayed'), '4.4.7');
    assert.equal(enhancedAnywhere('(code 5.7.1)'), '5.7.1');
  });

  test('not a fragment of an IP address', () => {
    assert.equal(enhancedAnywhere('blocked: 10.2.5.100 is listed'), undefined);
    assert.equal(enhancedAnywhere('from [192.5.4.3]'), undefined);
    assert.equal(enhancedAnywhere('from 192.168.2.5'), undefined);
    assert.equal(enhancedAnywhere('from 10.2.5.1 then 5.7.1 policy'), '5.7.1');
  });

  test('after the code first, then anywhere', () => {
    assert.equal(enhancedStatus('550 5.1.1 see also 5.7.1'), '5.1.1');
    assert.equal(enhancedStatus('550 see 5.7.1'), '5.7.1');
    assert.equal(enhancedStatus('550 no code here, only 10.2.5.100'), undefined);
  });

  test('reads the same code the classifier reads from the same reply text', () => {
    const digit = fc.constantFrom(...'0123456789'.split(''));
    const piece = fc.oneof(
      fc.constantFrom('2', '4', '5', '3', '6', '.', ' ', '-', '#', '1', '10', '100', '1000'),
      fc.tuple(fc.constantFrom('2', '4', '5'), digit, digit).map((d) => d.join('')),
      fc
        .tuple(fc.constantFrom('2', '4', '5', '1'), digit, digit, digit)
        .map(([a, b, c, d]) => `${a}.${b}.${c}${d}`),
      fc.constantFrom('user unknown', '[192.5.4.3]', 'Status:', '\n', 'x'),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const text = pieces.join('');
        assert.equal(enhancedStatus(text), classifyReply({ code: 550, text }).enhanced, text);
      }),
      { seed: SEED, numRuns: 5000 },
    );
  });
});

describe('enhanced status of a field', () => {
  test("a DSN's Status field: the code it starts with, before any comment", () => {
    assert.equal(enhancedAtStart('5.1.1'), '5.1.1');
    assert.equal(enhancedAtStart('  4.4.7 (delivery time expired) '), '4.4.7');
    assert.equal(enhancedAtStart('5.0.0(no space before the comment)'), '5.0.0');
    assert.equal(enhancedAtStart('2.0.0'), '2.0.0');
    for (const value of [undefined, '', 'failed', '3.0.0', '5.1', '5.1.1234', 'x 5.1.1']) {
      assert.equal(enhancedAtStart(value), undefined, String(value));
    }
  });

  test('a stored status: exactly one code, nothing around it', () => {
    for (const value of ['5.1.1', '4.7.650', '2.0.0', '5.100.999']) {
      assert.equal(isEnhancedStatus(value), true, value);
    }
    for (const value of ['', '5.1.1 ', ' 5.1.1', '5.1.1.1', '3.1.1', '5.1', '5.1.1234', 'x']) {
      assert.equal(isEnhancedStatus(value), false, value);
    }
  });
});
