import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenError, createToken, readToken, readVerpAddress, verpAddress } from '../src/tokens.ts';

const SECRET = 'verp-secret-for-tests';
const CID = '0123456789abcdef0123';

describe('VERP and unsubscribe tokens', () => {
  test('a VERP address round-trips campaign and recipient and fits in a local part', () => {
    const a = verpAddress(SECRET, 'bounce.sender.example', CID, 4_000_000_123);
    const local = a.slice(0, a.indexOf('@'));
    assert.ok(local.length <= 64, `${local.length} characters`);
    assert.match(local, /^bounces\+[a-z2-7]+$/);
    assert.deepEqual(readVerpAddress(SECRET, a), { campaignId: CID, index: 4_000_000_123 });
    // Some MTAs upper-case local parts: the token still reads.
    assert.deepEqual(readVerpAddress(SECRET, a.toUpperCase()), {
      campaignId: CID,
      index: 4_000_000_123,
    });
  });

  test('forged, altered or foreign tokens are refused', () => {
    const t = createToken(SECRET, 'verp', CID, 5);
    const flipped = t.slice(0, 3) + (t[3] === 'a' ? 'b' : 'a') + t.slice(4);
    assert.throws(() => readToken(SECRET, 'verp', flipped), TokenError);
    assert.throws(() => readToken('another-secret', 'verp', t), /does not match/);
    assert.throws(() => readToken(SECRET, 'verp', t.slice(0, -1)), /malformed/);
    assert.throws(() => readToken(SECRET, 'verp', 'not!base32'), /malformed/);
    assert.throws(() => readVerpAddress(SECRET, 'someone@example.com'), /not a VERP address/);
  });

  test('a VERP token cannot serve as an unsubscribe token', () => {
    const t = createToken(SECRET, 'verp', CID, 5);
    assert.throws(() => readToken(SECRET, 'unsubscribe', t), /not meant for unsubscribe/);
    assert.deepEqual(readToken(SECRET, 'unsubscribe', createToken(SECRET, 'unsubscribe', CID, 5)), {
      campaignId: CID,
      index: 5,
    });
  });
});
