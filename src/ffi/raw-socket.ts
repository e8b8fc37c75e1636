/**
 * Raw sockets for Node, over libc.ts's calls: Node's net and dgram cannot open a raw IP or
 * packet socket.
 *
 * Generic on purpose: a socket of any family (ipv4, ipv6, packet) and protocol, integer and
 * byte socket options, multicast membership, bind, sendto, and receiving with ancillary
 * data. Protocol specifics (VRRP, ARP, ICMP) live with their users.
 *
 * Receiving never blocks the event loop and never occupies libuv's shared thread pool
 * (koffi's async calls do, and four blocked reads there stall every fs call): a Receiver
 * runs one worker thread that blocks in poll() and posts each packet to the main thread.
 * All calls here are synchronous and return at once (sockets are non-blocking).
 */
import { addressToBytes, bytesToAddress, familyOf } from '../netlink/inet.js';
import { AF, ERRNO, fail, libc, MSG, POLL, SO, SOCK, SOL } from './libc.js';

export type SocketFamily = 'ipv4' | 'ipv6' | 'packet';

export const IP = {
  tos: 1,
  ttl: 2,
  hdrincl: 3,
  pktinfo: 8,
  recvttl: 12,
  multicastIf: 32,
  multicastTtl: 33,
  multicastLoop: 34,
  addMembership: 35,
  dropMembership: 36,
} as const;
export const IPV6 = {
  checksum: 7,
  unicastHops: 16,
  multicastIf: 17,
  multicastHops: 18,
  multicastLoop: 19,
  joinGroup: 20,
  leaveGroup: 21,
  recvPktinfo: 49,
  pktinfo: 50,
  recvHoplimit: 51,
  hoplimit: 52,
  tclass: 67,
} as const;

/** The index of a network interface; throws when there is none of that name. */
export function interfaceIndex(name: string): number {
  const index = libc().ifNameToIndex(name);
  if (index === 0) fail('if_nametoindex', name);
  return index;
}

/** sockaddr_in / sockaddr_in6 (scope id for link-local IPv6). */
export function encodeSockaddr(address: string, port = 0, scopeId = 0): Buffer {
  const bytes = addressToBytes(address);
  if (familyOf(address) === 'ipv4') {
    const out = Buffer.alloc(16);
    out.writeUInt16LE(AF.ipv4, 0);
    out.writeUInt16BE(port, 2);
    bytes.copy(out, 4, 0, 4);
    return out;
  }
  const out = Buffer.alloc(28);
  out.writeUInt16LE(AF.ipv6, 0);
  out.writeUInt16BE(port, 2);
  bytes.copy(out, 8, 0, 16);
  out.writeUInt32LE(scopeId, 24);
  return out;
}

/** sockaddr_ll for sending a frame on an interface (the frame carries its own link header). */
export function encodeLinkSockaddr(ifindex: number, protocol: number, mac: Uint8Array): Buffer {
  const out = Buffer.alloc(20);
  out.writeUInt16LE(AF.packet, 0);
  out.writeUInt16BE(protocol, 2);
  out.writeInt32LE(ifindex, 4);
  out.writeUInt8(mac.length, 11);
  out.set(mac.subarray(0, 8), 12);
  return out;
}

/** Sender of a received packet, from the sockaddr the kernel filled in. */
function decodeSockaddr(name: Buffer, length: number): { address: string; scopeId: number } {
  const family = length >= 2 ? name.readUInt16LE(0) : 0;
  if (family === AF.ipv4)
    return { address: bytesToAddress(name.subarray(4, 8), 'ipv4'), scopeId: 0 };
  if (family === AF.ipv6)
    return {
      address: bytesToAddress(name.subarray(8, 24), 'ipv6'),
      scopeId: name.readUInt32LE(24),
    };
  return { address: '', scopeId: 0 };
}

/**
 * A copy in an ArrayBuffer of its own size: posting a datagram to the main thread copies
 * the whole buffer underneath (64 KiB for the receive buffer, 8 KiB for Buffer's pool).
 */
function exactCopy(bytes: Uint8Array): Buffer {
  return Buffer.from(new Uint8Array(bytes).buffer);
}

export interface ControlMessage {
  level: number;
  type: number;
  data: Buffer;
}

/** struct cmsghdr { size_t len; int level; int type; data } with 8-byte alignment. */
export function decodeControl(control: Buffer): ControlMessage[] {
  const out: ControlMessage[] = [];
  let offset = 0;
  while (offset + 16 <= control.length) {
    const len = Number(control.readBigUInt64LE(offset));
    if (len < 16 || offset + len > control.length) break;
    out.push({
      level: control.readInt32LE(offset + 8),
      type: control.readInt32LE(offset + 12),
      data: exactCopy(control.subarray(offset + 16, offset + len)),
    });
    offset += (len + 7) & ~7;
  }
  return out;
}

export interface Datagram {
  data: Buffer;
  /** Source address ("" for packet sockets). */
  from: string;
  scopeId: number;
  controls: ControlMessage[];
}

export interface OpenOptions {
  family: SocketFamily;
  /** IP protocol number (112 VRRP, 58 ICMPv6), or the ethertype of a packet socket. */
  protocol: number;
  type?: 'raw' | 'dgram';
}

/** One non-blocking raw socket. */
export class RawSocket {
  private closed = false;
  private constructor(
    readonly fd: number,
    readonly family: SocketFamily,
    readonly protocol: number,
  ) {}

  static open(options: OpenOptions): RawSocket {
    const type = (options.type === 'dgram' ? SOCK.dgram : SOCK.raw) | SOCK.nonblock | SOCK.cloexec;
    // A packet socket takes its ethertype in network byte order.
    const protocol =
      options.family === 'packet'
        ? ((options.protocol & 0xff) << 8) | (options.protocol >> 8)
        : options.protocol;
    const fd = libc().socket(AF[options.family], type, protocol);
    if (fd < 0) fail('socket', `(${options.family}, protocol ${options.protocol})`);
    return new RawSocket(fd, options.family, options.protocol);
  }

  setInt(level: number, name: number, value: number): void {
    const buf = Buffer.alloc(4);
    buf.writeInt32LE(value);
    this.setBytes(level, name, buf);
  }

  setBytes(level: number, name: number, value: Buffer): void {
    if (libc().setsockopt(this.fd, level, name, value, value.length) < 0)
      fail('setsockopt', `(level ${level}, option ${name})`);
  }

  /** SO_BINDTODEVICE: only packets of this interface are received, and sent through it. */
  bindToDevice(ifname: string): void {
    this.setBytes(SOL.socket, SO.bindToDevice, Buffer.from(`${ifname}\0`));
  }

  /** A classic BPF program that returns 0 for every packet: a send-only socket queues nothing. */
  dropAll(): void {
    const program = Buffer.alloc(8); // { code: BPF_RET|BPF_K, jt: 0, jf: 0, k: 0 }
    program.writeUInt16LE(0x06, 0);
    if (
      libc().setsockoptFilter(
        this.fd,
        SOL.socket,
        SO.attachFilter,
        { len: 1, filter: program },
        16,
      ) < 0
    )
      fail('setsockopt', 'SO_ATTACH_FILTER');
  }

  bind(address: string, scopeId = 0): void {
    const sa = encodeSockaddr(address, 0, scopeId);
    if (libc().bind(this.fd, sa, sa.length) < 0) fail('bind', address);
  }

  /** Joins a multicast group on one interface (IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP). */
  joinGroup(group: string, ifindex: number): void {
    if (this.family === 'ipv4') this.setBytes(SOL.ip, IP.addMembership, ipMreqn(group, ifindex));
    else this.setBytes(SOL.ipv6, IPV6.joinGroup, ipv6Mreq(group, ifindex));
  }

  /** The interface multicast leaves by (IP_MULTICAST_IF with ip_mreqn / IPV6_MULTICAST_IF). */
  multicastInterface(ifindex: number): void {
    if (this.family === 'ipv4') this.setBytes(SOL.ip, IP.multicastIf, ipMreqn('0.0.0.0', ifindex));
    else this.setInt(SOL.ipv6, IPV6.multicastIf, ifindex);
  }

  /** Sends one datagram to an IP address (raw IP sockets) or with a sockaddr already encoded. */
  send(data: Uint8Array, to: string | Buffer, scopeId = 0): void {
    const sa = typeof to === 'string' ? encodeSockaddr(to, 0, scopeId) : to;
    const sent = libc().sendto(this.fd, data, data.length, MSG.dontwait, sa, sa.length);
    if (sent < 0) fail('sendto', typeof to === 'string' ? to : '');
  }

  /** One datagram, or null when none is waiting. */
  receive(): Datagram | null {
    return receiveOn(this.fd);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc().close(this.fd);
  }
}

function ipMreqn(group: string, ifindex: number): Buffer {
  const out = Buffer.alloc(12); // { imr_multiaddr, imr_address, imr_ifindex }
  addressToBytes(group).copy(out, 0, 0, 4);
  out.writeInt32LE(ifindex, 8);
  return out;
}

function ipv6Mreq(group: string, ifindex: number): Buffer {
  const out = Buffer.alloc(20); // { ipv6mr_multiaddr, ipv6mr_interface }
  addressToBytes(group).copy(out, 0, 0, 16);
  out.writeInt32LE(ifindex, 16);
  return out;
}

// ---------------------------------------------------------------------------
// Blocking primitives for the receive worker (receive-worker.ts), which owns no koffi call.

/** An eventfd the main thread writes to wake the worker out of poll(). */
export function openWakeFd(): number {
  const fd = libc().eventfd(0, SOCK.nonblock | SOCK.cloexec);
  if (fd < 0) fail('eventfd');
  return fd;
}

export function signalWakeFd(fd: number): void {
  const one = Buffer.alloc(8);
  one.writeBigUInt64LE(1n);
  libc().write(fd, one, 8);
}

export function drainWakeFd(fd: number): void {
  libc().read(fd, Buffer.alloc(8), 8);
}

export function closeFd(fd: number): void {
  libc().close(fd);
}

/**
 * poll() on every fd for input; returns the fds that are readable (or in error).
 * Blocks up to timeoutMs (-1: forever).
 */
export function pollReadable(fds: readonly number[], timeoutMs: number): number[] {
  const set = Buffer.alloc(8 * fds.length);
  fds.forEach((fd, i) => {
    set.writeInt32LE(fd, i * 8);
    set.writeInt16LE(POLL.in, i * 8 + 4);
  });
  const n = libc().poll(set, fds.length, timeoutMs);
  if (n < 0) {
    if (libc().errno() === ERRNO.EINTR) return [];
    fail('poll');
  }
  const ready: number[] = [];
  for (let i = 0; i < fds.length; i++)
    if (set.readInt16LE(i * 8 + 6) !== 0) ready.push(fds[i] as number);
  return ready;
}

/** One datagram from a socket known by its descriptor (the worker's side), or null when none is waiting. */
export function receiveOn(fd: number, size = 65536, controlSize = 256): Datagram | null {
  const data = Buffer.alloc(size);
  const name = Buffer.alloc(28);
  const control = Buffer.alloc(controlSize);
  const msg = {
    name,
    namelen: name.length,
    iov: [{ base: data, len: size }],
    iovlen: 1,
    control,
    controllen: controlSize,
    flags: 0,
  };
  const n = Number(libc().recvmsg(fd, msg, MSG.dontwait));
  if (n < 0) {
    if (libc().errno() === ERRNO.EAGAIN) return null;
    fail('recvmsg');
  }
  const from = decodeSockaddr(name, Number(msg.namelen));
  return {
    data: exactCopy(data.subarray(0, n)),
    from: from.address,
    scopeId: from.scopeId,
    controls: decodeControl(control.subarray(0, Number(msg.controllen))),
  };
}
