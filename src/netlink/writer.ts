/**
 * Writing netlink messages without per-attribute allocation: messages and attributes go
 * straight into one growing buffer, which a sendmsg then sends whole. Reading is reader.ts.
 *
 * Why by hand: the `netlink` package's AttrStream allocates a header Buffer and a value
 * Buffer for every attribute and concatenates them per message. A 1000 x 10 apply is 11,000
 * messages of about 15 attributes: that allocation was most of lvsd's time in it
 * (bench/ipvs-codec.ts).
 */
import { isIPv6 } from 'node:net';
import {
  GENL_HDRLEN,
  NLA_HDRLEN,
  NLA_MAX_LENGTH,
  NLMSG_ALIGNTO,
  NLMSG_HDRLEN,
  nlaAlign,
  nlmsgAlign,
} from './constants.js';
import { expandIpv6 } from './inet.js';
import { AttrCursor, be32At, LITTLE_ENDIAN as LE, u16At } from './reader.js';

/** Writes one message's payload (after the netlink header, which the transport writes). */
export type PayloadWriter = (w: NetlinkWriter) => void;

/** Writes netlink messages back to back into one buffer, which grows as needed. */
export class NetlinkWriter {
  private buf: Buffer;
  private offset = 0;
  private messageStart = -1;
  private readonly nests: number[] = [];

  constructor(capacity = 4096) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.offset;
  }

  /** The bytes written so far (a view, not a copy: do not write more while it is in use). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.offset);
  }

  /** Forgets everything from `length` on (a message that did not fit into a sendmsg). */
  truncate(length: number): void {
    this.offset = length;
    this.messageStart = -1;
    this.nests.length = 0;
  }

  beginMessage(type: number, flags: number, seq: number, port: number): void {
    this.ensure(NLMSG_HDRLEN);
    const at = this.offset;
    this.messageStart = at;
    this.set32(at, 0, LE); // patched by endMessage
    this.set32(
      at + 4,
      LE ? (type & 0xffff) | ((flags & 0xffff) << 16) : ((type & 0xffff) << 16) | (flags & 0xffff),
      LE,
    );
    this.set32(at + 8, seq, LE);
    this.set32(at + 12, port, LE);
    this.offset = at + NLMSG_HDRLEN;
  }

  /** Patches the message length, then pads to 4 bytes so another message can follow. */
  endMessage(): void {
    if (this.messageStart < 0 || this.nests.length)
      throw new Error('endMessage without a complete message');
    this.set32(this.messageStart, this.offset - this.messageStart, LE);
    this.messageStart = -1;
    const end = this.offset;
    // Padded attributes leave a message aligned: no call for the usual case (11,000 a batch).
    if ((end & (NLMSG_ALIGNTO - 1)) === 0) return;
    const aligned = nlmsgAlign(end);
    this.ensure(aligned - end);
    for (let i = end; i < aligned; i++) this.buf[i] = 0;
    this.offset = aligned;
  }

  /** Sets flags on the message written at `messageOffset` (asking an ACK of a batch's last). */
  addFlags(messageOffset: number, flags: number): void {
    const at = messageOffset + 6; // nlmsg_flags
    this.writeU16At(at, u16At(this.buf, at) | flags);
  }

  /** struct genlmsghdr: cmd, version, 2 reserved bytes. */
  genlHeader(cmd: number, version: number): void {
    this.ensure(GENL_HDRLEN);
    this.buf[this.offset] = cmd;
    this.buf[this.offset + 1] = version;
    this.buf[this.offset + 2] = 0;
    this.buf[this.offset + 3] = 0;
    this.offset += GENL_HDRLEN;
  }

  beginNested(type: number): void {
    this.nests.push(this.offset);
    this.head(type, 0, 0);
  }

  endNested(): void {
    const start = this.nests.pop();
    if (start === undefined) throw new Error('endNested without beginNested');
    const length = this.offset - start;
    if (length > NLA_MAX_LENGTH) throw new Error(`netlink attribute of ${length} bytes`);
    this.writeU16At(start, length);
  }

  // The fixed-size writers each fill their attribute's whole padded slot in place, with one
  // call below them: 11,000 messages of 15 attributes run through here on an apply, much of
  // it before the JIT has optimised anything.

  u8(type: number, value: number): void {
    const v = this.head(type, 1, 4);
    const b = this.buf;
    b[v] = value;
    b[v + 1] = 0;
    b[v + 2] = 0;
    b[v + 3] = 0;
  }

  u16(type: number, value: number): void {
    const v = this.head(type, 2, 4);
    const b = this.buf;
    b[v] = LE ? value : value >>> 8;
    b[v + 1] = LE ? value >>> 8 : value;
    b[v + 2] = 0;
    b[v + 3] = 0;
  }

  u32(type: number, value: number): void {
    this.set32(this.head(type, 4, 4), value, LE);
  }

  /** Two host-order u32 in one attribute (struct ip_vs_flags: flags, mask). */
  u32Pair(type: number, first: number, second: number): void {
    const v = this.head(type, 8, 8);
    this.set32(v, first, LE);
    this.set32(v + 4, second, LE);
  }

  be16(type: number, value: number): void {
    const v = this.head(type, 2, 4);
    const b = this.buf;
    b[v] = value >>> 8;
    b[v + 1] = value;
    b[v + 2] = 0;
    b[v + 3] = 0;
  }

  be32(type: number, value: number): void {
    this.set32(this.head(type, 4, 4), value, false);
  }

  /** A NUL-terminated string. */
  string(type: number, value: string): void {
    const length = Buffer.byteLength(value) + 1;
    const v = this.head(type, length, nlaAlign(length));
    this.buf.write(value, v);
    for (let i = v + length - 1; i < this.offset; i++) this.buf[i] = 0;
  }

  raw(type: number, value: Uint8Array): void {
    const v = this.head(type, value.length, nlaAlign(value.length));
    this.buf.set(value, v);
    for (let i = v + value.length; i < this.offset; i++) this.buf[i] = 0;
  }

  /**
   * An address as the 16-byte union nf_inet_addr, IPv4 in the first 4 bytes; `width` 4
   * writes the bare IPv4 address (struct in_addr). Dotted quads are parsed in place: this
   * runs for every service and dest of a batch.
   */
  address(type: number, address: string, width: 4 | 16 = 16): void {
    const v = this.head(type, width, width); // first: it may grow the buffer
    writeAddress(this.buf, v, address, width);
  }

  /** Appends bytes that are already netlink-formatted (a genl payload built elsewhere). */
  append(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.offset);
    this.offset += bytes.length;
  }

  /**
   * An attribute header for a value of `valueLength` bytes taking `slot` bytes with its
   * padding; moves past both and returns where the value goes.
   */
  private head(type: number, valueLength: number, slot: number): number {
    if (valueLength + NLA_HDRLEN > NLA_MAX_LENGTH)
      throw new Error(`netlink attribute of ${valueLength} bytes`);
    const at = this.offset;
    if (at + NLA_HDRLEN + slot > this.buf.length) this.ensure(NLA_HDRLEN + slot);
    const b = this.buf;
    const length = NLA_HDRLEN + valueLength;
    // Typed-array stores keep the low 8 bits.
    b[at] = LE ? length : length >>> 8;
    b[at + 1] = LE ? length >>> 8 : length;
    b[at + 2] = LE ? type : type >>> 8;
    b[at + 3] = LE ? type >>> 8 : type;
    this.offset = at + NLA_HDRLEN + slot;
    return at + NLA_HDRLEN;
  }

  private set32(at: number, value: number, littleEndian: boolean): void {
    const b = this.buf;
    if (littleEndian) {
      b[at] = value;
      b[at + 1] = value >>> 8;
      b[at + 2] = value >>> 16;
      b[at + 3] = value >>> 24;
    } else {
      b[at] = value >>> 24;
      b[at + 1] = value >>> 16;
      b[at + 2] = value >>> 8;
      b[at + 3] = value;
    }
  }

  private ensure(more: number): void {
    if (this.offset + more <= this.buf.length) return;
    let capacity = this.buf.length * 2;
    while (capacity < this.offset + more) capacity *= 2;
    const grown = Buffer.allocUnsafe(capacity);
    this.buf.copy(grown, 0, 0, this.offset);
    this.buf = grown;
  }

  private writeU16At(offset: number, value: number): void {
    if (LE) this.buf.writeUInt16LE(value, offset);
    else this.buf.writeUInt16BE(value, offset);
  }
}

/**
 * Dotted quads already parsed, by their text: a batch names the same reals under many
 * services (11,000 messages may carry 2,000 distinct addresses). Bounded.
 */
const ipv4Values = new Map<string, number>();
const IPV4_VALUES_MAX = 1 << 16;

/**
 * A dotted quad's value, known from a decoder that built the text from it (`value`: signed,
 * as address() keeps it): a read names each service again in its dest dump request, which
 * then skips parsing the text back (1000 services read in a fresh process: issue 21).
 */
export function rememberIpv4(text: string, value: number): void {
  if (ipv4Values.size >= IPV4_VALUES_MAX) ipv4Values.clear();
  ipv4Values.set(text, value | 0);
}

/** An address's bytes at `at` (see NetlinkWriter.address), the rest of its `width` zeroed. */
function writeAddress(b: Buffer, at: number, address: string, width: 4 | 16): void {
  for (let i = 0; i < width; i++) b[at + i] = 0;
  const known = ipv4Values.get(address);
  if (known !== undefined) {
    b[at] = known >>> 24;
    b[at + 1] = known >>> 16;
    b[at + 2] = known >>> 8;
    b[at + 3] = known;
  } else if (writeIpv4(b, at, address)) {
    if (ipv4Values.size >= IPV4_VALUES_MAX) ipv4Values.clear();
    ipv4Values.set(address, be32At(b, at) | 0); // signed: a small integer (ipvs/codec.ts, ipv4Text)
  } else {
    if (width !== 16) throw new Error(`not an IPv4 address: ${address}`);
    writeIpv6(b, at, address);
  }
}

/**
 * Attributes whose layout never changes (the same types, value sizes and order, as a
 * family's fixed-size nest is), written once by a NetlinkWriter's own calls and then
 * appended per message (`w.append(template.bytes)`) with only their values set in place:
 * one copy and a store per value, where writing them anew is a call per attribute with its
 * header. The difference shows in a freshly started process, where V8 runs the encoder
 * unoptimised for the first thousands of messages (an `lvsd apply` of 1,100 rules, issue 21).
 * Values are host order unless the setter says big-endian, as the writer's.
 */
export class AttrTemplate {
  readonly bytes: Buffer;

  constructor(write: (w: NetlinkWriter) => void) {
    const w = new NetlinkWriter(256);
    write(w);
    this.bytes = Buffer.from(w.bytes());
  }

  /** Where the value of the attribute at `path` lies (nested types, outermost first). */
  valueAt(...path: number[]): number {
    let start = 0;
    let end = this.bytes.length;
    for (const type of path) {
      const c = new AttrCursor(this.bytes, start, end);
      if (!c.find(type)) throw new Error(`attribute template: no attribute ${path.join('/')}`);
      start = c.value;
      end = c.valueEnd;
    }
    return start;
  }

  u8(at: number, value: number): void {
    this.bytes[at] = value;
  }

  u16(at: number, value: number): void {
    const b = this.bytes;
    b[at] = LE ? value : value >>> 8;
    b[at + 1] = LE ? value >>> 8 : value;
  }

  u32(at: number, value: number): void {
    const b = this.bytes;
    b[at] = LE ? value : value >>> 24;
    b[at + 1] = LE ? value >>> 8 : value >>> 16;
    b[at + 2] = LE ? value >>> 16 : value >>> 8;
    b[at + 3] = LE ? value >>> 24 : value;
  }

  be16(at: number, value: number): void {
    this.bytes[at] = value >>> 8;
    this.bytes[at + 1] = value;
  }

  /** A 16-byte address value (union nf_inet_addr), as NetlinkWriter.address writes it. */
  address(at: number, address: string): void {
    writeAddress(this.bytes, at, address, 16);
  }
}

/** Writes a dotted quad at `offset`; false (nothing written) when it is not one. */
function writeIpv4(buf: Buffer, offset: number, address: string): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= address.length; i++) {
    const c = i < address.length ? address.charCodeAt(i) : 46; // a final '.'
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return false;
    } else if (c === 46 && digits > 0 && part < 4) {
      buf[offset + part++] = value;
      value = 0;
      digits = 0;
    } else {
      return false;
    }
  }
  return part === 4;
}

function writeIpv6(buf: Buffer, offset: number, address: string): void {
  if (!isIPv6(address)) throw new Error(`not an IP address: ${address}`);
  const groups = expandIpv6(address);
  if (groups.length !== 8 || groups.some((g) => !(g >= 0 && g <= 0xffff)))
    throw new Error(`not an IP address: ${address}`);
  for (let i = 0; i < 8; i++) buf.writeUInt16BE(groups[i] as number, offset + i * 2);
}

/**
 * One complete netlink message in a buffer of its own, padded so messages can be
 * concatenated into one sendmsg (the kernel walks a batch with NLMSG_ALIGN). The transport
 * writes its batches in place; this is for scripted sockets that answer like the kernel.
 */
export function frameMessage(
  type: number,
  flags: number,
  seq: number,
  port: number,
  payload: Uint8Array,
): Buffer {
  const w = new NetlinkWriter(nlmsgAlign(NLMSG_HDRLEN + payload.length));
  w.beginMessage(type, flags, seq, port);
  w.append(payload);
  w.endMessage();
  return w.bytes();
}
