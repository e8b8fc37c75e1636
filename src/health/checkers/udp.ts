/**
 * UDP: send one datagram, wait for a reply. The socket is connected, so the kernel hands
 * an ICMP port unreachable back to it as ECONNREFUSED: that is a clear "down" at once,
 * rather than a timeout. Up when a reply arrives (matching `expect`, when set).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { Checker } from '../types.js';
import { abortError } from '../types.js';

export const udpChecker: Checker<'udp'> = {
  type: 'udp',
  prepare(config, target) {
    const payload = config.payload_hex !== undefined ? Buffer.from(config.payload_hex, 'hex') : Buffer.from(config.payload, 'utf8');
    const expect = config.expect === undefined ? undefined : new RegExp(config.expect);
    const type = net.isIPv6(target.address) ? 'udp6' : 'udp4';
    return (signal) =>
      new Promise((resolve, reject) => {
        if (signal.aborted) return reject(abortError(signal));
        const socket = dgram.createSocket(type);
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
          finish(() => (err.code === 'ECONNREFUSED' ? resolve({ ok: false, message: 'ICMP port unreachable' }) : reject(err))),
        );
        socket.on('message', (reply) =>
          finish(() => {
            if (!expect || expect.test(reply.toString('latin1'))) resolve({ ok: true, message: `reply of ${reply.length} bytes` });
            else resolve({ ok: false, message: `reply does not match /${config.expect}/` });
          }),
        );
        const connect = () => socket.connect(target.port, target.address, () => socket.send(payload));
        if (target.source) socket.bind({ address: target.source, port: 0 }, connect);
        else connect();
      });
  },
};
