/**
 * Netlink request / ACK / dump machinery over one netlink socket (src/ffi/netlink-socket.ts
 * in lvsd; a scripted one in tests and host benchmarks): one send() is one sendmsg, one
 * receive() one datagram. Nothing here knows a family: callers write each message's payload
 * (src/ipvs/kernel-client.ts for IPVS).
 *
 * Batches: many requests, each with its own sequence number, are concatenated into one
 * sendmsg. The kernel handles every message of a sendmsg in order; it answers a refusal
 * with an NLMSG_ERROR carrying the request's sequence number whatever its flags, and a
 * success only when the request asked for an ACK (NLM_F_ACK). So each result is attributed
 * to the exact request, and a refusal does not stop the rest. By default only the last
 * message of a sendmsg asks for an ACK: answers arrive in order, so when it comes, every
 * earlier request without an error succeeded (`acks: 'each'` asks an ACK of every message;
 * an ACK datagram each costs the kernel an skb and us a recvmsg and a callback, which was
 * most of the write phase in the lab: bench/results).
 * Every answer is one skb in our receive queue (about 1 KiB of SO_RCVBUF with its overhead), and
 * the kernel drops ACKs that do not fit (ENOBUFS on our next recvmsg). So a batch goes out in
 * chunks of at most `maxInFlight` messages and `maxBatchBytes` bytes, the next chunk leaving
 * only when every ACK of the previous one is in. If ACKs are lost anyway, the requests
 * without an answer are reported as lost (their outcome unknown), never as done.
 *
 * Dumps are streamed: each datagram is handed over as it is read; the kernel runs one dump
 * at a time per socket, so dumps are serialised here.
 *
 * Receiving: the kernel answers a request to one of its own families inside the sendmsg
 * that carries it (netlink_unicast_kernel runs the handler in the sender's context), and
 * makes a dump's next datagram inside the recvmsg that finds the queue drained
 * (netlink_recvmsg -> netlink_dump). So once a send returns, its answers are queued, and
 * the transport reads them at once, in a loop (pump), without a turn of the event loop:
 * a dest dump is one sendmsg and two recvmsg, the next dump's request leaving as the
 * previous one's NLMSG_DONE is read. Every datagram is read into one reused buffer.
 * The loop yields to the event loop every SLICE_MS (see there); when nothing is queued
 * while answers are awaited (a scripted socket, or answers dropped by an overflow), it
 * looks again after a short timer.
 */
import {
  Errno,
  NLM_F_ACK,
  NLM_F_ACK_TLVS,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
} from './constants.js';
import { decodeAckAt, MessageCursor, type NetlinkMessage, s32At } from './reader.js';
import { NetlinkWriter, type PayloadWriter } from './writer.js';

/** The socket as the transport uses it (src/ffi/netlink-socket.ts over libc). */
export interface NetlinkSocket {
  /** The port the kernel bound the socket to: our requests' nlmsg_pid. */
  readonly port: number;
  /** SO_SNDBUF and SO_RCVBUF as granted. */
  readonly sendBufferSize: number;
  readonly recvBufferSize: number;
  /** One sendmsg of all of `data`, never waiting: 0, or the errno of its failure. */
  send(data: Uint8Array): number;
  /**
   * One datagram into `into`, never waiting: its whole length (more than `into.length`
   * when it was truncated), or -errno (-EAGAIN: nothing queued; -ENOBUFS: answers were
   * dropped, those queued before the overflow still follow).
   */
  receive(into: Uint8Array): number;
  /** An errno as a person reads it ("No buffer space available (ENOBUFS)"). */
  describe(errno: number): string;
  close(): void;
}

export interface TransportOptions {
  /** Messages per sendmsg (each awaiting its ACK before the next chunk goes out). */
  maxInFlight?: number;
  /** Bytes per sendmsg (the kernel refuses more than SO_SNDBUF - 32). */
  maxBatchBytes?: number;
  /**
   * 'each': every message asks for its ACK. 'last' (the default): only the last message of
   * each sendmsg asks for one; the kernel acknowledges a refusal whatever the flags say, so
   * every error still comes with its request's sequence number, and the last message's ACK
   * (queued after every earlier answer) says that the others without an error succeeded.
   */
  acks?: 'each' | 'last';
  /**
   * Bytes of the one buffer every datagram is read into (default 64 KiB). The kernel sizes
   * a dump's datagrams to what recvmsg asks for (net/netlink/af_netlink.c: max_recvmsg_len,
   * at most 32 KiB), so a dump of many replies takes fewer datagrams. A datagram that does
   * not fit fails what was in flight.
   */
  messageBufferBytes?: number;
  /** How long the receive loop runs before it lets the event loop turn (default SLICE_MS). */
  sliceMs?: number;
}

export interface BatchItem {
  type: number;
  write: PayloadWriter;
}

/**
 * One reply message of a dump: the buffer the datagram was read into (reused for the next
 * one, and longer than the datagram) and where the message's payload lies in it.
 */
export type DumpHandler = (datagram: Buffer, payload: number, payloadEnd: number) => void;

export interface BatchResult {
  /** Positive errno from the kernel's ACK, 0 for success. */
  errno: number;
  /** Extended ACK text, when the kernel gave one. */
  message?: string;
  /** Data messages that arrived before the ACK (replies of GET requests). */
  replies: NetlinkMessage[];
  /** Set when no ACK came (socket error such as ENOBUFS): the outcome is unknown. */
  lost?: { errno: number; message: string };
}

/** What went over the socket (benchmarks and tests read it). */
export interface TransportCounters {
  sendmsgs: number;
  messagesSent: number;
  datagramsReceived: number;
  messagesReceived: number;
  ackErrors: number;
  lostAcks: number;
}

/** A dump in flight; dumpEach() reuses one record for all its dumps. */
interface PendingDump {
  /** Data may have been dropped by an overflow: its DONE cannot be trusted. */
  tainted: boolean;
  /** Which dump of a dumpEach() this is. */
  index: number;
  onMessage(index: number, datagram: Buffer, payload: number, payloadEnd: number): void;
  settle(errno: number, message?: string): void;
}

/**
 * One sendmsg of a batch: `count` requests with consecutive sequence numbers from `first`,
 * their results written into the batch's array from `offset` on. One record per chunk, not
 * a promise per request: the ACK path runs 11,000 times for a 1000 x 10 apply.
 */
interface Chunk {
  first: number;
  count: number;
  /** Only the last message asked for an ACK: its ACK answers every unanswered one. */
  implicit: boolean;
  /** Answers may have been dropped (ENOBUFS) while it was in flight: silence proves nothing. */
  tainted: boolean;
  offset: number;
  results: BatchResult[];
  remaining: number;
  done(): void;
}

/** A result holding a GET request's replies whose ACK has not come yet. */
const REPLIES_SO_FAR = -1;
const OVERFLOW_LOST = 'answer lost: the netlink receive buffer overflowed (ENOBUFS)';

/** No final answer yet for this request (nothing, or only its replies). */
function unanswered(result: BatchResult | undefined): boolean {
  return result === undefined || result.errno === REPLIES_SO_FAR;
}

/** Shared by every result without replies (most of them); never written to. */
const NO_REPLIES: NetlinkMessage[] = Object.freeze([]) as unknown as NetlinkMessage[];

export const DEFAULT_MAX_IN_FLIGHT = 256;
/** After ENOBUFS, answers still unanswered when the socket has been quiet this long are lost. */
const DRAIN_QUIET_MS = 200;
const DEFAULT_MAX_BATCH_BYTES = 128 * 1024;
/** What the chunking above assumes of the socket (its opener asks for these). */
export const SOCKET_BUFFERS = { recv: 4 * 1024 * 1024, send: 1024 * 1024 } as const;
const DEFAULT_MESSAGE_BUFFER = 64 * 1024;
/**
 * The receive loop reads for about this long before it lets the event loop turn (it looks
 * at the clock every CLOCK_EVERY datagrams, so a slice may run a few datagrams over). Reading
 * without a turn is what makes the read cheap (bench/results/2026-12-06-read-loop.md), but
 * a whole table's read takes 0.1-0.3 s on a host and seconds in the lab, and the daemon's
 * timers (health checks, VRRP adverts every second, the 50 ms decision-to-kernel goal)
 * must not wait that long; a blocking read would hold them for all of it. A turn per slice
 * costs one setImmediate: on the host, a 50,000-dest readTable() over the scripted kernel
 * socket took a median 98.6 ms with 10 ms slices and 110.9 ms with one slice for all
 * (7 runs each, a loaded host: no cost seen), and 2 ms slices the same.
 */
export const SLICE_MS = 10;
/** The receive loop looks at the clock once per this many datagrams (see pump). */
const CLOCK_EVERY = 8;
/** With answers awaited and none queued: look again after 1, 2, 4 ... at most this many ms. */
const MAX_WAIT_MS = 20;

/** dumpEach() was told to stop (its `stop` said so) before the dump of `index`; none after it was sent. */
export class DumpStopped extends Error {
  constructor(readonly index: number) {
    super(`stopped before dump ${index}`);
  }
}

export class DumpError extends Error {
  constructor(
    readonly errno: number,
    message: string,
    /** Which dump of a dumpEach() failed. */
    readonly index = 0,
  ) {
    super(message);
  }
}

export class NetlinkTransport {
  /** The dump in flight, answering to dumpSeq: the kernel runs one at a time per socket. */
  private inFlight: PendingDump | null = null;
  private dumpSeq = 0;
  private readonly chunks: Chunk[] = [];
  private seq = ((Date.now() & 0x7fffff) << 4) >>> 0;
  private readonly port: number;
  /** The kernel runs one dump at a time per socket: the others wait their turn here. */
  private dumpRunning = false;
  private readonly dumpQueue: Array<{
    start: () => void;
    fail: (errno: number, message: string) => void;
  }> = [];
  private closed = false;
  private drainTimer: NodeJS.Timeout | null = null;
  /** The receive loop is running: a send made inside it is read by it. */
  private pumping = false;
  /** A later turn of the loop is booked: the next slice, or another look after a wait. */
  private resume: NodeJS.Immediate | NodeJS.Timeout | null = null;
  private waitMs = 0;
  /** Every datagram is read into this buffer: a handler's view of it lasts until it returns. */
  private readonly rx: Buffer;
  /** Walks each datagram's messages (one cursor for all: the loop is not re-entered). */
  private readonly cursor = new MessageCursor(Buffer.alloc(0));
  /** Datagrams read since the loop last looked at the clock. */
  private sinceClock = 0;
  private readonly sliceMs: number;
  readonly maxInFlight: number;
  readonly maxBatchBytes: number;
  readonly acks: 'each' | 'last';
  readonly counters: TransportCounters = {
    sendmsgs: 0,
    messagesSent: 0,
    datagramsReceived: 0,
    messagesReceived: 0,
    ackErrors: 0,
    lostAcks: 0,
  };

  constructor(
    private readonly socket: NetlinkSocket,
    options: TransportOptions = {},
  ) {
    this.port = socket.port;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
    this.acks = options.acks ?? 'last';
    this.maxBatchBytes = Math.max(
      4096,
      Math.min(options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES, socket.sendBufferSize - 1024),
    );
    this.rx = Buffer.allocUnsafe(
      Math.max(4096, options.messageBufferBytes ?? DEFAULT_MESSAGE_BUFFER),
    );
    this.sliceMs = options.sliceMs ?? SLICE_MS;
  }

  /** SO_RCVBUF as granted. */
  get recvBufferSize(): number {
    return this.socket.recvBufferSize;
  }

  /**
   * Sends every item with NLM_F_REQUEST, chunked, each chunk's last message (or, with
   * `acks: 'each'`, every message) with NLM_F_ACK; one result per item, in order. Each
   * chunk's messages are written straight into the one buffer its sendmsg sends.
   */
  async batch(items: readonly BatchItem[]): Promise<BatchResult[]> {
    this.checkOpen();
    const results: BatchResult[] = new Array(items.length);
    let i = 0;
    while (i < items.length) {
      const w = new NetlinkWriter(
        Math.min(this.maxBatchBytes + 4096, 512 * (items.length - i) + 64),
      );
      const first = this.reserveSeqs(this.maxInFlight);
      const offset = i;
      const implicit = this.acks === 'last';
      const flags = implicit ? NLM_F_REQUEST : NLM_F_REQUEST | NLM_F_ACK;
      let count = 0;
      let last = 0;
      while (i < items.length && count < this.maxInFlight) {
        const item = items[i] as BatchItem;
        const mark = w.length;
        w.beginMessage(item.type, flags, (first + count) >>> 0, this.port);
        item.write(w);
        w.endMessage();
        if (count > 0 && w.length > this.maxBatchBytes) {
          w.truncate(mark); // it goes first into the next chunk
          break;
        }
        last = mark;
        count++;
        i++;
      }
      if (implicit) w.addFlags(last, NLM_F_ACK);
      await new Promise<void>((done) => {
        this.chunks.push({
          first,
          count,
          implicit,
          tainted: false,
          offset,
          results,
          remaining: count,
          done,
        });
        this.send(w.bytes(), count);
      });
    }
    return results;
  }

  /** One request with an ACK. */
  async request(type: number, write: PayloadWriter): Promise<BatchResult> {
    const [result] = await this.batch([{ type, write }]);
    return result as BatchResult;
  }

  /**
   * A dump (NLM_F_DUMP): `onMessage` gets each reply as its datagram arrives. Resolves at
   * NLMSG_DONE; rejects with a DumpError carrying the errno. Serialised per socket.
   */
  dump(type: number, write: PayloadWriter, onMessage: DumpHandler): Promise<void> {
    return this.dumpEach(type, 1, write, (_index, buf, start, end) => onMessage(buf, start, end));
  }

  /**
   * `count` dumps back to back (request i written by `write(w, i)`), each started as the
   * previous one's DONE arrives, with one promise for them all: reading 5,000 services'
   * dests is 5,000 dumps, and a promise or two each was a visible part of the read in a
   * freshly started process. Rejects at the first failure (a DumpError naming its index);
   * the dumps after it are not sent. `stop`, when given, is asked as each dump ends: true
   * ends the run there (a DumpStopped), for a caller whose read may give way to other work.
   */
  dumpEach(
    type: number,
    count: number,
    write: (w: NetlinkWriter, index: number) => void,
    onMessage: (index: number, datagram: Buffer, payload: number, payloadEnd: number) => void,
    stop?: () => boolean,
  ): Promise<void> {
    this.checkOpen();
    if (count === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const fail = (errno: number, message: string) =>
        reject(new DumpError(errno, message, pending.index));
      // One record for every dump of the run (a closure or two per dump was visible in a
      // freshly started process); onDumpMessage hands each reply straight to onMessage.
      const pending: PendingDump = {
        tainted: false,
        index: 0,
        onMessage,
        settle: (errno, message) => {
          if (errno !== 0) {
            this.nextDump();
            fail(errno, message ?? `errno ${errno}`);
          } else if (++pending.index < count) {
            if (!stop?.()) return start(); // still this sequence's turn on the socket
            this.nextDump();
            reject(new DumpStopped(pending.index));
          } else {
            this.nextDump();
            resolve();
          }
        },
      };
      // Every request is written up front, in one loop into one buffer, with consecutive
      // sequence numbers; each dump then sends its slice. Written one at a time, the writer's
      // dozen calls per request ran unoptimised for the first thousands of dumps of a fresh
      // process; one loop is optimised early.
      let requests: Buffer | null = null;
      let firstSeq = 0;
      let writing = 0;
      const ends = new Uint32Array(count + 1);
      const writeAll = (): Buffer => {
        firstSeq = this.reserveSeqs(count);
        const w = new NetlinkWriter(Math.min(count, 16384) * 96 + 64);
        for (let i = 0; i < count; i++) {
          writing = i;
          w.beginMessage(type, NLM_F_REQUEST | NLM_F_DUMP, (firstSeq + i) >>> 0, this.port);
          write(w, i);
          w.endMessage();
          ends[i + 1] = w.length;
        }
        return w.bytes();
      };
      const start = () => {
        if (this.closed) return fail(Errno.EIO, 'netlink socket closed');
        try {
          requests ??= writeAll();
        } catch (err) {
          this.nextDump();
          return reject(new DumpError(Errno.EINVAL, (err as Error).message, writing)); // names the request that failed
        }
        const i = pending.index;
        pending.tainted = false;
        this.inFlight = pending;
        this.dumpSeq = (firstSeq + i) >>> 0;
        this.dumpRunning = true;
        try {
          this.send(requests.subarray(ends[i], ends[i + 1]), 1);
        } catch (err) {
          this.inFlight = null;
          this.nextDump();
          fail(Errno.EIO, (err as Error).message);
        }
      };
      if (this.dumpRunning) this.dumpQueue.push({ start, fail });
      else start();
    });
  }

  /**
   * The next queued dump starts as the previous one ends, not a promise hop later:
   * back-to-back dumps are readTable's whole job.
   */
  private nextDump(): void {
    this.dumpRunning = false;
    this.dumpQueue.shift()?.start();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.cancelResume();
    this.failAll(Errno.EIO, 'netlink socket closed');
    for (const queued of this.dumpQueue.splice(0)) queued.fail(Errno.EIO, 'netlink socket closed');
    this.socket.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('netlink socket is closed');
  }

  /** `count` consecutive sequence numbers (never 0, never wrapping inside the range); the first. */
  private reserveSeqs(count: number): number {
    if (this.seq + count + 1 > 0xffffffff) this.seq = 0;
    const first = this.seq + 1;
    this.seq += count;
    return first;
  }

  private send(buf: Buffer, messages: number): void {
    this.counters.sendmsgs++;
    this.counters.messagesSent += messages;
    const errno = this.socket.send(buf);
    if (errno !== 0) this.onSocketError(errno, `sendmsg: ${this.socket.describe(errno)}`);
    this.pump();
  }

  /**
   * Reads every queued datagram while answers are awaited (see the file's comment). A send
   * made by a handler inside the loop (the next dump's request) is read by the same loop.
   */
  private pump(): void {
    if (this.pumping || this.closed) return;
    this.cancelResume();
    this.pumping = true;
    const until = performance.now() + this.sliceMs;
    try {
      while (!this.closed && !this.idle()) {
        const n = this.socket.receive(this.rx);
        if (n === -Errno.EAGAIN) return this.lookAgainLater();
        this.waitMs = 0;
        if (n < 0) this.onSocketError(-n, `recvmsg: ${this.socket.describe(-n)}`);
        else if (n > this.rx.length)
          this.onSocketError(
            Errno.EMSGSIZE,
            `netlink datagram of ${n} bytes truncated to ${this.rx.length}: the receive buffer is too small`,
          );
        else this.onDatagram(this.rx, n);
        // The clock every CLOCK_EVERY datagrams: a reading per datagram was a visible part
        // of a fresh process's read (2000 datagrams for 10,000 dests).
        if (++this.sinceClock >= CLOCK_EVERY) {
          this.sinceClock = 0;
          if (performance.now() >= until) return this.nextSlice();
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /** The slice is over: the event loop turns once, then the loop goes on. */
  private nextSlice(): void {
    if (!this.closed && !this.idle()) this.resume ??= setImmediate(() => this.resumePump());
  }

  /**
   * Answers awaited and none queued. The kernel's own families answer inside the send, so
   * this is a scripted socket, or answers lost to an overflow (the drain timer then ends
   * the wait): look again after 1, 2, 4 ... MAX_WAIT_MS ms.
   */
  private lookAgainLater(): void {
    this.waitMs = Math.min(MAX_WAIT_MS, this.waitMs * 2 || 1);
    this.resume ??= setTimeout(() => this.resumePump(), this.waitMs);
  }

  private resumePump(): void {
    this.resume = null;
    this.pump();
  }

  private cancelResume(): void {
    if (this.resume === null) return;
    clearTimeout(this.resume as NodeJS.Timeout);
    clearImmediate(this.resume as NodeJS.Immediate);
    this.resume = null;
  }

  /** The datagram in the first `length` bytes of `buf` (the receive buffer, reused). */
  private onDatagram(buf: Buffer, length: number): void {
    this.counters.datagramsReceived++;
    if (this.drainTimer) this.drainTimer.refresh();
    const m = this.cursor.reset(buf, length);
    for (;;) {
      try {
        if (!m.next()) break;
      } catch (err) {
        this.onSocketError(Errno.EIO, `malformed netlink datagram: ${(err as Error).message}`);
        return;
      }
      this.counters.messagesReceived++;
      if (m.type === NLMSG_NOOP) continue;
      const chunk = this.chunkOf(m.seq);
      if (chunk) this.onBatchMessage(chunk, buf, m);
      else this.onDumpMessage(buf, m);
    }
  }

  private chunkOf(seq: number): Chunk | undefined {
    for (const chunk of this.chunks) if ((seq - chunk.first) >>> 0 < chunk.count) return chunk;
    return undefined;
  }

  private onBatchMessage(chunk: Chunk, buf: Buffer, m: MessageCursor): void {
    const index = chunk.offset + ((m.seq - chunk.first) >>> 0);
    const previous = chunk.results[index];
    if (!unanswered(previous)) return;
    if (m.type === NLMSG_ERROR) {
      // The common case, a plain ACK, is read in place; only refusals are decoded whole.
      const errno = m.payloadEnd - m.payload >= 4 ? 0 - s32At(buf, m.payload) : Errno.EIO; // 0 - x: never -0
      let message: string | undefined;
      if (errno !== 0 && m.flags & NLM_F_ACK_TLVS) {
        try {
          message = decodeAckAt(buf, m.payload, m.payloadEnd, m.flags).message;
        } catch {
          // the errno stands without its text
        }
      }
      if (errno !== 0) this.counters.ackErrors++;
      this.answer(chunk, index, {
        errno,
        replies: previous?.replies ?? NO_REPLIES,
        ...(message === undefined ? {} : { message }),
      });
    } else if (m.type === NLMSG_DONE) {
      const status = m.payloadEnd - m.payload >= 4 ? s32At(buf, m.payload) : 0;
      this.answer(chunk, index, {
        errno: status < 0 ? -status : 0,
        replies: previous?.replies ?? NO_REPLIES,
      });
    } else if (m.type === NLMSG_OVERRUN) {
      this.answer(chunk, index, this.lostResult(previous, Errno.ENOBUFS, 'netlink overrun'));
    } else {
      // A data reply (GET request) before its ACK: kept, the ACK completes the result.
      const replies = previous ? previous.replies : [];
      replies.push({
        type: m.type,
        flags: m.flags,
        seq: m.seq,
        port: m.port,
        data: Buffer.from(buf.subarray(m.payload, m.payloadEnd)), // the receive buffer is reused
      });
      if (!previous) chunk.results[index] = { errno: REPLIES_SO_FAR, replies };
    }
  }

  private answer(chunk: Chunk, index: number, result: BatchResult): void {
    chunk.results[index] = result;
    if (chunk.implicit && index === chunk.offset + chunk.count - 1) this.answerSilent(chunk);
    if (--chunk.remaining === 0) {
      this.chunks.splice(this.chunks.indexOf(chunk), 1);
      chunk.done();
    }
  }

  /**
   * The last message of an implicit chunk is answered: every earlier message without an
   * error ACK succeeded, unless answers were dropped meanwhile (then its outcome is unknown).
   */
  private answerSilent(chunk: Chunk): void {
    const end = chunk.offset + chunk.count - 1;
    for (let k = chunk.offset; k < end; k++) {
      const previous = chunk.results[k];
      if (!unanswered(previous)) continue;
      chunk.results[k] = chunk.tainted
        ? this.lostResult(previous, Errno.ENOBUFS, OVERFLOW_LOST)
        : { errno: 0, replies: previous?.replies ?? NO_REPLIES };
      chunk.remaining--;
    }
  }

  private onDumpMessage(buf: Buffer, m: MessageCursor): void {
    const p = this.inFlight;
    if (!p || m.seq !== this.dumpSeq) return; // an answer to something already given up
    if (m.type === NLMSG_ERROR) {
      this.inFlight = null;
      const ack = decodeAckAt(buf, m.payload, m.payloadEnd, m.flags);
      p.settle(ack.errno, ack.message);
    } else if (m.type === NLMSG_DONE) {
      this.inFlight = null;
      const status = m.payloadEnd - m.payload >= 4 ? s32At(buf, m.payload) : 0;
      if (p.tainted)
        p.settle(Errno.ENOBUFS, 'dump data lost: the netlink receive buffer overflowed (ENOBUFS)');
      else p.settle(status < 0 ? -status : 0);
    } else if (m.type === NLMSG_OVERRUN) {
      this.inFlight = null;
      p.settle(Errno.ENOBUFS, 'netlink overrun');
    } else {
      try {
        p.onMessage(p.index, buf, m.payload, m.payloadEnd);
      } catch (err) {
        this.inFlight = null;
        p.settle(Errno.EIO, (err as Error).message);
      }
    }
  }

  private idle(): boolean {
    return this.chunks.length === 0 && this.inFlight === null;
  }

  /**
   * A failed sendmsg: everything in flight has lost its answer. ENOBUFS on receive: some
   * answers were dropped, but those queued before the overflow still come; so the answers
   * are drained first, and whatever is still unanswered once the socket has been quiet for
   * a while is reported lost. Dumps in flight are tainted (their data may have holes).
   */
  private onSocketError(errno: number, message: string): void {
    if (errno === Errno.ENOBUFS && !message.startsWith('sendmsg')) {
      if (this.inFlight) this.inFlight.tainted = true;
      for (const chunk of this.chunks) chunk.tainted = true;
      if (this.drainTimer) this.drainTimer.refresh();
      else {
        this.drainTimer = setTimeout(() => {
          this.drainTimer = null;
          this.failAll(Errno.ENOBUFS, OVERFLOW_LOST);
        }, DRAIN_QUIET_MS);
      }
      return;
    }
    this.failAll(errno, message);
  }

  private failAll(errno: number, message: string): void {
    const dump = this.inFlight;
    this.inFlight = null;
    dump?.settle(errno, message); // the next queued dump may start: it is sent after the failure
    for (const chunk of [...this.chunks]) {
      chunk.tainted = true; // whatever else answers now, silence proves nothing
      for (let k = chunk.offset; k < chunk.offset + chunk.count; k++) {
        const previous = chunk.results[k];
        if (unanswered(previous)) this.answer(chunk, k, this.lostResult(previous, errno, message));
      }
    }
  }

  /** A request whose answer never came: its outcome is unknown. */
  private lostResult(
    previous: BatchResult | undefined,
    errno: number,
    message: string,
  ): BatchResult {
    this.counters.lostAcks++;
    return { errno, replies: previous?.replies ?? NO_REPLIES, lost: { errno, message } };
  }
}
