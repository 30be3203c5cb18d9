import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { HeaderError, validateCustomHeaders } from '@volley/message';

describe('validateCustomHeaders', () => {
  test('passes ordinary custom headers through', () => {
    const h = {
      'X-Campaign': 'spring',
      'List-Id': 'News <news.example.com>',
      'X-Empty': '',
      'X-Utf': 'été',
    };
    assert.deepEqual(validateCustomHeaders(h), h);
    assert.deepEqual(validateCustomHeaders({}), {});
  });

  test('refuses headers Volley writes or that shape the MIME structure, in any case', () => {
    for (const name of [
      'From',
      'to',
      'CC',
      'Bcc',
      'Subject',
      'Date',
      'Message-ID',
      'MIME-Version',
      'Content-Type',
      'content-transfer-encoding',
      'Content-Disposition',
      'Content-Location',
      'Return-Path',
      'Received',
      'Sender',
      'Reply-To',
      'DKIM-Signature',
      'List-Unsubscribe',
      'List-Unsubscribe-Post',
    ]) {
      assert.throws(
        () => validateCustomHeaders({ [name]: 'x' }),
        (err: unknown) =>
          err instanceof HeaderError && err.header === name && err.code === 'VOLLEY_HEADER_INVALID',
        name,
      );
    }
  });

  test('refuses values with CR, LF or NUL, and overlong values', () => {
    for (const value of ['a\r\nBcc: x@example.net', 'a\nb', 'a\rb', 'a\0b']) {
      assert.throws(() => validateCustomHeaders({ 'X-A': value }), /CR, LF or NUL/);
    }
    assert.throws(() => validateCustomHeaders({ 'X-A': 'v'.repeat(901) }), /longer than 900/);
    assert.deepEqual(validateCustomHeaders({ 'X-A': 'v'.repeat(900) }), { 'X-A': 'v'.repeat(900) });
    assert.throws(() => validateCustomHeaders({ 'X-A': 42 }), /must be a string/);
    assert.throws(() => validateCustomHeaders({ 'X-A': undefined }), /must be a string/);
  });

  test('refuses names that are not a field name', () => {
    for (const name of ['', 'X A', 'X:A', 'X-Ü', 'X\r\nB', 'X\tA', 'X'.repeat(77)]) {
      assert.throws(
        () => validateCustomHeaders({ [name]: 'v' }),
        HeaderError,
        JSON.stringify(name),
      );
    }
    assert.deepEqual(validateCustomHeaders({ ['X'.repeat(76)]: 'v' }), { ['X'.repeat(76)]: 'v' });
  });

  test('a header named __proto__ is a header, not a prototype', () => {
    const parsed = JSON.parse('{"__proto__": "v", "X-B": "w"}') as Record<string, unknown>;
    const out = validateCustomHeaders(parsed);
    assert.deepEqual(Object.entries(out), [
      ['__proto__', 'v'],
      ['X-B', 'w'],
    ]);
  });
});
