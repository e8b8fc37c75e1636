/**
 * Reading netlink bytes without per-attribute allocation: integer readers, cursors that walk
 * the messages of a datagram and the attributes of a message by offset, and ACK decoding.
 * Writing is writer.ts.
 *
 * Why by hand: the `netlink` package's parseMessages / parseAttributes allocate an object and
 * a subarray per message and per attribute. A 50,000-dest read is 50,000 messages of about
 * 14 attributes: that allocation was most of lvsd's time in it (bench/ipvs-codec.ts). The
 * socket itself stays the package's (transport.ts).
 *
 * Layout as the kernel writes it: see constants.ts (struct nlmsghdr, struct nlattr).
 */
import {
  NLA_HDRLEN,
  NLA_TYPE_MASK,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLMSG_HDRLEN,
  NLMSGERR_ATTR_MSG,
  nlaAlign,
  nlmsgAlign,
} from './constants.js';

/**
 * Bytes that cannot be what they claim to be: a length that overruns its container, a value
 * shorter than its type (never merely an unknown attribute, which readers skip).
 */
export class NetlinkDecodeError extends Error {
  override readonly name: string = 'NetlinkDecodeError';
}

/** Whether this host stores integers little-endian: netlink headers are in host order. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LE = LITTLE_ENDIAN;

/*
 * Byte-level readers for the hot decoders (dumps of 50,000 dests): one call per value, no
 * bounds check of their own (the caller checked the attribute's length). In a process that
 * has just started, code runs unoptimised for a while, and under the lab's emulation that
 * while is seconds: every call saved per attribute shows there.
 */
export function u16At(buf: Buffer, at: number): number {
  return LE
    ? (buf[at] as number) | ((buf[at + 1] as number) << 8)
    : ((buf[at] as number) << 8) | (buf[at + 1] as number);
}
export function u32At(buf: Buffer, at: number): number {
  return LE
    ? ((buf[at] as number) |
        ((buf[at + 1] as number) << 8) |
        ((buf[at + 2] as number) << 16) |
        ((buf[at + 3] as number) << 24)) >>>
        0
    : (((buf[at] as number) << 24) |
        ((buf[at + 1] as number) << 16) |
        ((buf[at + 2] as number) << 8) |
        (buf[at + 3] as number)) >>>
        0;
}
export function be16At(buf: Buffer, at: number): number {
  return ((buf[at] as number) << 8) | (buf[at + 1] as number);
}
/** Where the value of the first attribute `which` between start and end begins; -1 if none. */
export function attributeValueAt(buf: Buffer, start: number, end: number, which: number): number {
  let at = start;
  while (at + NLA_HDRLEN <= end) {
    const length = u16At(buf, at);
    if (length < NLA_HDRLEN || at + length > end) throw attrOverrun(at, length);
    if ((u16At(buf, at + 2) & NLA_TYPE_MASK) === which) return at + NLA_HDRLEN;
    at += nlaAlign(length);
  }
  return -1;
}
/** The end of the value that begins at `value` (found by attributeValueAt). */
export function attributeValueEnd(buf: Buffer, value: number): number {
  return value - NLA_HDRLEN + u16At(buf, value - NLA_HDRLEN);
}

/** The attribute at `at` overruns its container, or is shorter than its header. */
export function attrOverrun(at: number, length: number): NetlinkDecodeError {
  return new NetlinkDecodeError(
    `netlink attribute of length ${length} at offset ${at} overruns its container`,
  );
}
/** A value shorter than its type. */
export function shortValue(what: string, length: number, expected: number): NetlinkDecodeError {
  return new NetlinkDecodeError(`${what}: attribute of ${length} bytes, expected ${expected}`);
}

export function readU16(buf: Buffer, offset: number): number {
  return LE ? buf.readUInt16LE(offset) : buf.readUInt16BE(offset);
}
export function readU32(buf: Buffer, offset: number): number {
  return LE ? buf.readUInt32LE(offset) : buf.readUInt32BE(offset);
}
export function readS32(buf: Buffer, offset: number): number {
  return LE ? buf.readInt32LE(offset) : buf.readInt32BE(offset);
}
export function readU64(buf: Buffer, offset: number): number {
  return Number(LE ? buf.readBigUInt64LE(offset) : buf.readBigUInt64BE(offset));
}

/**
 * Walks the attributes between `start` and `end` of a buffer. After next() returns true,
 * `type` (flags masked off), `value` and `valueEnd` describe the current attribute.
 */
export class AttrCursor {
  type = 0;
  value = 0;
  valueEnd = 0;
  private at: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.at = start;
  }

  next(): boolean {
    const at = this.at;
    // Fewer than a header's bytes left is trailing padding.
    if (at + NLA_HDRLEN > this.end) return false;
    const length = u16At(this.buf, at);
    if (length < NLA_HDRLEN || at + length > this.end) throw attrOverrun(at, length);
    this.type = u16At(this.buf, at + 2) & NLA_TYPE_MASK;
    this.value = at + NLA_HDRLEN;
    this.valueEnd = at + length;
    this.at = at + nlaAlign(length);
    return true;
  }

  get valueLength(): number {
    return this.valueEnd - this.value;
  }

  /** Throws unless the current value has at least `bytes` bytes. */
  need(bytes: number, what: string): number {
    if (this.valueEnd - this.value < bytes)
      throw new NetlinkDecodeError(
        `${what}: attribute of ${this.valueEnd - this.value} bytes, expected ${bytes}`,
      );
    return this.value;
  }

  u8(what: string): number {
    return this.buf[this.need(1, what)] as number;
  }
  u16(what: string): number {
    return readU16(this.buf, this.need(2, what));
  }
  be16(what: string): number {
    return this.buf.readUInt16BE(this.need(2, what));
  }
  u32(what: string): number {
    return readU32(this.buf, this.need(4, what));
  }
  /** A NUL-terminated (or unterminated) string. */
  string(): string {
    const nul = this.buf.indexOf(0, this.value);
    const end = nul === -1 || nul > this.valueEnd ? this.valueEnd : nul;
    return this.buf.toString('utf8', this.value, end);
  }
  /** The current value as a view (for rare attributes only: it allocates). */
  slice(): Buffer {
    return this.buf.subarray(this.value, this.valueEnd);
  }
}

/**
 * Walks the netlink messages of a datagram. After next() returns true, the header fields
 * and the payload's bounds describe the current message.
 */
export class MessageCursor {
  type = 0;
  flags = 0;
  seq = 0;
  port = 0;
  payload = 0;
  payloadEnd = 0;
  private at = 0;

  constructor(readonly buf: Buffer) {}

  next(): boolean {
    const at = this.at;
    if (at + NLMSG_HDRLEN > this.buf.length) return false;
    const length = u32At(this.buf, at);
    if (length < NLMSG_HDRLEN || at + length > this.buf.length)
      throw new NetlinkDecodeError(
        `netlink message of length ${length} at offset ${at} overruns its datagram of ${this.buf.length} bytes`,
      );
    this.type = u16At(this.buf, at + 4);
    this.flags = u16At(this.buf, at + 6);
    this.seq = u32At(this.buf, at + 8);
    this.port = u32At(this.buf, at + 12);
    this.payload = at + NLMSG_HDRLEN;
    this.payloadEnd = at + length;
    this.at = at + nlmsgAlign(length);
    return true;
  }
}

/** One message of a datagram: its header fields and a view of its payload. */
export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  port: number;
  data: Buffer;
}

/** The messages of a datagram, each with a view of its payload. */
export function splitMessages(datagram: Buffer): NetlinkMessage[] {
  const messages: NetlinkMessage[] = [];
  const m = new MessageCursor(datagram);
  while (m.next())
    messages.push({
      type: m.type,
      flags: m.flags,
      seq: m.seq,
      port: m.port,
      data: datagram.subarray(m.payload, m.payloadEnd),
    });
  return messages;
}

/** Calls fn(type, data) for every attribute; the nested / byte-order bits are masked off. */
export function eachAttribute(buf: Buffer, fn: (type: number, data: Buffer) => void): void {
  const c = new AttrCursor(buf);
  while (c.next()) fn(c.type, c.slice());
}

/** The first attribute `which` between start and end, as a cursor on it; null when absent. */
export function findAttributeAt(
  buf: Buffer,
  start: number,
  end: number,
  which: number,
): AttrCursor | null {
  const c = new AttrCursor(buf, start, end);
  while (c.next()) if (c.type === which) return c;
  return null;
}

/** Finds the first-level attribute `which` of a payload. */
export function findAttribute(attrs: Buffer, which: number): Buffer | null {
  return findAttributeAt(attrs, 0, attrs.length, which)?.slice() ?? null;
}

export interface NetlinkAck {
  /** Positive errno; 0 for a plain ACK. */
  errno: number;
  /** Sequence number of the request this answers. */
  seq: number;
  /** Extended ACK message (NLMSGERR_ATTR_MSG), when the kernel sent one. */
  message?: string;
}

/** An NLMSG_ERROR payload: s32 error, the request's header (and maybe more), then TLVs. */
export function decodeAck(data: Buffer, flags: number): NetlinkAck {
  return decodeAckAt(data, 0, data.length, flags);
}

export function decodeAckAt(buf: Buffer, start: number, end: number, flags: number): NetlinkAck {
  if (end - start < 4 + NLMSG_HDRLEN) throw new NetlinkDecodeError('short NLMSG_ERROR');
  const err = readS32(buf, start);
  const reqLen = readU32(buf, start + 4);
  const seq = readU32(buf, start + 12);
  const ack: NetlinkAck = { errno: err === 0 ? 0 : -err, seq };
  if (flags & NLM_F_ACK_TLVS) {
    // After the header (CAPPED) or the whole request, aligned.
    const skip = flags & NLM_F_CAPPED || err === 0 ? NLMSG_HDRLEN : (reqLen + 3) & ~3;
    try {
      const c = findAttributeAt(buf, Math.min(end, start + 4 + skip), end, NLMSGERR_ATTR_MSG);
      if (c) ack.message = c.string();
    } catch {
      // extended ACK is a courtesy; a malformed one does not hide the errno
    }
  }
  return ack;
}
