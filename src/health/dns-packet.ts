/**
 * A minimal DNS message codec (RFC 1035): one query out, the header and answer section of
 * the reply in. Written by hand because Node's resolver (c-ares) cannot be told to use TCP,
 * folds the reply code into its own error names, and hides the answer section of a reply
 * whose code is not NOERROR; a health check needs the exact rcode over the transport the
 * user chose. No kept dependency encodes DNS.
 */
import net from 'node:net';

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

export function rcodeName(code: number): string {
  return RCODES[code] ?? `RCODE${code}`;
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

/** A query with recursion desired, as dig sends it. */
export function encodeQuery(id: number, name: string, qtype: QType): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // RD
  header.writeUInt16BE(1, 4); // QDCOUNT
  const question = Buffer.alloc(4);
  question.writeUInt16BE(QTYPES[qtype], 0);
  question.writeUInt16BE(1, 2); // class IN
  return Buffer.concat([header, encodeName(name), question]);
}

export interface DnsAnswer {
  type: number;
  /** The record's data as dig +short writes it (names without the trailing dot). */
  data: string;
}

export interface DnsReply {
  id: number;
  rcode: number;
  truncated: boolean;
  answers: DnsAnswer[];
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
    case QTYPES.SRV:
      return (
        `${message.readUInt16BE(offset)} ${message.readUInt16BE(offset + 2)} ` +
        `${message.readUInt16BE(offset + 4)} ${readName(message, offset + 6)[0]}`
      );
    case QTYPES.TXT: {
      const strings: string[] = [];
      for (let i = offset; i < end; ) {
        const n = message.readUInt8(i);
        strings.push(message.toString('utf8', i + 1, i + 1 + n));
        i += 1 + n;
      }
      return strings.join('');
    }
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
  let offset = 12;
  for (let i = 0; i < qdcount; i++) offset = readName(message, offset)[1] + 4;
  const answers: DnsAnswer[] = [];
  for (let i = 0; i < ancount; i++) {
    const [, afterName] = readName(message, offset);
    const type = message.readUInt16BE(afterName);
    const length = message.readUInt16BE(afterName + 8);
    const dataOffset = afterName + 10;
    if (dataOffset + length > message.length) throw new Error('DNS record runs past the message');
    answers.push({ type, data: recordData(message, type, dataOffset, length) });
    offset = dataOffset + length;
  }
  return { id, rcode: flags & 0x0f, truncated: (flags & 0x0200) !== 0, answers };
}

/** True when `expected` is one of the answers, compared as dig +short would print them. */
export function hasAnswer(answers: readonly DnsAnswer[], expected: string): boolean {
  const want = normalise(expected);
  return answers.some((a) => normalise(a.data) === want);
}

function normalise(text: string): string {
  const trimmed = text.trim().replace(/\.$/, '').toLowerCase();
  return net.isIPv6(trimmed) ? canonicalIpv6(trimmed) : trimmed.replace(/\.(\s|$)/g, '$1');
}
