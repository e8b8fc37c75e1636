/**
 * The checkers against real server software (nginx with the echo module, unbound, exim,
 * the monitoring-plugins programs), run in a network namespace on the host: checkers need
 * no IPVS. Each case asserts the verdict, the reason an operator reads, and that nothing
 * outlives the check: no connection left at the server (`ss` in its namespace), no socket
 * left in this process (/proc/self/fd), no program left running.
 *
 * Needs root and the Debian packages test/host-packages.sh installs; each part says why
 * it skips when they are missing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareCheck } from '../../../src/health/checkers/index.js';
import { type CheckResultEvent, HealthManager } from '../../../src/health/manager.js';
import { runCheck, type CheckRun } from '../../../src/health/attempt.js';
import type { CheckTarget } from '../../../src/health/types.js';
import { check, config as resolved, memoryLogger, real, service } from '../fixtures.js';
import { makePki, type Pki } from '../servers.js';
import { BIG_TXT, eximConfig, nginxConfig, unboundConfig } from './configs.js';
import {
  createNetns,
  HOST_V4,
  HOST_V6,
  NOBODY_V4,
  NS,
  sh,
  destroyNetns,
  eventually,
  hostLinkLocal,
  hostTimeWait,
  listening,
  lockNetns,
  missing,
  netnsUnavailable,
  ownSockets,
  SERVER_V4,
  SERVER_V6,
  SOURCE_V4,
  serverConnections,
  serverLinkLocal,
  startServer,
  type Server,
} from './netns.js';

/** The ${NAME} form of lvsd's variables, as a user writes it in argv. */
const BRACED_PORT = '$' + '{LVSD_CHECK_PORT}';
const skipAll = netnsUnavailable();
const NGINX = '/usr/sbin/nginx';
const UNBOUND = '/usr/sbin/unbound';
const EXIM = '/usr/sbin/exim4';
const PLUGINS = '/usr/lib/nagios/plugins';
const noNginx =
  missing(NGINX, 'nginx-light') ??
  missing('/usr/lib/nginx/modules/ngx_http_echo_module.so', 'libnginx-mod-http-echo');
const noUnbound = missing(UNBOUND, 'unbound');
const noExim = missing(EXIM, 'exim4-daemon-light');
const noPlugins = missing(`${PLUGINS}/check_http`, 'monitoring-plugins-basic');
const noDig = missing('/usr/bin/dig', 'bind9-dnsutils');

for (const [what, why] of [
  ['all', skipAll],
  ['nginx', noNginx],
  ['unbound', noUnbound],
  ['exim', noExim],
  ['monitoring-plugins', noPlugins],
  ['dig', noDig],
] as const)
  if (why) console.warn(`skipping the ${what} checker tests: ${why}`);

function to(port: number, extra: Partial<CheckTarget> = {}): CheckTarget {
  return {
    service: 'web',
    realId: `${SERVER_V4}:${port}`,
    address: SERVER_V4,
    port,
    realAddress: SERVER_V4,
    realPort: port,
    vip: '10.0.0.1',
    vport: port,
    ...extra,
  };
}

/**
 * Runs `body` and asserts that it left nothing behind: the server's connections on `port`
 * drop to none, and this process holds no socket it did not hold before.
 */
async function leavingNothing<T>(port: number, body: () => Promise<T>): Promise<T> {
  const before = ownSockets();
  const result = await body();
  const closed = await eventually(() => serverConnections(port).length === 0);
  expect(closed, `connections left at the server: ${serverConnections(port).join('\n')}`).toBe(
    true,
  );
  const gone = await eventually(() => [...ownSockets()].every((s) => before.has(s)));
  const left = [...ownSockets()].filter((s) => !before.has(s));
  expect(gone, `sockets left in lvsd's process: ${left.join(', ')}`).toBe(true);
  return result;
}

/** Runs one check, as the scheduler does, and asserts that nothing outlives it. */
function run(
  config: Record<string, unknown>,
  target: CheckTarget,
  timeoutMs = 5000,
): Promise<CheckRun> {
  return leavingNothing(target.port, () =>
    runCheck(prepareCheck(check(config), target), timeoutMs),
  );
}

/**
 * The first result of a check as the daemon runs it: the config goes through the manager,
 * which makes the check's target (its `source`, `address`, `port`) as `lvsd run` does.
 */
function firstResult(settings: Record<string, unknown>, port: number): Promise<CheckResultEvent> {
  return leavingNothing(port, async () => {
    const manager = new HealthManager({ logger: pino({ level: 'silent' }), random: () => 0 });
    const first = new Promise<CheckResultEvent>((resolve) => manager.once('result', resolve));
    const checked = check({ interval: '1s', ...settings });
    manager.update(resolved([service('web', '10.0.0.1', port, [real(SERVER_V4, port, checked)])]));
    try {
      return await first;
    } finally {
      await manager.stop();
    }
  });
}

/**
 * The messages of `times` runs of one check with a fixed `source_port` in a row. After each,
 * the port is not in TIME-WAIT on lvsd's side: the kernel might let the next check reuse it
 * (tcp_tw_reuse, after a second) or might not (EADDRNOTAVAIL), so it must never be there.
 */
async function inRow(
  config: Record<string, unknown> & { source_port: number },
  target: CheckTarget,
  times = 3,
  timeoutMs = 2000,
) {
  const messages: string[] = [];
  for (let i = 0; i < times; i++) {
    messages.push((await run(config, target, timeoutMs)).message);
    expect(hostTimeWait(config.source_port), "left in TIME-WAIT on lvsd's side").toEqual([]);
  }
  return messages;
}

/** The built check worker, which `lvsd run` puts the socket checks on (--check-workers, 1 by default). */
const WORKER_URL = new URL('../../../dist/health/check-worker.js', import.meta.url);
const noWorker = existsSync(WORKER_URL) ? null : 'needs the build (npm run build)';

const servers: Server[] = [];
let dir = '';
let pki: Pki;
let unlock = () => {};

beforeAll(async () => {
  if (skipAll) return;
  unlock = await lockNetns();
  dir = mkdtempSync(join(tmpdir(), 'checkers-real-'));
  createNetns();
  pki = makePki();
}, 180_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  if (!skipAll) destroyNetns();
  unlock();
});

describe.skipIf(skipAll || noNginx)('http and https against nginx', () => {
  beforeAll(async () => {
    const nginx = startServer(NGINX, [
      '-c',
      nginxConfig(dir, { cert: pki.serverCert, key: pki.serverKey }),
    ]);
    servers.push(nginx);
    await listening(80).catch((err) => {
      throw new Error(`${err.message}: ${nginx.output()}`);
    });
    await listening(443);
  }, 30_000);

  it('up on a matching body; the connection is gone after the check', async () => {
    const result = await run({ type: 'http', path: '/health', body: 'status: OK' }, to(80));
    expect(result).toMatchObject({ ok: true, message: 'status 200, body pattern ok' });
  });

  it('a status-only check of an endless stream decides at the status line and closes at once', async () => {
    const result = await run({ type: 'http', path: '/stream' }, to(80), 500);
    expect(result).toMatchObject({ ok: true, message: 'status 200', timedOut: false });
    expect(result.durationMs).toBeLessThan(400);
  });

  it('a status-only check of a slow 270 KB body closes without downloading it', async () => {
    const result = await run({ type: 'http', path: '/slow' }, to(80), 500);
    expect(result).toMatchObject({ ok: true, message: 'status 200' });
  });

  it('a body check of an endless stream times out and closes its connection', async () => {
    const result = await run({ type: 'http', path: '/stream', body: 'never' }, to(80), 500);
    expect(result).toMatchObject({ ok: false, timedOut: true, message: 'timed out after 500ms' });
  });

  it('a digest of the slow body times out and closes its connection', async () => {
    const digest = `sha256:${'0'.repeat(64)}`;
    const result = await run({ type: 'http', path: '/slow', digest }, to(80), 500);
    expect(result).toMatchObject({ ok: false, timedOut: true, message: 'timed out after 500ms' });
  });

  it.each([
    ['on its event loop', 0],
    ['on a check worker, as lvsd run does by default', 1],
  ])(
    'the daemon checking /stream every 200 ms %s holds at most one connection at a time',
    async (_how, workers) => {
      if (workers > 0 && noWorker)
        return console.warn(`skipping the check worker case: ${noWorker}`);
      const before = ownSockets().size;
      const manager = new HealthManager({
        logger: pino({ level: 'silent' }),
        random: () => 0,
        workers,
        ...(workers > 0 ? { workerUrl: WORKER_URL } : {}),
      });
      const httpCheck = check({
        type: 'http',
        path: '/stream',
        interval: '200ms',
        timeout: '190ms',
      });
      manager.update(resolved([service('web', '10.0.0.1', 80, [real(SERVER_V4, 80, httpCheck)])]));
      let most = 0;
      let mostSockets = 0;
      for (let i = 0; i < 20; i++) {
        await new Promise((r) => setTimeout(r, 100));
        most = Math.max(most, serverConnections(80).length);
        mostSockets = Math.max(mostSockets, ownSockets().size - before);
      }
      await manager.stop();
      // The worker thread's own descriptors (its event loop) are gone with it after stop().
      expect(manager.counters.checks).toBeGreaterThanOrEqual(8);
      // Each check decides at the status line; on a loaded host one may miss its deadline.
      expect(manager.counters.failures).toBeLessThanOrEqual(1);
      expect(most).toBeLessThanOrEqual(1);
      expect(mostSockets).toBeLessThanOrEqual(1);
      expect(await eventually(() => serverConnections(80).length === 0)).toBe(true);
    },
  );

  it('body_no_match: a page that says FAIL is down, saying which pattern matched', async () => {
    const result = await run({ type: 'http', path: '/fail', body_no_match: 'FAIL' }, to(80));
    expect(result).toMatchObject({
      ok: false,
      message: 'status 200, body matches /FAIL/ (body_no_match)',
    });
    const healthy = await run({ type: 'http', path: '/health', body_no_match: 'FAIL' }, to(80));
    expect(healthy.ok).toBe(true);
  });

  it("ignore_case and multiline are the patterns' flags", async () => {
    expect(await run({ type: 'http', path: '/health', body: 'STATUS: ok' }, to(80))).toMatchObject({
      ok: false,
      message: 'status 200, body does not match /STATUS: ok/',
    });
    const result = await run(
      { type: 'http', path: '/health', body: '^STATUS: ok$', ignore_case: true, multiline: true },
      to(80),
    );
    expect(result).toMatchObject({ ok: true, message: 'status 200, body pattern ok' });
  });

  it('several URLs: all must pass; the failing one is named', async () => {
    const urls = [{ path: '/health', body: 'OK' }, { path: '/missing' }];
    const result = await run({ type: 'http', urls }, to(80));
    expect(result).toMatchObject({ ok: false, message: '/missing: status 404, expected 200-299' });
    const both = await run(
      { type: 'http', urls: [{ path: '/health' }, { path: '/fail', body: 'FAIL' }] },
      to(80),
    );
    expect(both).toMatchObject({ ok: true, message: '2 URLs: 200; 200, body pattern ok' });
  });

  it('HTTP/1.0 and HTTP/1.1 request lines, as nginx saw them', async () => {
    expect(
      await run(
        {
          type: 'http',
          path: '/version',
          http_version: 1.0,
          body: '^HTTP/1\\.0$',
          multiline: true,
        },
        to(80),
      ),
    ).toMatchObject({ ok: true, message: 'status 200, body pattern ok' });
    expect(
      await run({ type: 'http', path: '/version', body: '^HTTP/1\\.1$', multiline: true }, to(80)),
    ).toMatchObject({ ok: true, message: 'status 200, body pattern ok' });
  });

  it('HEAD: the status decides', async () => {
    expect(await run({ type: 'http', method: 'HEAD', path: '/health' }, to(80))).toMatchObject({
      ok: true,
      message: 'status 200',
    });
  });

  it('IPv6 and a port override', async () => {
    const result = await run(
      { type: 'http', path: '/health', body: 'OK' },
      to(9, { address: SERVER_V6, port: 80 }),
    );
    expect(result).toMatchObject({ ok: true, message: 'status 200, body pattern ok' });
  });

  it('source port: nginx sees the connection come from it', async () => {
    const result = await run(
      {
        type: 'http',
        path: '/peer',
        source_port: 40123,
        body: `^${'198\\.51\\.100\\.1'} port 40123$`,
        multiline: true,
      },
      to(80),
    );
    expect(result).toMatchObject({ ok: true, message: 'status 200, body pattern ok' });
  });

  it('a fixed source port serves check after check: lvsd never holds it in TIME_WAIT', async () => {
    const from = (port: number) => ({ source_port: port });
    expect(await inRow({ type: 'http', path: '/health', ...from(40301) }, to(80))).toEqual(
      Array(3).fill('status 200'),
    );
    const body = { type: 'http', path: '/health', body: 'OK' };
    expect(await inRow({ ...body, ...from(40302) }, to(80))).toEqual(
      Array(3).fill('status 200, body pattern ok'),
    );
    expect(await inRow({ ...body, http_version: 1.0, ...from(40303) }, to(80))).toEqual(
      Array(3).fill('status 200, body pattern ok'),
    );
    expect(await inRow({ ...body, type: 'https', verify: false, ...from(40304) }, to(443))).toEqual(
      Array(3).fill('status 200, body pattern ok'),
    );
    // Timed out in the middle of a stream, then the next check from the same port.
    const stream = { type: 'http', path: '/stream', body: 'never', ...from(40305) };
    expect(await inRow(stream, to(80), 2, 300)).toEqual(Array(2).fill('timed out after 300ms'));
    expect(await inRow({ type: 'http', path: '/health', ...from(40305) }, to(80), 1)).toEqual([
      'status 200',
    ]);
  });

  it('source address, from the config through the manager: nginx sees the connection come from it', async () => {
    const peer = (from: string) => ({
      type: 'http',
      path: '/peer',
      body: `^${from.replaceAll('.', '\\.')} port \\d+$`,
      multiline: true,
    });
    expect(await firstResult({ ...peer(SOURCE_V4), source: SOURCE_V4 }, 80)).toMatchObject({
      ok: true,
      message: 'status 200, body pattern ok',
    });
    // Without it, the kernel's choice: the host's first address on the link.
    expect(await firstResult(peer(SOURCE_V4), 80)).toMatchObject({
      ok: false,
      message: `status 200, body does not match /^198\\.51\\.100\\.3 port \\d+$/`,
    });
  });

  it('interface: a link-local address on the named interface', async () => {
    const server = serverLinkLocal();
    const { iface } = hostLinkLocal();
    const result = await run(
      { type: 'http', path: '/health', address: server, port: 8080, interface: iface },
      to(8080, { address: server }),
    );
    expect(result).toMatchObject({ ok: true, message: 'status 200' });
    // Node's sockets cannot be bound to a device: on other addresses the setting is refused.
    expect(() => prepareCheck(check({ type: 'http', interface: iface }), to(80))).toThrow(
      `interface ${iface} applies to link-local IPv6 addresses (fe80::/10), ` +
        'and neither 198.51.100.2 nor the source is one',
    );
  });

  it('https against the plain port: the reason says the server does not speak TLS', async () => {
    const result = await run({ type: 'https', verify: false }, to(80));
    expect(result).toMatchObject({
      ok: false,
      message: 'TLS handshake failed: the server did not answer TLS',
    });
  });

  it('https with the CA and the name: up; without the CA: not trusted, with what to do', async () => {
    expect(
      await run(
        { type: 'https', path: '/health', sni: 'web.test', ca: pki.caCert, body: 'OK' },
        to(443),
      ),
    ).toMatchObject({ ok: true, message: 'status 200, body pattern ok' });
    const untrusted = await run({ type: 'https', path: '/health', sni: 'web.test' }, to(443));
    expect(untrusted.ok).toBe(false);
    expect(untrusted.message).toMatch(
      /^TLS certificate not trusted: .*\(set ca to its CA file, or verify: false\)$/,
    );
    const wrongName = await run(
      { type: 'https', path: '/health', sni: 'other.test', ca: pki.caCert },
      to(443),
    );
    expect(wrongName.message).toMatch(/^TLS certificate does not cover the name: .*other\.test/);
  });
});

describe.skipIf(skipAll || noUnbound)('dns against unbound', () => {
  beforeAll(async () => {
    const unbound = startServer(UNBOUND, ['-d', '-c', unboundConfig(dir)]);
    servers.push(unbound);
    await listening(53, 'udp').catch((err) => {
      throw new Error(`${err.message}: ${unbound.output()}`);
    });
    await listening(53, 'tcp');
  }, 30_000);

  const cases: Array<[string, Record<string, unknown>, boolean, string]> = [
    [
      'A over UDP',
      { name: 'web.test', answer: '192.0.2.1' },
      true,
      'rcode NOERROR, answer 192.0.2.1',
    ],
    [
      'A over TCP',
      { name: 'web.test', answer: '192.0.2.1', transport: 'tcp' },
      true,
      'rcode NOERROR, answer 192.0.2.1',
    ],
    [
      'AAAA in another spelling',
      { name: 'web.test', qtype: 'AAAA', answer: '2001:DB8:0::1' },
      true,
      'rcode NOERROR, answer 2001:DB8:0::1',
    ],
    [
      'TXT as dig +short prints it',
      { name: 'web.test', qtype: 'TXT', answer: '"hello world"' },
      true,
      'rcode NOERROR, answer "hello world"',
    ],
    [
      'TXT unquoted: the strings joined',
      { name: 'web.test', qtype: 'TXT', answer: 'hello world' },
      true,
      'rcode NOERROR, answer hello world',
    ],
    [
      'multi-string TXT as dig prints it',
      { name: 'multi.web.test', qtype: 'TXT', answer: '"v=spf1" "include:example.test"' },
      true,
      'rcode NOERROR, answer "v=spf1" "include:example.test"',
    ],
    [
      'multi-string TXT quoted as one string is another answer',
      { name: 'multi.web.test', qtype: 'TXT', answer: '"v=spf1include:example.test"' },
      false,
      'answer "v=spf1include:example.test" not in reply ("v=spf1" "include:example.test")',
    ],
    [
      'EDNS with the DO bit',
      { name: 'web.test', edns: true, dnssec_ok: true, edns_udp_size: 4096, answer: '192.0.2.1' },
      true,
      'rcode NOERROR, answer 192.0.2.1',
    ],
    [
      'a missing name is NXDOMAIN',
      { name: 'nothing.web.test' },
      false,
      'rcode NXDOMAIN, expected NOERROR',
    ],
    [
      'NXDOMAIN when asked for',
      { name: 'nothing.web.test', rcode: 'NXDOMAIN' },
      true,
      'rcode NXDOMAIN',
    ],
    ['a refused zone', { name: 'x.refused.test' }, false, 'rcode REFUSED, expected NOERROR'],
    [
      'a wrong answer',
      { name: 'web.test', answer: '192.0.2.99' },
      false,
      'answer 192.0.2.99 not in reply (192.0.2.1)',
    ],
  ];
  it.each(cases)('%s', async (_name, settings, ok, message) => {
    const result = await run({ type: 'dns', ...settings }, to(53));
    expect(result).toMatchObject({ ok, message });
  });

  it('over IPv6', async () => {
    expect(
      await run(
        { type: 'dns', name: 'web.test', answer: '192.0.2.1' },
        to(53, { address: SERVER_V6 }),
      ),
    ).toMatchObject({ ok: true, message: 'rcode NOERROR, answer 192.0.2.1' });
  });

  it('EDNS: a TXT answer of over 512 bytes comes over UDP only when the query makes room for it', async () => {
    const big = { type: 'dns', name: 'big.web.test', qtype: 'TXT', answer: BIG_TXT };
    const truncated = { ok: false, message: 'reply truncated over UDP; use transport: tcp' };
    const whole = { ok: true, message: `rcode NOERROR, answer ${BIG_TXT}` };
    expect(await run(big, to(53))).toMatchObject(truncated);
    expect(await run({ ...big, edns: true }, to(53))).toMatchObject(whole);
    expect(await run({ ...big, edns: true, edns_udp_size: 512 }, to(53))).toMatchObject(truncated);
    expect(await run({ ...big, transport: 'tcp' }, to(53))).toMatchObject(whole);
  });

  it('a fixed source port serves DNS over TCP check after check', async () => {
    const query = { type: 'dns', name: 'web.test', transport: 'tcp', source_port: 40311 };
    expect(await inRow(query, to(53))).toEqual(Array(3).fill('rcode NOERROR'));
  });

  it('source address, over UDP and TCP: unbound refuses queries from it', async () => {
    for (const transport of ['udp', 'tcp']) {
      const query = { type: 'dns', name: 'web.test', transport };
      expect(await firstResult({ ...query, source: SOURCE_V4 }, 53)).toMatchObject({
        ok: false,
        message: 'rcode REFUSED, expected NOERROR',
      });
      expect(await firstResult(query, 53)).toMatchObject({ ok: true, message: 'rcode NOERROR' });
    }
  });

  it.skipIf(noDig)(
    'TXT with quotes, a backslash and UTF-8: the answer is what dig +short prints',
    async () => {
      const dig = (name: string) =>
        execFileSync('dig', ['+short', `@${SERVER_V4}`, name, 'TXT'], { encoding: 'utf8' }).trim();
      // The multi-string answer of the table above is dig's too.
      expect(dig('multi.web.test')).toBe('"v=spf1" "include:example.test"');
      const printed = dig('esc.web.test');
      expect(printed).toBe('"say \\"hi\\" \\\\ back" "caf\\195\\169"');
      const result = await run(
        { type: 'dns', name: 'esc.web.test', qtype: 'TXT', answer: printed },
        to(53),
      );
      expect(result).toMatchObject({ ok: true, message: `rcode NOERROR, answer ${printed}` });
      // Unquoted: the strings joined, as text (UTF-8).
      expect(
        await run(
          { type: 'dns', name: 'esc.web.test', qtype: 'TXT', answer: 'say "hi" \\ backcafé' },
          to(53),
        ),
      ).toMatchObject({ ok: true });
    },
  );

  it('https to a server that never answers the handshake times out and leaves nothing', async () => {
    // unbound over TCP reads the ClientHello's first bytes as a DNS message's length, and waits.
    const result = await run({ type: 'https', verify: false }, to(53), 500);
    expect(result).toMatchObject({ ok: false, timedOut: true, message: 'timed out after 500ms' });
  });
});

describe.skipIf(skipAll || noExim)('smtp against exim', () => {
  beforeAll(async () => {
    const exim = startServer(EXIM, [
      '-C',
      eximConfig(dir),
      '-bdf',
      '-oX',
      '25',
      '-oP',
      join(dir, 'exim.pid'),
    ]);
    servers.push(exim);
    await listening(25).catch((err) => {
      throw new Error(`${err.message}: ${exim.output()}`);
    });
  }, 30_000);

  it('up on the banner and EHLO; QUIT sent, the connection gone', async () => {
    expect(await run({ type: 'smtp', ehlo: 'lvsd.test' }, to(25))).toMatchObject({
      ok: true,
      message: 'banner 220, EHLO 250',
    });
  });

  it('a fixed source port serves check after check (QUIT answered, the server closes first)', async () => {
    expect(await inRow({ type: 'smtp', source_port: 40321 }, to(25))).toEqual(
      Array(3).fill('banner 220, EHLO 250'),
    );
  });

  it('smtp against nginx is not SMTP', async () => {
    if (noNginx) return;
    // nginx waits for a request and never greets: no banner within the timeout.
    const result = await run({ type: 'smtp' }, to(80), 1000);
    expect(result).toMatchObject({ ok: false, timedOut: true, message: 'timed out after 1000ms' });
  });
});

/** Processes of this test whose program is a monitoring plugin (none may outlive its check). */
function pluginProcesses(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (
        cmdline.startsWith(`${PLUGINS}/`) &&
        !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z')
      )
        out.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe.skipIf(skipAll || noPlugins || noNginx || noExim)(
  'exec with the monitoring-plugins programs',
  () => {
    const plugin = (name: string, ...args: string[]) => ({
      type: 'exec',
      command: [`${PLUGINS}/${name}`, ...args],
    });
    const checkHttp = (...args: string[]) =>
      plugin('check_http', '-I', '$LVSD_CHECK_ADDRESS', '-p', BRACED_PORT, ...args);

    async function runPlugin(
      config: Record<string, unknown>,
      target: CheckTarget,
      timeoutMs = 5000,
    ) {
      const result = await run(config, target, timeoutMs);
      expect(
        await eventually(() => pluginProcesses().length === 0),
        'a plugin outlived its check',
      ).toBe(true);
      return result;
    }

    it('check_http with the address and port substituted in argv: up', async () => {
      expect(await runPlugin(checkHttp('-u', '/health'), to(80))).toMatchObject({
        ok: true,
        message: 'exit 0',
      });
    });

    it('check_http as another user (user: nobody): up', async () => {
      expect(
        await runPlugin({ ...checkHttp('-u', '/health'), user: 'nobody' }, to(80)),
      ).toMatchObject({ ok: true, message: 'exit 0' });
    });

    it('WARNING (exit 1) is down by default, with the summary and no perfdata', async () => {
      const result = await runPlugin(checkHttp('-u', '/missing'), to(80));
      expect(result.ok).toBe(false);
      expect(result.message).toMatch(
        /^exit 1: HTTP WARNING: HTTP\/1\.1 404 Not Found - \d+ bytes in [\d.]+ second response time$/,
      );
    });

    it('warning: up counts exit 1 as up', async () => {
      const result = await runPlugin({ ...checkHttp('-u', '/missing'), warning: 'up' }, to(80));
      expect(result.ok).toBe(true);
      expect(result.message).toMatch(/^exit 1 \(warning: up\): HTTP WARNING/);
    });

    it('CRITICAL says what the plugin said', async () => {
      const result = await runPlugin(checkHttp('-u', '/health', '-s', 'never there'), to(80));
      expect(result).toMatchObject({ ok: false });
      expect(result.message).toMatch(
        /^exit 2: HTTP CRITICAL: HTTP\/1\.1 200 OK - string 'never there' not found/,
      );
    });

    it("a usage error shows the plugin's complaint, not its usage text", async () => {
      const result = await runPlugin(plugin('check_http'), to(80));
      expect(result).toMatchObject({
        ok: false,
        message: 'exit 3: check_http: Could not parse arguments',
      });
    });

    it('check_smtp against exim and check_tcp against a closed port', async () => {
      expect(
        await runPlugin(
          plugin('check_smtp', '-H', '$LVSD_CHECK_ADDRESS', '-p', '$LVSD_CHECK_PORT'),
          to(25),
        ),
      ).toMatchObject({ ok: true, message: 'exit 0' });
      const closed = await runPlugin(
        plugin('check_tcp', '-H', '$LVSD_CHECK_ADDRESS', '-p', '$LVSD_CHECK_PORT'),
        to(81),
      );
      expect(closed).toMatchObject({
        ok: false,
        message: `exit 2: connect to address ${SERVER_V4} and port 81: Connection refused`,
      });
    });

    it('a plugin that hangs is killed at the timeout', async () => {
      // A body that keeps coming: the killed plugin's unread data makes its kernel reset the
      // connection, so nginx lets go of it too.
      const result = await runPlugin(checkHttp('-u', '/slow', '-t', '30'), to(80), 500);
      expect(result).toMatchObject({ ok: false, timedOut: true });
    });

    it("dynamic_weight: exit_status is keepalived's misc_dynamic", async () => {
      const exit = (code: number) => ({
        type: 'exec',
        command: ['/bin/sh', '-c', `exit ${code}`],
        dynamic_weight: 'exit_status',
      });
      expect(await run(exit(12), to(80))).toMatchObject({
        ok: true,
        weight: 10,
        message: 'exit 12, weight 10',
      });
      expect(await run(exit(0), to(80))).toMatchObject({ ok: true, message: 'exit 0' });
      expect(await run(exit(1), to(80))).toMatchObject({ ok: false, message: 'exit 1' });
    });
  },
);

describe.skipIf(skipAll || noNginx || noExim || noUnbound)(
  'all: several checks of one real',
  () => {
    it('up when all pass; the failing part is named, the others are ended', async () => {
      const parts = [
        { type: 'http', path: '/health', port: 80 },
        { type: 'smtp', port: 25 },
        { type: 'dns', port: 53, name: 'web.test' },
      ];
      expect(await run({ type: 'all', checks: parts }, to(80))).toMatchObject({
        ok: true,
        message: 'http: status 200; smtp: banner 220, EHLO 250; dns: rcode NOERROR',
      });
      const failing = await run(
        {
          type: 'all',
          checks: [
            { type: 'http', path: '/stream', body: 'x', port: 80 },
            { type: 'tcp', port: 81 },
          ],
        },
        to(80),
      );
      expect(failing.ok).toBe(false);
      expect(failing.message).toMatch(/^tcp: connect ECONNREFUSED 198\.51\.100\.2:81$/);
    });
  },
);

describe.skipIf(skipAll || noNginx)(
  'the first result of a real that starts down is logged once',
  () => {
    it('logs why, at info, once', async () => {
      const { logger, lines } = memoryLogger();
      const manager = new HealthManager({ logger, random: () => 0 });
      const failing = check({ type: 'http', path: '/missing', interval: '100ms', timeout: '90ms' });
      manager.update(resolved([service('web', '10.0.0.1', 80, [real(SERVER_V4, 80, failing)])]));
      await eventually(() => manager.counters.checks >= 3, 3000);
      await manager.stop();
      const first = lines.filter((l) => l.event === 'health.first-check');
      expect(first).toHaveLength(1);
      expect(first[0]).toMatchObject({
        level: 30,
        service: 'web',
        real: `${SERVER_V4}:80`,
        checker: 'http',
        reason: 'status 404, expected 200-299',
        msg: `web ${SERVER_V4}:80 stays down: first check failed: status 404, expected 200-299`,
      });
    });
  },
);

/**
 * icmp goes through the raw-socket module, whose receive worker runs from the build
 * (dist/ffi/receive-worker.js): these cases load the built checkers.
 */
const REPO = new URL('../../..', import.meta.url).pathname;
const noBuild = missing(`${REPO}dist/health/checkers/icmp.js`, 'the build (npm run build)');
if (noBuild) console.warn(`skipping the icmp checker tests: ${noBuild}`);

/** Runs an icmp check in the server's namespace as `user`, with that namespace's ping_group_range. */
function pingFromNamespace(user: string, pingGroups: string, address: string): CheckRun {
  sh('ip', ['netns', 'exec', NS, 'sysctl', '-qw', `net.ipv4.ping_group_range=${pingGroups}`]);
  const script = `
    const { prepareCheck } = await import('${REPO}dist/health/checkers/index.js');
    const { CheckConfig } = await import('${REPO}dist/config/check.js');
    const { runCheck } = await import('${REPO}dist/health/attempt.js');
    const target = { service: 'web', realId: 'r', address: '${address}', port: 0, realAddress: '${address}',
      realPort: 0, vip: '', vport: 0 };
    const result = await runCheck(prepareCheck(CheckConfig.parse({ type: 'icmp' }), target), 2000);
    console.log(JSON.stringify(result));`;
  const out = sh('ip', [
    'netns',
    'exec',
    NS,
    'runuser',
    '-u',
    user,
    '--',
    process.execPath,
    '--input-type=module',
    '-e',
    script,
  ]);
  return JSON.parse(out.trim().split('\n').pop() as string) as CheckRun;
}

const echoed = { ok: true, message: expect.stringMatching(/^echo reply in \d+\.\d ms$/) };

describe.skipIf(skipAll || noBuild)('icmp echo', () => {
  let built: typeof import('../../../src/health/checkers/index.js');
  beforeAll(async () => {
    built = await import(`${REPO}dist/health/checkers/index.js`);
  });
  const ping = (address: string, extra: Record<string, unknown> = {}, timeoutMs = 2000) =>
    runCheck(built.prepareCheck(check({ type: 'icmp', ...extra }), to(0, { address })), timeoutMs);

  async function noSocketLeft(before: Set<string>) {
    // Closed once the receive worker has let go of it: allow for a busy host.
    const gone = await eventually(() => [...ownSockets()].every((s) => before.has(s)), 5000);
    expect(gone, 'the echo socket outlived its check').toBe(true);
  }

  it('IPv4 and IPv6: up on the reply, and the socket is closed', async () => {
    await ping(SERVER_V4);
    const before = ownSockets();
    for (const address of [SERVER_V4, SERVER_V6]) {
      const result = await ping(address);
      expect(result).toMatchObject({ ok: true, timedOut: false });
      expect(result.message).toMatch(/^echo reply in \d+\.\d ms$/);
    }
    await noSocketLeft(before);
  });

  it('nobody at the address: a timeout, and the socket is closed', async () => {
    const before = ownSockets();
    expect(await ping(NOBODY_V4, {}, 300)).toMatchObject({
      ok: false,
      timedOut: true,
      message: 'timed out after 300ms',
    });
    await noSocketLeft(before);
  });

  it('a link-local address through the named interface', async () => {
    const { iface } = hostLinkLocal();
    expect(await ping(serverLinkLocal(), { interface: iface })).toMatchObject(echoed);
  });

  it('a router that refuses the destination: down at once with its reason (raw socket)', async () => {
    const refused = '203.0.113.216';
    sh('ip', ['netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    sh('ip', ['-n', NS, 'route', 'add', 'prohibit', `${refused}/32`]);
    sh('ip', ['route', 'add', `${refused}/32`, 'via', SERVER_V4]);
    try {
      const result = await ping(refused, {}, 1500);
      expect(result).toMatchObject({
        ok: false,
        timedOut: false,
        message: `ICMP communication administratively prohibited (from ${SERVER_V4})`,
      });
    } finally {
      sh('ip', ['route', 'del', `${refused}/32`]);
    }
  });

  it('without privilege, a ping socket where ping_group_range allows it, IPv4 and IPv6', () => {
    for (const address of [HOST_V4, HOST_V6])
      expect(pingFromNamespace('nobody', '0 2147483647', address)).toMatchObject(echoed);
  });

  it('without privilege and without ping sockets, the reason names CAP_NET_RAW', () => {
    const result = pingFromNamespace('nobody', '1 0', HOST_V4);
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/socket .*(EPERM|EACCES).*CAP_NET_RAW/);
  });

  it('scheduled echo checks hold the receive worker until they stop; then the process exits', () => {
    const script = `
      const { HealthManager } = await import('${REPO}dist/health/manager.js');
      const { CheckConfig } = await import('${REPO}dist/config/check.js');
      const pino = (await import('pino')).default;
      const m = new HealthManager({ logger: pino({ level: 'silent' }), random: () => 0 });
      const check = CheckConfig.parse({ type: 'icmp', interval: '200ms', timeout: '190ms' });
      const real = { id: 'r', dest: { address: '${SERVER_V4}', port: 0, weight: 1 }, check };
      m.update({ services: [{ name: 'web', service: { address: '10.0.0.1', port: 80 }, reals: [real],
        check: null, quorum: null, sorry: null, alpha: false }] });
      await new Promise((r) => setTimeout(r, 1000));
      await m.stop();
      console.log(JSON.stringify(m.counters));`;
    const started = Date.now();
    const out = sh('sh', [
      '-c',
      `cd ${REPO} && timeout 10 ${process.execPath} --input-type=module -e "$0"`,
      script,
    ]);
    // The first echo may go out while the worker is still starting; the others may not fail.
    const counters = JSON.parse(out.trim()) as { checks: number; failures: number };
    expect(counters.checks).toBeGreaterThanOrEqual(4);
    expect(counters.failures).toBeLessThanOrEqual(1);
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it('as root without ping sockets: a raw socket, IPv4 and IPv6', () => {
    for (const address of [HOST_V4, HOST_V6])
      expect(pingFromNamespace('root', '1 0', address)).toMatchObject(echoed);
  });
});
