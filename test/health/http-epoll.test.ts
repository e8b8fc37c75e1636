/**
 * The http check without net.Socket (checkers/http-epoll.ts over ffi/tcp-connect.ts)
 * against scripted servers on loopback, each case run through both paths: the same
 * request bytes, verdict and reason as Node's path (checkers/http.ts), and no descriptor
 * left open in this process (/proc/self/fd). Covers a response split over many reads,
 * bodies larger than one read, a server that closes or resets early, a timeout and a
 * refused connect.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { CheckConfig } from '../../src/config/check.js';
import { tcpConnector } from '../../src/ffi/tcp-connect.js';
import { httpChecker } from '../../src/health/checkers/http.js';
import { httpEpollChecker } from '../../src/health/checkers/http-epoll.js';
import { InProcessRunner } from '../../src/health/runner.js';
import { type CheckRun, runCheck } from '../../src/health/attempt.js';
import type { CheckTarget } from '../../src/health/types.js';
import { CheckWorkerPool } from '../../src/health/worker-pool.js';
import { check } from './fixtures.js';
import { heldFds, waitFor } from './helpers.js';
import { targetAt } from './servers.js';

/** The built worker (npm run build): the pool runs dist's check-worker.js. */
const WORKER_URL = new URL('../../dist/health/check-worker.js', import.meta.url);

type Http = Extract<CheckConfig, { type: 'http' }>;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const never = (): never => {
  throw new Error('no other check here');
};

const servers: net.Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

/** What a scripted server does with a connection once the request's head has arrived. */
type Script = (socket: net.Socket, request: string) => void | Promise<void>;

/** A raw TCP server that runs `script` per request and keeps the request bytes it got. */
async function scripted(script: Script, host = '127.0.0.1') {
  const requests: string[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    let got = '';
    socket.on('data', (chunk) => {
      got += chunk.toString('latin1');
      if (!got.includes('\r\n\r\n')) return;
      requests.push(got);
      void script(socket, got);
      got = '';
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  servers.push(server);
  return { port: (server.address() as net.AddressInfo).port, requests };
}

const OK_BODY = 'status: OK\n';
const ok = (body = OK_BODY) =>
  `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;

/** Writes `text` a few bytes at a time, each write a turn of the event loop apart. */
async function dribble(socket: net.Socket, text: string, size = 3): Promise<void> {
  for (let at = 0; at < text.length; at += size) {
    if (socket.destroyed) return;
    socket.write(text.slice(at, at + size));
    await sleep(1);
  }
  socket.end();
}

function chunked(body: string, size: number): string {
  let out = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
  for (let at = 0; at < body.length; at += size) {
    const piece = body.slice(at, at + size);
    out += `${Buffer.byteLength(piece).toString(16)}\r\n${piece}\r\n`;
  }
  return `${out}0\r\n\r\n`;
}

const big = 'x'.repeat(300_000);
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

interface Case {
  name: string;
  script: Script;
  config: Record<string, unknown>;
  ok: boolean;
  message: string | RegExp;
  timeoutMs?: number;
}

const cases: Case[] = [
  {
    name: 'status only',
    script: (s) => void s.end(ok()),
    config: {},
    ok: true,
    message: 'status 200',
  },
  {
    name: 'a status not accepted',
    script: (s) => void s.end('HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n'),
    config: {},
    ok: false,
    message: 'status 503, expected 200-299',
  },
  {
    name: 'a body pattern that matches, the response split over many reads',
    script: (s) => dribble(s, ok()),
    config: { body: '^status: OK' },
    ok: true,
    message: 'status 200, body pattern ok',
  },
  {
    name: 'a body pattern that does not match, chunked and dribbled',
    script: (s) => dribble(s, chunked('status: DEGRADED\n', 4), 5),
    config: { body: '^status: OK' },
    ok: false,
    message: 'status 200, body does not match /^status: OK/',
  },
  {
    name: 'body_no_match',
    script: (s) => void s.end(ok('error: disk full')),
    config: { body_no_match: 'error' },
    ok: false,
    message: 'status 200, body matches /error/ (body_no_match)',
  },
  {
    name: 'a digest over a body larger than one read',
    script: (s) => void s.end(ok(big)),
    config: { digest: `sha256:${sha(big)}` },
    ok: true,
    message: 'status 200, body digest and ok',
  },
  {
    name: 'a wrong digest, the body running to the end of the connection',
    script: (s) => void s.end(`HTTP/1.0 200 OK\r\n\r\n${big}`),
    config: { digest: `sha256:${'0'.repeat(64)}` },
    ok: false,
    message: `status 200, body sha256 ${sha(big)}, expected ${'0'.repeat(64)}`,
  },
  {
    name: 'a server that closes in the middle of the head',
    script: (s) => void s.end('HTTP/1.1 200 OK\r\nContent-Le'),
    config: {},
    ok: false,
    message: 'connection closed before a complete response head',
  },
  {
    name: 'a server that closes in the middle of the body',
    script: (s) => void s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort'),
    config: { body: 'short' },
    ok: false,
    message: 'connection closed before the end of the body',
  },
  {
    name: 'a server that closes without a word',
    script: (s) => void s.end(),
    config: {},
    ok: false,
    message: 'connection closed before a complete response head',
  },
  {
    name: 'a server that resets the connection',
    script: (s) => void s.resetAndDestroy(),
    config: {},
    ok: false,
    message: 'read ECONNRESET',
  },
  {
    name: 'not HTTP',
    script: (s) => void s.end('SSH-2.0-OpenSSH_9.2\r\n\r\n'),
    config: {},
    ok: false,
    message: /^response/,
  },
  {
    name: 'a server that never answers: timed out',
    script: () => undefined,
    config: {},
    ok: false,
    message: 'timed out after 200ms',
    timeoutMs: 200,
  },
  {
    name: 'a HEAD request: no body follows',
    script: (s) => void s.write('HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n'),
    config: { method: 'HEAD' },
    ok: true,
    message: 'status 200',
  },
  {
    name: 'HTTP/1.0 with a Host and headers of the check',
    script: (s) => void s.end(ok()),
    config: { http_version: '1.0', host: 'web.example', headers: { 'X-Check': 'lvsd' } },
    ok: true,
    message: 'status 200',
  },
  {
    name: 'several URLs, one failing',
    script: (s, request) =>
      void s.end(
        request.startsWith('GET /bad ') ? 'HTTP/1.1 500 No\r\nContent-Length: 0\r\n\r\n' : ok(),
      ),
    config: { urls: [{ path: '/good' }, { path: '/bad' }] },
    ok: false,
    message: '/bad: status 500, expected 200-299',
  },
  {
    name: 'several URLs, all up',
    script: (s) => void s.end(ok()),
    config: { urls: [{ path: '/a' }, { path: '/b', body: 'OK' }] },
    ok: true,
    message: '2 URLs: 200; 200, body pattern ok',
  },
];

async function both(c: Case, target: CheckTarget, requests: string[]) {
  const config = check({ type: 'http', ...c.config }) as Http;
  const timeout = c.timeoutMs ?? 2000;
  const epoll = await runCheck(httpEpollChecker.prepare(config, target, never), timeout);
  const epollRequests = requests.splice(0);
  const node = await runCheck(httpChecker.prepare(config, target, never), timeout);
  return { epoll, node, epollRequests, nodeRequests: requests.splice(0) };
}

describe('http check through epoll, on loopback', () => {
  it.each(cases)(
    '$name: the same request, verdict and reason as net.Socket, no fd left',
    async (c) => {
      const server = await scripted(c.script);
      const before = heldFds();
      const { epoll, node, epollRequests, nodeRequests } = await both(
        c,
        targetAt('127.0.0.1', server.port),
        server.requests,
      );
      await sleep(20);
      expect(epoll).toMatchObject({
        ok: c.ok,
        message: c.message,
        timedOut: c.timeoutMs !== undefined,
      });
      expect(epoll.message).toBe(node.message);
      expect(epollRequests).toEqual(nodeRequests);
      expect(tcpConnector().openSockets).toBe(0);
      expect(heldFds()).toBeLessThanOrEqual(before + 1); // + the epoll set, made once per thread
    },
  );

  it('sends the exact bytes of the request', async () => {
    const server = await scripted((s) => void s.end(ok()));
    const config = check({ type: 'http', path: '/health', http_version: '1.0' }) as Http;
    await runCheck(
      httpEpollChecker.prepare(config, targetAt('127.0.0.1', server.port), never),
      1000,
    );
    expect(server.requests).toEqual([
      `GET /health HTTP/1.0\r\nHost: 127.0.0.1:${server.port}\r\nUser-Agent: lvsd-health\r\nConnection: close\r\n\r\n`,
    ]);
  });

  it('sends a request larger than the socket takes at once, the rest as it drains', async () => {
    const server = await scripted((s) => void s.end(ok()));
    const huge = 'a'.repeat(8 * 1024 * 1024);
    const config = check({ type: 'http', headers: { 'X-Huge': huge } }) as Http;
    const result = await runCheck(
      httpEpollChecker.prepare(config, targetAt('127.0.0.1', server.port), never),
      5000,
    );
    expect(result).toMatchObject({ ok: true, message: 'status 200' });
    expect(server.requests[0]).toContain(`X-Huge: ${huge}\r\n`);
  });

  it('over IPv6', async () => {
    const server = await scripted((s) => void s.end(ok()), '::1');
    const config = check({ type: 'http' }) as Http;
    const result = await runCheck(
      httpEpollChecker.prepare(config, targetAt('::1', server.port), never),
      1000,
    );
    expect(result).toMatchObject({ ok: true, message: 'status 200' });
    expect(server.requests[0]).toContain(`Host: [::1]:${server.port}\r\n`);
  });

  it('a refused connect says what net.connect says', async () => {
    const server = await scripted(() => undefined);
    const port = server.port;
    await new Promise((resolve) => (servers.pop() as net.Server).close(resolve));
    const config = check({ type: 'http' }) as Http;
    const target = targetAt('127.0.0.1', port);
    const epoll = await runCheck(httpEpollChecker.prepare(config, target, never), 1000);
    const node = await runCheck(httpChecker.prepare(config, target, never), 1000);
    expect(epoll).toMatchObject({ ok: false, message: `connect ECONNREFUSED 127.0.0.1:${port}` });
    expect(epoll.message).toBe(node.message);
  });

  it('answers a failure with an outcome, not a rejection (no Error, and no stack, per failed check)', async () => {
    const server = await scripted(
      (s) => void s.end('HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n'),
    );
    const closed = await scripted(() => undefined);
    await new Promise((resolve) => (servers.pop() as net.Server).close(resolve));
    const config = check({ type: 'http' }) as Http;
    const signal = new AbortController().signal;
    for (const [port, message] of [
      [closed.port, `connect ECONNREFUSED 127.0.0.1:${closed.port}`],
      [server.port, 'bad Content-Length "x"'],
    ] as const) {
      const run = httpEpollChecker.prepare(config, targetAt('127.0.0.1', port), never);
      await expect(run(signal)).resolves.toEqual({ ok: false, message });
    }
  });

  it('resets a connection whose server is still streaming once the status decided', async () => {
    let closedBy = '';
    const server = await scripted((s) => {
      s.on('error', (err: NodeJS.ErrnoException) => void (closedBy ||= err.code ?? 'error'));
      s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
      const timer = setInterval(() => s.write('5\r\nhello\r\n'), 5);
      s.on('close', () => clearInterval(timer));
    });
    const config = check({ type: 'http' }) as Http;
    const result = await runCheck(
      httpEpollChecker.prepare(config, targetAt('127.0.0.1', server.port), never),
      1000,
    );
    expect(result).toMatchObject({ ok: true, message: 'status 200' });
    await sleep(100);
    expect(closedBy).toMatch(/ECONNRESET|EPIPE/);
  });

  it('closes with a FIN, not a reset, when the server closed first, and keeps the socket (local real)', async () => {
    // The server answers and closes as soon as the request has come: by the check's first
    // harvest its FIN is there with the response (EPOLLRDHUP), and a reset would be rude.
    // From this host the FIN close is over within the call, and the socket serves the next.
    const resets: string[] = [];
    const server = await scripted((s) => {
      s.on('error', (err: NodeJS.ErrnoException) => resets.push(err.code ?? 'error'));
      s.end(ok());
    });
    const run = httpEpollChecker.prepare(
      check({ type: 'http' }) as Http,
      targetAt('127.0.0.1', server.port),
      never,
    );
    expect(await runCheck(run, 1000)).toMatchObject({ ok: true });
    const made = tcpConnector().socketsMade;
    for (let i = 0; i < 20; i++)
      expect(await runCheck(run, 1000)).toMatchObject({ ok: true, message: 'status 200' });
    expect(tcpConnector().socketsMade).toBe(made);
    await sleep(100);
    expect(resets).toEqual([]);
  });

  it('runs five hundred checks at once with as many descriptors open after as before', async () => {
    const server = await scripted((s) => void s.end(ok()));
    const run = httpEpollChecker.prepare(
      check({ type: 'http', body: 'OK' }) as Http,
      targetAt('127.0.0.1', server.port),
      never,
    );
    await runCheck(run, 2000); // the epoll set exists from here on
    const before = heldFds();
    const results = await Promise.all(Array.from({ length: 500 }, () => runCheck(run, 5000)));
    await sleep(20);
    expect(results.filter((r) => r.ok)).toHaveLength(500);
    expect(tcpConnector().openSockets).toBe(0);
    expect(heldFds()).toBeLessThanOrEqual(before); // the servers' own ends are in this process too
  });

  it('one prepared check run again and again judges each response afresh', async () => {
    // The check's exchange, reader and verdict are reused run after run: a body kept from
    // one response, or a head, must not leak into the next verdict.
    let n = 0;
    const responses = [
      () => ok(),
      () => ok('status: DOWN\n'),
      () => 'HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n',
      () => chunked(OK_BODY, 4),
    ];
    const server = await scripted(async (s) => {
      const response = (responses[n++ % responses.length] as () => string)();
      await dribble(s, response, 7);
    });
    const run = httpEpollChecker.prepare(
      check({ type: 'http', body: '^status: OK' }) as Http,
      targetAt('127.0.0.1', server.port),
      never,
    );
    const messages: string[] = [];
    for (let i = 0; i < 8; i++) messages.push((await runCheck(run, 2000)).message);
    const round = [
      'status 200, body pattern ok',
      'status 200, body does not match /^status: OK/',
      'status 503, expected 200-299',
      'status 200, body pattern ok',
    ];
    expect(messages).toEqual([...round, ...round]);
    expect(tcpConnector().openSockets).toBe(0);
  });

  it('a host name goes through Node (it is looked up there)', async () => {
    const server = await scripted((s) => void s.end(ok()));
    const config = check({ type: 'http' }) as Http;
    const result = await runCheck(
      httpEpollChecker.prepare(config, targetAt('localhost', server.port), never),
      1000,
    );
    expect(result).toMatchObject({ ok: true, message: 'status 200' });
  });
});

describe('http checks on a check worker', () => {
  it.skipIf(!existsSync(WORKER_URL))(
    'answer through epoll, and a pool stopped with requests unanswered leaves no descriptor open',
    async () => {
      const up = await scripted((s) => void s.end(ok()));
      const silent = await scripted(() => undefined);
      const before = heldFds();
      const pool = new CheckWorkerPool({
        workers: 1,
        local: new InProcessRunner(),
        workerUrl: WORKER_URL,
      });
      const results: CheckRun[] = [];
      for (let i = 0; i < 10; i++)
        pool.add({
          config: check({ type: 'http', body: 'OK' }),
          target: targetAt('127.0.0.1', i % 2 ? up.port : silent.port),
          intervalMs: 100,
          timeoutMs: 5000,
          onResult: (r) => results.push(r),
          onInvalid: () => undefined,
        });
      await waitFor(() => results.length >= 5, 'five answered', 4000);
      expect(results.every((r) => r.ok && r.message === 'status 200, body pattern ok')).toBe(true);
      // The silent server's five have their requests sent and wait for an answer.
      await waitFor(() => silent.requests.length >= 5, 'five requests unanswered', 4000);
      await pool.stop();
      await sleep(100);
      // The servers' ends of the connections are in this process too: they close with the clients'.
      expect(heldFds()).toBeLessThanOrEqual(before);
    },
  );
});
