/**
 * A tiny authoritative DNS server over UDP and TCP on loopback (one port for both, as resolvers
 * expect), so DNS tests go through the real resolver (c-ares in Node) and the real wire format
 * instead of a mocked `dns` module. It speaks just enough of RFC 1035 for A, AAAA, MX, TXT, PTR
 * and CNAME questions. A UDP answer over 512 bytes is sent truncated (TC set, no records), so the
 * resolver asks again over TCP, as it must with a large TXT record (a 4096-bit DKIM key).
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv4, isIPv6, type Server, type Socket } from 'node:net';

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
  /**
   * TXT records: a string (split into 255-byte character strings on the wire), or the
   * character strings of one record as given.
   */
  txt?: (string | string[])[];
  /** PTR targets (for names under in-addr.arpa or ip6.arpa). */
  ptr?: string[];
  /**
   * An alias: questions of any other type are answered with this CNAME and, when the target is
   * in the zone, the target's records of the asked type.
   */
  cname?: string;
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

export type QueryType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'PTR' | 'CNAME' | 'OTHER';

export interface DnsQuery {
  name: string;
  type: QueryType;
  transport: 'udp' | 'tcp';
}

export interface DnsStub {
  port: number;
  /** Every question received, oldest first (dropped ones too), for asserting on cache use. */
  queries: DnsQuery[];
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_CNAME = 5;
const TYPE_PTR = 12;
const TYPE_MX = 15;
const TYPE_TXT = 16;
const TYPE_AAAA = 28;
const CLASS_IN = 1;
const RCODES = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;
/** Offset of the question name in a message: answers point back at it (RFC 1035 4.1.4). */
const QNAME_POINTER = 0xc00c;
/** The largest UDP message without EDNS0 (RFC 1035 4.2.1); the stub does not read EDNS0. */
const UDP_MAX = 512;
/** The TC bit of the header's flags: the answer did not fit, ask again over TCP. */
const TRUNCATED = 0x0200;

function typeName(t: number): QueryType {
  if (t === TYPE_A) return 'A';
  if (t === TYPE_AAAA) return 'AAAA';
  if (t === TYPE_MX) return 'MX';
  if (t === TYPE_TXT) return 'TXT';
  if (t === TYPE_PTR) return 'PTR';
  if (t === TYPE_CNAME) return 'CNAME';
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

/** A pointer to the question's name, or an owner name of its own (after a CNAME). */
type Owner = Buffer;
const QNAME: Owner = Buffer.from([QNAME_POINTER >> 8, QNAME_POINTER & 0xff]);

function recordOf(owner: Owner, type: number, ttl: number, rdata: Buffer): Buffer {
  const head = Buffer.alloc(10);
  head.writeUInt16BE(type, 0);
  head.writeUInt16BE(CLASS_IN, 2);
  head.writeUInt32BE(ttl, 4);
  head.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([owner, head, rdata]);
}

function txtRdata(value: string | string[]): Buffer {
  const strings: Buffer[] = [];
  const add = (bytes: Buffer): void => {
    for (let i = 0; i < bytes.length || i === 0; i += 255) {
      const part = bytes.subarray(i, i + 255);
      strings.push(Buffer.from([part.length]), part);
    }
  };
  if (typeof value === 'string') add(Buffer.from(value, 'utf8'));
  else for (const s of value) add(Buffer.from(s, 'utf8'));
  return Buffer.concat(strings);
}

function answersFor(entry: ZoneEntry, qtype: number, owner: Owner = QNAME): Buffer[] {
  const ttl = entry.ttl ?? 300;
  const record = (type: number, ttl: number, rdata: Buffer): Buffer =>
    recordOf(owner, type, ttl, rdata);
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
      return (entry.txt ?? []).map((text) => record(TYPE_TXT, ttl, txtRdata(text)));
    case TYPE_PTR:
      return (entry.ptr ?? []).map((target) => record(TYPE_PTR, ttl, encodeName(target)));
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

/** The answers of a name: its own records, or its CNAME and then the target's records. */
function answersOf(zone: DnsZone, entry: ZoneEntry, qtype: number): Buffer[] {
  if (entry.cname === undefined || qtype === TYPE_CNAME) {
    if (qtype === TYPE_CNAME && entry.cname !== undefined) {
      return [recordOf(QNAME, TYPE_CNAME, entry.ttl ?? 300, encodeName(entry.cname))];
    }
    return answersFor(entry, qtype);
  }
  const alias = recordOf(QNAME, TYPE_CNAME, entry.ttl ?? 300, encodeName(entry.cname));
  const target = lookup(zone, entry.cname);
  // One level of alias is all the fixtures need; a chain or loop ends at the first target.
  if (!target || target.cname !== undefined) return [alias];
  return [alias, ...answersFor(target, qtype, encodeName(entry.cname))];
}

/**
 * Builds the reply to one query, or undefined to stay silent. The question is echoed byte for
 * byte: resolvers check it against what they asked (including the letter case, for 0x20).
 * Over UDP, an answer larger than 512 bytes goes out truncated, with the TC bit and no records.
 */
function reply(
  zone: DnsZone,
  msg: Buffer,
  queries: DnsQuery[],
  transport: DnsQuery['transport'],
): Buffer | undefined {
  if (msg.length < 12) return undefined;
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  if (flags & 0x8000) return undefined; // a response, not a query
  const qd = msg.readUInt16BE(4);
  const q = qd === 1 ? readName(msg, 12) : undefined;
  if (!q || q.end + 4 > msg.length) return undefined;
  const qtype = msg.readUInt16BE(q.end);
  const question = msg.subarray(12, q.end + 4);
  queries.push({ name: q.name.toLowerCase(), type: typeName(qtype), transport });

  const entry = lookup(zone, q.name);
  if (entry?.drop) return undefined;
  let rcode: number = RCODES.NOERROR;
  let answers: Buffer[] = [];
  if (!entry) rcode = RCODES.NXDOMAIN;
  else if (entry.rcode) rcode = RCODES[entry.rcode];
  else answers = answersOf(zone, entry, qtype);

  const header = (count: number, truncated: boolean): Buffer => {
    const h = Buffer.alloc(12);
    h.writeUInt16BE(id, 0);
    // QR=1, the query's opcode and RD, AA=1 (we are the authority), RA=1, and the rcode.
    const tc = truncated ? TRUNCATED : 0;
    h.writeUInt16BE(0x8000 | (flags & 0x7800) | 0x0400 | tc | (flags & 0x0100) | 0x0080 | rcode, 2);
    h.writeUInt16BE(1, 4);
    h.writeUInt16BE(count, 6);
    return h;
  };
  const full = Buffer.concat([header(answers.length, false), question, ...answers]);
  if (transport === 'udp' && full.length > UDP_MAX) {
    return Buffer.concat([header(0, true), question]);
  }
  return full;
}

/** Serves DNS over TCP on one connection: each message is prefixed by its length (RFC 1035 4.2.2). */
function serveTcp(zone: DnsZone, socket: Socket, queries: DnsQuery[]): void {
  let pending = Buffer.alloc(0);
  socket.on('error', () => undefined); // a client that resets is no error of the stub's
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 2) {
      const len = pending.readUInt16BE(0);
      if (pending.length < 2 + len) break;
      const msg = pending.subarray(2, 2 + len);
      pending = pending.subarray(2 + len);
      const out = reply(zone, msg, queries, 'tcp');
      if (!out) continue;
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(out.length, 0);
      socket.write(Buffer.concat([prefix, out]));
    }
  });
}

function bindUdp(socket: UdpSocket, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

function listenTcp(server: Server, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Tries of a free port for both protocols: another process may hold the TCP side of a UDP port. */
const PORT_TRIES = 20;

/** Starts the stub on 127.0.0.1, UDP and TCP on one port (a free one unless one is given). */
export async function startDnsStub(zone: DnsZone, opts: { port?: number } = {}): Promise<DnsStub> {
  const queries: DnsQuery[] = [];
  for (let attempt = 1; ; attempt++) {
    const udp = createSocket('udp4');
    udp.on('message', (msg: Buffer, from: RemoteInfo) => {
      const out = reply(zone, msg, queries, 'udp');
      // A client that went away is no error of the stub's: the callback keeps it from throwing.
      if (out) udp.send(out, from.port, from.address, () => undefined);
    });
    await bindUdp(udp, opts.port ?? 0);
    const port = udp.address().port;
    const connections = new Set<Socket>();
    const tcp = createServer((socket) => {
      connections.add(socket);
      socket.once('close', () => connections.delete(socket));
      serveTcp(zone, socket, queries);
    });
    try {
      await listenTcp(tcp, port);
    } catch (err) {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      if (opts.port !== undefined || attempt >= PORT_TRIES) throw err;
      continue;
    }
    return {
      port,
      queries,
      close: async () => {
        for (const c of connections) c.destroy();
        await Promise.all([
          new Promise<void>((resolve) => udp.close(() => resolve())),
          new Promise<void>((resolve) => tcp.close(() => resolve())),
        ]);
      },
    };
  }
}
