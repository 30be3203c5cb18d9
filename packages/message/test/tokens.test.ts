import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TokenError,
  createToken,
  readToken,
  readVerpAddress,
  tokenNames,
  verpAddress,
} from '../src/tokens.ts';
import { MAX_LINK_TOKEN_CHARS, linkToken, readLinkToken } from '../src/unsubscribe-link.ts';

const SECRET = 'verp-secret-for-tests';
const CID = '0123456789abcdef0123';
const EMAIL = 'Ada.Lovelace@Example.org';

/** A base32 token's bytes (RFC 4648 alphabet, lower case). */
function readableBytes(token: string): number[] {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const out: number[] = [];
  let value = 0;
  let bits = 0;
  for (const ch of token) {
    value = ((value << 5) | alphabet.indexOf(ch)) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return out;
}

/** One bit changed in the token's `k`-th character: still base32, no longer what was signed. */
function flip(token: string, k: number): string {
  return token.slice(0, k) + (token[k] === 'a' ? 'b' : 'a') + token.slice(k + 1);
}

describe('VERP and unsubscribe tokens', () => {
  test('a VERP address round-trips campaign, recipient and address tag and fits in a local part', () => {
    const a = verpAddress(SECRET, 'bounce.sender.example', CID, 4_000_000_123, EMAIL);
    const local = a.slice(0, a.indexOf('@'));
    assert.ok(local.length <= 64, `${local.length} characters`);
    assert.match(local, /^bounces\+[a-z2-7]{48}$/);
    const named = readVerpAddress(SECRET, a);
    assert.deepEqual([named.campaignId, named.index], [CID, 4_000_000_123]);
    assert.equal(tokenNames(SECRET, named, EMAIL), true);
    // Some MTAs upper-case local parts: the token still reads, and names the same address.
    const upper = readVerpAddress(SECRET, a.toUpperCase());
    assert.deepEqual(upper, named);
    assert.equal(tokenNames(SECRET, upper, EMAIL), true);
  });

  test('the address tag matches the address without case, and no other address', () => {
    const t = readToken(SECRET, 'unsubscribe', createToken(SECRET, 'unsubscribe', CID, 5, EMAIL));
    assert.equal(tokenNames(SECRET, t, EMAIL.toLowerCase()), true);
    assert.equal(tokenNames(SECRET, t, EMAIL.toUpperCase()), true);
    for (const other of ['ada.lovelace@example.com', 'ada@example.org', '', 'x']) {
      assert.equal(tokenNames(SECRET, t, other), false, other);
    }
    // The tag is keyed: the same address under another deployment's secret is another tag.
    const foreign = readToken(
      'another-secret-16+',
      'unsubscribe',
      createToken('another-secret-16+', 'unsubscribe', CID, 5, EMAIL),
    );
    assert.notDeepEqual(foreign.addressTag, t.addressTag);
    assert.equal(tokenNames(SECRET, foreign, EMAIL), false);
  });

  test('tokens of the first layout, in mail sent before address tags, still read', () => {
    // Written by the code before address tags existed, for SECRET, CID and recipient 7.
    const verp = 'aeasgrlhrgv433ybemaaaaahxahuonws4ob2toxt';
    const unsubscribe = 'aiasgrlhrgv433ybemaaaaahb2enxkzomcsmnnxl';
    assert.deepEqual(readToken(SECRET, 'verp', verp), { campaignId: CID, index: 7 });
    assert.deepEqual(readToken(SECRET, 'verp', verp.toUpperCase()), { campaignId: CID, index: 7 });
    assert.deepEqual(readToken(SECRET, 'unsubscribe', unsubscribe), { campaignId: CID, index: 7 });
    // The same token was both the link's and the mailto's.
    assert.deepEqual(readLinkToken(SECRET, unsubscribe), { campaignId: CID, index: 7 });
    assert.equal(createToken(SECRET, 'verp', CID, 7), verp, 'the first layout, unchanged');
    // Such a token names no address: nothing matches it.
    assert.equal(tokenNames(SECRET, readToken(SECRET, 'verp', verp), EMAIL), false);
    assert.throws(() => readToken(SECRET, 'verp', flip(verp, 30)), TokenError);
  });

  test('forged, altered or foreign tokens are refused', () => {
    for (const t of [
      createToken(SECRET, 'verp', CID, 5),
      createToken(SECRET, 'verp', CID, 5, EMAIL),
    ]) {
      for (const k of [0, 3, 25, 30, t.length - 1]) {
        assert.throws(() => readToken(SECRET, 'verp', flip(t, k)), TokenError, `char ${k}`);
      }
      assert.throws(() => readToken('another-secret', 'verp', t), /does not match/);
      assert.throws(() => readToken(SECRET, 'verp', t.slice(0, -1)), /malformed/);
      assert.throws(() => readToken(SECRET, 'verp', `${t}aa`), /malformed|does not match/);
    }
    assert.throws(() => readToken(SECRET, 'verp', 'not!base32'), /malformed/);
    assert.throws(() => readVerpAddress(SECRET, 'someone@example.com'), /not a VERP address/);
    // Nothing is written for what a token cannot hold.
    assert.throws(() => createToken(SECRET, 'verp', 'nothex', 1), TokenError);
    assert.throws(() => createToken(SECRET, 'verp', CID, 2 ** 32), TokenError);
  });

  test('a VERP token cannot serve as an unsubscribe token', () => {
    for (const address of [undefined, EMAIL]) {
      const t = createToken(SECRET, 'verp', CID, 5, address);
      assert.throws(() => readToken(SECRET, 'unsubscribe', t), /not meant for unsubscribe/);
      assert.throws(() => readLinkToken(SECRET, t), /not meant for unsubscribe/);
      const u = readToken(
        SECRET,
        'unsubscribe',
        createToken(SECRET, 'unsubscribe', CID, 5, address),
      );
      assert.deepEqual([u.campaignId, u.index], [CID, 5]);
    }
  });
});

describe('one-click link tokens', () => {
  test('round-trip campaign, recipient and address, which the token does not show', () => {
    const t = linkToken(SECRET, CID, 42, EMAIL);
    assert.match(t, /^[a-z2-7]+$/);
    assert.deepEqual(readLinkToken(SECRET, t), { campaignId: CID, index: 42, email: EMAIL });
    assert.deepEqual(readLinkToken(SECRET, t.toUpperCase()), {
      campaignId: CID,
      index: 42,
      email: EMAIL,
    });
    assert.equal(t, linkToken(SECRET, CID, 42, EMAIL), 'the same message gets the same link');
    assert.notEqual(t, linkToken(SECRET, CID, 43, EMAIL));
    // Nothing of the address in the clear: not in the token, nor in its decoded bytes.
    const raw = Buffer.from(readableBytes(t));
    assert.ok(!t.includes('lovelace') && !raw.includes(Buffer.from('Lovelace')));
  });

  test('the longest address fits the route pattern, and an internationalised one round-trips', () => {
    const longest = `${'l'.repeat(64)}@${'d'.repeat(63)}.${'e'.repeat(63)}.${'f'.repeat(57)}.org`;
    assert.equal(longest.length, 254);
    const t = linkToken(SECRET, CID, 0, longest);
    assert.equal(t.length, MAX_LINK_TOKEN_CHARS);
    assert.equal(readLinkToken(SECRET, t).email, longest);
    const idn = 'jürgen@xn--mnchen-3ya.de';
    assert.equal(readLinkToken(SECRET, linkToken(SECRET, CID, 1, idn)).email, idn);
  });

  test('forged, altered, cut or foreign link tokens are refused with TokenError', () => {
    const t = linkToken(SECRET, CID, 42, EMAIL);
    // Campaign id and index are in the clear but authenticated; the rest is sealed.
    for (const k of [0, 2, 20, 25, 40, 60, t.length - 1]) {
      assert.throws(() => readLinkToken(SECRET, flip(t, k)), TokenError, `char ${k}`);
    }
    assert.throws(() => readLinkToken(SECRET, t.slice(0, -8)), TokenError);
    assert.throws(() => readLinkToken(SECRET, t.slice(0, 60)), TokenError);
    assert.throws(() => readLinkToken('another-secret-16+', t), /does not match/);
    assert.throws(() => readLinkToken(SECRET, `${t}${'a'.repeat(500)}`), /malformed/);
    assert.throws(() => readLinkToken(SECRET, 'not!base32'), /malformed/);
    // One spelling per token: a character more, or the last one's unused bits set, is refused.
    const legacy = createToken(SECRET, 'unsubscribe', CID, 1);
    assert.throws(() => readLinkToken(SECRET, `${legacy}a`), /malformed/);
    // (A character more can also spell one byte more, which the GCM tag then refuses.)
    assert.throws(() => readLinkToken(SECRET, `${t}a`), TokenError);
    // EMAIL makes 67 bytes: the last character holds 1 bit of them and 4 unused ones.
    const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
    const padded = `${t.slice(0, -1)}${alphabet[alphabet.indexOf(t.at(-1) ?? '') | 1]}`;
    assert.notEqual(padded, t);
    assert.throws(() => readLinkToken(SECRET, padded), /malformed/);
    assert.throws(() => readLinkToken(SECRET, ''), /malformed/);
  });
});
