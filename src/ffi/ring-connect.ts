/**
 * TCP connects through an io_uring (io-uring.ts), for the tcp health check (issue 15): the
 * checks that start together (the scheduler starts a tick's worth in one turn) cost a few
 * io_uring_enter() calls between them instead of five libc calls each. A connect is three
 * entries: socket, then connect once the socket is there, then close; a connected socket
 * is closed with a reset, as tcp-connect.ts does and says why (SO_LINGER 0, set between the
 * socket and the connect: the one libc call left per check, as 6.1 has no setsockopt
 * entry).
 *
 * Entries are handed to the kernel once the calling turn's synchronous work is done (a
 * microtask), and again while the completions queue more. A connect to a local real is over
 * by the time its entry returns from the kernel; one in flight is harvested by a timer of
 * the thread's event loop, 1 ms after, then 2, 4, 8 ms while some remain, as tcp-connect.ts
 * does with its epoll set and for the same reason (the thread's other sockets are libuv's).
 *
 * The errors and their texts are tcp-connect.ts's: the ring reports the connect's errno, and
 * for the errors that the route itself may give at once (no route, an unreachable or
 * prohibit route) tcp-connect.ts tells whether connect() would have failed at once, the
 * one thing Node's text depends on ("- Local (0.0.0.0:0)").
 */
import { enterFd, strikeFd } from './fd-ledger.js';
import { Arena, OP, Ring, SQE_FLAG } from './io-uring.js';
import { AF, libc, SO, SOCK, SOL } from './libc.js';
import { type ConnectCall, type ConnectDone, tcpConnector } from './tcp-connect.js';

/** Connects in flight at once, at most (the scheduler's default concurrency). */
const OPS = 1024;
/** A sockaddr_in6 is 28 bytes. */
const SOCKADDR_SLOT = 32;
const MAX_POLL_DELAY_MS = 8;

/** What an entry's user data says besides its op: the low two bits. */
const KIND = { socket: 0, connect: 1, other: 2 } as const;
/** Where an op is: free, its socket being made, its connect under way. */
const PHASE = { free: 0, socket: 1, connect: 2 } as const;

/** errnos a connect() may return at once, decided by the route before any packet. */
const MAYBE_AT_ONCE = new Set(['ENETUNREACH', 'EHOSTUNREACH', 'EACCES', 'EINVAL']);

/** One thread's connects through its ring. */
export class RingConnector {
  private readonly c = libc();
  private readonly arena = new Arena(OPS, SOCKADDR_SLOT);
  private readonly phase = new Uint8Array(OPS);
  private readonly cancelled = new Uint8Array(OPS);
  private readonly fds = new Int32Array(OPS).fill(-1);
  private readonly lengths = new Uint8Array(OPS);
  private readonly families = new Uint8Array(OPS);
  private readonly dones: Array<ConnectDone | undefined> = new Array(OPS).fill(undefined);
  /** The sockaddr of each op, for the at-once question of a failure. */
  private readonly targets: Array<Buffer | undefined> = new Array(OPS).fill(undefined);
  private readonly free: number[] = [];
  private flushing = false;
  private timer: NodeJS.Timeout | undefined;
  private delay = 1;
  private readonly linger = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]); // { l_onoff 1, l_linger 0 }
  private readonly onCompletion = (userData: number, result: number) =>
    this.completed(userData, result);
  private readonly flushSoon = () => this.flush();

  constructor(private readonly ring: Ring) {
    for (let op = OPS - 1; op >= 0; op--) this.free.push(op);
  }

  /** Connects in flight. */
  get inFlight(): number {
    return OPS - this.free.length;
  }

  /**
   * Connects to `to` and calls `done` once, later (never before returning). The op, for
   * cancel; -1 when every op is taken (the caller connects another way).
   */
  connect(to: Buffer, done: ConnectDone): number {
    const op = this.free.pop();
    if (op === undefined) return -1;
    this.arena.write(op, to);
    this.lengths[op] = to.length;
    this.families[op] = to.readUInt16LE(0) === AF.ipv6 ? AF.ipv6 : AF.ipv4;
    this.dones[op] = done;
    this.targets[op] = to;
    this.cancelled[op] = 0;
    this.phase[op] = PHASE.socket;
    this.submit(
      OP.socket,
      0,
      this.families[op] ?? AF.ipv4,
      0,
      0,
      SOCK.stream | SOCK.nonblock | SOCK.cloexec,
      op,
      KIND.socket,
    );
    return op;
  }

  /** Drops a connect in flight: its socket is closed, `done` never called. */
  cancel(op: number): void {
    if (op < 0 || op >= OPS || this.phase[op] === PHASE.free || this.cancelled[op]) return;
    this.cancelled[op] = 1;
    this.dones[op] = undefined;
    // A socket still being made is closed when it comes (completed); a connect is cancelled
    // in the kernel, and its completion closes the socket.
    if (this.phase[op] === PHASE.connect)
      this.submit(
        OP.asyncCancel,
        SQE_FLAG.skipSuccess,
        -1,
        userData(op, KIND.connect),
        0,
        0,
        op,
        KIND.other,
      );
  }

  /** Closes the ring; connects in flight are dropped with it. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (let op = 0; op < OPS; op++) {
      const fd = this.fds[op] ?? -1;
      if (fd >= 0) this.closeNow(fd);
      this.fds[op] = -1;
      this.phase[op] = PHASE.free;
    }
    this.ring.close();
  }

  private submit(
    opcode: number,
    flags: number,
    fd: number,
    addr: number,
    len: number,
    off: number,
    op: number,
    kind: number,
  ): void {
    if (!this.ring.prepare(opcode, flags, fd, addr, len, off, userData(op, kind))) {
      // Full: hand over what is queued (it frees the entries) and queue again.
      this.ring.enter();
      this.ring.prepare(opcode, flags, fd, addr, len, off, userData(op, kind));
    }
    if (!this.flushing) {
      this.flushing = true;
      queueMicrotask(this.flushSoon);
    }
  }

  /** Hands the queued entries over and settles what completed, until nothing more is queued. */
  private flush(): void {
    this.flushing = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (let round = 0; round < 8; round++) {
      this.ring.enter();
      this.ring.reap(this.onCompletion);
      if (this.ring.pending === 0) break;
    }
    if (this.inFlight === 0) return;
    this.timer = setTimeout(this.flushSoon, this.delay);
    this.delay = Math.min(this.delay * 2, MAX_POLL_DELAY_MS);
  }

  private completed(data: number, result: number): void {
    const kind = data & 3;
    const op = data >>> 2;
    if (kind === KIND.other || op >= OPS) return;
    this.delay = 1;
    if (kind === KIND.socket) return this.socketMade(op, result);
    this.connectEnded(op, result);
  }

  private socketMade(op: number, result: number): void {
    if (result < 0) return this.finish(op, -result, 'socket');
    enterFd(result);
    this.fds[op] = result;
    if (this.cancelled[op]) return this.release(op);
    this.c.setsockopt(result, SOL.socket, SO.linger, this.linger, 8);
    this.phase[op] = PHASE.connect;
    this.submit(
      OP.connect,
      0,
      result,
      this.arena.address(op),
      0,
      this.lengths[op] ?? 16,
      op,
      KIND.connect,
    );
  }

  private connectEnded(op: number, result: number): void {
    if (this.cancelled[op]) return this.release(op);
    const errno = -result;
    if (errno <= 0) return this.finish(op, 0, 'connect');
    const code = this.c.errnoName(errno);
    const target = this.targets[op];
    const atOnce = MAYBE_AT_ONCE.has(code) && target && tcpConnector().failsAtOnce(target, errno);
    this.finish(op, errno, atOnce ? 'connect-now' : 'connect');
  }

  /** Closes the op's socket (a reset if it connected) and reports. */
  private finish(op: number, errno: number, call: ConnectCall): void {
    const done = this.dones[op];
    this.release(op);
    done?.(errno, errno === 0 ? '' : this.c.errnoName(errno), call, -1);
  }

  /** Frees the op, closing its socket through the ring. */
  private release(op: number): void {
    const fd = this.fds[op] ?? -1;
    if (fd >= 0) {
      strikeFd(fd);
      this.submit(OP.close, SQE_FLAG.skipSuccess, fd, 0, 0, 0, op, KIND.other);
    }
    this.fds[op] = -1;
    this.dones[op] = undefined;
    this.targets[op] = undefined;
    this.phase[op] = PHASE.free;
    this.free.push(op);
  }

  private closeNow(fd: number): void {
    strikeFd(fd);
    this.c.close(fd);
  }
}

function userData(op: number, kind: number): number {
  return (op << 2) | kind;
}

let shared: RingConnector | null | undefined;

/**
 * The calling thread's ring connector, made on first use; null where the kernel has no
 * io_uring with the socket entry (5.19), or LVSD_CHECK_RING=0 asks for the libc path.
 */
export function ringConnector(): RingConnector | null {
  if (shared !== undefined) return shared;
  const ring =
    process.env.LVSD_CHECK_RING === '0'
      ? null
      : Ring.open(2 * OPS, [OP.socket, OP.connect, OP.close, OP.asyncCancel]);
  shared = ring ? new RingConnector(ring) : null;
  return shared;
}

/** Closes the calling thread's ring connector (a check worker stopping). */
export function closeRingConnector(): void {
  shared?.close();
  shared = undefined;
}
