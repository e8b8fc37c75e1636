/**
 * Netlink request / ACK / dump machinery over the `netlink` package's RawNetlinkSocket
 * (one send() = one sendmsg; each received datagram is one 'message' event). Nothing here
 * knows a family: callers write each message's payload (src/ipvs/kernel-client.ts for IPVS).
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
 * Dumps are streamed: each datagram is handed over when it arrives; the kernel runs one dump
 * at a time per socket, so dumps are serialised here.
 */
// The package's modules one by one: its index also loads nl80211 and wireguard, 5 MiB of
// resident memory lvsd never uses.
import { RawNetlinkSocket } from 'netlink/dist/raw.js';
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
   * Bytes read per datagram. 0: ask each datagram's size first (MSG_PEEK | MSG_TRUNC, two
   * recvmsg per datagram). N: one recvmsg into an N-byte buffer; the kernel then also sizes
   * dump datagrams to N (net/netlink/af_netlink.c: max_recvmsg_len, at most 32 KiB), so a
   * dump takes fewer datagrams. A datagram that does not fit fails what was in flight.
   */
  messageBufferBytes?: number;
  /** SO_RCVBUF to ask for (the kernel caps it at net.core.rmem_max, then doubles it). */
  recvBufferSize?: number;
  /** SO_SNDBUF to ask for (capped at net.core.wmem_max, then doubled). */
  sendBufferSize?: number;
}

export interface BatchItem {
  type: number;
  write: PayloadWriter;
}

/** One reply message of a dump: the datagram and where the message's payload lies in it. */
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
const DEFAULT_RCVBUF = 4 * 1024 * 1024;
const DEFAULT_SNDBUF = 1024 * 1024;

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
  /** The socket is ref'd (keeps the process alive); an unref is pending for the next turn. */
  private held = false;
  private releasing: NodeJS.Immediate | null = null;
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
    private readonly socket: RawNetlinkSocket,
    options: TransportOptions = {},
  ) {
    this.port = socket.address().port;
    const sndbuf = socket.getSendBufferSize();
    this.maxInFlight = Math.max(1, options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
    this.acks = options.acks ?? 'last';
    this.maxBatchBytes = Math.max(
      4096,
      Math.min(options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES, sndbuf - 1024),
    );
    socket.on('message', (buf) => this.onDatagram(buf));
    socket.on('error', (err) => this.onSocketError(err.errno ?? Errno.EIO, err.message));
    socket.on('truncatedMessage', (buf, info) =>
      this.onSocketError(
        Errno.EMSGSIZE,
        `netlink datagram of ${info.truncated ?? '?'} bytes truncated to ${buf.length}: ` +
          'the receive buffer is too small',
      ),
    );
    socket.unref();
  }

  static open(protocol: number, options: TransportOptions = {}): NetlinkTransport {
    const bytes = options.messageBufferBytes ?? 0;
    const socket = new RawNetlinkSocket(protocol, {
      recvBufferSize: options.recvBufferSize ?? DEFAULT_RCVBUF,
      sendBufferSize: options.sendBufferSize ?? DEFAULT_SNDBUF,
      ...(bytes > 0 ? { messagePeeking: false, msgBufferSize: bytes } : {}),
    });
    return new NetlinkTransport(socket, options);
  }

  /** SO_RCVBUF as granted. */
  get recvBufferSize(): number {
    return this.socket.getRecvBufferSize();
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
   * the dumps after it are not sent.
   */
  dumpEach(
    type: number,
    count: number,
    write: (w: NetlinkWriter, index: number) => void,
    onMessage: (index: number, datagram: Buffer, payload: number, payloadEnd: number) => void,
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
            start(); // still this sequence's turn on the socket
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
    if (this.releasing) clearImmediate(this.releasing);
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
    this.holdLoop();
    this.socket.send(buf, {}, (error) => {
      if (error) this.onSocketError(error.errno, `sendmsg: ${error.message}`);
    });
  }

  private onDatagram(buf: Buffer): void {
    this.counters.datagramsReceived++;
    if (this.drainTimer) this.drainTimer.refresh();
    const m = new MessageCursor(buf);
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
    if (this.idle()) this.releaseLoopSoon();
  }

  /**
   * The socket keeps the process alive only while answers are awaited. Releasing it waits
   * for the next turn of the loop: a reader that sends its next dump as soon as the last
   * one is done (readTable: 5,000 in a row) then never pays the two native calls.
   */
  private holdLoop(): void {
    // A pending release stays scheduled: it finds the socket busy and does nothing.
    if (!this.held) this.socket.ref();
    this.held = true;
  }

  private releaseLoopSoon(): void {
    if (!this.held || this.releasing || this.closed) return;
    this.releasing = setImmediate(() => {
      this.releasing = null;
      if (!this.idle() || this.closed) return;
      this.socket.unref();
      this.held = false;
    });
    this.releasing.unref();
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
        data: buf.subarray(m.payload, m.payloadEnd),
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
          this.releaseLoopSoon();
        }, DRAIN_QUIET_MS);
      }
      return;
    }
    this.failAll(errno, message);
    this.releaseLoopSoon();
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
