/**
 * The shared first steps of the checkers: a TCP connection that ends with the abort signal
 * (tcp, smtp, dns over TCP), and a UDP exchange (udp, dns over UDP).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { CheckTarget, CheckSignal } from '../types.js';
import { abortError } from '../types.js';

/** Connects and resolves with the open socket; destroys it and rejects if the signal aborts. */
export function connectTcp(target: CheckTarget, signal: CheckSignal): Promise<net.Socket> {
  return connectThen(target, signal, (socket) => socket);
}

/**
 * Connects and resolves with what `use` makes of the open socket, called in the connect
 * event itself (the tcp check resets it there: one promise per check, not three).
 */
export function connectThen<T>(
  target: CheckTarget,
  signal: CheckSignal,
  use: (socket: net.Socket) => T,
): Promise<T> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal));
    const socket = net.connect({
      host: target.address,
      port: target.port,
      ...(target.source ? { localAddress: target.source } : {}),
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
  target: CheckTarget,
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
    if (target.source) socket.bind({ address: target.source, port: 0 }, connect);
    else connect();
  });
}
