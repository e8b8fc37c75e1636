/**
 * The tcp check through epoll (checkers/tcp-epoll.ts) across a veth pair into a namespace
 * of its own: a listener in the namespace, a closed port, an address the namespace drops
 * without a word (a blackhole route: the check times out), one it answers with ICMP host
 * unreachable, one this host has an `unreachable` route for (connect fails at once), a
 * link-local address with `interface`, and the source address and port seen by the
 * listener. Each case through both paths: the same verdict and reason as net.Socket, and
 * no descriptor left open in this process; the failing ones also as http checks
 * (checkers/http-epoll.ts makes its connect the same way). Last, a worker pool stopped
 * while its connects are in flight leaves no descriptor behind.
 *
 * Addresses: 198.51.100.64/29 and 2001:db8:7c9::/64 on the pair (documentation ranges,
 * nothing leaves it); names start with `tcpep` (this branch).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckConfig } from '../../src/config/check.js';
import { httpChecker } from '../../src/health/checkers/http.js';
import { httpEpollChecker } from '../../src/health/checkers/http-epoll.js';
import { tcpChecker } from '../../src/health/checkers/tcp.js';
import { tcpEpollChecker } from '../../src/health/checkers/tcp-epoll.js';
import { InProcessRunner } from '../../src/health/runner.js';
import { type CheckRun, runCheck } from '../../src/health/attempt.js';
import type { CheckTarget } from '../../src/health/types.js';
import { CheckWorkerPool } from '../../src/health/worker-pool.js';
import { TcpConnector } from '../../src/ffi/tcp-connect.js';
import { sockaddrOf } from '../../src/health/checkers/tcp-epoll.js';
import { check } from './fixtures.js';
import { heldFds, waitFor } from './helpers.js';
import { targetAt } from './servers.js';

type Tcp = Extract<CheckConfig, { type: 'tcp' }>;
const NS = 'tcpep-ns';
const HOST_IF = 'tcpep-h';
const NS_IF = 'tcpep-n';
const HOST_V4 = '198.51.100.65';
const NS_V4 = '198.51.100.66';
/** Routed into the namespace, which drops it (blackhole): a check there times out. */
const FILTERED_V4 = '198.51.100.80';
/** Routed into the namespace, which answers ICMP host unreachable. */
const UNREACHABLE_V4 = '198.51.100.81';
/** This host's own `unreachable` route: connect() fails at once. */
const NO_ROUTE_V4 = '198.51.100.84';
const HOST_V6 = '2001:db8:7c9::1';
const NS_V6 = '2001:db8:7c9::2';
const FILTERED_V6 = '2001:db8:7c9:1::80';
const HOST_LL = 'fe80::65';
const NS_LL = 'fe80::66';
const PORT = 8080;
const CLOSED = 8081;

const WORKER_URL = new URL('../../dist/health/check-worker.js', import.meta.url);

function why(): string | null {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  if (!['/usr/sbin/ip', '/usr/bin/ip', '/sbin/ip', '/bin/ip'].some(existsSync))
    return 'needs iproute2: bash test/host-packages.sh';
  return null;
}
const skip = why();
if (skip) console.warn(`skipping the tcp epoll netns tests: ${skip}`);

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
const inNs = (...args: string[]) => ip('-n', NS, ...args);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function cleanup(): void {
  for (const args of [
    ['netns', 'del', NS],
    ['link', 'del', HOST_IF],
    ['route', 'del', 'unreachable', `${NO_ROUTE_V4}/32`],
  ])
    try {
      ip(...args);
    } catch {
      // not there
    }
}

function setUp(): void {
  cleanup();
  ip('netns', 'add', NS);
  ip('link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF, 'netns', NS);
  ip('addr', 'add', `${HOST_V4}/29`, 'dev', HOST_IF);
  ip('addr', 'add', `${HOST_V6}/64`, 'dev', HOST_IF, 'nodad');
  ip('addr', 'add', `${HOST_LL}/64`, 'dev', HOST_IF, 'nodad');
  ip('link', 'set', HOST_IF, 'up');
  inNs('link', 'set', 'lo', 'up');
  inNs('addr', 'add', `${NS_V4}/29`, 'dev', NS_IF);
  inNs('addr', 'add', `${NS_V6}/64`, 'dev', NS_IF, 'nodad');
  inNs('addr', 'add', `${NS_LL}/64`, 'dev', NS_IF, 'nodad');
  inNs('link', 'set', NS_IF, 'up');
  // The namespace forwards, so that its routes decide: drop silently, or answer unreachable.
  execFileSync('ip', ['netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  inNs('route', 'add', 'blackhole', `${FILTERED_V4}/32`);
  inNs('route', 'add', 'unreachable', `${UNREACHABLE_V4}/32`);
  inNs('-6', 'route', 'add', 'blackhole', `${FILTERED_V6}/128`);
  // Into the namespace: routes of the pair's own link, gone with it.
  ip('route', 'add', `${FILTERED_V4}/31`, 'via', NS_V4, 'dev', HOST_IF);
  ip('-6', 'route', 'add', `${FILTERED_V6}/128`, 'via', NS_V6, 'dev', HOST_IF);
  ip('route', 'add', 'unreachable', `${NO_ROUTE_V4}/32`);
}

/** A listener in the namespace on every address, port 8080; prints "ready" once it listens. */
function startListener(): { child: ChildProcess; output: () => string } {
  const code = `require('net').createServer((s) => { s.on('error', () => {}); s.destroy(); })
    .listen(${PORT}, '::', () => console.log('ready'));`;
  const child = spawn('ip', ['netns', 'exec', NS, process.execPath, '-e', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

interface Case {
  name: string;
  config?: Record<string, unknown>;
  target: CheckTarget;
  ok: boolean;
  message: string;
  timedOut?: boolean;
}

const cases: Case[] = [
  { name: 'up over IPv4', target: targetAt(NS_V4, PORT), ok: true, message: 'connected' },
  { name: 'up over IPv6', target: targetAt(NS_V6, PORT), ok: true, message: 'connected' },
  {
    name: 'a closed port, IPv4',
    target: targetAt(NS_V4, CLOSED),
    ok: false,
    message: `connect ECONNREFUSED ${NS_V4}:${CLOSED}`,
  },
  {
    name: 'a closed port, IPv6',
    target: targetAt(NS_V6, CLOSED),
    ok: false,
    message: `connect ECONNREFUSED ${NS_V6}:${CLOSED}`,
  },
  {
    name: 'a dropped address times out, IPv4',
    target: targetAt(FILTERED_V4, PORT),
    ok: false,
    timedOut: true,
    message: 'timed out after 300ms',
  },
  {
    name: 'a dropped address times out, IPv6',
    target: targetAt(FILTERED_V6, PORT),
    ok: false,
    timedOut: true,
    message: 'timed out after 300ms',
  },
  {
    name: 'ICMP host unreachable',
    target: targetAt(UNREACHABLE_V4, PORT),
    ok: false,
    message: `connect EHOSTUNREACH ${UNREACHABLE_V4}:${PORT}`,
  },
  {
    name: 'no route on this host: connect fails at once',
    target: targetAt(NO_ROUTE_V4, PORT),
    ok: false,
    message: `connect EHOSTUNREACH ${NO_ROUTE_V4}:${PORT} - Local (0.0.0.0:0)`,
  },
  {
    name: 'no route on this host, from a source address and port',
    config: { source_port: 41_103 },
    target: targetAt(NO_ROUTE_V4, PORT, { source: HOST_V4 }),
    ok: false,
    message: `connect EHOSTUNREACH ${NO_ROUTE_V4}:${PORT} - Local (${HOST_V4}:41103)`,
  },
  {
    name: 'a link-local address with its interface',
    config: { interface: HOST_IF },
    target: targetAt(NS_LL, PORT),
    ok: true,
    message: 'connected',
  },
  {
    name: 'a link-local address with its interface, closed port, from a link-local source',
    config: { interface: HOST_IF, source_port: 41_101 },
    target: targetAt(NS_LL, CLOSED, { source: HOST_LL }),
    ok: false,
    message: `connect ECONNREFUSED ${NS_LL}%${HOST_IF}:${CLOSED} - Local (${HOST_LL}%${HOST_IF}:41101)`,
  },
];

describe.skipIf(skip !== null)('tcp check through epoll, across a veth pair', () => {
  let listener: ReturnType<typeof startListener>;

  beforeAll(async () => {
    setUp();
    listener = startListener();
    const end = Date.now() + 10_000;
    while (!listener.output().includes('ready')) {
      if (Date.now() > end) throw new Error('the listener in the namespace did not start');
      await sleep(20);
    }
  });

  afterAll(() => {
    listener?.child.kill('SIGKILL');
    cleanup();
  });

  const both = async (c: Case, timeoutMs = 300): Promise<[CheckRun, CheckRun]> => {
    const config = check({ type: 'tcp', ...c.config }) as Tcp;
    const epoll = await runCheck(tcpEpollChecker.prepare(config, c.target, never), timeoutMs);
    const node = await runCheck(tcpChecker.prepare(config, c.target, never), timeoutMs);
    return [epoll, node];
  };

  it.each(cases)('$name: the same verdict and reason as net.Socket, no fd left', async (c) => {
    // Once, so the epoll set (made at the first connect that has to wait) is counted.
    await both(cases[4] as Case);
    await sleep(20);
    const before = heldFds();
    const [epoll, node] = await both(c);
    await sleep(20);
    expect(epoll).toMatchObject({ ok: c.ok, message: c.message, timedOut: c.timedOut ?? false });
    expect(node).toMatchObject({ ok: epoll.ok, message: epoll.message, timedOut: epoll.timedOut });
    expect(heldFds()).toBe(before);
  });

  it('keeps the socket of a connect dropped in flight (a filtered real), and it connects again', async () => {
    const connector = new TcpConnector();
    const fd = connector.connect(sockaddrOf(FILTERED_V4, PORT), null, () => {
      throw new Error('a dropped connect answers nobody');
    });
    expect(fd).toBeGreaterThanOrEqual(0);
    expect(connector.inFlight).toBe(1);
    connector.cancel(fd);
    expect(connector.inFlight).toBe(0);
    expect(connector.idleSockets).toBe(1);
    const answer = await new Promise<number>((resolve) =>
      connector.connect(sockaddrOf(NS_V4, PORT), null, (errno) => resolve(errno)),
    );
    expect(answer).toBe(0);
    expect(connector.socketsMade).toBe(1);
    // The SYN-ACK that never comes, or a late one, finds no socket: nothing reaches the next.
    await sleep(50);
    expect(connector.inFlight).toBe(0);
    connector.close();
  });

  it('gives a link-local connect a socket of its own: the interface it takes is not kept', async () => {
    const local = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => local.listen(0, '::1', resolve));
    const port = (local.address() as net.AddressInfo).port;
    const connector = new TcpConnector();
    const connectTo = (to: Buffer) =>
      new Promise<string>((resolve) => connector.connect(to, null, (_e, code) => resolve(code)));
    try {
      // A scoped connect binds the socket to its interface, and a disconnect does not unbind it.
      expect(await connectTo(sockaddrOf(`${NS_LL}%${HOST_IF}`, PORT))).toBe('');
      expect(connector.idleSockets).toBe(0);
      expect(await connectTo(sockaddrOf('::1', port))).toBe('');
      expect(connector.idleSockets).toBe(1);
    } finally {
      connector.close();
      local.close();
    }
  });

  it.each(cases.filter((c) => !c.ok))(
    'http, $name: the same verdict and reason as net.Socket, no fd left',
    async (c) => {
      const config = check({ type: 'http', ...c.config }) as Extract<CheckConfig, { type: 'http' }>;
      await both(cases[4] as Case);
      await sleep(20);
      const before = heldFds();
      const epoll = await runCheck(httpEpollChecker.prepare(config, c.target, never), 300);
      const node = await runCheck(httpChecker.prepare(config, c.target, never), 300);
      await sleep(20);
      expect(epoll).toMatchObject({ ok: false, message: c.message, timedOut: c.timedOut ?? false });
      expect(node).toMatchObject({ ok: false, message: epoll.message, timedOut: epoll.timedOut });
      expect(heldFds()).toBe(before);
    },
  );

  it.skipIf(!existsSync('/usr/bin/tcpdump') && !existsSync('/usr/sbin/tcpdump'))(
    'connects from the source address and port asked for (seen by tcpdump in the namespace)',
    async () => {
      // The listener cannot tell: the reset comes before it asks for its peer's address.
      const filter = `tcp[tcpflags] & tcp-syn != 0 and src host ${HOST_V4} and src port 41102`;
      const dump = spawn(
        'ip',
        ['netns', 'exec', NS, 'tcpdump', '-n', '-l', '-c', '1', '-i', NS_IF, filter],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      let err = '';
      dump.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      dump.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise((resolve) => dump.once('exit', resolve));
      const end = Date.now() + 10_000;
      while (!err.includes('listening on') && Date.now() < end) await sleep(20);
      const config = check({ type: 'tcp', source_port: 41_102 }) as Tcp;
      const run = tcpEpollChecker.prepare(
        config,
        targetAt(NS_V4, PORT, { source: HOST_V4 }),
        never,
      );
      expect(await runCheck(run, 1000)).toMatchObject({ ok: true, message: 'connected' });
      const timer = setTimeout(() => dump.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
      expect(out).toContain(`${HOST_V4}.41102 > ${NS_V4}.${PORT}`);
    },
  );

  it.skipIf(!existsSync(WORKER_URL))(
    'a worker pool stopped with connects in flight leaves no descriptor open',
    async () => {
      const before = heldFds();
      const pool = new CheckWorkerPool({
        workers: 2,
        local: new InProcessRunner(),
        workerUrl: WORKER_URL,
      });
      const results: CheckRun[] = [];
      for (let i = 0; i < 20; i++)
        pool.add({
          config: check({ type: 'tcp' }),
          target: targetAt(i % 2 ? FILTERED_V4 : NS_V4, PORT),
          intervalMs: 100,
          timeoutMs: 5000,
          onResult: (r) => results.push(r),
          onInvalid: () => undefined,
        });
      // The up ones answered (once the workers have started, which a loaded host makes
      // slow); the dropped ones are in flight, in the workers' epoll sets.
      await waitFor(() => results.filter((r) => r.ok).length >= 10, 'ten connected', 4000);
      // Every check has started by now or within its first interval (100 ms).
      await sleep(300);
      expect(results.filter((r) => !r.ok)).toEqual([]);
      expect(heldFds()).toBeGreaterThan(before + 10);
      await pool.stop();
      await sleep(100);
      expect(heldFds()).toBe(before);
    },
  );
});

function never(): never {
  throw new Error('a tcp check prepares no other check');
}
