/** TCP connect: up when the three-way handshake completes. The connection is reset at once. */
import type { Socket } from 'node:net';
import type { Checker, CheckOutcome } from '../types.js';
import { connectThen, routeOf } from './connect.js';

const CONNECTED: CheckOutcome = Object.freeze({ ok: true, message: 'connected' });

/** A reset rather than a FIN: a check leaves no TIME_WAIT on the checker's side. */
function reset(socket: Socket): CheckOutcome {
  socket.resetAndDestroy();
  return CONNECTED;
}

export const tcpChecker: Checker<'tcp'> = {
  type: 'tcp',
  prepare(config, target) {
    const route = routeOf(config, target);
    return (signal) => connectThen(route, signal, reset);
  },
};
