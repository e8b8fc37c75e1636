/**
 * The shared first steps of the checkers: where a check goes (its Route: the target, with
 * the check's source port and the interface of link-local addresses), a TCP connection
 * that ends with the abort signal (tcp, http, smtp, dns over TCP), and a UDP exchange (udp,
 * dns over UDP).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { CheckTarget, CheckSignal } from '../types.js';
import { abortError } from '../types.js';

/** Where a check connects to and from. */
export interface Route {
  address: string;
  port: number;
  source?: string | undefined;
  sourcePort?: number | undefined;
}

/** The binding settings of a check (keepalived's bind_port and bind_if). */
export interface Binding {
  source_port?: number | undefined;
  interface?: string | undefined;
}

/** fe80::/10: an address that means something only together with an interface. */
export function isLinkLocal(address: string | undefined): boolean {
  return address !== undefined && net.isIPv6(address) && /^fe[89ab]/i.test(address);
}

/**
 * The route of a check: the target, its link-local addresses scoped to `interface`
 * ("fe80::1%eth1", as the socket calls take them) and the source port. Throws (a failing
 * check, logged once) when `interface` is set and no address is link-local: Node's sockets
 * cannot be bound to a device, and ignoring the setting would check another path than the
 * one asked for.
 */
export function routeOf(binding: Binding, target: CheckTarget): Route {
  const iface = binding.interface;
  if (iface !== undefined && !isLinkLocal(target.address) && !isLinkLocal(target.source))
    throw new Error(
      `interface ${iface} applies to link-local IPv6 addresses (fe80::/10), and neither ` +
        `${target.address} nor the source is one`,
    );
  const scoped = (address: string) =>
    iface !== undefined && isLinkLocal(address) ? `${address}%${iface}` : address;
  return {
    address: scoped(target.address),
    port: target.port,
    ...(target.source ? { source: scoped(target.source) } : {}),
    ...(binding.source_port ? { sourcePort: binding.source_port } : {}),
  };
}

/** Connects and resolves with the open socket; destroys it and rejects if the signal aborts. */
export function connectTcp(target: Route, signal: CheckSignal): Promise<net.Socket> {
  return connectThen(target, signal, (socket) => socket);
}

/**
 * Connects and resolves with what `use` makes of the open socket, called in the connect
 * event itself (the tcp check resets it there: one promise per check, not three).
 */
export function connectThen<T>(
  target: Route,
  signal: CheckSignal,
  use: (socket: net.Socket) => T,
): Promise<T> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal));
    const socket = net.connect({
      host: target.address,
      port: target.port,
      ...(target.source ? { localAddress: target.source } : {}),
      ...(target.sourcePort ? { localPort: target.sourcePort } : {}),
    });
    const onAbort = () => {
      socket.destroy();
      reject(abortError(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      resolve(use(socket));
    });
    socket.once('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(err);
    });
  });
}

/**
 * Closes a connection a check is done with (its answer in, or its time up). Unless the
 * server has closed it already, with a reset: lvsd closing first would leave it in
 * TIME_WAIT on this side for a minute, and a check with a fixed `source_port` could not
 * connect again until then (EADDRNOTAVAIL). `stream` is what the check reads: the TLS
 * stream over `tcp`, or `tcp` itself.
 */
export function closeConnection(tcp: net.Socket, stream: net.Socket = tcp): void {
  if (stream.readableEnded || tcp.destroyed || tcp.connecting) tcp.destroy();
  else tcp.resetAndDestroy();
  stream.destroy();
}

/** The real answered a UDP datagram with ICMP port unreachable: nothing listens there. */
export class PortUnreachable extends Error {
  constructor() {
    super('ICMP port unreachable');
  }
}

/**
 * Sends one datagram and resolves with the first reply that `accept` takes (others are
 * strays, e.g. answers to an earlier, timed-out query). The socket is connected, so the
 * kernel hands an ICMP port unreachable back to it as ECONNREFUSED: a PortUnreachable at
 * once, rather than a timeout.
 */
export function udpExchange(
  target: Route,
  payload: Buffer,
  signal: CheckSignal,
  accept: (reply: Buffer) => boolean = () => true,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal));
    const socket = dgram.createSocket(net.isIPv6(target.address) ? 'udp6' : 'udp4');
    let settled = false;
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      socket.close();
      settle();
    };
    const onAbort = () => finish(() => reject(abortError(signal)));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (err: NodeJS.ErrnoException) =>
      finish(() => reject(err.code === 'ECONNREFUSED' ? new PortUnreachable() : err)),
    );
    socket.on('message', (reply) => {
      if (accept(reply)) finish(() => resolve(reply));
    });
    const connect = () => socket.connect(target.port, target.address, () => socket.send(payload));
    if (target.source || target.sourcePort)
      socket.bind({ address: target.source, port: target.sourcePort ?? 0 }, connect);
    else connect();
  });
}
