import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  domainOf,
  normalizeDomain,
  normalizeEmail,
  normalizeLocalPart,
  parseMailbox,
} from '@volley/message';

/** Fixed, so that a failure reproduces; printed by fast-check with the counterexample. */
const SEED = 20261128;

/**
 * normalizeEmail as defined, without its domain cache or short cuts: the canonical local part
 * and domain, at most 320 characters in and 254 octets out (RFC 5321 4.5.3.1.3, RFC 6531 3.3).
 */
function plain(input: string): string | undefined {
  if (input.length > 320) return undefined;
  const at = input.lastIndexOf('@');
  if (at <= 0 || at === input.length - 1) return undefined;
  const local = normalizeLocalPart(input.slice(0, at));
  const domain = normalizeDomain(input.slice(at + 1));
  if (local === undefined || domain === undefined) return undefined;
  const address = `${local}@${domain}`;
  return Buffer.byteLength(address) > 254 ? undefined : address;
}

const label = (n: number, ch = 'a') => ch.repeat(n);

describe('normalizeEmail', () => {
  test('accepts ordinary addresses and lower-cases only the domain', () => {
    const cases: [string, string][] = [
      ['user@example.com', 'user@example.com'],
      ['User.Name+tag@Example.COM', 'User.Name+tag@example.com'],
      ["o'brien@example.ie", "o'brien@example.ie"],
      ['a!#$%&*/=?^_`{|}~-b@example.com', 'a!#$%&*/=?^_`{|}~-b@example.com'],
      ['x@sub.domain.example.co.uk', 'x@sub.domain.example.co.uk'],
      ['x@xn--bcher-kva.example', 'x@xn--bcher-kva.example'],
      ['x@a-b.example', 'x@a-b.example'],
      ['x@123.example', 'x@123.example'],
    ];
    for (const [input, out] of cases) {
      assert.equal(normalizeEmail(input), out, input);
    }
  });

  test('converts an internationalised domain to punycode', () => {
    assert.equal(normalizeEmail('info@Bücher.example'), 'info@xn--bcher-kva.example');
    assert.equal(normalizeEmail('kontakt@MÜNCHEN.de'), 'kontakt@xn--mnchen-3ya.de');
    assert.equal(normalizeEmail('user@例え.jp'), 'user@xn--r8jz45g.jp');
    // IDNA maps the ideographic full stop to a dot.
    assert.equal(normalizeEmail('user@example。com'), 'user@example.com');
  });

  test('accepts a UTF-8 local part (RFC 6531) in NFC, with the domain in A-labels', () => {
    assert.equal(normalizeEmail('üser@exämple.org'), 'üser@xn--exmple-cua.org');
    // A combining diaeresis is composed, so both spellings are one address.
    assert.equal(normalizeEmail('u\u0308ser@example.org'), 'üser@example.org');
    assert.equal(normalizeEmail('用户@例子.广告'), '用户@xn--fsqu00a.xn--4rr70v');
    assert.equal(normalizeEmail('Δοκιμή.θ@example.gr'), 'Δοκιμή.θ@example.gr');
    // 64 octets is the limit, in UTF-8: 32 two-octet letters.
    assert.equal(normalizeEmail(`${'ü'.repeat(32)}@example.com`), `${'ü'.repeat(32)}@example.com`);
  });

  test('refuses what is not a deliverable address', () => {
    const bad = [
      '',
      'plain',
      '@example.com',
      'user@',
      'user@localhost',
      'user@example',
      'user@1.2.3.4',
      'user@[192.0.2.1]',
      'user@-example.com',
      'user@example-.com',
      'user@exa_mple.com',
      'user@example..com',
      'user@example.com.',
      '.user@example.com',
      'user.@example.com',
      'us..er@example.com',
      'us er@example.com',
      '"quoted"@example.com',
      // Zero-width, bidirectional and control characters, spaces, a local part over 64 octets.
      'bad\u200buser@example.com',
      'evil\u202euser@example.com',
      'c1\u0085@example.com',
      'no\u00a0break@example.com',
      `${'ü'.repeat(33)}@example.com`,
      ' user@example.com',
      'user@example.com ',
      'user@xn--abc.com',
      'a@b@example.com',
    ];
    for (const input of bad) {
      assert.equal(normalizeEmail(input), undefined, JSON.stringify(input));
    }
  });

  test('refuses domains a URL parser would quietly rewrite into another address', () => {
    // domainToASCII parses a URL host: these came out as a valid "user@example.com".
    for (const input of [
      'user@example.com/path.example',
      'user@example.com?x.y',
      'user@example.com#frag.z',
      'user@example.com\\other.z',
      'user@ex%41mple.com',
      'user@exam\tple.com',
      'user@exam\nple.com',
      'user@example.com:25',
    ]) {
      assert.equal(normalizeEmail(input), undefined, JSON.stringify(input));
    }
  });

  test('enforces the length limits of RFC 5321', () => {
    const domain = [label(63), label(63), label(63), label(57)].join('.') + '.com'; // 253
    assert.equal(domain.length, 253);
    assert.equal(normalizeEmail(`${label(64, 'u')}@example.com`), `${label(64, 'u')}@example.com`);
    assert.equal(normalizeEmail(`${label(65, 'u')}@example.com`), undefined, 'local part over 64');
    assert.equal(normalizeEmail(`u@${label(63)}.com`), `u@${label(63)}.com`);
    assert.equal(normalizeEmail(`u@${label(64)}.com`), undefined, 'label over 63');
    // A path is at most 256 octets with its angle brackets: 254 for the address.
    const fits = `${label(58, 'u')}@${label(63)}.${label(63)}.${label(63)}.com`;
    assert.equal(fits.length, 254);
    assert.equal(normalizeEmail(fits), fits);
    assert.equal(normalizeEmail(`u${fits}`), undefined, 'address over 254');
    assert.equal(
      normalizeEmail(`u@${domain}`),
      undefined,
      'fits the domain limit but not the path',
    );
    // Punycode lengthens a domain: the limit applies to what goes on the wire.
    const idn = `${label(30, 'u')}@${Array(4).fill(label(50, 'ü')).join('.')}.com`;
    assert.ok(idn.length <= 254, 'short enough before punycode');
    assert.equal(normalizeEmail(idn), undefined);
    assert.ok(normalizeEmail(idn.slice(10)), 'the same domain with a shorter local part fits');
  });

  test('answers the same for a domain seen before, and after more domains than it remembers', () => {
    // Domains are remembered between calls: each pair is one domain, first as one address then
    // as another, so the second answer comes from what the first one left behind.
    const pairs: [string, string | undefined][] = [
      ['a@Example.COM', 'a@example.com'],
      ['b.c@Example.COM', 'b.c@example.com'],
      ['info@Bücher.example', 'info@xn--bcher-kva.example'],
      ['ünï@Bücher.example', 'ünï@xn--bcher-kva.example'],
      ['a@bad_domain.com', undefined],
      ['b@bad_domain.com', undefined],
      ['a@example.123', undefined],
      ['a..b@example.org', undefined],
      ['ab@example.org', 'ab@example.org'],
    ];
    const check = (): void => {
      for (const [input, out] of pairs) assert.equal(normalizeEmail(input), out, input);
    };
    check();
    check();
    // More distinct domains than are remembered: the cache starts over, the answers do not change.
    for (let i = 0; i < 10_050; i++) {
      assert.equal(normalizeEmail(`u@D${i}.example`), `u@d${i}.example`);
    }
    check();
  });
});

describe('normalizeEmail through its domain cache', () => {
  // ASCII and UTF-8 (a combining mark, a zero-width space, a C1 control, CJK) local parts.
  const localChar = fc.constantFrom(
    ...'abcXYZ019.!#$%&\'*+/=?^_`{|}~- "(),:;<>@[\\]éü\u0308\u200b\u0085中'.split(''),
  );
  const domainChar = fc.constantFrom(...'abcXYZ019.-_%/?#@ éü中'.split(''));
  const knownDomains = [
    'example.com',
    'Example.COM',
    'bücher.example',
    'BÜCHER.example',
    'xn--bcher-kva.example',
    'xn--zz.example',
    'a.0x1',
    '0x7f.1',
    'one.two.example.',
    '-bad.example',
    'ok-.example',
    `${'a'.repeat(63)}.example`,
    `${'a'.repeat(64)}.example`,
    `${'abcdefghi.'.repeat(25)}example`,
    'example.123',
    'ex%41mple.com',
    'example.com/x',
  ];
  const address = fc.tuple(
    fc.oneof(
      fc.string({ unit: localChar, maxLength: 12 }),
      fc.constantFrom(
        'a',
        'A.b',
        'a..b',
        '.a',
        'a.',
        'x'.repeat(64),
        'x'.repeat(65),
        'ü'.repeat(32),
        'ü'.repeat(33),
        'u\u0308'.repeat(32),
      ),
    ),
    fc.constantFrom('@', '@', '@', '', '@@'),
    fc.oneof(fc.constantFrom(...knownDomains), fc.string({ unit: domainChar, maxLength: 20 })),
  );

  test('answers exactly what the plain definition answers, the domain seen before or not', () => {
    fc.assert(
      fc.property(address, ([local, at, domain]) => {
        const input = `${local}${at}${domain}`;
        const want = plain(input);
        // The domains above repeat: the first call may fill the cache, the second reads it.
        assert.equal(normalizeEmail(input), want, JSON.stringify(input));
        assert.equal(normalizeEmail(input), want, JSON.stringify(input));
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  test('the longest addresses: the local part and the total are limited as the definition limits them', () => {
    const long = `${'abcdefghi.'.repeat(24)}example`;
    for (const input of [
      `${'x'.repeat(64)}@${long}`,
      `${'x'.repeat(10)}@${long}`,
      `${'x'.repeat(64)}@${'a'.repeat(180)}.example`,
      `${'x'.repeat(20)}@bücher.example`,
      `a@${'b'.repeat(330)}`,
    ]) {
      assert.equal(normalizeEmail(input), plain(input), input);
    }
  });
});

describe('parseMailbox', () => {
  test('parses bare addresses and display names', () => {
    assert.deepEqual(parseMailbox('user@Example.com'), {
      address: 'user@example.com',
      domain: 'example.com',
    });
    assert.deepEqual(parseMailbox('  <user@example.com>  '), {
      address: 'user@example.com',
      domain: 'example.com',
    });
    assert.deepEqual(parseMailbox('News Team <news@Example.com>'), {
      name: 'News Team',
      address: 'news@example.com',
      domain: 'example.com',
    });
    assert.deepEqual(parseMailbox('"Doe, John" <john@example.com>'), {
      name: 'Doe, John',
      address: 'john@example.com',
      domain: 'example.com',
    });
    assert.deepEqual(parseMailbox('Zoë Ärger <zoe@bücher.example>'), {
      name: 'Zoë Ärger',
      address: 'zoe@xn--bcher-kva.example',
      domain: 'xn--bcher-kva.example',
    });
    assert.deepEqual(parseMailbox('"" <a@example.com>'), {
      address: 'a@example.com',
      domain: 'example.com',
    });
  });

  test('refuses malformed mailboxes and anything with a line break', () => {
    for (const input of [
      'News <not-an-address>',
      'News news@example.com',
      'News <news@example.com> trailing',
      'News <<news@example.com>>',
      'News <news@example.com>\r\nBcc: x@example.net',
      'News\n <news@example.com>',
      'news@example.com\0',
      '',
    ]) {
      assert.equal(parseMailbox(input), undefined, JSON.stringify(input));
    }
  });
});

describe('domainOf', () => {
  test('is what follows the last "@", lower-cased', () => {
    assert.equal(domainOf('user@example.com'), 'example.com');
    assert.equal(domainOf('User.Name@Sub.EXAMPLE.com'), 'sub.example.com');
    assert.equal(domainOf('"a@b"@example.org'), 'example.org');
    assert.equal(domainOf('x@xn--bcher-kva.example'), 'xn--bcher-kva.example');
  });

  test('agrees with the domain parseMailbox gives', () => {
    for (const input of ['a@Example.com', 'News <news@MAIL.example.net>', 'zoe@bücher.example']) {
      const m = parseMailbox(input);
      assert.ok(m, input);
      assert.equal(domainOf(m.address), m.domain, input);
    }
  });
});
