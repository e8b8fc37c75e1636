/**
 * Reading netlink bytes without per-attribute allocation: the integer readers, a cursor that
 * walks the messages of a datagram and one that walks the attributes of a message, both by
 * offset, and ACK decoding. Writing is writer.ts.
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
 * The integer readers, host order (headers, most attribute values) and network order (ports,
 * IPv4 masks): one call per value and no bounds check of their own, since the caller checked
 * the attribute's length (AttrCursor.need, or the hot decoders' own checks). In a process
 * that has just started, code runs unoptimised for a while, and under the lab's emulation
 * that while is seconds: every call saved per attribute of a 50,000-dest dump shows there.
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
/** Read in place, not through u32At: one call per ACK, not two. */
export function s32At(buf: Buffer, at: number): number {
  return LE
    ? (buf[at] as number) |
        ((buf[at + 1] as number) << 8) |
        ((buf[at + 2] as number) << 16) |
        ((buf[at + 3] as number) << 24)
    : ((buf[at] as number) << 24) |
        ((buf[at + 1] as number) << 16) |
        ((buf[at + 2] as number) << 8) |
        (buf[at + 3] as number);
}
/** A u64 counter as a number: exact below 2^53, rounded to the nearest double above. */
export function u64At(buf: Buffer, at: number): number {
  const low = u32At(buf, LE ? at : at + 4);
  const high = u32At(buf, LE ? at + 4 : at);
  return high * 0x1_0000_0000 + low;
}
export function be16At(buf: Buffer, at: number): number {
  return ((buf[at] as number) << 8) | (buf[at + 1] as number);
}
export function be32At(buf: Buffer, at: number): number {
  return (
    (((buf[at] as number) << 24) |
      ((buf[at + 1] as number) << 16) |
      ((buf[at + 2] as number) << 8) |
      (buf[at + 3] as number)) >>>
    0
  );
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

/**
 * Walks the attributes between `start` and `end` of a buffer: the one way lvsd reads
 * attributes, except in the IPVS service and dest decoders, which write the same walk out
 * for speed. After next() or find() returns true, `type` (flags masked off), `value` and
 * `valueEnd` describe the current attribute.
 */
export class AttrCursor {
  type = 0;
  value = 0;
  valueEnd = 0;
  buf: Buffer;
  private at: number;
  private end: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    this.buf = buf;
    this.at = start;
    this.end = end;
  }

  /**
   * Starts over on other bytes: a dump's handler keeps one cursor for all its messages
   * rather than allocate one per message.
   */
  reset(buf: Buffer, start: number, end: number): this {
    this.buf = buf;
    this.at = start;
    this.end = end;
    return this;
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

  /** Moves on to the next attribute of type `which`; false when none is left. */
  find(which: number): boolean {
    while (this.next()) if (this.type === which) return true;
    return false;
  }

  get valueLength(): number {
    return this.valueEnd - this.value;
  }

  /** Throws unless the current value has at least `bytes` bytes. */
  need(bytes: number, what: string): number {
    if (this.valueEnd - this.value < bytes)
      throw shortValue(what, this.valueEnd - this.value, bytes);
    return this.value;
  }

  u8(what: string): number {
    return this.buf[this.need(1, what)] as number;
  }
  u16(what: string): number {
    return u16At(this.buf, this.need(2, what));
  }
  be16(what: string): number {
    return be16At(this.buf, this.need(2, what));
  }
  u32(what: string): number {
    return u32At(this.buf, this.need(4, what));
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

/** One message of a datagram: its header fields and a view of its payload. */
export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  port: number;
  data: Buffer;
}

/**
 * Walks the netlink messages of a datagram: the first `end` bytes of `buf` (all of it by
 * default; a receive loop's reused buffer holds a datagram in its first bytes). After
 * next() returns true, the header fields and the payload's bounds describe the current
 * message.
 */
export class MessageCursor {
  type = 0;
  flags = 0;
  seq = 0;
  port = 0;
  payload = 0;
  payloadEnd = 0;
  private at = 0;

  constructor(
    public buf: Buffer,
    private end = buf.length,
  ) {}

  /** Starts over on the first `end` bytes of `buf` (one cursor for every datagram of a loop). */
  reset(buf: Buffer, end: number): this {
    this.buf = buf;
    this.end = end;
    this.at = 0;
    return this;
  }

  next(): boolean {
    const at = this.at;
    if (at + NLMSG_HDRLEN > this.end) return false;
    const length = u32At(this.buf, at);
    if (length < NLMSG_HDRLEN || at + length > this.end)
      throw new NetlinkDecodeError(
        `netlink message of length ${length} at offset ${at} overruns its datagram of ` +
          `${this.end} bytes`,
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

export interface NetlinkAck {
  /** Positive errno; 0 for a plain ACK. */
  errno: number;
  /** Sequence number of the request this answers. */
  seq: number;
  /** Extended ACK message (NLMSGERR_ATTR_MSG), when the kernel sent one. */
  message?: string;
}

/** struct nlmsgerr begins with the s32 error, then a copy of the request's header. */
const NLMSGERR_ERROR_LEN = 4;

/**
 * The NLMSG_ERROR payload between start and end: s32 error, the request's header (and,
 * unless capped, the rest of the request), then extended ACK attributes.
 */
export function decodeAckAt(buf: Buffer, start: number, end: number, flags: number): NetlinkAck {
  const request = start + NLMSGERR_ERROR_LEN;
  if (end - request < NLMSG_HDRLEN) throw new NetlinkDecodeError('short NLMSG_ERROR');
  const err = s32At(buf, start);
  const requestLength = u32At(buf, request);
  const seq = u32At(buf, request + 8);
  const ack: NetlinkAck = { errno: err === 0 ? 0 : -err, seq };
  if (flags & NLM_F_ACK_TLVS) {
    // After the header (CAPPED, or a plain ACK) or the whole request, aligned.
    const skip = flags & NLM_F_CAPPED || err === 0 ? NLMSG_HDRLEN : nlmsgAlign(requestLength);
    try {
      const c = new AttrCursor(buf, Math.min(end, request + skip), end);
      if (c.find(NLMSGERR_ATTR_MSG)) ack.message = c.string();
    } catch {
      // extended ACK is a courtesy; a malformed one does not hide the errno
    }
  }
  return ack;
}
