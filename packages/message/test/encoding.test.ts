import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { encodeHeaderValue, encodeQuotedPrintable } from '@volley/message';

/**
 * Reference quoted-printable decoder (RFC 2045 §6.7): soft breaks vanish, =XX is a byte,
 * hard breaks stay CRLF. Strict: anything an encoder must not emit is an error here.
 */
function decodeQuotedPrintable(qp: string): string {
  const out: number[] = [];
  const lines = qp.split('\r\n');
  for (const [i, line] of lines.entries()) {
    let soft = false;
    for (let j = 0; j < line.length; j++) {
      const ch = line[j] as string;
      if (ch === '=' && j === line.length - 1) {
        soft = true;
      } else if (ch === '=') {
        const hex = line.slice(j + 1, j + 3);
        assert.match(hex, /^[0-9A-F]{2}$/, `bad escape in ${JSON.stringify(line)}`);
        out.push(parseInt(hex, 16));
        j += 2;
      } else {
        const c = ch.charCodeAt(0);
        assert.ok(
          (c >= 33 && c <= 126) || c === 32 || c === 9,
          `raw byte ${c} in ${JSON.stringify(line)}`,
        );
        out.push(c);
      }
    }
    if (i < lines.length - 1 && !soft) out.push(0x0d, 0x0a);
  }
  return Buffer.from(out).toString('utf8');
}

function assertQuotedPrintable(input: string): void {
  const qp = encodeQuotedPrintable(input);
  assert.equal(qp.replace(/\r\n/g, '').search(/[\r\n]/), -1, 'bare CR or LF');
  for (const line of qp.split('\r\n')) {
    assert.ok(line.length <= 76, `line of ${line.length}: ${JSON.stringify(line)}`);
    assert.doesNotMatch(line, /[ \t]$/, `trailing whitespace: ${JSON.stringify(line)}`);
    assert.doesNotMatch(line, /^\./, `line starting with a dot: ${JSON.stringify(line)}`);
  }
  assert.ok(!qp.includes('=_'), 'the multipart boundary prefix appears in the body');
  assert.equal(decodeQuotedPrintable(qp), input.replace(/\r?\n/g, '\r\n'));
}

/** mulberry32: a small seeded generator, so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('encodeQuotedPrintable', () => {
  test('keeps printable ASCII and encodes the rest', () => {
    assert.equal(encodeQuotedPrintable('Hello, world!'), 'Hello, world!');
    assert.equal(encodeQuotedPrintable('a=b'), 'a=3Db');
    assert.equal(encodeQuotedPrintable('café'), 'caf=C3=A9');
    assert.equal(
      encodeQuotedPrintable('line one\nline two\r\nthree'),
      'line one\r\nline two\r\nthree',
    );
    assert.equal(encodeQuotedPrintable('lone\rcr'), 'lone=0Dcr');
    assert.equal(encodeQuotedPrintable(''), '');
  });

  test('encodes whitespace at the end of a line, where transports strip it', () => {
    assert.equal(encodeQuotedPrintable('end  \nnext'), 'end =20\r\nnext');
    assert.equal(encodeQuotedPrintable('tab\t\r\nnext'), 'tab=09\r\nnext');
    assert.equal(encodeQuotedPrintable('last '), 'last=20');
    assert.equal(encodeQuotedPrintable('mid dle'), 'mid dle');
  });

  test('encodes a dot that starts a line, so no relay can read it as the end of data', () => {
    assert.equal(encodeQuotedPrintable('.\n..\n.x'), '=2E\r\n=2E.\r\n=2Ex');
    // Also after a soft break, which starts a line on the wire too.
    const qp = encodeQuotedPrintable('a'.repeat(75) + '.b');
    assert.equal(qp, 'a'.repeat(75) + '=\r\n=2Eb');
  });

  test('soft-breaks long lines at 76 characters without splitting an escape', () => {
    const qp = encodeQuotedPrintable('='.repeat(100));
    for (const line of qp.split('\r\n')) {
      assert.ok(line.length <= 76);
      assert.match(line, /^(=3D)*=?$/);
    }
    assertQuotedPrintable('x'.repeat(1000));
    assertQuotedPrintable('é'.repeat(200));
    assertQuotedPrintable(' '.repeat(200));
  });

  test('round-trips random text with line breaks, whitespace, dots and multi-byte characters', () => {
    const alphabet = [
      'a',
      'Z',
      '0',
      ' ',
      ' ',
      '\t',
      '=',
      '.',
      '-',
      '_',
      '\n',
      '\r\n',
      'é',
      'ß',
      '日',
      '🚀',
      '~',
      '?',
      '\u00a0',
    ];
    const next = rng(20240517);
    for (let n = 0; n < 300; n++) {
      const len = Math.floor(next() * 400);
      let s = '';
      for (let i = 0; i < len; i++) s += alphabet[Math.floor(next() * alphabet.length)];
      assertQuotedPrintable(s);
    }
  });
});

/** Undoes header folding and RFC 2047 B-encoding, joining adjacent words as readers do. */
function decodeHeader(value: string): string {
  const unfolded = value.replace(/\r\n(?=[ \t])/g, '');
  if (!unfolded.includes('=?')) return unfolded;
  const words = unfolded.split(' ');
  const bytes = words.map((w) => {
    const m = /^=\?UTF-8\?B\?([A-Za-z0-9+/]*={0,2})\?=$/.exec(w);
    assert.ok(m, `not an encoded word: ${JSON.stringify(w)}`);
    const b = Buffer.from(m[1] ?? '', 'base64');
    // Each word must hold whole characters (RFC 2047 §5).
    assert.equal(
      Buffer.from(b.toString('utf8'), 'utf8').compare(b),
      0,
      `a character split across words: ${w}`,
    );
    return b;
  });
  return Buffer.concat(bytes).toString('utf8');
}

function assertHeaderLines(name: string, encoded: string, max: number): void {
  assert.equal(
    encoded.replace(/\r\n /g, '').search(/[\r\n]/),
    -1,
    'a line break that is not a fold',
  );
  const lines = `${name}: ${encoded}`.split('\r\n');
  for (const line of lines) {
    assert.ok(line.length <= max, `line of ${line.length}: ${JSON.stringify(line)}`);
    assert.notEqual(line.trim(), '', 'a line of only whitespace');
  }
}

describe('encodeHeaderValue', () => {
  test('writes short printable ASCII as it is', () => {
    assert.equal(encodeHeaderValue('Spring sale: 20% off!', 7), 'Spring sale: 20% off!');
    assert.equal(encodeHeaderValue('', 7), '');
  });

  test('turns control characters, CR and LF included, into spaces', () => {
    const v = encodeHeaderValue('Hi\r\nBcc: victim@example.net\0\x07\ttab', 7);
    assert.equal(v, 'Hi Bcc: victim@example.net tab');
    assert.equal(v.search(/[\r\n]/), -1);
  });

  test('folds long ASCII at single spaces, lines within 78, unfolding to the input', () => {
    for (const value of [
      'word '.repeat(60).trim(),
      'The quick brown fox jumps over the lazy dog, '.repeat(8).trim(),
      'tight  pair then single spaces for a while '.repeat(6).trim(),
    ]) {
      const encoded = encodeHeaderValue(value, 'Subject'.length, true);
      assert.ok(encoded.includes('\r\n '), 'was not folded');
      assert.ok(!encoded.includes('=?'), 'plain text was encoded');
      assertHeaderLines('Subject', encoded, 78);
      assert.equal(encoded.replace(/\r\n/g, ''), value);
      // Readers collapse the whitespace around a fold, so a fold inside a run would lose spaces.
      assert.doesNotMatch(encoded, / \r\n|\r\n {2}/, 'folded inside a run of spaces');
    }
  });

  test('ASCII that cannot fold within 78 is encoded rather than folded inside a run of spaces', () => {
    const value =
      'only  double  spaces  between  these  words  so  there  is  no  place  to  fold  it';
    const encoded = encodeHeaderValue(value, 'Subject'.length, true);
    assertHeaderLines('Subject', encoded, 76);
    assert.equal(decodeHeader(encoded), value);
  });

  test('an unbreakable word: encoded words in unstructured fields, one long line elsewhere', () => {
    const word = 'x'.repeat(200);
    const subject = encodeHeaderValue(word, 'Subject'.length, true);
    assertHeaderLines('Subject', subject, 76);
    assert.equal(decodeHeader(subject), word);
    // A structured field may hold a token encoded words would break: kept, within 998.
    assert.equal(encodeHeaderValue(word, 'X-Token'.length), word);
    const huge = 'y'.repeat(1200);
    const encoded = encodeHeaderValue(huge, 'X-Token'.length);
    assertHeaderLines('X-Token', encoded, 76);
    assert.equal(decodeHeader(encoded), huge);
  });

  test('non-ASCII becomes encoded words of whole characters on lines within 76', () => {
    for (const value of [
      'Grüße',
      'Ünïcödé ' + 'ä'.repeat(100),
      '日本語の件名です。'.repeat(10),
      '🚀🎉👩‍👩‍👧‍👦'.repeat(20),
      'mixed ascii and ü',
    ]) {
      for (const name of ['Subject', 'X-A', 'X-A-Rather-Long-Custom-Header-Name']) {
        const encoded = encodeHeaderValue(value, name.length);
        assertHeaderLines(name, encoded, 76);
        assert.equal(decodeHeader(encoded), value);
      }
    }
  });

  test('text that looks like an encoded word is encoded, so readers show it as typed', () => {
    const value = '=?UTF-8?B?SGk=?= is not a greeting';
    const encoded = encodeHeaderValue(value, 7);
    assert.match(encoded, /^=\?UTF-8\?B\?/);
    assert.equal(decodeHeader(encoded), value);
  });
});
