/**
 * libc through koffi: the one module that loads koffi and declares C calls. Node's net
 * and dgram cannot open a raw IP, packet or netlink socket, nor make a connect without a
 * libuv handle, and the packages that can need a compiler at install; koffi ships prebuilt
 * binaries (its @koromix/koffi-linux-x64 optional dependency, which the lockfile must keep).
 *
 * raw-socket.ts, netlink-socket.ts and tcp-connect.ts build their sockets on these calls
 * and constants; the calls are bound once per thread (a worker thread has its own module
 * instance, and koffi's functions belong to the thread that declared them).
 */
import { createRequire } from 'node:module';

/** Address families of <linux/socket.h>. */
export const AF = { ipv4: 2, ipv6: 10, netlink: 16, packet: 17 } as const;
/** Socket types and the flags socket() and eventfd() take with them (EFD_* equal SOCK_*). */
export const SOCK = { stream: 1, dgram: 2, raw: 3, nonblock: 0o4000, cloexec: 0o2000000 } as const;
/** MSG_TRUNC: a datagram's whole length even when it did not fit. */
export const MSG = { trunc: 0x20, dontwait: 0x40, nosignal: 0x4000 } as const;
/** Option levels and names of <linux/socket.h>, <linux/in.h>, <linux/in6.h> (x86_64 and arm64 agree). */
export const SOL = { socket: 1, ip: 0, tcp: 6, ipv6: 41, packet: 263, icmpv6: 58 } as const;
export const SO = {
  reuseAddr: 2,
  error: 4,
  sndbuf: 7,
  rcvbuf: 8,
  priority: 12,
  linger: 13,
  bindToDevice: 25,
  attachFilter: 26,
} as const;
/**
 * poll() events; epoll's EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP and EPOLLRDHUP have the same
 * values (rdhup: the peer has shut its side down, its FIN has come).
 */
export const POLL = { in: 0x1, out: 0x4, err: 0x8, hup: 0x10, rdhup: 0x2000 } as const;
export const EPOLL_CTL = { add: 1, del: 2, mod: 3 } as const;
/** TCP_INFO (level SOL.tcp): struct tcp_info, whose first byte is the connection's state. */
export const TCP_INFO = 11;
/** shutdown()'s `how`: SHUT_WR ends this side's sending (a FIN). */
export const SHUT_WR = 1;
/** The errno values the socket modules act on (the others are only named, by errnoName). */
export const ERRNO = { EINTR: 4, EBADF: 9, EAGAIN: 11, ECONNRESET: 104, EINPROGRESS: 115 } as const;

export interface Libc {
  socket: (domain: number, type: number, protocol: number) => number;
  setsockopt: (fd: number, level: number, name: number, value: Buffer, len: number) => number;
  setsockoptFilter: (
    fd: number,
    level: number,
    name: number,
    value: unknown,
    len: number,
  ) => number;
  bind: (fd: number, addr: Buffer, len: number) => number;
  connect: (fd: number, addr: Buffer, len: number) => number;
  sendto: (
    fd: number,
    data: Uint8Array,
    len: number,
    flags: number,
    to: Buffer | null,
    tolen: number,
  ) => number;
  recvmsg: (fd: number, msg: Record<string, unknown>, flags: number) => number;
  send: (fd: number, data: Uint8Array, len: number, flags: number) => number;
  recv: (fd: number, into: Uint8Array, len: number, flags: number) => number;
  getsockname: (fd: number, addr: Buffer, len: Buffer) => number;
  getsockopt: (fd: number, level: number, name: number, value: Buffer, len: Buffer) => number;
  poll: (fds: Buffer, count: number, timeout: number) => number;
  epollCreate: (flags: number) => number;
  epollCtl: (epfd: number, op: number, fd: number, event: Buffer) => number;
  epollWait: (epfd: number, events: Buffer, max: number, timeout: number) => number;
  read: (fd: number, buf: Buffer, len: number) => number;
  write: (fd: number, buf: Buffer, len: number) => number;
  close: (fd: number) => number;
  shutdown: (fd: number, how: number) => number;
  eventfd: (initial: number, flags: number) => number;
  ifNameToIndex: (name: string) => number;
  strerror: (errno: number) => string;
  errno: () => number;
  /** errno's symbolic name (ECONNREFUSED), as Node's errors say it. */
  errnoName: (errno: number) => string;
}

let bound: Libc | null = null;

/** Loads koffi and declares the libc calls, once per thread. */
export function libc(): Libc {
  if (bound) return bound;
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  const lib = koffi.load('libc.so.6');
  koffi.struct('lvsd_iovec', { base: 'void *', len: 'size_t' });
  koffi.struct('lvsd_msghdr', {
    name: 'void *',
    namelen: 'uint32_t',
    iov: 'lvsd_iovec *',
    iovlen: 'size_t',
    control: 'void *',
    controllen: 'size_t',
    flags: 'int',
  });
  koffi.struct('lvsd_sock_fprog', { len: 'uint16_t', filter: 'void *' });
  const names = new Map<number, string>(
    Object.entries(koffi.os.errno as Record<string, number>).map(([name, n]) => [n, name]),
  );
  bound = {
    socket: lib.func('int socket(int, int, int)'),
    setsockopt: lib.func('int setsockopt(int, int, int, const void *, uint32_t)'),
    setsockoptFilter: lib.func('int setsockopt(int, int, int, const lvsd_sock_fprog *, uint32_t)'),
    bind: lib.func('int bind(int, const void *, uint32_t)'),
    connect: lib.func('int connect(int, const void *, uint32_t)'),
    sendto: lib.func('intptr_t sendto(int, const void *, size_t, int, const void *, uint32_t)'),
    recvmsg: lib.func('intptr_t recvmsg(int, _Inout_ lvsd_msghdr *, int)'),
    // Plain pointers: koffi hands a Buffer's own memory to the call, nothing is copied.
    send: lib.func('intptr_t send(int, const void *, size_t, int)'),
    recv: lib.func('intptr_t recv(int, void *, size_t, int)'),
    getsockname: lib.func('int getsockname(int, void *, void *)'),
    getsockopt: lib.func('int getsockopt(int, int, int, void *, void *)'),
    poll: lib.func('int poll(_Inout_ void *, uint64_t, int)'),
    epollCreate: lib.func('int epoll_create1(int)'),
    epollCtl: lib.func('int epoll_ctl(int, int, int, void *)'),
    epollWait: lib.func('int epoll_wait(int, _Inout_ void *, int, int)'),
    read: lib.func('intptr_t read(int, _Out_ void *, size_t)'),
    write: lib.func('intptr_t write(int, const void *, size_t)'),
    close: lib.func('int close(int)'),
    shutdown: lib.func('int shutdown(int, int)'),
    eventfd: lib.func('int eventfd(unsigned int, int)'),
    ifNameToIndex: lib.func('unsigned int if_nametoindex(const char *)'),
    strerror: lib.func('const char *strerror(int)'),
    errno: () => koffi.errno(),
    errnoName: (n) => names.get(n) ?? `errno ${n}`,
  };
  return bound;
}

/** A socket call the kernel refused, with errno's name and, for EPERM/EACCES, the capability it needs. */
export class RawSocketError extends Error {
  override readonly name = 'RawSocketError';
  constructor(
    readonly call: string,
    readonly errno: number,
    readonly code: string,
    detail: string,
  ) {
    super(`${call}: ${detail}`);
  }
}

/** Throws the RawSocketError of the call that just failed (errno says why). */
export function fail(call: string, what = ''): never {
  const c = libc();
  const errno = c.errno();
  const code = c.errnoName(errno);
  let detail = `${c.strerror(errno)} (${code})`;
  if (code === 'EPERM' || code === 'EACCES')
    detail += ': raw sockets need CAP_NET_RAW (run as root, or add CAP_NET_RAW to the unit)';
  throw new RawSocketError(what ? `${call} ${what}` : call, errno, code, detail);
}
