import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { tcpConnector } from '../../src/ffi/tcp-connect.js';
import { listen } from './servers.js';

/** Polls until the predicate holds; fails with the label after timeoutMs. */
export async function waitFor(
  predicate: () => boolean,
  label: string,
  timeoutMs = 10_000,
): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** An HTTP backend whose health a test switches: 200 when healthy, 503 when not; counts requests. */
export async function switchableBackend(healthy = true) {
  const state = { healthy, requests: 0, next: undefined as undefined | (() => boolean) };
  const { port, close } = await listen(
    http.createServer((_req, res) => {
      state.requests++;
      const ok = state.next ? state.next() : state.healthy;
      res.writeHead(ok ? 200 : 503).end(ok ? 'ok' : 'sick');
    }),
  );
  return { port, close, state };
}

/**
 * Descriptors this process holds, less the sockets the thread's TCP connector keeps idle
 * for its next connects (ffi/tcp-connect.ts): what a check left open that it should not have.
 */
export function heldFds(): number {
  return readdirSync('/proc/self/fd').length - tcpConnector().idleSockets;
}

/**
 * The kernel's TCP sockets with a local `port` at one end (/proc/net/tcp and tcp6): each
 * one's state (hex: 06 TIME_WAIT, 0A LISTEN) and whether `port` is its far end.
 */
function socketsAt(port: number): Array<{ state: string; toPort: boolean }> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const found: Array<{ state: string; toPort: boolean }> = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6'])
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, remote, state = ''] = line.trim().split(/\s+/);
      const toPort = remote?.endsWith(hex) === true;
      if (toPort || local?.endsWith(hex)) found.push({ state, toPort });
    }
  return found;
}

/**
 * TCP connections from or to a local port still open in the kernel (not LISTEN, nor
 * TIME_WAIT, where no descriptor holds the socket any more). The kernel's view: a test's
 * Node server may miss a reset that came while it did not read.
 */
export function liveConnections(port: number): number {
  return socketsAt(port).filter((s) => s.state !== '0A' && s.state !== '06').length;
}

/** TIME_WAIT sockets whose far end is a local port. */
export function timeWaitsTo(port: number): number {
  return socketsAt(port).filter((s) => s.state === '06' && s.toPort).length;
}
