/**
 * The hostile input of the bounce service's test: malformed or forged messages, each made
 * from its number alone (a seeded generator), so a failure reproduces. None carries a
 * credential for a victim: forged and altered tokens, tokens for the wrong purpose, and
 * Message-IDs of victims inside reports that name another address. The only valid token any
 * of them carries is the owner's (a replay), which may act on the owner alone.
 */
import { createToken, verpAddress } from '@volley/message';
import { arf, autoReply, dsn } from '@volley/bounce/test-reports';
import { DOMAIN, SECRET } from './service.ts';

export interface Hostile {
  /** What it is, for the tallies in failure messages. */
  kind: string;
  from: string;
  to: string;
  raw: string;
  /** Whether RCPT must be refused (a bad address): the message never gets in. */
  refused: boolean;
}

/** Mulberry32: small, fast and deterministic, which is all a test's generator needs. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * How often each kind below comes, out of 50: forged addresses (cases 0-4, refused at RCPT)
 * about half, as on a bounce domain under attack; the costly shapes (huge headers, thousands
 * of fields, deep nesting, odd charsets, junk: cases 11-15) one in 50 each, which is still
 * 200 of every one of them in a run.
 */
const SLOTS = [
  ...Array<number>(10).fill(0),
  ...Array<number>(5).fill(1),
  ...[2, 2, 2, 3, 3, 3, 4, 4],
  ...[5, 5, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 9, 9, 10, 10, 10],
  ...[11, 12, 13, 14, 15, 16, 16, 17, 18, 19],
];

export interface Cast {
  campaignId: string;
  /** Recipient 0: the one whose valid tokens are replayed. */
  owner: string;
  /** Address of recipient `i` (1..victims). */
  victim: (i: number) => string;
  victims: number;
}

/** Message `n` of the hostile set. */
export function hostile(n: number, cast: Cast): Hostile {
  const rnd = random(n * 2654435761);
  const pick = (k: number): number => Math.floor(rnd() * k);
  const victim = 1 + pick(cast.victims);
  // Another victim than `victim`: a Message-ID and an address that do not belong together.
  const other = 1 + ((victim + pick(cast.victims - 1)) % cast.victims);
  const mid = (i: number): string => `<${cast.campaignId}.${i}@sender.example>`;
  const ownerVerp = verpAddress(SECRET, DOMAIN, cast.campaignId, 0);
  const ownerToken = createToken(SECRET, 'verp', cast.campaignId, 0);
  const randomToken = (len = 40): string =>
    Array.from({ length: len }, () => BASE32[pick(32)]).join('');
  const fbl = `fbl@${DOMAIN}`;
  // A report tying a victim's Message-ID to another victim's address.
  const crossed = (): string =>
    dsn({ recipient: cast.victim(other), status: '5.1.1', messageId: mid(victim) });
  const out = (kind: string, to: string, raw: string, refused = false, from = ''): Hostile => ({
    kind,
    from,
    to,
    raw,
    refused,
  });

  switch (SLOTS[n % SLOTS.length]) {
    case 0:
      return out('forged verp token', `bounces+${randomToken()}@${DOMAIN}`, crossed(), true);
    case 1: {
      const at = pick(40);
      const ch = BASE32[(BASE32.indexOf(ownerToken[at] ?? 'a') + 1 + pick(31)) % 32];
      const altered = `${ownerToken.slice(0, at)}${ch}${ownerToken.slice(at + 1)}`;
      const report = dsn({
        recipient: cast.victim(victim),
        status: '5.1.1',
        messageId: mid(victim),
      });
      return out('altered verp token', `bounces+${altered}@${DOMAIN}`, report, true);
    }
    case 2: {
      const bad = [randomToken(39), `${randomToken(39)}1`, `${randomToken(20)}.${randomToken(19)}`];
      return out('malformed token', `bounces+${bad[pick(3)]}@${DOMAIN}`, crossed(), true);
    }
    case 3: {
      const wrongPurpose = createToken(SECRET, 'verp', cast.campaignId, victim);
      const token = pick(2) === 0 ? randomToken() : wrongPurpose;
      const to = `unsubscribe+${token}@${DOMAIN}`;
      return out('forged unsubscribe token', to, `Subject: unsubscribe\r\n\r\nx\r\n`, true);
    }
    case 4: {
      const to = [
        `postmaster@${DOMAIN}`,
        `fbl@evil.example`,
        `${ownerVerp.split('@')[0]}@evil.example`,
      ];
      return out('not our address', to[pick(3)] ?? fbl, crossed(), true);
    }
    case 5:
      return out('crossed message-id at fbl', fbl, crossed());
    case 6: {
      const report = arf({ rcptTo: `mallory${pick(100)}@evil.example`, messageId: mid(victim) });
      return out('forged complaint', fbl, report);
    }
    case 7:
      return out('replayed token, crossed message-id', ownerVerp, crossed());
    case 8: {
      const report = dsn({ recipient: cast.victim(victim), status: '5.1.1' });
      return out('replayed token naming a victim', ownerVerp, report);
    }
    case 9: {
      const forgedPath = `bounces+${randomToken()}@${DOMAIN}`;
      const report = arf({
        rcptTo: cast.victim(other),
        returnPath: forgedPath,
        messageId: mid(victim),
      });
      return out('forged return path in a complaint', fbl, report);
    }
    case 10: {
      // A slice of a report cut out and junk put in its place.
      const text = crossed();
      const at = pick(text.length);
      const junk = [
        '--B1',
        '--B1--',
        '\r\n\r\n',
        'Content-Type: multipart/mixed; boundary="B1"\r\n',
      ];
      const raw = text.slice(0, at) + (junk[pick(4)] ?? '') + text.slice(at + pick(300));
      return out('broken mime', pick(2) === 0 ? fbl : ownerVerp, raw);
    }
    case 11:
      return out('huge header', fbl, `X-Junk: ${'a'.repeat(128 * 1024)}\r\n${crossed()}`);
    case 12: {
      const fields = Array.from({ length: 1000 }, (_v, i) => `X-F${i}: ${randomToken(8)}`);
      return out('many header fields', ownerVerp, `${fields.join('\r\n')}\r\n${crossed()}`);
    }
    case 13: {
      let nested = '';
      const depth = 500 + pick(1500);
      for (let i = 0; i < depth; i++) {
        nested += `Content-Type: multipart/mixed; boundary="n${i}"\r\n\r\n--n${i}\r\n`;
      }
      return out('deeply nested multipart', fbl, `Subject: nested\r\n${nested}${crossed()}`);
    }
    case 14: {
      const charsets = ['x-bogus', 'utf-7', 'iso-2022-jp', 'utf-32', '"; boundary=x'];
      const cs = charsets[pick(charsets.length)] ?? 'x';
      const raw = crossed()
        .replace('charset=us-ascii', `charset=${cs}`)
        .replace('Subject: Undelivered', `Subject: =?${cs}?B?${randomToken(12)}?= Undelivered`);
      return out('wrong charset', pick(2) === 0 ? fbl : ownerVerp, `${raw}\xff\xfe\x00\r\n`);
    }
    case 15: {
      const bytes = Array.from({ length: 200 + pick(4000) }, () => String.fromCharCode(pick(256)));
      return out('binary junk', pick(2) === 0 ? fbl : ownerVerp, bytes.join(''));
    }
    case 16: {
      // The owner's genuine bounce, sent again and again: applied once.
      const report = dsn({ recipient: cast.owner, status: '5.1.1', messageId: mid(0) });
      return out('replayed genuine report', ownerVerp, report);
    }
    case 17:
      return out(
        'auto-reply',
        ownerVerp,
        autoReply(cast.victim(victim)),
        false,
        cast.victim(victim),
      );
    case 18: {
      const report = dsn({
        recipient: cast.victim(victim),
        status: '4.4.1',
        action: 'delayed',
        messageId: mid(victim),
      });
      return out('delay warning at fbl', fbl, report);
    }
    default: {
      const cut = crossed();
      return out('truncated report', fbl, cut.slice(0, pick(cut.length)));
    }
  }
}
