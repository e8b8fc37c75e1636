/**
 * TCP connects without Node's net.Socket (libc.ts's calls), for the tcp and http health
 * checks (issue 15): a non-blocking socket() + connect(), then poll() on that one socket,
 * which on a local or loopback real already answers (the handshake is done by the time
 * connect returns); the connects still in flight wait in an epoll set. A connected socket is
 * reset, as keepalived's TCP_CHECK does, leaving no TIME_WAIT on the checker's side; or,
 * asked to keep it (the http check), handed to the caller, who sends and receives on it and
 * waits for it in the same epoll set (watch).
 *
 * The reset is a connect() to AF_UNSPEC (the kernel's tcp_disconnect: the same RST as a
 * close with SO_LINGER 0), and the socket, back to its unconnected state, serves the next
 * connect of its family: making and freeing a socket per check was most of a loopback
 * check's kernel time (under the lab's emulation 365-395 against 193-216 us a check in a
 * bare loop, natively 11 against 9 us). A socket kept open whose server closed first is
 * closed with a FIN as before, and kept too when that close is over within the call (a real
 * on this host). Sockets bound to a source address or port, or to an interface by a
 * link-local address, are closed as before, and at most IDLE_MAX wait per family.
 *
 * Waiting: the epoll set is harvested by a timer of the calling thread's event loop (1 ms
 * after a connect goes pending, then 2, 4, 8 ms while some remain), never by blocking in
 * epoll_wait. The check worker also runs https, smtp, dns and udp checks on Node's sockets,
 * which libuv polls in its own epoll set; a thread blocked in this one would stall them,
 * and Node offers no way to watch one set from the other. Polls cost a few microseconds,
 * are shared by every connect in flight, and happen only while one is in flight.
 *
 * All calls are synchronous and return at once (the sockets are non-blocking).
 */
import { enterFd, strikeFd } from './fd-ledger.js';
import { AF, EPOLL_CTL, ERRNO, libc, MSG, POLL, SHUT_WR, SO, SOCK, SOL, TCP_INFO } from './libc.js';

/** epoll_event is packed on x86_64 (12 bytes) and naturally aligned on arm64 (16). */
const EVENT_SIZE = process.arch === 'x64' ? 12 : 16;
const EVENT_DATA = process.arch === 'x64' ? 4 : 8;
const BATCH = 256;
const MAX_POLL_DELAY_MS = 8;
/** Unconnected sockets kept for the next connects, per family (IPv4, IPv6), by default. */
export const IDLE_MAX = 64;
/** sockaddr with sa_family AF_UNSPEC: connect() to it disconnects a TCP socket. */
const UNSPEC = Buffer.alloc(16);
/** TCP_CLOSE of the kernel's TCP states (tcp_info's first byte). */
const TCP_CLOSE = 7;
/** The events that end a connect: writable (connected), or an error or hang-up. */
const OVER = POLL.out | POLL.err | POLL.hup;

/**
 * Which call failed: connect-now is connect() itself refusing (no route), connect one
 * that failed in flight (refused, unreachable).
 */
export type ConnectCall = 'socket' | 'bind' | 'connect' | 'connect-now';
/**
 * errno 0: connected (and reset, unless the connect was asked to keep the socket: then `fd`
 * is the open socket, the caller's to close with closeSocket); otherwise the call that
 * failed and its errno's name.
 */
export type ConnectDone = (errno: number, code: string, call: ConnectCall, fd: number) => void;
/** An open socket's events (POLL bits) as the epoll set reported them. */
export type SocketEvents = (events: number) => void;

/**
 * What a descriptor in the epoll set waits for: its connect to end, or events on an open
 * socket (the watcher's own function, no record: an http check watches once a run).
 */
type Waiter = { connect: ConnectDone; keep: boolean } | SocketEvents;

/**
 * A table by file descriptor, in an array indexed by it (descriptors are small integers, the
 * lowest free one taken first). A Map or Set of the few sockets in flight resizes its hash
 * table as they come and go, thousands of times a second, and each resize allocates.
 */
class FdTable<T> {
  private readonly slots: Array<T | undefined> = [];
  size = 0;

  get(fd: number): T | undefined {
    return this.slots[fd];
  }

  has(fd: number): boolean {
    return this.slots[fd] !== undefined;
  }

  set(fd: number, value: T): void {
    if (this.slots[fd] === undefined) this.size++;
    this.slots[fd] = value;
  }

  delete(fd: number): boolean {
    if (this.slots[fd] === undefined) return false;
    this.slots[fd] = undefined;
    this.size--;
    return true;
  }

  /** The descriptors in the table, a copy (the caller may delete as it goes). */
  keys(): number[] {
    const fds: number[] = [];
    this.slots.forEach((value, fd) => {
      if (value !== undefined) fds.push(fd);
    });
    return fds;
  }
}

/** The family of an encoded sockaddr (sockaddr_in or sockaddr_in6, see raw-socket.ts's encodeSockaddr). */
function familyOf(sockaddr: Buffer): number {
  return sockaddr.readUInt16LE(0) === AF.ipv6 ? AF.ipv6 : AF.ipv4;
}

/**
 * An IPv6 sockaddr with a scope id (a link-local address and its interface): the connect
 * binds the socket to that interface for good (a disconnect keeps it), so such a socket is
 * not kept for other connects.
 */
function scoped(sockaddr: Buffer): boolean {
  return (
    sockaddr.readUInt16LE(0) === AF.ipv6 && sockaddr.length >= 28 && sockaddr.readUInt32LE(24) !== 0
  );
}

/** One thread's TCP connects: its epoll set, the connects in flight, and the timer that harvests them. */
export class TcpConnector {
  private readonly c = libc();
  private epfd = -1;
  private readonly pending = new FdTable<Waiter>();
  /** Descriptors in the epoll set (a closed descriptor leaves it by itself). */
  private readonly registered = new FdTable<true>();
  /**
   * Sockets kept open (connect's `keep`) and not closed yet; true for those whose connect
   * was over before connect() returned (a real on this host).
   */
  private readonly open = new FdTable<boolean>();
  /** The family of each socket that may be kept for another connect (not bound to a source). */
  private readonly reusable = new FdTable<number>();
  /** Unconnected sockets waiting for a connect, by family. */
  private readonly idle = new Map<number, number[]>([
    [AF.ipv4, []],
    [AF.ipv6, []],
  ]);
  /** socket() calls made (the others' connects reused a socket). */
  socketsMade = 0;
  private readonly idleMax: number;
  private timer: NodeJS.Timeout | undefined;
  private delay = 1;
  // Scratch buffers: one thread, one call at a time.
  private readonly pollfd = Buffer.alloc(8);
  private readonly event = Buffer.alloc(EVENT_SIZE);
  private readonly events = Buffer.alloc(EVENT_SIZE * BATCH);
  private readonly soError = Buffer.alloc(4);
  private readonly soLength = Buffer.alloc(4);
  private readonly tcpState = Buffer.alloc(1);
  private readonly linger = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]); // { l_onoff 1, l_linger 0 }
  private readonly one = Buffer.from([1, 0, 0, 0]);

  /** `idleMax`: idle sockets kept per family (default IDLE_MAX; 0: every socket is closed, as before). */
  constructor(options: { idleMax?: number } = {}) {
    this.idleMax = options.idleMax ?? IDLE_MAX;
  }

  /** Connects in flight and open sockets waited on. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Sockets kept open by connect and not closed yet. */
  get openSockets(): number {
    return this.open.size;
  }

  /** Unconnected sockets kept for the next connects. */
  get idleSockets(): number {
    let count = 0;
    for (const fds of this.idle.values()) count += fds.length;
    return count;
  }

  /**
   * Connects to `to` (from `from` when given: a source address and/or port) and calls
   * `done` once, perhaps before returning. Returns the socket while the connect is in
   * flight (for cancel), or -1 when it is over already. With `keep`, a connected socket
   * stays open for the caller (`done`'s fd), who reads and writes it with recv/send/watch
   * and closes it with closeSocket.
   */
  connect(to: Buffer, from: Buffer | null, done: ConnectDone, keep = false): number {
    const c = this.c;
    const family = familyOf(to);
    const reusable = !from && !scoped(to);
    const fd =
      (reusable ? this.idle.get(family)?.pop() : undefined) ?? this.socket(family, reusable);
    if (fd < 0) return this.failed(-1, 'socket', done);
    if (from) {
      // As libuv does before every TCP bind: a source port in TIME_WAIT can be used again.
      c.setsockopt(fd, SOL.socket, SO.reuseAddr, this.one, 4);
      if (c.bind(fd, from, from.length) < 0) return this.failed(fd, 'bind', done);
    }
    if (c.connect(fd, to, to.length) < 0 && c.errno() !== ERRNO.EINPROGRESS)
      return this.failed(fd, 'connect-now', done);
    const ready = this.pollOne(fd);
    if (ready !== 0) {
      this.finish(fd, ready, done, keep, true);
      return -1;
    }
    this.wait(fd, POLL.out, { connect: done, keep }, done);
    return fd;
  }

  /** Gives a connect in flight another `done` (its first caller only wanted an answer at once). */
  redirect(fd: number, done: ConnectDone): void {
    const waiter = this.pending.get(fd);
    if (waiter && typeof waiter !== 'function')
      this.pending.set(fd, { connect: done, keep: waiter.keep });
  }

  /**
   * Waits for `events` (POLL.in, POLL.out) on an open socket: `on` is called with what
   * came (POLLERR and POLLHUP always may), each harvest while they last, until the socket
   * is watched for others, unwatched or closed. False when the epoll set refused it.
   */
  watch(fd: number, events: number, on: SocketEvents): boolean {
    if (!this.addToSet(fd, events)) return false;
    this.pending.set(fd, on);
    this.schedule();
    return true;
  }

  /** Sends what fits; the bytes sent, or -1 with errno (EAGAIN: the send buffer is full). */
  send(fd: number, data: Buffer): number {
    return this.c.send(fd, data, data.length, MSG.dontwait | MSG.nosignal);
  }

  /** Receives into `into`; the bytes read (0: the peer closed), or -1 with errno (EAGAIN: nothing yet). */
  recv(fd: number, into: Buffer): number {
    return this.c.recv(fd, into, into.length, MSG.dontwait);
  }

  /** errno of the last failed call, with its name. */
  lastError(): { errno: number; code: string } {
    const errno = this.c.errno();
    return { errno, code: this.c.errnoName(errno) };
  }

  /**
   * Ends a socket kept open by connect: with a reset when `reset` (the server learns at once
   * that nobody reads, and this side keeps no TIME_WAIT; the socket is kept for another
   * connect), else closed with a FIN. Its watch ends with it.
   */
  closeSocket(fd: number, reset: boolean): void {
    const local = this.open.get(fd);
    if (local === undefined) return;
    this.open.delete(fd);
    this.pending.delete(fd);
    if (reset) this.reset(fd);
    else if (!local || !this.closeGracefully(fd)) this.closeFd(fd);
  }

  /**
   * Closes with a FIN, as close() would, a connection the server closed first, and keeps
   * the socket when the close is over by then: shutdown() sends the FIN, and from a real on
   * this host the server's ACK has come back within the call (the socket is in TCP_CLOSE).
   * False otherwise (the caller closes it, and the kernel sees the close through); only
   * tried for reals on this host, where one call more saves making a socket.
   */
  private closeGracefully(fd: number): boolean {
    if (!this.reusable.has(fd) || this.c.shutdown(fd, SHUT_WR) < 0) return false;
    this.soLength.writeUInt32LE(1, 0);
    if (this.c.getsockopt(fd, SOL.tcp, TCP_INFO, this.tcpState, this.soLength) < 0) return false;
    return this.tcpState[0] === TCP_CLOSE && this.keepIdle(fd);
  }

  /**
   * Drops a connect in flight (its check timed out or stopped), `done` never called: the
   * socket is disconnected (a reset only if the connection came up meanwhile) and kept,
   * or closed.
   */
  cancel(fd: number): void {
    if (!this.pending.delete(fd)) return;
    if (!this.keepIdle(fd)) this.closeFd(fd);
  }

  /** Closes the epoll set; connects still in flight are cancelled, open sockets reset, idle ones closed. */
  close(): void {
    for (const fd of this.open.keys()) this.closeSocket(fd, true);
    for (const fd of this.pending.keys()) this.cancel(fd);
    for (const fds of this.idle.values()) for (const fd of fds.splice(0)) this.closeFd(fd);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.epfd >= 0) this.closeFd(this.epfd);
    this.epfd = -1;
  }

  /** poll() with no wait: the revents of the socket (0: still connecting). */
  private pollOne(fd: number): number {
    this.pollfd.writeInt32LE(fd, 0);
    this.pollfd.writeInt16LE(POLL.out, 4);
    this.pollfd.writeInt16LE(0, 6);
    if (this.c.poll(this.pollfd, 1, 0) <= 0) return 0;
    return this.pollfd.readInt16LE(6) & OVER;
  }

  private wait(fd: number, events: number, waiter: Waiter, done: ConnectDone): void {
    if (!this.addToSet(fd, events)) return void this.failed(fd, 'connect', done);
    this.pending.set(fd, waiter);
    this.schedule();
  }

  /** Puts the descriptor in the epoll set, or changes what it waits for there. */
  private addToSet(fd: number, events: number): boolean {
    if (this.epfd < 0) {
      this.epfd = this.c.epollCreate(SOCK.cloexec);
      if (this.epfd < 0) return false;
      enterFd(this.epfd);
    }
    this.event.fill(0);
    this.event.writeUInt32LE(events, 0);
    this.event.writeInt32LE(fd, EVENT_DATA);
    const op = this.registered.has(fd) ? EPOLL_CTL.mod : EPOLL_CTL.add;
    if (this.c.epollCtl(this.epfd, op, fd, this.event) < 0) return false;
    this.registered.set(fd, true);
    return true;
  }

  private schedule(): void {
    if (this.timer) return; // The set was empty: the first poll soon, then backing off while connects stay in flight.
    this.delay = 1;
    this.timer = setTimeout(() => this.harvest(), this.delay);
  }

  /** Settles every connect the epoll set has an answer for; polls again later while some remain. */
  private harvest(): void {
    this.timer = undefined;
    for (;;) {
      const n = this.c.epollWait(this.epfd, this.events, BATCH, 0);
      if (n < 0 && this.c.errno() === ERRNO.EINTR) continue;
      for (let i = 0; i < n; i++) {
        const at = i * EVENT_SIZE;
        const fd = this.events.readInt32LE(at + EVENT_DATA);
        const waiter = this.pending.get(fd);
        if (!waiter) continue;
        const events = this.events.readUInt32LE(at);
        if (typeof waiter === 'function') {
          waiter(events);
          continue;
        }
        this.pending.delete(fd);
        this.finish(fd, events, waiter.connect, waiter.keep);
      }
      if (n < BATCH) break;
    }
    if (this.pending.size === 0) return;
    this.delay = Math.min(this.delay * 2, MAX_POLL_DELAY_MS);
    this.timer = setTimeout(() => this.harvest(), this.delay);
  }

  /**
   * The connect is over (`events`: POLLOUT, or POLLERR/POLLHUP, which epoll shares): reset
   * or report, or hand the open socket over (`keep`).
   */
  private finish(
    fd: number,
    events: number,
    done: ConnectDone,
    keep: boolean,
    atOnce = false,
  ): void {
    const errno = events & (POLL.err | POLL.hup) ? this.socketError(fd) : 0;
    if (errno === 0 && keep) {
      this.open.set(fd, atOnce);
      return done(0, '', 'connect', fd);
    }
    if (errno === 0) {
      this.reset(fd);
      return done(0, '', 'connect', -1);
    }
    // Its error read (and so cleared), a socket whose connect failed can connect again too.
    if (!this.keepIdle(fd)) this.closeFd(fd);
    done(errno, this.c.errnoName(errno), 'connect', -1);
  }

  /** A new socket of the family; `reusable`: kept for other connects once done (not bound). */
  private socket(family: number, reusable: boolean): number {
    const fd = this.c.socket(family, SOCK.stream | SOCK.nonblock | SOCK.cloexec, 0);
    if (fd < 0) return fd;
    this.socketsMade++;
    enterFd(fd);
    if (reusable) this.reusable.set(fd, family);
    return fd;
  }

  /** Resets a connection: kept for the next connect if it may be, else closed with SO_LINGER 0. */
  private reset(fd: number): void {
    if (this.keepIdle(fd)) return;
    this.c.setsockopt(fd, SOL.socket, SO.linger, this.linger, 8);
    this.closeFd(fd);
  }

  /**
   * Disconnects the socket (connect to AF_UNSPEC: a connected one is reset) and keeps it for
   * the next connect of its family; false when it is not to be kept (bound to a source, the
   * family's idle list full, or a call refused): the caller then closes it.
   */
  private keepIdle(fd: number): boolean {
    const family = this.reusable.get(fd);
    const idle = family === undefined ? undefined : this.idle.get(family);
    if (!idle || idle.length >= this.idleMax) return false;
    // Out of the epoll set first: an unconnected socket reports EPOLLHUP to every harvest.
    if (this.registered.has(fd)) {
      if (this.c.epollCtl(this.epfd, EPOLL_CTL.del, fd, this.event) < 0) return false;
      this.registered.delete(fd);
    }
    if (this.c.connect(fd, UNSPEC, UNSPEC.length) < 0) return false;
    idle.push(fd);
    return true;
  }

  private socketError(fd: number): number {
    this.soLength.writeUInt32LE(4, 0);
    if (this.c.getsockopt(fd, SOL.socket, SO.error, this.soError, this.soLength) < 0)
      return this.c.errno();
    // A hang-up without an error (a reset after the handshake): the connect did not hold.
    return this.soError.readInt32LE(0) || ERRNO.ECONNRESET;
  }

  /** Every descriptor is closed here: struck out of the thread's fd ledger first (fd-ledger.ts says why). */
  private closeFd(fd: number): void {
    this.registered.delete(fd);
    this.reusable.delete(fd);
    strikeFd(fd);
    this.c.close(fd);
  }

  private failed(fd: number, call: ConnectCall, done: ConnectDone): -1 {
    const errno = this.c.errno();
    if (fd >= 0) this.closeFd(fd);
    done(errno, this.c.errnoName(errno), call, -1);
    return -1;
  }
}

let shared: TcpConnector | null = null;

/** The calling thread's connector, made on first use. */
export function tcpConnector(): TcpConnector {
  shared ??= new TcpConnector();
  return shared;
}

/** Closes the calling thread's connector (a check worker stopping): its epoll set is a process-wide fd. */
export function closeTcpConnector(): void {
  shared?.close();
  shared = null;
}
