/**
 * A TCP (optionally TLS) connection that ends with the abort signal: the shared first step
 * of the tcp and smtp checkers.
 */
import net from 'node:net';
import type { CheckTarget } from '../types.js';
import { abortError } from '../types.js';

/** Connects and resolves with the open socket; destroys it and rejects if the signal aborts. */
export function connectTcp(target: CheckTarget, signal: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal));
    const socket = net.connect({ host: target.address, port: target.port, ...(target.source ? { localAddress: target.source } : {}) });
    const onAbort = () => {
      socket.destroy();
      reject(abortError(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      resolve(socket);
    });
    socket.once('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(err);
    });
  });
}
