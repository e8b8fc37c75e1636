/**
 * Whole messages and attributes as views, for tests that take sent bytes apart. lvsd itself
 * reads by offset with MessageCursor and AttrCursor and never needs these.
 */
import { AttrCursor, MessageCursor, type NetlinkMessage } from '../../src/netlink/reader.js';

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

/** The value of the first attribute `which` of `attrs`, as a view; null when absent. */
export function findAttribute(attrs: Buffer, which: number): Buffer | null {
  const c = new AttrCursor(attrs);
  return c.find(which) ? c.slice() : null;
}
