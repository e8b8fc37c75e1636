/**
 * A minimal DNS message codec (RFC 1035): one query out, the header and answer section of
 * the reply in. Written by hand because Node's resolver (c-ares) cannot be told to use TCP,
 * folds the reply code into its own error names, and hides the answer section of a reply
 * whose code is not NOERROR; a health check needs the exact rcode over the transport the
 * user chose. No kept dependency encodes DNS.
 */
import net from 'node:net';
import { parseTxt, utf8Bytes } from '../config/dns-answer.js';

export const QTYPES = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
} as const;
export type QType = keyof typeof QTYPES;
export const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'] as const;
const MORE_RCODES: Record<number, string> = {
  6: 'YXDOMAIN',
  7: 'YXRRSET',
  8: 'NXRRSET',
  9: 'NOTAUTH',
  10: 'NOTZONE',
  16: 'BADVERS',
};

export function rcodeName(code: number): string {
  return RCODES[code] ?? MORE_RCODES[code] ?? `RCODE${code}`;
}

const OPT = 41;

/** EDNS(0) settings of a query (RFC 6891). */
export interface Edns {
  udpSize: number;
  dnssecOk: boolean;
}

/** The OPT pseudo-record: root name, type 41, class = UDP payload size, TTL = rcode/version/DO. */
function optRecord(edns: Edns): Buffer {
  const record = Buffer.alloc(11);
  record.writeUInt16BE(OPT, 1);
  record.writeUInt16BE(edns.udpSize, 3);
  record.writeUInt32BE(edns.dnssecOk ? 0x8000 : 0, 5);
  return record;
}

function encodeName(name: string): Buffer {
  const labels = name
    .replace(/\.$/, '')
    .split('.')
    .filter((l) => l.length > 0);
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'ascii');
    if (bytes.length > 63) throw new Error(`DNS label longer than 63 bytes: ${label}`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** A query with recursion desired, as dig sends it; with an OPT record when `edns` is given. */
export function encodeQuery(id: number, name: string, qtype: QType, edns?: Edns): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // RD
  header.writeUInt16BE(1, 4); // QDCOUNT
  if (edns) header.writeUInt16BE(1, 10); // ARCOUNT
  const question = Buffer.alloc(4);
  question.writeUInt16BE(QTYPES[qtype], 0);
  question.writeUInt16BE(1, 2); // class IN
  const parts = [header, encodeName(name), question];
  if (edns) parts.push(optRecord(edns));
  return Buffer.concat(parts);
}

export interface DnsAnswer {
  type: number;
  /** The record's data as dig +short writes it (names without the trailing dot). */
  data: string;
  /** A TXT record's character-strings, unquoted. */
  strings?: string[];
}

export interface DnsReply {
  id: number;
  /** The full reply code: the header's four bits, and the OPT record's upper eight. */
  rcode: number;
  truncated: boolean;
  answers: DnsAnswer[];
  /** The server's EDNS UDP payload size, when its reply has an OPT record. */
  ednsUdpSize?: number;
}

/** Reads a possibly compressed name at offset; returns it and the offset after it. */
function readName(message: Buffer, start: number): [string, number] {
  const labels: string[] = [];
  let offset = start;
  let end = -1;
  for (let hops = 0; hops < 128; hops++) {
    const length = message.readUInt8(offset);
    if (length === 0) return [labels.join('.'), end === -1 ? offset + 1 : end];
    if ((length & 0xc0) === 0xc0) {
      if (end === -1) end = offset + 2;
      offset = message.readUInt16BE(offset) & 0x3fff;
      continue;
    }
    if (offset + 1 + length > message.length) throw new Error('DNS name runs past the message');
    labels.push(message.toString('ascii', offset + 1, offset + 1 + length));
    offset += 1 + length;
  }
  throw new Error('DNS name compression loop');
}

function recordData(message: Buffer, type: number, offset: number, length: number): string {
  const end = offset + length;
  switch (type) {
    case QTYPES.A:
      return [...message.subarray(offset, end)].join('.');
    case QTYPES.AAAA: {
      const groups: string[] = [];
      for (let i = offset; i < end; i += 2) groups.push(message.readUInt16BE(i).toString(16));
      return canonicalIpv6(groups.join(':'));
    }
    case QTYPES.NS:
    case QTYPES.CNAME:
    case QTYPES.PTR:
      return readName(message, offset)[0];
    case QTYPES.MX:
      return `${message.readUInt16BE(offset)} ${readName(message, offset + 2)[0]}`;
    case QTYPES.SRV: {
      const numbers = [0, 2, 4].map((d) => message.readUInt16BE(offset + d));
      return `${numbers.join(' ')} ${readName(message, offset + 6)[0]}`;
    }
    case QTYPES.TXT:
      return txtStrings(message, offset, end)
        .map((t) => `"${escapeTxt(t)}"`)
        .join(' ');
    case QTYPES.SOA: {
      const [mname, next] = readName(message, offset);
      const [rname, after] = readName(message, next);
      const numbers = [0, 4, 8, 12, 16].map((d) => message.readUInt32BE(after + d));
      return [mname, rname, ...numbers].join(' ');
    }
    default:
      return message.subarray(offset, end).toString('hex');
  }
}

function txtStrings(message: Buffer, offset: number, end: number): string[] {
  const strings: string[] = [];
  for (let i = offset; i < end; ) {
    const n = message.readUInt8(i);
    strings.push(message.toString('latin1', i + 1, i + 1 + n));
    i += 1 + n;
  }
  return strings;
}

/** A character-string as dig prints it between its quotes: \" \\ and \DDD for other bytes. */
function escapeTxt(bytes: string): string {
  let out = '';
  for (const ch of bytes) {
    const code = ch.charCodeAt(0);
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (code < 0x20 || code > 0x7e) out += `\\${String(code).padStart(3, '0')}`;
    else out += ch;
  }
  return out;
}

/** The canonical text of an IPv6 address (RFC 5952), so answers compare as users write them. */
export function canonicalIpv6(address: string): string {
  const url = new URL(`http://[${address}]/`);
  return url.hostname.slice(1, -1);
}

export function decodeReply(message: Buffer): DnsReply {
  if (message.length < 12)
    throw new Error(`DNS reply of ${message.length} bytes is shorter than a header`);
  const id = message.readUInt16BE(0);
  const flags = message.readUInt16BE(2);
  const qdcount = message.readUInt16BE(4);
  const ancount = message.readUInt16BE(6);
  const otherCount = message.readUInt16BE(8) + message.readUInt16BE(10);
  let offset = 12;
  for (let i = 0; i < qdcount; i++) offset = readName(message, offset)[1] + 4;
  const answers: DnsAnswer[] = [];
  const reply: DnsReply = { id, rcode: flags & 0x0f, truncated: (flags & 0x0200) !== 0, answers };
  for (let i = 0; i < ancount + otherCount; i++) {
    const [, afterName] = readName(message, offset);
    const type = message.readUInt16BE(afterName);
    const length = message.readUInt16BE(afterName + 8);
    const dataOffset = afterName + 10;
    if (dataOffset + length > message.length) throw new Error('DNS record runs past the message');
    offset = dataOffset + length;
    if (i >= ancount) {
      // Authority and additional sections: only the OPT record matters (RFC 6891 section 6.1.3).
      if (type === OPT) {
        reply.ednsUdpSize = message.readUInt16BE(afterName + 2);
        reply.rcode |= message.readUInt8(afterName + 4) << 4;
      }
      continue;
    }
    const answer: DnsAnswer = { type, data: recordData(message, type, dataOffset, length) };
    if (type === QTYPES.TXT) answer.strings = txtStrings(message, dataOffset, offset);
    answers.push(answer);
  }
  return reply;
}

/**
 * True when `expected` is one of the answers, compared as dig +short would print them. A
 * TXT answer compares string by string, exactly, when `expected` is written as dig prints
 * it ("a" "b"); unquoted, it compares with the record's strings joined.
 */
export function hasAnswer(answers: readonly DnsAnswer[], expected: string): boolean {
  const want = normalise(expected);
  const txt = expected.trim().startsWith('"') ? parseTxt(expected) : undefined;
  return answers.some((a) => {
    if (!a.strings) return normalise(a.data) === want;
    if (txt) return txt.length === a.strings.length && txt.every((t, i) => t === a.strings?.[i]);
    return a.strings.join('') === utf8Bytes(expected.trim());
  });
}

function normalise(text: string): string {
  const trimmed = text.trim().replace(/\.$/, '').toLowerCase();
  return net.isIPv6(trimmed) ? canonicalIpv6(trimmed) : trimmed.replace(/\.(\s|$)/g, '$1');
}
