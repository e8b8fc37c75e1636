/**
 * The kernel IpvsClient: generic netlink family "IPVS" over one netlink socket from the
 * `netlink` package's native binding (RawNetlinkSocket: one send() is one sendmsg; each
 * received datagram arrives as a 'message' event).
 *
 * Writes are batched: many requests, each with NLM_F_ACK and its own sequence number, are
 * concatenated into one sendmsg. The kernel handles every message of a sendmsg in order and
 * answers each with an ACK (NLMSG_ERROR, errno 0 or not) carrying the request's sequence
 * number, so a refusal is attributed to the exact operation and the rest still applies.
 * Every ACK is a separate skb in our receive queue, so a batch is cut in chunks of at most
 * `maxInFlight` messages, and the next chunk is sent only when all ACKs of the previous one
 * are in: the receive buffer never has to hold more than one chunk of ACKs. If it overflows
 * anyway (ENOBUFS), the operations whose ACK was lost are reported as such: their outcome is
 * unknown, and the caller must re-read the table.
 *
 * Reads are dumps, streamed: each datagram of a multipart reply is decoded when it arrives,
 * and only the decoded objects are kept. The kernel runs one dump at a time per socket, so
 * dumps are serialised.
 */
import { RawNetlinkSocket, type NetlinkMessage } from 'netlink';
import type { AttrStream } from 'netlink';
import { familyOf } from './address.js';
import { describeOpObject, IpvsError, type IpvsClient, type IpvsOp, type IpvsOpResult } from './client.js';
import {
  decodeAck,
  decodeDaemon,
  decodeDest,
  decodeFamilyId,
  decodeInfo,
  decodeService,
  decodeTimeouts,
  findAttribute,
  frameMessage,
  genlPayload,
  getFamilyPayload,
  parseGenl,
  putDaemon,
  putDaemonState,
  putDest,
  putDestKey,
  putService,
  putServiceKey,
  putTimeouts,
  splitMessages,
} from './codec.js';
import {
  CmdAttr,
  Errno,
  GENL_ID_CTRL,
  IPVS_GENL_NAME,
  IpvsCmd,
  NETLINK_GENERIC,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
} from './constants.js';
import { errnoText, IpvsUnavailableError, NO_IPVS_HELP, opError, PERMISSION_HELP, readError, validateOp } from './errors.js';
import type {
  Family,
  IpvsInfo,
  IpvsTable,
  LiveDest,
  LiveService,
  ServiceKey,
  SyncDaemon,
  Timeouts,
} from './model.js';
import { serviceId, serviceKeyOf } from './model.js';

export interface KernelIpvsOptions {
  /**
   * Messages per sendmsg, each awaiting its ACK before the next chunk goes out. An ACK
   * costs about 1 KiB of receive buffer (skb overhead included); the default fits the
   * receive buffer this client asks for with a wide margin.
   */
  maxInFlight?: number;
  /** Upper bound of bytes per sendmsg (the kernel refuses more than SO_SNDBUF - 32). */
  maxBatchBytes?: number;
  /** SO_RCVBUF to ask for (capped by net.core.rmem_max). */
  recvBufferSize?: number;
  /** SO_SNDBUF to ask for (capped by net.core.wmem_max). */
  sendBufferSize?: number;
}

interface Pending {
  data(msg: NetlinkMessage): void;
  ack(errno: number, message?: string): void;
  done(errno: number): void;
  fail(err: Error): void;
}

/** Counters of what went over the socket (benchmarks and tests read them). */
export interface KernelIpvsStats {
  sendmsgs: number;
  messagesSent: number;
  datagramsReceived: number;
  messagesReceived: number;
  ackErrors: number;
}

const DEFAULT_MAX_IN_FLIGHT = 256;
const DEFAULT_MAX_BATCH_BYTES = 128 * 1024;
const DEFAULT_RCVBUF = 4 * 1024 * 1024;
const DEFAULT_SNDBUF = 1024 * 1024;

export class KernelIpvsClient implements IpvsClient {
  private readonly pending = new Map<number, Pending>();
  private seq: number;
  private readonly port: number;
  private dumpChain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly maxInFlight: number;
  private readonly maxBatchBytes: number;
  readonly counters: KernelIpvsStats = { sendmsgs: 0, messagesSent: 0, datagramsReceived: 0, messagesReceived: 0, ackErrors: 0 };

  private constructor(
    private readonly socket: RawNetlinkSocket,
    private family: number,
    options: KernelIpvsOptions,
  ) {
    this.seq = (Date.now() & 0x7fffff) * 16 + 1;
    this.port = socket.address().port;
    const sndbuf = socket.getSendBufferSize();
    this.maxInFlight = Math.max(1, options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
    this.maxBatchBytes = Math.max(4096, Math.min(options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES, sndbuf - 1024));
    socket.on('message', (buf) => this.onDatagram(buf));
    socket.on('error', (err) => this.onSocketError(err.errno ?? 0, err.message));
    socket.unref();
  }

  /** Opens a socket and resolves the "IPVS" family; throws IpvsUnavailableError with advice. */
  static async open(options: KernelIpvsOptions = {}): Promise<KernelIpvsClient> {
    let socket: RawNetlinkSocket;
    try {
      socket = new RawNetlinkSocket(NETLINK_GENERIC, {
        recvBufferSize: options.recvBufferSize ?? DEFAULT_RCVBUF,
        sendBufferSize: options.sendBufferSize ?? DEFAULT_SNDBUF,
      });
    } catch (err) {
      throw new IpvsUnavailableError('netlink', `Cannot open a generic netlink socket: ${(err as Error).message}`);
    }
    const client = new KernelIpvsClient(socket, 0, options);
    try {
      const replies = await client.request(GENL_ID_CTRL, getFamilyPayload(IPVS_GENL_NAME), 'resolve-family', IPVS_GENL_NAME);
      const first = replies[0];
      const id = first ? decodeFamilyId(parseGenl(first.data).attrs) : null;
      if (id === null) throw new IpvsUnavailableError('no-ipvs', NO_IPVS_HELP, Errno.ENOENT);
      client.family = id;
    } catch (err) {
      socket.close();
      if (err instanceof IpvsError && err.errno === Errno.ENOENT) throw new IpvsUnavailableError('no-ipvs', NO_IPVS_HELP, Errno.ENOENT);
      throw err;
    }
    return client;
  }

  /** The resolved generic netlink family id of "IPVS". */
  get familyId(): number {
    return this.family;
  }

  /** SO_RCVBUF as the kernel granted it. */
  get recvBufferSize(): number {
    return this.socket.getRecvBufferSize();
  }

  // -------------------------------------------------------------------------
  // Reads

  async getInfo(): Promise<IpvsInfo> {
    const [reply] = await this.request(this.family, genlPayload(IpvsCmd.GET_INFO), 'get-info', 'IPVS');
    if (!reply) throw readError('get-info', 'IPVS', Errno.EIO);
    return decodeInfo(parseGenl(reply.data).attrs);
  }

  async getTimeouts(): Promise<Timeouts> {
    const [reply] = await this.request(this.family, genlPayload(IpvsCmd.GET_CONFIG), 'get-timeouts', 'timeouts');
    if (!reply) throw readError('get-timeouts', 'timeouts', Errno.EIO);
    return decodeTimeouts(parseGenl(reply.data).attrs);
  }

  async getService(key: ServiceKey): Promise<LiveService | null> {
    let replies: NetlinkMessage[];
    try {
      replies = await this.request(
        this.family,
        genlPayload(IpvsCmd.GET_SERVICE, (out) => putServiceKey(out, serviceKeyOf(key))),
        'get-service',
        serviceId(key),
      );
    } catch (err) {
      if (err instanceof IpvsError && err.errno === Errno.ESRCH) return null;
      throw err;
    }
    const reply = replies[0];
    if (!reply) return null;
    const nested = findAttribute(parseGenl(reply.data).attrs, CmdAttr.SERVICE);
    return nested ? decodeService(nested) : null;
  }

  async listServices(): Promise<LiveService[]> {
    const services: LiveService[] = [];
    await this.dump(genlPayload(IpvsCmd.GET_SERVICE), 'list-services', 'services', (attrs) => {
      const nested = findAttribute(attrs, CmdAttr.SERVICE);
      if (nested) services.push(decodeService(nested));
    });
    return services;
  }

  async listDests(key: ServiceKey): Promise<LiveDest[]> {
    return this.dumpDests(key);
  }

  async readTable(): Promise<IpvsTable> {
    const services = await this.listServices();
    for (const service of services) service.dests = await this.dumpDests(service, service.family);
    return { services };
  }

  async listDaemons(): Promise<SyncDaemon[]> {
    const daemons: SyncDaemon[] = [];
    await this.dump(genlPayload(IpvsCmd.GET_DAEMON), 'list-daemons', 'sync daemons', (attrs) => {
      const nested = findAttribute(attrs, CmdAttr.DAEMON);
      if (nested) daemons.push(decodeDaemon(nested));
    });
    return daemons;
  }

  private async dumpDests(key: ServiceKey, family: Family = key.family): Promise<LiveDest[]> {
    const dests: LiveDest[] = [];
    await this.dump(
      genlPayload(IpvsCmd.GET_DEST, (out) => putServiceKey(out, serviceKeyOf(key))),
      'list-dests',
      serviceId(key),
      (attrs) => {
        const nested = findAttribute(attrs, CmdAttr.DEST);
        if (nested) dests.push(decodeDest(nested, family));
      },
    );
    return dests;
  }

  // -------------------------------------------------------------------------
  // Writes

  async execute(ops: readonly IpvsOp[]): Promise<IpvsOpResult[]> {
    this.checkOpen();
    const results: IpvsOpResult[] = new Array(ops.length);
    // Encode up front; an operation the kernel could not be sent is refused here.
    const toSend: Array<{ index: number; message: (seq: number) => Buffer }> = [];
    ops.forEach((op, index) => {
      const invalid = validateOp(op);
      if (invalid) {
        results[index] = { ok: false, error: invalid };
        return;
      }
      const payload = encodeOp(op);
      toSend.push({ index, message: (seq) => frameMessage(this.family, NLM_F_REQUEST | NLM_F_ACK, seq, this.port, payload) });
    });

    let i = 0;
    while (i < toSend.length) {
      const chunk: Buffer[] = [];
      const acks: Array<Promise<void>> = [];
      let bytes = 0;
      while (i < toSend.length && chunk.length < this.maxInFlight) {
        const item = toSend[i] as (typeof toSend)[number];
        const seq = this.nextSeq();
        const message = item.message(seq);
        if (chunk.length > 0 && bytes + message.length > this.maxBatchBytes) break;
        // This sequence number is used; if we break above it is simply skipped.
        chunk.push(message);
        bytes += message.length;
        const op = ops[item.index] as IpvsOp;
        const index = item.index;
        acks.push(
          new Promise<void>((resolve) => {
            this.pending.set(seq, {
              data: () => undefined,
              ack: (errno, message) => {
                if (errno !== 0) this.counters.ackErrors++;
                results[index] = errno === 0 ? { ok: true } : { ok: false, error: opError(op, errno, message) };
                resolve();
              },
              done: () => resolve(),
              fail: (err) => {
                results[index] = { ok: false, error: lostError(op, err) };
                resolve();
              },
            });
          }),
        );
        i++;
      }
      this.sendChunk(chunk.length === 1 ? (chunk[0] as Buffer) : Buffer.concat(chunk, bytes), chunk.length);
      await Promise.all(acks);
    }
    return results;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const [seq, p] of this.pending) {
      this.pending.delete(seq);
      p.fail(new Error('client closed'));
    }
    this.socket.close();
  }

  // -------------------------------------------------------------------------
  // Transport

  private checkOpen(): void {
    if (this.closed) throw new Error('IPVS client is closed');
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    if (this.seq === 0) this.seq = 1;
    return this.seq;
  }

  private sendChunk(buf: Buffer, messages: number): void {
    this.counters.sendmsgs++;
    this.counters.messagesSent += messages;
    this.socket.ref();
    this.socket.send(buf, {}, (error) => {
      if (error) this.onSocketError(error.errno, `sendmsg: ${error.message}`);
    });
  }

  private onDatagram(buf: Buffer): void {
    this.counters.datagramsReceived++;
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
      if (!p) continue; // a late answer to something already given up
      if (msg.type === NLMSG_ERROR) {
        this.pending.delete(msg.seq);
        const ack = decodeAck(msg.data, msg.flags);
        p.ack(ack.errno, ack.message);
      } else if (msg.type === NLMSG_DONE) {
        this.pending.delete(msg.seq);
        const errno = msg.data.length >= 4 ? -msg.data.readInt32LE(0) : 0;
        p.done(errno > 0 ? errno : 0);
      } else if (msg.type === NLMSG_NOOP) {
        continue;
      } else if (msg.type === NLMSG_OVERRUN) {
        this.pending.delete(msg.seq);
        p.fail(new SocketFailure(Errno.ENOBUFS, 'netlink overrun'));
      } else {
        try {
          p.data(msg);
        } catch (err) {
          this.pending.delete(msg.seq);
          p.fail(err as Error);
        }
      }
    }
    if (this.pending.size === 0 && !this.closed) this.socket.unref();
  }

  /** A socket-level error (ENOBUFS: ACKs or dump data were dropped) fails everything in flight. */
  private onSocketError(errno: number, message: string): void {
    const failure = new SocketFailure(errno, message);
    for (const [seq, p] of this.pending) {
      this.pending.delete(seq);
      p.fail(failure);
    }
    if (!this.closed) this.socket.unref();
  }

  /**
   * One request with NLM_F_ACK: resolves with the data messages that came before the ACK
   * (GET_INFO, GET_CONFIG, GET_SERVICE, CTRL_CMD_GETFAMILY), rejects with an IpvsError.
   */
  private request(type: number, payload: Buffer, operation: string, object: string): Promise<NetlinkMessage[]> {
    this.checkOpen();
    return new Promise((resolve, reject) => {
      const seq = this.nextSeq();
      const replies: NetlinkMessage[] = [];
      this.pending.set(seq, {
        data: (msg) => replies.push(msg),
        ack: (errno) => (errno === 0 ? resolve(replies) : reject(this.readFailure(operation, object, errno))),
        done: () => resolve(replies),
        fail: (err) => reject(this.readFailure(operation, object, err instanceof SocketFailure ? err.errno : Errno.EIO, err)),
      });
      this.sendChunk(frameMessage(type, NLM_F_REQUEST | NLM_F_ACK, seq, this.port, payload), 1);
    });
  }

  /** A dump: `onReply` gets each reply's attributes as it arrives; serialised per socket. */
  private dump(payload: Buffer, operation: string, object: string, onReply: (attrs: Buffer) => void): Promise<void> {
    this.checkOpen();
    const run = () =>
      new Promise<void>((resolve, reject) => {
        const seq = this.nextSeq();
        this.pending.set(seq, {
          data: (msg) => onReply(parseGenl(msg.data).attrs),
          ack: (errno) => (errno === 0 ? resolve() : reject(this.readFailure(operation, object, errno))),
          done: (errno) => (errno === 0 ? resolve() : reject(this.readFailure(operation, object, errno))),
          fail: (err) => reject(this.readFailure(operation, object, err instanceof SocketFailure ? err.errno : Errno.EIO, err)),
        });
        this.sendChunk(frameMessage(this.family, NLM_F_REQUEST | NLM_F_DUMP, seq, this.port, payload), 1);
      });
    const result = this.dumpChain.then(run, run);
    this.dumpChain = result.catch(() => undefined);
    return result;
  }

  private readFailure(operation: string, object: string, errno: number, cause?: Error): Error {
    if (errno === Errno.EPERM) return new IpvsUnavailableError('permission', PERMISSION_HELP, errno);
    if (cause && !(cause instanceof SocketFailure)) return cause;
    const error = readError(operation, object, errno);
    if (cause) return new IpvsError(operation, object, errno, `${errnoText(errno)} (${cause.message})`);
    return error;
  }
}

class SocketFailure extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

/** The operation's ACK never came: say so, and that its outcome is unknown. */
function lostError(op: IpvsOp, err: Error): IpvsError {
  const errno = err instanceof SocketFailure ? err.errno : Errno.EIO;
  const reason =
    errno === Errno.ENOBUFS
      ? 'Acknowledgement lost: the netlink receive buffer overflowed (ENOBUFS); the kernel may or may not have applied this operation, re-read the table'
      : `No acknowledgement (${err.message}); the kernel may or may not have applied this operation, re-read the table`;
  return new IpvsError(op.op, describeOpObject(op), errno, reason);
}

/** The genl payload (command + attributes) for one operation. */
export function encodeOp(op: IpvsOp): Buffer {
  switch (op.op) {
    case 'add-service':
      return genlPayload(IpvsCmd.NEW_SERVICE, (out) => putService(out, op.service));
    case 'edit-service':
      return genlPayload(IpvsCmd.SET_SERVICE, (out) => putService(out, op.service));
    case 'delete-service':
      return genlPayload(IpvsCmd.DEL_SERVICE, (out) => putServiceKey(out, serviceKeyOf(op.service)));
    case 'add-dest':
      return genlPayload(IpvsCmd.NEW_DEST, (out) => destAttrs(out, op.service, () => putDest(out, op.dest)));
    case 'edit-dest':
      return genlPayload(IpvsCmd.SET_DEST, (out) => destAttrs(out, op.service, () => putDest(out, op.dest)));
    case 'delete-dest': {
      // A dest's family is its address's (an IPv4 dest may serve an IPv6 service through a tunnel).
      const family = familyOf(op.dest.address) ?? op.service.family;
      return genlPayload(IpvsCmd.DEL_DEST, (out) =>
        destAttrs(out, op.service, () => putDestKey(out, { address: op.dest.address, port: op.dest.port }, family)),
      );
    }
    case 'set-timeouts':
      return genlPayload(IpvsCmd.SET_CONFIG, (out) => putTimeouts(out, op.timeouts));
    case 'add-daemon':
      return genlPayload(IpvsCmd.NEW_DAEMON, (out) => putDaemon(out, op.daemon));
    case 'delete-daemon':
      return genlPayload(IpvsCmd.DEL_DAEMON, (out) => putDaemonState(out, op.state));
    case 'zero':
      return genlPayload(IpvsCmd.ZERO, op.service ? (out) => putServiceKey(out, serviceKeyOf(op.service as ServiceKey)) : undefined);
    case 'flush':
      return genlPayload(IpvsCmd.FLUSH);
  }
}

function destAttrs(out: AttrStream, service: ServiceKey, dest: () => void): void {
  putServiceKey(out, serviceKeyOf(service));
  dest();
}

/** For `lvsd` diagnostics: the errno's text. */
export { errnoText };
