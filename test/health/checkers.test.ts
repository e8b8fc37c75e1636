/**
 * Every checker against real servers on loopback, good and bad cases, through the same
 * runner (runCheck) the scheduler uses, so timeouts are the runner's.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckConfig } from '../../src/config/check.js';
import { prepareCheck } from '../../src/health/checkers/index.js';
import { statusMatcher } from '../../src/health/checkers/http.js';
import { parseWeight } from '../../src/health/checkers/exec.js';
import { runCheck, type CheckRun } from '../../src/health/attempt.js';
import type { CheckTarget } from '../../src/health/types.js';
import { check } from './fixtures.js';
import {
  closedPort,
  httpsServer,
  listen,
  makePki,
  target,
  udpServer,
  type Pki,
} from './servers.js';

function run(
  config: Record<string, unknown>,
  to: CheckTarget,
  timeoutMs = 10_000,
): Promise<CheckRun> {
  return runCheck(prepareCheck(check(config) as CheckConfig, to), timeoutMs);
}

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
});
async function serve<T extends net.Server>(server: T) {
  const s = await listen(server);
  closers.push(s.close);
  return s;
}

describe('tcp', () => {
  it('up when the handshake completes', async () => {
    const { port } = await serve(net.createServer((socket) => socket.on('error', () => undefined)));
    expect(await run({ type: 'tcp' }, target(port))).toMatchObject({
      ok: true,
      message: 'connected',
      timedOut: false,
    });
  });
  it('down on a refused port, saying so', async () => {
    const result = await run({ type: 'tcp' }, target(await closedPort()));
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/ECONNREFUSED/);
  });
  it('connects from the source address when set', async () => {
    let from = '';
    const { port } = await serve(
      net.createServer((socket) => {
        from = socket.remoteAddress ?? '';
        socket.on('error', () => undefined);
      }),
    );
    expect((await run({ type: 'tcp' }, target(port, { source: '127.0.0.2' }))).ok).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(from).toBe('127.0.0.2');
  });
  it('a source address the host does not have is a failure, not a crash', async () => {
    const result = await run({ type: 'tcp' }, target(9, { source: '192.0.2.77' }));
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/EADDRNOTAVAIL/);
  });
});

describe('http', () => {
  let port = 0;
  let seen: http.IncomingMessage | undefined;
  beforeAll(async () => {
    ({ port } = await serve(
      http.createServer((req, res) => {
        seen = req;
        if (req.url === '/health') return void res.end('status: OK\n');
        if (req.url === '/slow') return void setTimeout(() => res.end('late'), 3000);
        if (req.url === '/teapot') return void res.writeHead(418).end('short and stout');
        if (req.url === '/redirect') return void res.writeHead(302, { location: '/' }).end();
        res.writeHead(404).end('no');
      }),
    ));
  });

  it('up on 2xx with a matching body, sending method, path, Host and headers', async () => {
    const result = await run(
      {
        type: 'http',
        path: '/health',
        host: 'web.example',
        body: 'status: OK',
        headers: { 'x-check': 'lvsd' },
      },
      target(port),
    );
    expect(result).toMatchObject({ ok: true });
    expect(seen?.headers.host).toBe('web.example');
    expect(seen?.headers['x-check']).toBe('lvsd');
    expect(seen?.method).toBe('GET');
  });
  it('the default Host header is address:port', async () => {
    await run({ type: 'http', path: '/health' }, target(port));
    expect(seen?.headers.host).toBe(`127.0.0.1:${port}`);
  });
  it('HEAD sends HEAD', async () => {
    expect((await run({ type: 'http', method: 'HEAD', path: '/health' }, target(port))).ok).toBe(
      true,
    );
    expect(seen?.method).toBe('HEAD');
  });
  it('down on a status outside the list', async () => {
    expect(await run({ type: 'http', path: '/missing' }, target(port))).toMatchObject({
      ok: false,
      message: 'status 404, expected 200-299',
    });
  });
  it('status lists and ranges: 418 and 300-399 accepted when listed', async () => {
    expect(
      (await run({ type: 'http', path: '/teapot', status: [200, 418] }, target(port))).ok,
    ).toBe(true);
    expect(
      (await run({ type: 'http', path: '/redirect', status: ['300-399'] }, target(port))).ok,
    ).toBe(true);
    expect((await run({ type: 'http', path: '/redirect' }, target(port))).ok).toBe(false);
  });
  it('down when the body does not match', async () => {
    const result = await run(
      { type: 'http', path: '/health', body: '^status: DEGRADED' },
      target(port),
    );
    expect(result).toMatchObject({ ok: false });
    expect(result.message).toMatch(/body does not match/);
  });
  it('digest of the body: right one up, wrong one down', async () => {
    const sha = createHash('sha256').update('status: OK\n').digest('hex');
    const md5 = createHash('md5').update('status: OK\n').digest('hex');
    expect(
      (await run({ type: 'http', path: '/health', digest: `sha256:${sha}` }, target(port))).ok,
    ).toBe(true);
    expect(
      (
        await run(
          { type: 'http', path: '/health', digest: `md5:${md5.toUpperCase()}` },
          target(port),
        )
      ).ok,
    ).toBe(true);
    const wrong = await run(
      { type: 'http', path: '/health', digest: `sha256:${'0'.repeat(64)}` },
      target(port),
    );
    expect(wrong.ok).toBe(false);
    expect(wrong.message).toContain(sha);
  });
  it('a server slower than the timeout is down, timed out, within the timeout', async () => {
    const result = await run({ type: 'http', path: '/slow' }, target(port), 300);
    expect(result).toMatchObject({ ok: false, timedOut: true, message: 'timed out after 300ms' });
    expect(result.durationMs).toBeLessThan(1500);
  });
  it('down on a refused port', async () => {
    expect((await run({ type: 'http' }, target(await closedPort()))).ok).toBe(false);
  });
  it('checks the port override, not the traffic port', async () => {
    const to = target(await closedPort(), { port });
    expect((await run({ type: 'http', path: '/health' }, to)).ok).toBe(true);
  });
  it('status matcher reads numbers, codes and ranges', () => {
    const accepts = statusMatcher([204, '301', '500-503']);
    expect([204, 301, 500, 503].every(accepts)).toBe(true);
    expect([200, 302, 504].some(accepts)).toBe(false);
  });
});

describe('https', () => {
  let pki: Pki;
  let port = 0;
  let mutualPort = 0;
  let sni: string | undefined;
  beforeAll(async () => {
    pki = makePki();
    const server = httpsServer(pki, (_req, res) => res.end('secure'));
    server.on('secureConnection', (socket) => {
      sni = (socket as unknown as { servername?: string | false }).servername || undefined;
    });
    ({ port } = await serve(server));
    ({ port: mutualPort } = await serve(httpsServer(pki, (_req, res) => res.end('mutual'), true)));
  }, 30_000);

  it('verify on: a certificate from an unknown CA is down', async () => {
    const result = await run({ type: 'https', body: 'secure' }, target(port));
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/certificate/i);
  });
  it('verify on with the CA given: up (address in the certificate)', async () => {
    expect((await run({ type: 'https', ca: pki.caCert, body: 'secure' }, target(port))).ok).toBe(
      true,
    );
  });
  it('verify off: a self-signed chain is accepted', async () => {
    expect((await run({ type: 'https', verify: false, body: 'secure' }, target(port))).ok).toBe(
      true,
    );
  });
  it('sends SNI: the sni setting, else the Host name; never an address', async () => {
    await run({ type: 'https', ca: pki.caCert, sni: 'web.test' }, target(port));
    expect(sni).toBe('web.test');
    await run({ type: 'https', ca: pki.caCert, host: 'web.test:8443' }, target(port));
    expect(sni).toBe('web.test');
    await run({ type: 'https', verify: false }, target(port));
    expect(sni).toBeUndefined();
  });
  it('verify on: a name the certificate does not cover is down', async () => {
    const result = await run({ type: 'https', ca: pki.caCert, sni: 'other.test' }, target(port));
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/other\.test|altnames/i);
  });
  it('client certificate: required by the server, up only with it', async () => {
    // TLS 1.3: the server's alert comes after the client's side of the handshake is done.
    expect(
      await run({ type: 'https', ca: pki.caCert, body: 'mutual' }, target(mutualPort)),
    ).toMatchObject({
      ok: false,
      message:
        'TLS handshake failed: tlsv13 alert certificate required ' +
        '(the server wants a client certificate it trusts: cert and key)',
    });
    expect(
      (
        await run(
          {
            type: 'https',
            ca: pki.caCert,
            cert: pki.clientCert,
            key: pki.clientKey,
            body: 'mutual',
          },
          target(mutualPort),
        )
      ).ok,
    ).toBe(true);
  });
  it('an unreadable certificate file makes preparing the check fail with the path', () => {
    expect(() =>
      prepareCheck(check({ type: 'https', ca: '/nonexistent/ca.pem' }), target(port)),
    ).toThrow(/nonexistent\/ca\.pem/);
  });
});

describe('udp', () => {
  it('up on a reply; the reply may have to match', async () => {
    const { port, close } = await udpServer((msg) => Buffer.from(`pong ${msg.toString()}`));
    closers.push(close);
    expect((await run({ type: 'udp', payload: 'ping' }, target(port))).ok).toBe(true);
    expect(
      (await run({ type: 'udp', payload: 'ping', expect: '^pong ping$' }, target(port))).ok,
    ).toBe(true);
    expect(
      (await run({ type: 'udp', payload_hex: '70696e67', expect: '^pong ping$' }, target(port))).ok,
    ).toBe(true);
    const mismatch = await run({ type: 'udp', payload: 'ping', expect: '^PONG' }, target(port));
    expect(mismatch).toMatchObject({ ok: false });
  });
  it('ICMP port unreachable is down at once, not a timeout', async () => {
    const result = await run({ type: 'udp', payload: 'ping' }, target(await closedPort()), 1500);
    expect(result).toMatchObject({ ok: false, message: 'ICMP port unreachable', timedOut: false });
    expect(result.durationMs).toBeLessThan(1000);
  });
  it('no reply is a timeout', async () => {
    const { port, close } = await udpServer(() => null);
    closers.push(close);
    expect(await run({ type: 'udp', payload: 'ping' }, target(port), 200)).toMatchObject({
      ok: false,
      timedOut: true,
    });
  });
});

describe('smtp', () => {
  function smtpServer(banner: string, ehloReply: string) {
    return net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.write(banner);
      socket.on('data', (data) => {
        const line = data.toString();
        if (line.startsWith('EHLO')) socket.write(ehloReply);
        if (line.includes('QUIT')) socket.end('221 bye\r\n');
      });
    });
  }
  it('up on 220 then a multi-line 250', async () => {
    const { port } = await serve(
      smtpServer(
        '220-mail.test ESMTP\r\n220 ready\r\n',
        '250-mail.test\r\n250-SIZE 1000\r\n250 HELP\r\n',
      ),
    );
    expect(await run({ type: 'smtp' }, target(port))).toMatchObject({ ok: true });
  });
  it('QUIT: its reply is awaited, whatever it says; a server that just closes is up too', async () => {
    let quitAt = 0;
    const closing = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.write('220 ready\r\n');
      socket.on('data', (data) => {
        if (data.toString().startsWith('EHLO')) socket.write('250 ok\r\n');
        if (data.toString().startsWith('QUIT')) {
          quitAt = Date.now();
          socket.end();
        }
      });
    });
    const { port } = await serve(closing);
    const result = await run({ type: 'smtp' }, target(port));
    expect(result).toMatchObject({ ok: true, message: 'banner 220, EHLO 250' });
    expect(quitAt).toBeGreaterThan(0);
  });
  it('down on a 554 banner', async () => {
    const { port } = await serve(smtpServer('554 no service\r\n', ''));
    expect(await run({ type: 'smtp' }, target(port))).toMatchObject({
      ok: false,
      message: 'banner 554 no service',
    });
  });
  it('down when EHLO is refused', async () => {
    const { port } = await serve(smtpServer('220 ready\r\n', '502 not implemented\r\n'));
    expect(await run({ type: 'smtp' }, target(port))).toMatchObject({
      ok: false,
      message: 'EHLO answered 502 not implemented',
    });
  });
  it('down on something that is not SMTP', async () => {
    const { port } = await serve(
      net.createServer((s) => {
        s.on('error', () => undefined);
        s.write('SSH-2.0-OpenSSH\r\n');
      }),
    );
    expect((await run({ type: 'smtp' }, target(port))).message).toMatch(/not an SMTP reply/);
  });
  it('a silent server times out', async () => {
    const { port } = await serve(net.createServer((s) => s.on('error', () => undefined)));
    expect(await run({ type: 'smtp' }, target(port), 200)).toMatchObject({
      ok: false,
      timedOut: true,
    });
  });
});

describe('exec', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lvsd-exec-'));
  function script(name: string, body: string): string {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  }

  it('exit 0 is up, exit 1 is down with what the program said', async () => {
    expect((await run({ type: 'exec', command: ['/bin/true'] }, target(80))).ok).toBe(true);
    const down = await run(
      { type: 'exec', command: [script('fail.sh', 'echo "backend degraded" >&2; exit 3')] },
      target(80),
    );
    expect(down).toMatchObject({ ok: false, message: 'exit 3: backend degraded' });
  });
  it('argv is not a shell: metacharacters are plain arguments', async () => {
    const out = join(dir, 'args');
    const s = script('args.sh', `printf '%s\\n' "$@" > ${out}`);
    expect((await run({ type: 'exec', command: [s, '$(id)', 'a;b', '*'] }, target(80))).ok).toBe(
      true,
    );
    expect(readFileSync(out, 'utf8')).toBe('$(id)\na;b\n*\n');
  });
  it('environment: VIP, RIP, ports, check address, the check env', async () => {
    const out = join(dir, 'env');
    const s = script(
      'env.sh',
      `echo "$LVSD_SERVICE $LVSD_VIP $LVSD_VPORT $LVSD_RIP $LVSD_RPORT $LVSD_CHECK_ADDRESS ` +
        `$LVSD_CHECK_PORT $EXTRA" > ${out}`,
    );
    await run(
      { type: 'exec', command: [s], env: { EXTRA: 'x' } },
      target(8080, { realAddress: '192.168.10.2', realPort: 80, address: '127.0.0.1' }),
    );
    expect(readFileSync(out, 'utf8').trim()).toBe(
      'web 10.0.0.1 80 192.168.10.2 80 127.0.0.1 8080 x',
    );
  });
  it('a timeout kills the whole process group, children included', async () => {
    const pidFile = join(dir, 'child.pid');
    const s = script('hang.sh', `sleep 30 & echo $! > ${pidFile}; wait`);
    const result = await run({ type: 'exec', command: [s] }, target(80), 2000);
    expect(result).toMatchObject({ ok: false, timedOut: true });
    const child = Number(readFileSync(pidFile, 'utf8'));
    await new Promise((r) => setTimeout(r, 100));
    expect(
      existsSync(`/proc/${child}`) && !readFileSync(`/proc/${child}/stat`, 'utf8').includes(') Z'),
    ).toBe(false);
  });
  it('helpers left behind by a finished check are killed too', async () => {
    const pidFile = join(dir, 'left.pid');
    const s = script('leave.sh', `sleep 30 > /dev/null 2>&1 & echo $! > ${pidFile}; exit 0`);
    expect((await run({ type: 'exec', command: [s] }, target(80))).ok).toBe(true);
    const child = Number(readFileSync(pidFile, 'utf8'));
    await new Promise((r) => setTimeout(r, 100));
    expect(
      existsSync(`/proc/${child}`) && !readFileSync(`/proc/${child}/stat`, 'utf8').includes(') Z'),
    ).toBe(false);
  });
  it('dynamic weight from the last line of output', async () => {
    const s = script('weight.sh', 'echo "load fine"; echo 37');
    expect(
      await run({ type: 'exec', command: [s], dynamic_weight: true }, target(80)),
    ).toMatchObject({ ok: true, weight: 37 });
    expect((await run({ type: 'exec', command: [s] }, target(80))).weight).toBeUndefined();
    expect(
      (
        await run(
          { type: 'exec', command: [script('noweight.sh', 'echo busy')], dynamic_weight: true },
          target(80),
        )
      ).weight,
    ).toBeUndefined();
  });
  it('parseWeight takes an integer 0..65535 on the last non-empty line only', () => {
    expect(parseWeight('a\n12\n\n')).toBe(12);
    expect(parseWeight('0')).toBe(0);
    expect(parseWeight('70000')).toBeUndefined();
    expect(parseWeight('12 extra')).toBeUndefined();
    expect(parseWeight('-1')).toBeUndefined();
    expect(parseWeight('')).toBeUndefined();
  });
  it('a program that does not exist is down, saying so', async () => {
    const result = await run({ type: 'exec', command: ['/nonexistent/check'] }, target(80));
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/cannot run \/nonexistent\/check.*ENOENT/);
  });
});
