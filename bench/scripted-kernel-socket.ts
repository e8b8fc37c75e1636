/**
 * A stand-in for the kernel's side of a generic netlink socket, for host benchmarks of the
 * kernel client's whole user-space path (transport, encoder, ACK handling, dump decoding):
 * it answers the way the kernel does, with the least work of its own so that the time
 * measured is lvsd's:
 * - CTRL_CMD_GETFAMILY: the family id, then an ACK;
 * - each write of a batch that asks for an ACK: its own ACK datagram (the kernel queues one
 *   skb per ACK, and each recvmsg returns one), errno 0; writes that do not ask, nothing;
 * - GET_SERVICE dump: the table's services, as prebuilt reply datagrams;
 * - GET_DEST dump: the service's dests, one prebuilt datagram with NLMSG_DONE at its end;
 * - GET_SERVICE of one service: its reply (then an ACK if asked), or ESRCH when it has none.
 * Replies are queued by the send that asks for them, as the kernel queues them inside the
 * sendmsg, and each receive() copies one into the transport's buffer, as recvmsg does.
 */
import { decodeServiceAt, genlPayload, putDest, putService } from '../src/ipvs/codec.js';
import { CmdAttr, DestAttr, IpvsCmd, StatsAttr, SvcAttr } from '../src/ipvs/constants.js';
import { serviceId, type Dest, type Service } from '../src/ipvs/model.js';
import {
  CTRL_ATTR_FAMILY_ID,
  Errno,
  GENL_ID_CTRL,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_MULTI,
  NLMSG_DONE,
  NLMSG_ERROR,
} from '../src/netlink/constants.js';
import { genlAttrsAt } from '../src/netlink/genl.js';
import { AttrCursor, MessageCursor } from '../src/netlink/reader.js';
import type { NetlinkSocket } from '../src/netlink/transport.js';
import { frameMessage, NetlinkWriter } from '../src/netlink/writer.js';

export const SCRIPTED_FAMILY_ID = 0x1d;
const PORT = 4242;
const DATAGRAM_BYTES = 16 * 1024;

/** The stats attributes as ip_vs_genl_fill_stats / _stats64 write them (padding included). */
export function putStats(w: NetlinkWriter, which: number, wide: boolean): void {
  w.beginNested(which);
  const counters = [
    StatsAttr.CONNS,
    StatsAttr.INPKTS,
    StatsAttr.OUTPKTS,
    StatsAttr.INBYTES,
    StatsAttr.OUTBYTES,
    StatsAttr.CPS,
    StatsAttr.INPPS,
    StatsAttr.OUTPPS,
    StatsAttr.INBPS,
    StatsAttr.OUTBPS,
  ];
  counters.forEach((type, i) => {
    if (wide || type === StatsAttr.INBYTES || type === StatsAttr.OUTBYTES) {
      w.raw(StatsAttr.PAD, Buffer.alloc(0));
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(1000 + i));
      w.raw(type, b);
    } else w.u32(type, 1000 + i);
  });
  w.endNested();
}

/** The attributes lvsd writes inside CmdAttr `which` (a reply starts with the same ones). */
function settingsOf(put: (w: NetlinkWriter) => void, which: number): Buffer {
  const inner = new NetlinkWriter(256);
  put(inner);
  const nested = new AttrCursor(inner.bytes());
  if (!nested.find(which)) throw new Error(`no attribute ${which}`);
  return nested.slice();
}

/** One GET_DEST dump reply message as ip_vs_genl_fill_dest() writes it. */
export function destReplyPayload(dest: Dest, withStats = true): Buffer {
  const settings = settingsOf((w) => putDest(w, dest), CmdAttr.DEST);
  return genlPayload(IpvsCmd.NEW_DEST, (w) => {
    w.beginNested(CmdAttr.DEST);
    w.append(settings);
    w.u32(DestAttr.ACTIVE_CONNS, 3);
    w.u32(DestAttr.INACT_CONNS, 5);
    w.u32(DestAttr.PERSIST_CONNS, 0);
    if (withStats) {
      putStats(w, DestAttr.STATS, false);
      putStats(w, DestAttr.STATS64, true);
    }
    w.endNested();
  });
}

function serviceReplyPayload(service: Service): Buffer {
  const settings = settingsOf((w) => putService(w, service), CmdAttr.SERVICE);
  return genlPayload(IpvsCmd.NEW_SERVICE, (w) => {
    w.beginNested(CmdAttr.SERVICE);
    w.append(settings);
    putStats(w, SvcAttr.STATS, false);
    putStats(w, SvcAttr.STATS64, true);
    w.endNested();
  });
}

/** Reply payloads packed into datagrams of at most 16 KiB, NLMSG_DONE at the end. */
function packDump(payloads: Buffer[], seq: number): Buffer[] {
  const datagrams: Buffer[] = [];
  let current: Buffer[] = [];
  let bytes = 0;
  const frames = [
    ...payloads.map((p) => frameMessage(SCRIPTED_FAMILY_ID, NLM_F_MULTI, seq, PORT, p)),
    frameMessage(NLMSG_DONE, NLM_F_MULTI, seq, PORT, Buffer.alloc(4)),
  ];
  for (const frame of frames) {
    if (bytes + frame.length > DATAGRAM_BYTES && current.length) {
      datagrams.push(Buffer.concat(current, bytes));
      current = [];
      bytes = 0;
    }
    current.push(frame);
    bytes += frame.length;
  }
  datagrams.push(Buffer.concat(current, bytes));
  return datagrams;
}

/** An NLMSG_ERROR answering the request at `at`: an ACK, or a refusal with `errno`. */
function ackFrame(seq: number, request: Buffer, at: number, errno = 0): Buffer {
  const body = Buffer.alloc(4 + 16);
  body.writeInt32LE(-errno, 0);
  request.copy(body, 4, at, at + 16);
  return frameMessage(NLMSG_ERROR, 0x100, seq, PORT, body);
}

/** Rewrites the sequence number of every message of prebuilt datagrams. */
function withSeq(datagrams: Buffer[], seq: number): Buffer[] {
  return datagrams.map((d) => {
    const copy = Buffer.from(d);
    const m = new MessageCursor(copy);
    while (m.next()) copy.writeUInt32LE(seq, m.payload - 8);
    return copy;
  });
}

function countMessages(buf: Buffer): number {
  const m = new MessageCursor(buf);
  let n = 0;
  while (m.next()) n++;
  return n;
}

const EMPTY = Buffer.alloc(0);

export class ScriptedKernelSocket implements NetlinkSocket {
  readonly port = PORT;
  readonly sendBufferSize = 2 * 1024 * 1024;
  readonly recvBufferSize = 8 * 1024 * 1024;
  /** Replies not yet received, read from `next` on (a queue without a shift per datagram). */
  private queue: Buffer[] = [];
  private next = 0;
  private serviceDump: Buffer[];
  private destDumps = new Map<string, Buffer[]>();
  private serviceReplies = new Map<string, Buffer>();
  /** Messages seen, by kind (the benchmark checks them). */
  readonly seen = { writes: 0, dumps: 0, gets: 0 };
  /** Called with every sendmsg buffer and its message count (before it is answered). */
  onSend: ((buf: Buffer, messages: number) => void) | null = null;

  constructor(
    table: ReadonlyArray<{ service: Service; dests: readonly Dest[] }>,
    withStats = true,
  ) {
    const payloads = table.map((s) => serviceReplyPayload(s.service));
    this.serviceDump = packDump(payloads, 0);
    for (const [i, s] of table.entries()) {
      this.serviceReplies.set(serviceId(s.service), payloads[i] as Buffer);
      this.destDumps.set(
        serviceId(s.service),
        packDump(
          s.dests.map((d) => destReplyPayload(d, withStats)),
          0,
        ),
      );
    }
  }

  /** Another socket onto the same table (the replies are built once). */
  another(): ScriptedKernelSocket {
    const other = new ScriptedKernelSocket([]);
    other.serviceDump = this.serviceDump;
    other.destDumps = this.destDumps;
    other.serviceReplies = this.serviceReplies;
    return other;
  }

  receive(into: Uint8Array): number {
    const reply = this.queue[this.next];
    if (!reply) return -Errno.EAGAIN;
    this.queue[this.next++] = EMPTY;
    if (this.next === this.queue.length) {
      this.queue = [];
      this.next = 0;
    }
    into.set(reply.subarray(0, into.length));
    return reply.length;
  }
  describe(errno: number): string {
    return `errno ${errno}`;
  }
  close() {}

  send(buf: Uint8Array): number {
    return this.answer(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
  }

  private answer(buf: Buffer): number {
    const replies = this.queue;
    const m = new MessageCursor(buf);
    while (m.next()) {
      const at = m.payload - 16;
      if (m.type === GENL_ID_CTRL) {
        const payload = genlPayload(1, (w) => w.u16(CTRL_ATTR_FAMILY_ID, SCRIPTED_FAMILY_ID), 2);
        replies.push(frameMessage(GENL_ID_CTRL, 0, m.seq, PORT, payload), ackFrame(m.seq, buf, at));
      } else if (m.flags & NLM_F_DUMP) {
        this.seen.dumps++;
        const cmd = buf[m.payload];
        if (cmd === IpvsCmd.GET_SERVICE) replies.push(...withSeq(this.serviceDump, m.seq));
        else if (cmd === IpvsCmd.GET_DEST) {
          const key = new AttrCursor(buf, genlAttrsAt(m.payload, m.payloadEnd), m.payloadEnd);
          if (!key.find(CmdAttr.SERVICE)) throw new Error('GET_DEST without a service');
          const service = decodeServiceAt(buf, key.value, key.valueEnd, false);
          replies.push(
            ...withSeq(this.destDumps.get(serviceId(service)) ?? packDump([], 0), m.seq),
          );
        } else replies.push(...withSeq(packDump([], 0), m.seq));
      } else if (buf[m.payload] === IpvsCmd.GET_SERVICE) {
        this.seen.gets++;
        const key = new AttrCursor(buf, genlAttrsAt(m.payload, m.payloadEnd), m.payloadEnd);
        if (!key.find(CmdAttr.SERVICE)) throw new Error('GET_SERVICE without a service');
        const id = serviceId(decodeServiceAt(buf, key.value, key.valueEnd, false));
        const payload = this.serviceReplies.get(id);
        if (!payload) replies.push(ackFrame(m.seq, buf, at, Errno.ESRCH));
        else {
          replies.push(frameMessage(SCRIPTED_FAMILY_ID, 0, m.seq, PORT, payload));
          if (m.flags & NLM_F_ACK) replies.push(ackFrame(m.seq, buf, at));
        }
      } else {
        this.seen.writes++;
        if (m.flags & NLM_F_ACK) replies.push(ackFrame(m.seq, buf, at)); // every write succeeds here
      }
    }
    this.onSend?.(buf, countMessages(buf));
    return 0;
  }
}
