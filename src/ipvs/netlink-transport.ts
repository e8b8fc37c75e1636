/**
 * Netlink request / ACK / dump machinery over the `netlink` package's RawNetlinkSocket
 * (one send() = one sendmsg; each received datagram is one 'message' event). Nothing here
 * knows IPVS: kernel-client.ts builds the messages.
 *
 * Batches: many requests, each with NLM_F_ACK and its own sequence number, are concatenated
 * into one sendmsg. The kernel handles every message of a sendmsg in order and answers each
 * with its own NLMSG_ERROR (errno 0 = ACK) carrying the request's sequence number, so each
 * result is attributed to the exact request, and a refusal does not stop the rest.
 * Every ACK is one skb in our receive queue (about 1 KiB of SO_RCVBUF with its overhead), and
 * the kernel drops ACKs that do not fit (ENOBUFS on our next recvmsg). So a batch goes out in
 * chunks of at most `maxInFlight` messages and `maxBatchBytes` bytes, the next chunk leaving
 * only when every ACK of the previous one is in. If ACKs are lost anyway, the requests
 * without an answer are reported as lost (their outcome unknown), never as done.
 *
 * Dumps are streamed: each datagram is handed over when it arrives; the kernel runs one dump
 * at a time per socket, so dumps are serialised here.
 */
import { RawNetlinkSocket, type NetlinkMessage } from 'netlink';
import { decodeAck, frameMessage, splitMessages } from './codec.js';
import { Errno, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN } from './constants.js';

export interface TransportOptions {
  /** Messages per sendmsg (each awaiting its ACK before the next chunk goes out). */
  maxInFlight?: number;
  /** Bytes per sendmsg (the kernel refuses more than SO_SNDBUF - 32). */
  maxBatchBytes?: number;
  /** SO_RCVBUF to ask for (the kernel caps it at net.core.rmem_max, then doubles it). */
  recvBufferSize?: number;
  /** SO_SNDBUF to ask for (capped at net.core.wmem_max, then doubled). */
  sendBufferSize?: number;
}

export interface BatchItem {
  type: number;
  payload: Buffer;
}

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

interface Pending {
  /** A dump whose data may have been dropped by an overflow: its DONE cannot be trusted. */
  tainted?: boolean;
  dump?: boolean;
  data(msg: NetlinkMessage): void;
  ack(errno: number, message?: string): void;
  done(errno: number): void;
  fail(errno: number, message: string): void;
}

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
  ) {
    super(message);
  }
}

export class NetlinkTransport {
  private readonly pending = new Map<number, Pending>();
  private seq = ((Date.now() & 0x7fffff) << 4) >>> 0;
  private readonly port: number;
  private dumpChain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private drainTimer: NodeJS.Timeout | null = null;
  readonly maxInFlight: number;
  readonly maxBatchBytes: number;
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
    this.maxBatchBytes = Math.max(4096, Math.min(options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES, sndbuf - 1024));
    socket.on('message', (buf) => this.onDatagram(buf));
    socket.on('error', (err) => this.onSocketError(err.errno ?? Errno.EIO, err.message));
    socket.unref();
  }

  static open(protocol: number, options: TransportOptions = {}): NetlinkTransport {
    const socket = new RawNetlinkSocket(protocol, {
      recvBufferSize: options.recvBufferSize ?? DEFAULT_RCVBUF,
      sendBufferSize: options.sendBufferSize ?? DEFAULT_SNDBUF,
    });
    return new NetlinkTransport(socket, options);
  }

  /** SO_RCVBUF as granted. */
  get recvBufferSize(): number {
    return this.socket.getRecvBufferSize();
  }

  /** Sends every item with NLM_F_REQUEST | NLM_F_ACK, chunked; one result per item, in order. */
  async batch(items: readonly BatchItem[]): Promise<BatchResult[]> {
    this.checkOpen();
    const results: BatchResult[] = new Array(items.length);
    let i = 0;
    while (i < items.length) {
      const frames: Buffer[] = [];
      const waits: Array<Promise<void>> = [];
      let bytes = 0;
      while (i < items.length && frames.length < this.maxInFlight) {
        const item = items[i] as BatchItem;
        const seq = this.nextSeq();
        const frame = frameMessage(item.type, NLM_F_REQUEST | NLM_F_ACK, seq, this.port, item.payload);
        if (frames.length > 0 && bytes + frame.length > this.maxBatchBytes) break; // this seq is skipped
        frames.push(frame);
        bytes += frame.length;
        const index = i;
        waits.push(
          new Promise<void>((resolve) => {
            const replies: NetlinkMessage[] = [];
            this.pending.set(seq, {
              data: (msg) => replies.push(msg),
              ack: (errno, message) => {
                if (errno !== 0) this.counters.ackErrors++;
                results[index] = message === undefined ? { errno, replies } : { errno, message, replies };
                resolve();
              },
              done: (errno) => {
                results[index] = { errno, replies };
                resolve();
              },
              fail: (errno, message) => {
                this.counters.lostAcks++;
                results[index] = { errno, replies, lost: { errno, message } };
                resolve();
              },
            });
          }),
        );
        i++;
      }
      this.send(frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames, bytes), frames.length);
      await Promise.all(waits);
    }
    return results;
  }

  /** One request with an ACK. */
  async request(type: number, payload: Buffer): Promise<BatchResult> {
    const [result] = await this.batch([{ type, payload }]);
    return result as BatchResult;
  }

  /**
   * A dump (NLM_F_DUMP): `onMessage` gets each reply as its datagram arrives. Resolves at
   * NLMSG_DONE; rejects with a DumpError carrying the errno. Serialised per socket.
   */
  dump(type: number, payload: Buffer, onMessage: (msg: NetlinkMessage) => void): Promise<void> {
    this.checkOpen();
    const run = () =>
      new Promise<void>((resolve, reject) => {
        const seq = this.nextSeq();
        const settle = (errno: number, message?: string) =>
          errno === 0 ? resolve() : reject(new DumpError(errno, message ?? `errno ${errno}`));
        this.pending.set(seq, {
          dump: true,
          data: onMessage,
          ack: (errno, message) => settle(errno, message),
          done: (errno) => settle(errno),
          fail: (errno, message) => reject(new DumpError(errno, message)),
        });
        this.send(frameMessage(type, NLM_F_REQUEST | NLM_F_DUMP, seq, this.port, payload), 1);
      });
    const result = this.dumpChain.then(run, run);
    this.dumpChain = result.catch(() => undefined);
    return result;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.failAll(Errno.EIO, 'netlink socket closed');
    this.socket.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('netlink socket is closed');
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    if (this.seq === 0) this.seq = 1;
    return this.seq;
  }

  private send(buf: Buffer, messages: number): void {
    this.counters.sendmsgs++;
    this.counters.messagesSent += messages;
    this.socket.ref();
    this.socket.send(buf, {}, (error) => {
      if (error) this.onSocketError(error.errno, `sendmsg: ${error.message}`);
    });
  }

  private onDatagram(buf: Buffer): void {
    this.counters.datagramsReceived++;
    if (this.drainTimer) this.drainTimer.refresh();
    let messages: NetlinkMessage[];
    try {
      messages = splitMessages(buf);
    } catch (err) {
      this.onSocketError(Errno.EIO, `malformed netlink datagram: ${(err as Error).message}`);
      return;
    }
    for (const msg of messages) {
      this.counters.messagesReceived++;
      const p = this.pending.get(msg.seq);
      if (!p) continue; // an answer to something already given up
      if (msg.type === NLMSG_ERROR) {
        this.pending.delete(msg.seq);
        const ack = decodeAck(msg.data, msg.flags);
        p.ack(ack.errno, ack.message);
      } else if (msg.type === NLMSG_DONE) {
        this.pending.delete(msg.seq);
        const status = msg.data.length >= 4 ? msg.data.readInt32LE(0) : 0;
        if (p.tainted) p.fail(Errno.ENOBUFS, 'dump data lost: the netlink receive buffer overflowed (ENOBUFS)');
        else p.done(status < 0 ? -status : 0);
      } else if (msg.type === NLMSG_NOOP) {
        continue;
      } else if (msg.type === NLMSG_OVERRUN) {
        this.pending.delete(msg.seq);
        p.fail(Errno.ENOBUFS, 'netlink overrun');
      } else {
        try {
          p.data(msg);
        } catch (err) {
          this.pending.delete(msg.seq);
          p.fail(Errno.EIO, (err as Error).message);
        }
      }
    }
    if (this.pending.size === 0 && !this.closed) this.socket.unref();
  }

  /**
   * A failed sendmsg: everything in flight has lost its answer. ENOBUFS on receive: some
   * answers were dropped, but those queued before the overflow still come; so the answers
   * are drained first, and whatever is still unanswered once the socket has been quiet for
   * a while is reported lost. Dumps in flight are tainted (their data may have holes).
   */
  private onSocketError(errno: number, message: string): void {
    if (errno === Errno.ENOBUFS && !message.startsWith('sendmsg')) {
      for (const p of this.pending.values()) if (p.dump) p.tainted = true;
      if (this.drainTimer) this.drainTimer.refresh();
      else {
        this.drainTimer = setTimeout(() => {
          this.drainTimer = null;
          this.failAll(Errno.ENOBUFS, 'answer lost: the netlink receive buffer overflowed (ENOBUFS)');
          if (!this.closed) this.socket.unref();
        }, DRAIN_QUIET_MS);
      }
      return;
    }
    this.failAll(errno, message);
    if (!this.closed) this.socket.unref();
  }

  private failAll(errno: number, message: string): void {
    for (const [seq, p] of this.pending) {
      this.pending.delete(seq);
      p.fail(errno, message);
    }
  }
}
