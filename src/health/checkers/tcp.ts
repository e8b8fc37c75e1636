/** TCP connect: up when the three-way handshake completes. The connection is reset at once. */
import type { Checker } from '../types.js';
import { connectTcp } from './connect.js';

export const tcpChecker: Checker<'tcp'> = {
  type: 'tcp',
  prepare(_config, target) {
    return async (signal) => {
      const socket = await connectTcp(target, signal);
      // A reset rather than a FIN: a check leaves no TIME_WAIT on the checker's side.
      socket.resetAndDestroy();
      return { ok: true, message: 'connected' };
    };
  },
};
