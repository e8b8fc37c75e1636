/**
 * The tcp check without net.Socket (checkers/tcp-epoll.ts, ffi/tcp-connect.ts) against
 * real listeners on loopback, each case run through both paths: the same verdict and the
 * same reason as Node's path (checkers/tcp.ts), and no descriptor left open in this
 * process (/proc/self/fd). Timeouts, unreachable and filtered addresses, link-local
 * addresses and the whole worker pool are in tcp-epoll.netns.test.ts (a namespace of
 * their own, as root).
 */
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckConfig } from '../../src/config/check.js';
import { tcpChecker } from '../../src/health/checkers/tcp.js';
import { failureText, sockaddrOf, tcpEpollChecker } from '../../src/health/checkers/tcp-epoll.js';
import { TcpConnector, tcpConnector } from '../../src/ffi/tcp-connect.js';
import { runCheck } from '../../src/health/attempt.js';
import type { CheckTarget } from '../../src/health/types.js';
import { check } from './fixtures.js';
import { heldFds, timeWaitsTo, waitFor } from './helpers.js';
import { targetAt } from './servers.js';

type Tcp = Extract<CheckConfig, { type: 'tcp' }>;
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

const servers: net.Server[] = [];

/** A listener that drops each connection it accepts; `backlog` 1 fills its accept queue at two. */
async function listen(host: string, port = 0, backlog?: number): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen({ port, host, backlog }, resolve));
  servers.push(server);
  return (server.address() as net.AddressInfo).port;
}

/** A port nothing listens on: one that was listened on, then closed. */
async function closedPort(host: string): Promise<number> {
  const port = await listen(host);
  await new Promise((resolve) => (servers.pop() as net.Server).close(resolve));
  return port;
}

let up4 = 0;
let up6 = 0;
let closed4 = 0;
let closed6 = 0;
let busySource = 0;

beforeAll(async () => {
  up4 = await listen('127.0.0.1');
  up6 = await listen('::1');
  closed4 = await closedPort('127.0.0.1');
  closed6 = await closedPort('::1');
  // A port something listens on cannot be a check's source port.
  busySource = await listen('127.0.0.1');
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

interface Case {
  name: string;
  config: Partial<Tcp>;
  target: () => CheckTarget;
  ok: boolean;
  message: () => string | RegExp;
}

const cases: Case[] = [
  {
    name: 'up over IPv4',
    config: {},
    target: () => targetAt('127.0.0.1', up4),
    ok: true,
    message: () => 'connected',
  },
  {
    name: 'up over IPv6',
    config: {},
    target: () => targetAt('::1', up6),
    ok: true,
    message: () => 'connected',
  },
  {
    name: 'refused over IPv4',
    config: {},
    target: () => targetAt('127.0.0.1', closed4),
    ok: false,
    message: () => `connect ECONNREFUSED 127.0.0.1:${closed4}`,
  },
  {
    name: 'refused over IPv6',
    config: {},
    target: () => targetAt('::1', closed6),
    ok: false,
    message: () => `connect ECONNREFUSED ::1:${closed6}`,
  },
  {
    name: 'from a source address and port, refused',
    config: { source_port: 41_007 },
    target: () => targetAt('127.0.0.1', closed4, { source: '127.0.0.2' }),
    ok: false,
    message: () => `connect ECONNREFUSED 127.0.0.1:${closed4} - Local (127.0.0.2:41007)`,
  },
  {
    name: 'from a source port alone, up',
    config: { source_port: 41_008 },
    target: () => targetAt('127.0.0.1', up4),
    ok: true,
    message: () => 'connected',
  },
  {
    name: 'from a source address this host does not have',
    config: {},
    target: () => targetAt('127.0.0.1', up4, { source: '192.0.2.250' }),
    ok: false,
    message: () => 'bind EADDRNOTAVAIL 192.0.2.250',
  },
  {
    name: 'from a source port in use',
    config: { source_port: 0 },
    target: () => targetAt('127.0.0.1', up4, { source: '127.0.0.1' }),
    ok: false,
    message: () => `bind EADDRINUSE 127.0.0.1:${busySource}`,
  },
  {
    name: 'a host name (Node looks it up: the epoll path hands it to tcp.ts)',
    config: {},
    target: () => targetAt('localhost', up4),
    ok: true,
    message: () => 'connected',
  },
  {
    name: 'a link-local address on an interface that does not exist (the Node path)',
    config: { interface: 'tcpep-none' },
    target: () => targetAt('fe80::1', up4),
    ok: false,
    message: () => new RegExp(`^connect E[A-Z]+ fe80::1%tcpep-none:${up4}$`),
  },
];

describe('tcp check through epoll, on loopback', () => {
  it.each(cases)('$name: the same verdict and reason as net.Socket, no fd left', async (c) => {
    const config = check({
      type: 'tcp',
      ...c.config,
      ...(c.config.source_port === 0 ? { source_port: busySource } : {}),
    }) as Tcp;
    const before = heldFds();
    const epoll = await runCheck(
      tcpEpollChecker.prepare(config, c.target(), () => never()),
      1000,
    );
    const node = await runCheck(
      tcpChecker.prepare(config, c.target(), () => never()),
      1000,
    );
    await settle();
    expect(epoll).toMatchObject({ ok: c.ok, message: c.message(), timedOut: false });
    expect(epoll.message).toBe(node.message);
    expect(epoll.ok).toBe(node.ok);
    expect(heldFds()).toBe(before);
  });

  it('resets the connection: no TIME_WAIT left on the checker side', async () => {
    const config = check({ type: 'tcp', source_port: 41_009 }) as Tcp;
    const run = tcpEpollChecker.prepare(config, targetAt('127.0.0.1', up4), () => never());
    // The same source port five times in a row: a FIN close would leave it in TIME_WAIT,
    // and a connect from it to the same address and port would fail (EADDRNOTAVAIL).
    for (let i = 0; i < 5; i++)
      expect(await runCheck(run, 1000)).toMatchObject({ ok: true, message: 'connected' });
  });

  it('resets the connection without a source too: no TIME_WAIT left towards the real', async () => {
    const run = tcpEpollChecker.prepare(
      check({ type: 'tcp' }) as Tcp,
      targetAt('127.0.0.1', up4),
      () => never(),
    );
    // Counted before too: a socket of another test may linger towards a port used earlier.
    const before = timeWaitsTo(up4);
    for (let i = 0; i < 20; i++)
      expect(await runCheck(run, 1000)).toMatchObject({ ok: true, message: 'connected' });
    await settle();
    expect(timeWaitsTo(up4)).toBe(before);
  });

  it('runs a thousand checks with as many descriptors open after as before', async () => {
    const up = tcpEpollChecker.prepare(
      check({ type: 'tcp' }) as Tcp,
      targetAt('127.0.0.1', up4),
      () => never(),
    );
    const down = tcpEpollChecker.prepare(
      check({ type: 'tcp' }) as Tcp,
      targetAt('::1', closed6),
      () => never(),
    );
    const before = heldFds();
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => runCheck(i % 2 ? up : down, 2000)),
    );
    await settle();
    expect(results.filter((r) => r.ok)).toHaveLength(500);
    expect(results.filter((r) => !r.ok && /ECONNREFUSED/.test(r.message))).toHaveLength(500);
    expect(heldFds()).toBe(before);
  });

  it('answers a connect that had to wait in the epoll set (a full accept queue: the SYN sent again)', async () => {
    // backlog 1: two connections wait to be accepted, the third and fourth SYNs are dropped
    // until the server accepts (the event loop's next turn) and the kernel sends them again (1 s).
    const port = await listen('127.0.0.1', 0, 1);
    const run = tcpEpollChecker.prepare(
      check({ type: 'tcp' }) as Tcp,
      targetAt('127.0.0.1', port),
      never,
    );
    const before = heldFds();
    // Started in one turn of the event loop: the server accepts none of them meanwhile.
    const results = await Promise.all([1, 2, 3, 4].map(() => runCheck(run, 3000)));
    await settle();
    expect(results.map((r) => r.message)).toEqual([
      'connected',
      'connected',
      'connected',
      'connected',
    ]);
    const waited = results.filter((r) => r.durationMs > 500);
    expect(waited.length).toBeGreaterThanOrEqual(1);
    expect(tcpConnector().inFlight).toBe(0);
    // The epoll set made for the ones that waited stays open: one descriptor, the thread's.
    expect(heldFds()).toBeLessThanOrEqual(before + 1);
  });

  it('words a failure as Node does', () => {
    const route = { address: 'fe80::1%eth1', port: 80, source: 'fe80::2%eth1', sourcePort: 4000 };
    expect(failureText(route, 'connect', 'EHOSTUNREACH')).toBe(
      'connect EHOSTUNREACH fe80::1%eth1:80 - Local (fe80::2%eth1:4000)',
    );
    expect(failureText({ address: '::1', port: 80, sourcePort: 4000 }, 'bind', 'EADDRINUSE')).toBe(
      'bind EADDRINUSE :::4000',
    );
    expect(failureText({ address: '10.0.0.1', port: 80 }, 'socket', 'EMFILE')).toBe(
      'socket EMFILE 10.0.0.1:80',
    );
  });
});

function never(): never {
  throw new Error('a tcp check prepares no other check');
}

/** A connect through `connector`, its result as the check sees it. */
function connectOnce(
  connector: TcpConnector,
  address: string,
  port: number,
): Promise<{ errno: number; code: string }> {
  return new Promise((resolve) =>
    connector.connect(sockaddrOf(address, port), null, (errno, code) => resolve({ errno, code })),
  );
}

describe('the connector keeps its sockets for the next connects', () => {
  /** A server that keeps each connection and says how the client ended it. */
  async function witness(): Promise<{ port: number; ends: string[] }> {
    const ends: string[] = [];
    const server = net.createServer((socket) => {
      socket.on('error', (err: NodeJS.ErrnoException) => ends.push(err.code ?? 'error'));
      socket.on('end', () => ends.push('FIN'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    return { port: (server.address() as net.AddressInfo).port, ends };
  }

  it('twenty checks in a row make one socket, and each connection is reset', async () => {
    const connector = new TcpConnector();
    const { port, ends } = await witness();
    const before = readdirSync('/proc/self/fd').length;
    for (let i = 0; i < 20; i++)
      expect(await connectOnce(connector, '127.0.0.1', port)).toEqual({ errno: 0, code: '' });
    expect(connector.socketsMade).toBe(1);
    expect(connector.idleSockets).toBe(1);
    await waitFor(() => ends.length === 20, 'the server to see 20 connections end');
    expect(new Set(ends)).toEqual(new Set(['ECONNRESET']));
    expect(timeWaitsTo(port)).toBe(0);
    connector.close();
    expect(readdirSync('/proc/self/fd').length).toBe(before);
  });

  it('a socket whose connect was refused connects again; IPv4 and IPv6 sockets are kept apart', async () => {
    const connector = new TcpConnector();
    for (let i = 0; i < 3; i++) {
      expect(await connectOnce(connector, '127.0.0.1', closed4)).toMatchObject({
        code: 'ECONNREFUSED',
      });
      expect(await connectOnce(connector, '127.0.0.1', up4)).toEqual({ errno: 0, code: '' });
      expect(await connectOnce(connector, '::1', closed6)).toMatchObject({ code: 'ECONNREFUSED' });
      expect(await connectOnce(connector, '::1', up6)).toEqual({ errno: 0, code: '' });
    }
    expect(connector.socketsMade).toBe(2);
    expect(connector.idleSockets).toBe(2);
    connector.close();
    expect(connector.idleSockets).toBe(0);
  });

  it('keeps the sockets of connects that waited in the epoll set, out of it: they connect again', async () => {
    const port = await listen('127.0.0.1', 0, 1);
    const connector = new TcpConnector();
    // Started in one turn: the first two answered at once, and their sockets, kept, make the
    // last two, which the full accept queue holds in the epoll set until their SYN is sent again.
    const first = await Promise.all(
      [1, 2, 3, 4].map(() => connectOnce(connector, '127.0.0.1', port)),
    );
    expect(first.map((r) => r.errno)).toEqual([0, 0, 0, 0]);
    expect(connector.socketsMade).toBe(2);
    expect(connector.idleSockets).toBe(2);
    for (let i = 0; i < 8; i++)
      expect(await connectOnce(connector, '127.0.0.1', up4)).toEqual({ errno: 0, code: '' });
    expect(connector.socketsMade).toBe(2);
    expect(connector.inFlight).toBe(0);
    connector.close();
  });

  it('closes a socket bound to a source instead of keeping it', async () => {
    const run = tcpEpollChecker.prepare(
      check({ type: 'tcp', source_port: 41_010 }) as Tcp,
      targetAt('127.0.0.1', up4),
      never,
    );
    const { socketsMade, idleSockets } = tcpConnector();
    for (let i = 0; i < 3; i++)
      expect(await runCheck(run, 1000)).toMatchObject({ ok: true, message: 'connected' });
    expect(tcpConnector().socketsMade).toBe(socketsMade + 3);
    expect(tcpConnector().idleSockets).toBe(idleSockets);
  });
});
