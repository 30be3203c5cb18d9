/**
 * A tiny authoritative DNS server over UDP on loopback, so MX tests go through the real resolver
 * (c-ares in Node) and the real wire format instead of a mocked `dns` module. It speaks just
 * enough of RFC 1035 for MX, A and AAAA questions.
 */
import { createSocket, type RemoteInfo } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';

export interface MxRecord {
  preference: number;
  /** Target host; "" or "." is a null MX (RFC 7505). */
  exchange: string;
}

/** What the stub answers for one name. */
export interface ZoneEntry {
  mx?: MxRecord[];
  a?: string[];
  aaaa?: string[];
  /** TXT records, each one string (split into 255-byte character strings on the wire). */
  txt?: string[];
  /** TTL of every record of this name, in seconds. @defaultValue 300 */
  ttl?: number;
  /** Answer every question for this name with this response code instead of records. */
  rcode?: 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED';
  /** Never answer questions for this name, so the client times out. */
  drop?: boolean;
}

/**
 * Names (without the trailing dot, any case) to what they hold. A name that is absent is
 * NXDOMAIN; a name that is present but has no record of the asked type gets an empty answer
 * (NODATA). The stub reads the object on every query, so a test may change it while running.
 */
export type DnsZone = Record<string, ZoneEntry>;

export type QueryType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'OTHER';

export interface DnsQuery {
  name: string;
  type: QueryType;
}

export interface DnsStub {
  port: number;
  /** Every question received, oldest first (dropped ones too), for asserting on cache use. */
  queries: DnsQuery[];
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_MX = 15;
const TYPE_TXT = 16;
const TYPE_AAAA = 28;
const CLASS_IN = 1;
const RCODES = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;
/** Offset of the question name in a message: answers point back at it (RFC 1035 4.1.4). */
const QNAME_POINTER = 0xc00c;

function typeName(t: number): QueryType {
  if (t === TYPE_A) return 'A';
  if (t === TYPE_AAAA) return 'AAAA';
  if (t === TYPE_MX) return 'MX';
  if (t === TYPE_TXT) return 'TXT';
  return 'OTHER';
}

/** Reads the question's name; queries never use compression, so a pointer is malformed. */
function readName(buf: Buffer, start: number): { name: string; end: number } | undefined {
  const labels: string[] = [];
  let i = start;
  for (;;) {
    const len = buf[i];
    if (len === undefined || len > 63) return undefined;
    i++;
    if (len === 0) break;
    if (i + len > buf.length) return undefined;
    labels.push(buf.toString('latin1', i, i + len));
    i += len;
  }
  return { name: labels.join('.'), end: i };
}

function encodeName(name: string): Buffer {
  const trimmed = name.replace(/\.$/, '');
  if (trimmed === '') return Buffer.from([0]);
  const parts = trimmed.split('.').map((label) => {
    const b = Buffer.from(label, 'latin1');
    if (b.length === 0 || b.length > 63) throw new Error(`dns-stub: bad label in name "${name}"`);
    return Buffer.concat([Buffer.from([b.length]), b]);
  });
  return Buffer.concat([...parts, Buffer.from([0])]);
}

function ipv4Bytes(ip: string): Buffer {
  if (!isIPv4(ip)) throw new Error(`dns-stub: "${ip}" is not an IPv4 address`);
  return Buffer.from(ip.split('.').map(Number));
}

function ipv6Bytes(ip: string): Buffer {
  if (!isIPv6(ip) || ip.includes('.')) {
    throw new Error(`dns-stub: "${ip}" is not an IPv6 address in plain hex form`);
  }
  const [head = '', tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function record(type: number, ttl: number, rdata: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(QNAME_POINTER, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(CLASS_IN, 4);
  head.writeUInt32BE(ttl, 6);
  head.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rdata]);
}

function answersFor(entry: ZoneEntry, qtype: number): Buffer[] {
  const ttl = entry.ttl ?? 300;
  switch (qtype) {
    case TYPE_A:
      return (entry.a ?? []).map((ip) => record(TYPE_A, ttl, ipv4Bytes(ip)));
    case TYPE_AAAA:
      return (entry.aaaa ?? []).map((ip) => record(TYPE_AAAA, ttl, ipv6Bytes(ip)));
    case TYPE_MX:
      return (entry.mx ?? []).map((mx) => {
        const pref = Buffer.alloc(2);
        pref.writeUInt16BE(mx.preference, 0);
        return record(TYPE_MX, ttl, Buffer.concat([pref, encodeName(mx.exchange)]));
      });
    case TYPE_TXT:
      return (entry.txt ?? []).map((text) => {
        const bytes = Buffer.from(text, 'utf8');
        const strings: Buffer[] = [];
        for (let i = 0; i < bytes.length || i === 0; i += 255) {
          const part = bytes.subarray(i, i + 255);
          strings.push(Buffer.from([part.length]), part);
        }
        return record(TYPE_TXT, ttl, Buffer.concat(strings));
      });
    default:
      return [];
  }
}

function lookup(zone: DnsZone, name: string): ZoneEntry | undefined {
  const wanted = name.toLowerCase();
  for (const [key, entry] of Object.entries(zone)) {
    if (key.toLowerCase().replace(/\.$/, '') === wanted) return entry;
  }
  return undefined;
}

/**
 * Builds the reply to one query, or undefined to stay silent. The question is echoed byte for
 * byte: resolvers check it against what they asked (including the letter case, for 0x20).
 */
function reply(zone: DnsZone, msg: Buffer, queries: DnsQuery[]): Buffer | undefined {
  if (msg.length < 12) return undefined;
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  if (flags & 0x8000) return undefined; // a response, not a query
  const qd = msg.readUInt16BE(4);
  const q = qd === 1 ? readName(msg, 12) : undefined;
  if (!q || q.end + 4 > msg.length) return undefined;
  const qtype = msg.readUInt16BE(q.end);
  const question = msg.subarray(12, q.end + 4);
  queries.push({ name: q.name.toLowerCase(), type: typeName(qtype) });

  const entry = lookup(zone, q.name);
  if (entry?.drop) return undefined;
  let rcode: number = RCODES.NOERROR;
  let answers: Buffer[] = [];
  if (!entry) rcode = RCODES.NXDOMAIN;
  else if (entry.rcode) rcode = RCODES[entry.rcode];
  else answers = answersFor(entry, qtype);

  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  // QR=1, the query's opcode and RD, AA=1 (we are the authority), RA=1, and the rcode.
  header.writeUInt16BE(0x8000 | (flags & 0x7800) | 0x0400 | (flags & 0x0100) | 0x0080 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, question, ...answers]);
}

/** Starts the stub on 127.0.0.1 (a free port unless one is given). */
export async function startDnsStub(zone: DnsZone, opts: { port?: number } = {}): Promise<DnsStub> {
  const socket = createSocket('udp4');
  const queries: DnsQuery[] = [];
  socket.on('message', (msg: Buffer, from: RemoteInfo) => {
    const out = reply(zone, msg, queries);
    // A client that went away is no error of the stub's: the callback keeps it from throwing.
    if (out) socket.send(out, from.port, from.address, () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(opts.port ?? 0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return {
    port: socket.address().port,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
