/**
 * A netlink socket over libc (libc.ts's calls), as src/netlink/transport.ts
 * uses it: one send() is one sendmsg, one receive() one recv into the caller's buffer.
 *
 * Why not the `netlink` package's socket, which lvsd used before: it peeks at every
 * datagram's size (MSG_PEEK | MSG_TRUNC) before reading it into a buffer allocated for it,
 * tries once more until EAGAIN, and delivers the datagrams in a turn of the event loop. A
 * read of 10,000 dests is 1,001 dumps of two datagrams each; `strace -f -c` of a fresh
 * `lvsd plan` in the lab counted 4.7 recvmsg (0.5 of them EAGAIN), 1 sendmsg and 0.65
 * epoll_pwait per dump with the package, 2 recvfrom and 1 sendto with this socket
 * (`ipvsadm -Ln`: 8 recvmsg and 2 sendmsg, on a socket opened per dump;
 * bench/results/2026-12-06-read-loop.md). Here: one recv per datagram, into the caller's
 * reused buffer, never waiting (the transport says why nothing has to wait).
 */
import type { NetlinkSocket } from '../netlink/transport.js';
import { AF, ERRNO, fail, libc, MSG, SO, SOCK, SOL } from './libc.js';

export interface NetlinkSocketOptions {
  /** SO_RCVBUF to ask for (the kernel caps it at net.core.rmem_max, then doubles it). */
  recvBufferSize?: number;
  /** SO_SNDBUF to ask for (capped at net.core.wmem_max, then doubled). */
  sendBufferSize?: number;
}

class FfiNetlinkSocket implements NetlinkSocket {
  private closed = false;
  readonly port: number;

  constructor(private readonly fd: number) {
    this.port = this.boundPort();
  }

  get sendBufferSize(): number {
    return this.getInt(SO.sndbuf);
  }

  get recvBufferSize(): number {
    return this.getInt(SO.rcvbuf);
  }

  send(data: Uint8Array): number {
    if (this.closed) return ERRNO.EBADF;
    const c = libc();
    return c.send(this.fd, data, data.length, MSG.dontwait) < 0 ? c.errno() : 0;
  }

  receive(into: Uint8Array): number {
    if (this.closed) return -ERRNO.EBADF;
    const c = libc();
    // MSG_TRUNC: the datagram's whole length even when it did not fit (truncation is seen, not silent).
    const n = c.recv(this.fd, into, into.length, MSG.dontwait | MSG.trunc);
    return n < 0 ? -c.errno() : n;
  }

  describe(errno: number): string {
    const c = libc();
    return `${c.strerror(errno)} (${c.errnoName(errno)})`;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc().close(this.fd);
  }

  /** Bound with port 0, the kernel picked a free port: getsockname says which. */
  private boundPort(): number {
    const addr = Buffer.alloc(12);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(addr.length);
    if (libc().getsockname(this.fd, addr, len) < 0) fail('getsockname', '(netlink)');
    return addr.readUInt32LE(4);
  }

  setInt(name: number, value: number): void {
    const buf = Buffer.alloc(4);
    buf.writeInt32LE(value);
    if (libc().setsockopt(this.fd, SOL.socket, name, buf, 4) < 0)
      fail('setsockopt', `(netlink, option ${name})`);
  }

  private getInt(name: number): number {
    const buf = Buffer.alloc(4);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(4);
    if (libc().getsockopt(this.fd, SOL.socket, name, buf, len) < 0)
      fail('getsockopt', `(netlink, option ${name})`);
    return buf.readInt32LE(0);
  }
}

/** A netlink socket of `protocol` (NETLINK_GENERIC, ...), bound to a port the kernel picks. */
export function openNetlinkSocket(
  protocol: number,
  options: NetlinkSocketOptions = {},
): NetlinkSocket {
  const c = libc();
  const fd = c.socket(AF.netlink, SOCK.raw | SOCK.nonblock | SOCK.cloexec, protocol);
  if (fd < 0) fail('socket', `(netlink, protocol ${protocol})`);
  try {
    const socket = new FfiNetlinkSocket(bindAnyPort(fd));
    if (options.recvBufferSize) socket.setInt(SO.rcvbuf, options.recvBufferSize);
    if (options.sendBufferSize) socket.setInt(SO.sndbuf, options.sendBufferSize);
    return socket;
  } catch (err) {
    c.close(fd);
    throw err;
  }
}

/** sockaddr_nl { family, pad, pid 0, groups 0 }: pid 0 lets the kernel choose a free port. */
function bindAnyPort(fd: number): number {
  const addr = Buffer.alloc(12);
  addr.writeUInt16LE(AF.netlink, 0);
  if (libc().bind(fd, addr, addr.length) < 0) fail('bind', '(netlink)');
  return fd;
}
