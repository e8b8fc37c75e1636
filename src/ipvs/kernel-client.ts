/**
 * The kernel IpvsClient: generic netlink family "IPVS", resolved through nlctrl
 * (src/netlink/genl.ts), over one netlink socket (src/netlink/transport.ts: batching, ACK
 * attribution, streamed dumps). This file only knows IPVS: which command each operation is,
 * and how each answer reads (codec.ts).
 *
 * Writes are one batch: every operation its own message with its own sequence number, so a
 * refusal is attributed to the exact operation and the independent rest still applies.
 * Reads are dumps decoded datagram by datagram; only decoded objects are kept.
 */
import { type NetlinkSocketOptions, openNetlinkSocket } from '../ffi/netlink-socket.js';
import { Errno, NETLINK_GENERIC } from '../netlink/constants.js';
import { genlAttrsAt, lookupFamily, parseGenl } from '../netlink/genl.js';
import { familyOf } from '../netlink/inet.js';
import { AttrCursor, type NetlinkMessage } from '../netlink/reader.js';
import {
  DumpError,
  DumpStopped,
  NetlinkTransport,
  SOCKET_BUFFERS,
  type BatchResult,
  type TransportCounters,
  type TransportOptions,
} from '../netlink/transport.js';
import { NetlinkWriter, type PayloadWriter } from '../netlink/writer.js';
import {
  describeOpObject,
  IpvsError,
  type IpvsClient,
  type IpvsOp,
  type IpvsOpResult,
  type ReadOptions,
} from './client.js';
import {
  decodeDaemon,
  decodeInfo,
  decodeTimeouts,
  decodeDestAt,
  decodeServiceAt,
  genlBody,
  putDaemon,
  putDaemonState,
  putDest,
  putDestKey,
  putService,
  putServiceKey,
  putTimeouts,
} from './codec.js';
import { CmdAttr, IPVS_GENL_VERSION, IPVS_GENL_NAME, IpvsCmd } from './constants.js';
import {
  errnoText,
  IpvsUnavailableError,
  newOpChecks,
  NO_IPVS_HELP,
  opError,
  PERMISSION_HELP,
  ReadYielded,
  readError,
  validateOp,
} from './errors.js';
import type {
  IpvsInfo,
  IpvsTable,
  LiveDest,
  LiveService,
  ServiceKey,
  SyncDaemon,
  Timeouts,
} from './model.js';
import { serviceId } from './model.js';

/**
 * Socket and batching knobs (see src/netlink/transport.ts). An ACK costs about 1 KiB of
 * receive buffer (skb overhead included); the defaults fit the receive buffer asked for.
 */
export type KernelIpvsOptions = TransportOptions & NetlinkSocketOptions;

/** What a dump handler's cursor points at before its first reply. */
const NO_BYTES = Buffer.alloc(0);

export class KernelIpvsClient implements IpvsClient {
  private closed = false;

  private constructor(
    private readonly transport: NetlinkTransport,
    private readonly family: number,
  ) {}

  /** Opens a socket and resolves the "IPVS" family; throws IpvsUnavailableError with advice. */
  static async open(options: KernelIpvsOptions = {}): Promise<KernelIpvsClient> {
    let transport: NetlinkTransport;
    try {
      const socket = openNetlinkSocket(NETLINK_GENERIC, {
        recvBufferSize: options.recvBufferSize ?? SOCKET_BUFFERS.recv,
        sendBufferSize: options.sendBufferSize ?? SOCKET_BUFFERS.send,
      });
      transport = new NetlinkTransport(socket, options);
    } catch (err) {
      throw new IpvsUnavailableError(
        'netlink',
        `Cannot open a generic netlink socket: ${(err as Error).message}`,
      );
    }
    return KernelIpvsClient.over(transport);
  }

  /**
   * A client on a transport already open (open() uses it; host benchmarks pass a transport
   * over a scripted socket): resolves the "IPVS" family, closes the transport on failure.
   */
  static async over(transport: NetlinkTransport): Promise<KernelIpvsClient> {
    try {
      const { errno, id } = await lookupFamily(transport, IPVS_GENL_NAME);
      if (errno === Errno.EPERM)
        throw new IpvsUnavailableError('permission', PERMISSION_HELP, Errno.EPERM);
      if (id === null) throw new IpvsUnavailableError('no-ipvs', NO_IPVS_HELP, Errno.ENOENT);
      return new KernelIpvsClient(transport, id);
    } catch (err) {
      transport.close();
      throw err;
    }
  }

  /** The resolved generic netlink family id of "IPVS". */
  get familyId(): number {
    return this.family;
  }

  /** What went over the socket (benchmarks and tests read it). */
  get counters(): TransportCounters {
    return this.transport.counters;
  }

  /** SO_RCVBUF as the kernel granted it. */
  get recvBufferSize(): number {
    return this.transport.recvBufferSize;
  }

  // -------------------------------------------------------------------------
  // Reads

  async getInfo(): Promise<IpvsInfo> {
    const [reply] = await this.request(genlBody(IpvsCmd.GET_INFO), 'get-info', 'IPVS');
    if (!reply) throw readError('get-info', 'IPVS', Errno.EIO);
    return decodeInfo(parseGenl(reply.data).attrs);
  }

  async getTimeouts(): Promise<Timeouts> {
    const [reply] = await this.request(genlBody(IpvsCmd.GET_CONFIG), 'get-timeouts', 'timeouts');
    if (!reply) throw readError('get-timeouts', 'timeouts', Errno.EIO);
    return decodeTimeouts(parseGenl(reply.data).attrs);
  }

  async getService(key: ServiceKey): Promise<LiveService | null> {
    let replies: NetlinkMessage[];
    try {
      replies = await this.request(
        genlBody(IpvsCmd.GET_SERVICE, (w) => putServiceKey(w, key)),
        'get-service',
        serviceId(key),
      );
    } catch (err) {
      if (err instanceof IpvsError && err.errno === Errno.ESRCH) return null;
      throw err;
    }
    return serviceIn(replies[0], true);
  }

  async listServices(options: ReadOptions = {}): Promise<LiveService[]> {
    const services: LiveService[] = [];
    const stats = options.stats !== false;
    const c = new AttrCursor(NO_BYTES);
    await this.dump(
      genlBody(IpvsCmd.GET_SERVICE),
      'list-services',
      'services',
      (buf, start, end) => {
        if (c.reset(buf, start, end).find(CmdAttr.SERVICE))
          services.push(decodeServiceAt(buf, c.value, c.valueEnd, stats));
      },
    );
    return services;
  }

  async listDests(key: ServiceKey, options: ReadOptions = {}): Promise<LiveDest[]> {
    const [dests] = await this.readDests([key], options.stats !== false);
    return dests as LiveDest[];
  }

  async readTable(options: ReadOptions = {}): Promise<IpvsTable> {
    const services = await this.listServices(options);
    if (options.yieldTo?.()) throw new ReadYielded();
    return this.withDests(services, options.stats !== false, options.yieldTo);
  }

  async readServices(keys: readonly ServiceKey[], options: ReadOptions = {}): Promise<IpvsTable> {
    this.checkOpen();
    const stats = options.stats !== false;
    // One sendmsg for every lookup: the kernel answers each GET in turn, and only the last
    // asks for an ACK (the transport's batch), where one request() each cost a round trip.
    const answers = await this.transport.batch(
      keys.map((key) => ({
        type: this.family,
        write: genlBody(IpvsCmd.GET_SERVICE, (w) => putServiceKey(w, key)),
      })),
    );
    const services: LiveService[] = [];
    answers.forEach((answer, i) => {
      const object = serviceId(keys[i] as ServiceKey);
      if (answer.lost)
        throw this.readFailure('get-service', object, answer.lost.errno, answer.lost.message);
      if (answer.errno === Errno.ESRCH) return; // no such service: left out
      if (answer.errno !== 0) throw this.readFailure('get-service', object, answer.errno);
      const found = serviceIn(answer.replies[0], stats);
      if (found) services.push(found);
    });
    return this.withDests(services, stats);
  }

  /** Fills in each service's dests (readDests) and makes the table. */
  private async withDests(
    services: LiveService[],
    stats: boolean,
    yieldTo?: () => boolean,
  ): Promise<IpvsTable> {
    const dests = await this.readDests(services, stats, yieldTo);
    for (const [i, service] of services.entries()) service.dests = dests[i] as LiveDest[];
    return { services };
  }

  /**
   * The dests of each service: one GET_DEST dump each (IPVS has no dump of every dest), back
   * to back. Spreading them over several sockets was measured in the lab and gained
   * nothing: the cost is per datagram, not waiting.
   */
  private async readDests(
    keys: readonly ServiceKey[],
    stats: boolean,
    yieldTo?: () => boolean,
  ): Promise<LiveDest[][]> {
    this.checkOpen();
    const lists: LiveDest[][] = keys.map(() => []);
    const c = new AttrCursor(NO_BYTES);
    try {
      await this.transport.dumpEach(
        this.family,
        keys.length,
        (w, i) => {
          w.genlHeader(IpvsCmd.GET_DEST, IPVS_GENL_VERSION);
          putServiceKey(w, keys[i] as ServiceKey);
        },
        (i, buf, payload, end) => {
          if (c.reset(buf, genlAttrsAt(payload, end), end).find(CmdAttr.DEST))
            (lists[i] as LiveDest[]).push(
              decodeDestAt(buf, c.value, c.valueEnd, (keys[i] as ServiceKey).family, stats),
            );
        },
        yieldTo,
      );
    } catch (err) {
      if (err instanceof DumpStopped) throw new ReadYielded();
      if (err instanceof DumpError)
        throw this.readFailure(
          'list-dests',
          serviceId(keys[err.index] as ServiceKey),
          err.errno,
          err.message,
        );
      throw err;
    }
    return lists;
  }

  async listDaemons(): Promise<SyncDaemon[]> {
    const daemons: SyncDaemon[] = [];
    await this.dump(
      genlBody(IpvsCmd.GET_DAEMON),
      'list-daemons',
      'sync daemons',
      (buf, start, end) => {
        const c = new AttrCursor(buf, start, end);
        if (c.find(CmdAttr.DAEMON)) daemons.push(decodeDaemon(c.slice()));
      },
    );
    return daemons;
  }

  // -------------------------------------------------------------------------
  // Writes

  async execute(ops: readonly IpvsOp[]): Promise<IpvsOpResult[]> {
    this.checkOpen();
    const results: IpvsOpResult[] = new Array(ops.length);
    // An operation the kernel could not even be sent is refused here, before the batch.
    const sendable: number[] = [];
    const checks = newOpChecks();
    ops.forEach((op, index) => {
      const invalid = validateOp(op, checks);
      if (invalid) results[index] = { ok: false, error: invalid };
      else sendable.push(index);
    });
    const keys = new ServiceKeyBytes();
    const answers = await this.transport.batch(
      sendable.map((index) => ({ type: this.family, write: opBody(ops[index] as IpvsOp, keys) })),
    );
    answers.forEach((answer, i) => {
      const index = sendable[i] as number;
      results[index] = opResult(ops[index] as IpvsOp, answer);
    });
    return results;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.transport.close();
  }

  // -------------------------------------------------------------------------

  private checkOpen(): void {
    if (this.closed) throw new Error('IPVS client is closed');
  }

  /** One request with an ACK: the data messages that came before it, or an IpvsError. */
  private async request(
    body: PayloadWriter,
    operation: string,
    object: string,
  ): Promise<NetlinkMessage[]> {
    this.checkOpen();
    const result = await this.transport.request(this.family, body);
    if (result.lost)
      throw this.readFailure(operation, object, result.lost.errno, result.lost.message);
    if (result.errno !== 0) throw this.readFailure(operation, object, result.errno);
    return result.replies;
  }

  /** A dump: `onReply` gets where each reply's attributes lie in its datagram, as it arrives. */
  private async dump(
    body: PayloadWriter,
    operation: string,
    object: string,
    onReply: (buf: Buffer, attrs: number, end: number) => void,
  ): Promise<void> {
    this.checkOpen();
    try {
      await this.transport.dump(this.family, body, (buf, payload, end) =>
        onReply(buf, genlAttrsAt(payload, end), end),
      );
    } catch (err) {
      if (err instanceof DumpError)
        throw this.readFailure(operation, object, err.errno, err.message);
      throw err;
    }
  }

  private readFailure(operation: string, object: string, errno: number, detail?: string): Error {
    if (errno === Errno.EPERM)
      return new IpvsUnavailableError('permission', PERMISSION_HELP, errno);
    if (detail && detail !== `errno ${errno}`)
      return new IpvsError(operation, object, errno, `${errnoText(errno)} (${detail})`);
    return readError(operation, object, errno);
  }
}

/**
 * The service a GET_SERVICE reply holds (none: null), read by offset in the reply's bytes:
 * a scoped pass reads one reply per service, and parseGenl's header object and view of the
 * attributes were garbage per reply.
 */
function serviceIn(reply: NetlinkMessage | undefined, stats: boolean): LiveService | null {
  if (!reply) return null;
  const { data } = reply;
  const c = new AttrCursor(data, genlAttrsAt(0, data.length), data.length);
  return c.find(CmdAttr.SERVICE) ? decodeServiceAt(data, c.value, c.valueEnd, stats) : null;
}

/** One batch answer as the operation's result, in ipvsadm's words. */
function opResult(op: IpvsOp, answer: BatchResult): IpvsOpResult {
  if (answer.lost)
    return { ok: false, error: lostError(op, answer.lost.errno, answer.lost.message) };
  if (answer.errno === 0) return { ok: true };
  return { ok: false, error: opError(op, answer.errno, answer.message) };
}

/** The operation's ACK never came: say so, and that its outcome is unknown. */
function lostError(op: IpvsOp, errno: number, message: string): IpvsError {
  const reason =
    errno === Errno.ENOBUFS
      ? 'Acknowledgement lost: the netlink receive buffer overflowed (ENOBUFS); the kernel may or' +
        ' may not have applied this operation, re-read the table'
      : `No acknowledgement (${message}); the kernel may or may not have applied this operation, re-read the table`;
  return new IpvsError(op.op, describeOpObject(op), errno, reason);
}

/**
 * A batch's service keys, each encoded once (IPVS_CMD_ATTR_SERVICE, identity only) and
 * copied into every dest operation of its service: a 1000 x 10 apply writes 1000 keys, not
 * 10,000, which counts in a fresh process where the writer runs unoptimised (issue 21).
 * By object: the planner hands every dest step of a service the same key object.
 */
export class ServiceKeyBytes {
  private readonly encoded = new Map<ServiceKey, Buffer>();

  put(w: NetlinkWriter, key: ServiceKey): void {
    let bytes = this.encoded.get(key);
    if (!bytes) {
      const own = new NetlinkWriter(64);
      putServiceKey(own, key);
      bytes = own.bytes();
      this.encoded.set(key, bytes);
    }
    w.append(bytes);
  }
}

/** Writes the genl payload (command + attributes) for one operation. */
export function opBody(op: IpvsOp, keys?: ServiceKeyBytes): PayloadWriter {
  return (w) => writeOp(w, op, keys);
}

function writeOp(w: NetlinkWriter, op: IpvsOp, keys: ServiceKeyBytes | undefined): void {
  switch (op.op) {
    case 'add-service':
    case 'edit-service':
      w.genlHeader(
        op.op === 'add-service' ? IpvsCmd.NEW_SERVICE : IpvsCmd.SET_SERVICE,
        IPVS_GENL_VERSION,
      );
      return putService(w, op.service);
    case 'delete-service':
      w.genlHeader(IpvsCmd.DEL_SERVICE, IPVS_GENL_VERSION);
      return putServiceKey(w, op.service);
    case 'add-dest':
    case 'edit-dest':
      w.genlHeader(op.op === 'add-dest' ? IpvsCmd.NEW_DEST : IpvsCmd.SET_DEST, IPVS_GENL_VERSION);
      if (keys) keys.put(w, op.service);
      else putServiceKey(w, op.service);
      return putDest(w, op.dest);
    case 'delete-dest':
      w.genlHeader(IpvsCmd.DEL_DEST, IPVS_GENL_VERSION);
      if (keys) keys.put(w, op.service);
      else putServiceKey(w, op.service);
      // A dest's family is its address's (an IPv4 dest may serve an IPv6 service through a tunnel).
      return putDestKey(w, op.dest, familyOf(op.dest.address) ?? op.service.family);
    case 'set-timeouts':
      w.genlHeader(IpvsCmd.SET_CONFIG, IPVS_GENL_VERSION);
      return putTimeouts(w, op.timeouts);
    case 'add-daemon':
      w.genlHeader(IpvsCmd.NEW_DAEMON, IPVS_GENL_VERSION);
      return putDaemon(w, op.daemon);
    case 'delete-daemon':
      w.genlHeader(IpvsCmd.DEL_DAEMON, IPVS_GENL_VERSION);
      return putDaemonState(w, op.state);
    case 'zero':
      w.genlHeader(IpvsCmd.ZERO, IPVS_GENL_VERSION);
      if (op.service) putServiceKey(w, op.service);
      return;
    case 'flush':
      w.genlHeader(IpvsCmd.FLUSH, IPVS_GENL_VERSION);
      return;
  }
}

/** For `lvsd` diagnostics: the errno's text. */
export { errnoText };
