/**
 * icmp: one echo request, up when its reply comes back (keepalived's PING_CHECK), IPv4 or
 * IPv6, through the raw-socket module (src/ffi): Node has no ICMP sockets of its own.
 *
 * Each check opens its own socket and closes it when it is decided. An ICMP datagram
 * socket ("ping socket") when net.ipv4.ping_group_range lets lvsd's group open one (it
 * governs IPv6 too): no privilege needed, and the kernel sets the identifier and hands the
 * socket only replies that carry it. Otherwise a raw socket (CAP_NET_RAW), which sees
 * every ICMP message of the host: a reply is taken when its identifier, sequence number
 * and payload are the ones sent, and a destination unreachable quoting our request is a
 * failure at once.
 */
import { randomBytes, randomInt } from 'node:crypto';
import net from 'node:net';
import { RawSocketError } from '../../ffi/libc.js';
import { interfaceIndex, RawSocket } from '../../ffi/raw-socket.js';
import { type Received, Receiver } from '../../ffi/receiver.js';
import type { Family } from '../../ipvs/model.js';
import { echoRequest, parseIcmp } from '../icmp-packet.js';
import type { Checker, CheckOutcome, CheckSignal, CheckTarget, PreparedCheck } from '../types.js';
import { abortError } from '../types.js';
import { isLinkLocal } from './connect.js';

const PROTOCOL: Record<Family, number> = { ipv4: 1, ipv6: 58 };

/** Families whose ping sockets this process may not open: raw sockets from then on. */
const pingSocketDenied = new Set<Family>();

/**
 * One receive worker for the icmp checks of the process, held while any of them is on a
 * schedule or under way, and closed when none is: a worker blocked in poll() would keep
 * the process from exiting.
 */
let receiver: Receiver | undefined;
let holders = 0;

function acquire(): Receiver {
  holders++;
  receiver ??= new Receiver();
  return receiver;
}

function release(): void {
  holders--;
  if (holders > 0 || !receiver) return;
  const closing = receiver;
  receiver = undefined;
  void closing.close();
}

let sequence = randomInt(0x10000);

interface IcmpSocket {
  socket: RawSocket;
  /** A raw socket: IPv4 datagrams come with their IP header, and any ICMP message comes. */
  raw: boolean;
}

function openSocket(family: Family): IcmpSocket {
  if (!pingSocketDenied.has(family)) {
    try {
      return {
        socket: RawSocket.open({ family, protocol: PROTOCOL[family], type: 'dgram' }),
        raw: false,
      };
    } catch (err) {
      if (!(err instanceof RawSocketError) || !['EACCES', 'EPERM'].includes(err.code)) throw err;
      pingSocketDenied.add(family);
    }
  }
  return { socket: RawSocket.open({ family, protocol: PROTOCOL[family] }), raw: true };
}

function now(): number {
  return performance.timeOrigin + performance.now();
}

function ping(
  target: CheckTarget,
  iface: string | undefined,
  signal: CheckSignal,
): Promise<CheckOutcome> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal));
    const family: Family = net.isIPv6(target.address) ? 'ipv6' : 'ipv4';
    const { socket, raw } = openSocket(family);
    const rx = acquire();
    let finished = false;
    const finish = (settle: () => void) => {
      if (finished) return;
      finished = true;
      signal.removeEventListener('abort', onAbort);
      // The worker lets go of the descriptor first; only then may it be closed (and reused).
      void rx.unwatch(socket).then(() => {
        socket.close();
        release();
      });
      settle();
    };
    const onAbort = () => finish(() => reject(abortError(signal)));
    const id = randomInt(0x10000);
    const seq = (sequence = (sequence + 1) & 0xffff);
    const payload = Buffer.concat([Buffer.from('lvsd'), randomBytes(12)]);
    let sentAt = 0;
    const onPacket = (packet: Received) => {
      const message = parseIcmp(family, packet.data, raw && family === 'ipv4');
      if (message.kind === 'other' || message.seq !== seq || (raw && message.id !== id)) return;
      if (message.kind === 'unreachable')
        return finish(() =>
          resolve({ ok: false, message: `ICMP ${message.reason} (from ${packet.from})` }),
        );
      if (!message.payload.equals(payload)) return;
      const ms = Math.max(0, packet.at - sentAt).toFixed(1);
      finish(() => resolve({ ok: true, message: `echo reply in ${ms} ms` }));
    };
    try {
      if (iface !== undefined) socket.bindToDevice(iface);
      if (target.source) socket.bind(target.source, scopeOf(target.source, iface));
      signal.addEventListener('abort', onAbort, { once: true });
      rx.watch(socket, onPacket);
      sentAt = now();
      socket.send(
        echoRequest(family, id, seq, payload),
        target.address,
        scopeOf(target.address, iface),
      );
    } catch (err) {
      finish(() => reject(err));
    }
  });
}

function scopeOf(address: string, iface: string | undefined): number {
  return iface !== undefined && isLinkLocal(address) ? interfaceIndex(iface) : 0;
}

export const icmpChecker: Checker<'icmp'> = {
  type: 'icmp',
  prepare(config, target) {
    if (!net.isIP(target.address))
      throw new Error(`${target.address} is not an IP address to ping`);
    const run: PreparedCheck = (signal) => ping(target, config.interface, signal);
    // On a schedule, the check holds the receive worker from its start to its stop, so that
    // the worker is running before the first echo and between two.
    run.watch = () => {
      acquire();
      return release;
    };
    return run;
  },
};
