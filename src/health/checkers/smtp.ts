/**
 * SMTP: the server's 220 greeting, then 250 to EHLO (RFC 5321 section 4.2: replies may
 * span lines "250-..." and end with "250 ..."). Then QUIT, and its reply is awaited, as
 * keepalived's SMTP_CHECK does: the server logs a clean session and closes first, so the
 * connection's TIME_WAIT is the server's, not lvsd's (see closeConnection).
 */
import type { Socket } from 'node:net';
import type { Checker, CheckSignal } from '../types.js';
import { abortError } from '../types.js';
import { closeConnection, connectTcp, routeOf } from './connect.js';

const MAX_REPLY_BYTES = 64 * 1024;

/** Reads one complete SMTP reply: its code and text. */
function readReply(socket: Socket, signal: CheckSignal): Promise<{ code: number; text: string }> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('end', onEnd);
      signal.removeEventListener('abort', onAbort);
    };
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      const lines = buffered.split('\r\n');
      for (const line of lines.slice(0, -1)) {
        if (/^\d{3} /.test(line) || /^\d{3}$/.test(line)) {
          cleanup();
          return resolve({ code: Number(line.slice(0, 3)), text: buffered.trim() });
        }
        if (!/^\d{3}-/.test(line)) {
          cleanup();
          return reject(new Error(`not an SMTP reply: ${JSON.stringify(line.slice(0, 80))}`));
        }
      }
      if (buffered.length > MAX_REPLY_BYTES) {
        cleanup();
        reject(new Error('SMTP reply too long'));
      }
    };
    const fail = (err: unknown) => {
      cleanup();
      reject(err);
    };
    const onError = fail;
    const onEnd = () => fail(new Error('connection closed before a complete reply'));
    const onAbort = () => fail(abortError(signal));
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('end', onEnd);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export const smtpChecker: Checker<'smtp'> = {
  type: 'smtp',
  prepare(config, target) {
    const route = routeOf(config, target);
    return async (signal) => {
      const socket = await connectTcp(route, signal);
      const abort = () => closeConnection(socket);
      signal.addEventListener('abort', abort, { once: true });
      try {
        const banner = await readReply(socket, signal);
        if (banner.code !== 220)
          return { ok: false, message: `banner ${banner.text.slice(0, 120)}` };
        socket.write(`EHLO ${config.ehlo}\r\n`);
        const ehlo = await readReply(socket, signal);
        if (ehlo.code !== 250)
          return { ok: false, message: `EHLO answered ${ehlo.text.slice(0, 120)}` };
        socket.write('QUIT\r\n');
        // Whatever the server answers to QUIT (or if it just closes), the verdict stands.
        await readReply(socket, signal).catch((err) => {
          if (signal.aborted) throw err;
        });
        return { ok: true, message: `banner 220, EHLO 250` };
      } finally {
        signal.removeEventListener('abort', abort);
        closeConnection(socket);
      }
    };
  },
};
