import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runStatus, statusUrl } from '../../src/cli/commands/status.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { parseListenAddress, StatusServer } from '../../src/daemon/http.js';
import { DaemonMetrics } from '../../src/daemon/metrics.js';
import { DaemonStatus } from '../../src/daemon/status.js';
import { FakeIpvs } from '../../src/ipvs/fake.js';
import { tcpService } from '../reconcile/fixtures.js';
import { memoryLogger, ScriptedHealth, testLoader } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(content: string) {
  const dir = await mkdtemp(join(tmpdir(), 'lvsd-http-'));
  await writeFile(join(dir, 'lvsd.yaml'), content);
  const kernel = new FakeIpvs();
  const health = new ScriptedHealth();
  const { logger } = memoryLogger();
  const daemon = new Daemon({
    configPath: dir,
    load: testLoader,
    client: kernel,
    health: health.manager,
    logger,
    stateDir: await mkdtemp(join(tmpdir(), 'lvsd-state-')),
    hostPorts: {
      sysctls: {
        read: async (n) => Object.fromEntries(n.map((x) => [x, null])),
        write: async () => undefined,
      },
      openAddresses: null,
      markRules: null,
    },
    metrics: new DaemonMetrics({ processMetrics: false }),
    watch: false,
    statsMaxAgeMs: 0,
    version: '9.9.9',
  });
  await daemon.start();
  const server = new StatusServer(daemon, logger);
  const address = await server.listen('127.0.0.1', 0);
  cleanups.push(
    () => daemon.stop(),
    () => server.close(),
  );
  return { daemon, kernel, health, dir, base: `http://127.0.0.1:${address.port}` };
}

const config = `services:
  web:
    vip: 10.0.0.1:80
    checked: true
    reals:
      192.168.10.2:80: 3
      192.168.10.3:80: 1
`;

// The labels of web's series: lvsd's own and node_exporter's ipvs collector's.
const WEB = 'service="web",local_address="10.0.0.1",local_port="80",proto="TCP",local_mark=""';
const real = (address: string) =>
  `${WEB},real="${address}:80",remote_address="${address}",remote_port="80"`;

describe('HTTP listener', () => {
  it('serves /metrics with per-service and per-real series from the kernel', async () => {
    const s = await serve(config);
    s.kernel.setCounters(tcpService('10.0.0.1', 80), {
      dest: { address: '192.168.10.2', port: 80 },
      activeConns: 7,
      inactiveConns: 2,
      stats: { conns: 40, inBytes: 1234, outBytes: 99, inPackets: 10, outPackets: 8 },
    });
    s.kernel.setCounters(tcpService('10.0.0.1', 80), { stats: { conns: 41 } });
    const response = await fetch(`${s.base}/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    for (const line of [
      'lvsd_config_last_reload_successful 1',
      `lvsd_service_connections_total{${WEB}} 41`,
      `lvsd_real_active_connections{${real('192.168.10.2')}} 7`,
      `lvsd_real_inactive_connections{${real('192.168.10.2')}} 2`,
      `lvsd_real_connections_total{${real('192.168.10.2')}} 40`,
      `lvsd_real_bytes_total{${real('192.168.10.2')},direction="in"} 1234`,
      `lvsd_real_packets_total{${real('192.168.10.2')},direction="out"} 8`,
      `lvsd_real_weight{${real('192.168.10.2')}} 3`,
      `lvsd_real_up{${real('192.168.10.2')}} 1`,
      'lvsd_kernel_writes_total{action="add"} 3',
    ]) {
      expect(text).toContain(line);
    }
    expect(text).toMatch(/lvsd_reconcile_duration_seconds_count\{trigger="start"\} 1/);

    // A real going down shows in health and weight; its series stay (it is still configured).
    await s.health.setDown('web', '192.168.10.3:80', true);
    await s.daemon.requestPass('health');
    const after = await (await fetch(`${s.base}/metrics`)).text();
    expect(after).toContain(`lvsd_real_up{${real('192.168.10.3')}} 0`);
    expect(after).toContain(`lvsd_real_in_kernel{${real('192.168.10.3')}} 0`);
    expect(after).toContain(`lvsd_real_weight{${real('192.168.10.3')}} 0`);
  });

  it('serves /status as JSON valid against the DaemonStatus schema, and /healthz', async () => {
    const s = await serve(config);
    const body = await (await fetch(`${s.base}/status`)).json();
    const status = DaemonStatus.parse(body);
    expect(status.version).toBe('9.9.9');
    expect(status.services[0]).toMatchObject({
      name: 'web',
      id: 'TCP 10.0.0.1:80',
      managed: true,
      inKernel: true,
    });
    expect(status.services[0]!.dests.map((d) => [d.id, d.health, d.weight])).toEqual([
      ['192.168.10.2:80', 'up', 3],
      ['192.168.10.3:80', 'up', 1],
    ]);
    const healthz = await fetch(`${s.base}/healthz`);
    expect(healthz.status).toBe(200);
    expect((await fetch(`${s.base}/nope`)).status).toBe(404);
    expect((await fetch(`${s.base}/status`, { method: 'POST' })).status).toBe(405);
  });

  it('`lvsd status` prints the ipvsadm-style table with a Health column; --json passes the status on', async () => {
    const s = await serve(config);
    await s.health.setDown('web', '192.168.10.3:80', true);
    await s.daemon.requestPass('health');
    let out = '';
    const code = await runStatus(
      { http: s.base.replace('http://', '') },
      (t) => (out += t),
      () => undefined,
    );
    expect(code).toBe(0);
    expect(out).toContain('lvsd 9.9.9');
    expect(out).toContain(
      '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn Health',
    );
    expect(out).toContain('TCP  10.0.0.1:80 wlc');
    expect(out).toMatch(/-> 192\.168\.10\.2:80 +Masq +3 +0 +0 +up$/m);
    expect(out).toMatch(/-> 192\.168\.10\.3:80 +Masq +0 +0 +0 +down \(out\)$/m);

    let json = '';
    await runStatus(
      { http: s.base, json: true },
      (t) => (json += t),
      () => undefined,
    );
    expect(DaemonStatus.parse(JSON.parse(json)).services).toHaveLength(1);
  });

  it('`lvsd status` exits 3 when the last reload was refused, and lists its errors', async () => {
    const s = await serve(config);
    await writeFile(join(s.dir, 'lvsd.yaml'), 'error: weight must be an integer\n');
    await s.daemon.reload();
    let out = '';
    expect(
      await runStatus(
        { http: s.base },
        (t) => (out += t),
        () => undefined,
      ),
    ).toBe(3);
    expect(out).toContain('last reload REFUSED');
    expect(out).toContain('weight must be an integer');
  });

  it('`lvsd status` says so when nothing listens', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    let err = '';
    expect(
      await runStatus(
        { http: `127.0.0.1:${port}` },
        () => undefined,
        (t) => (err += t),
      ),
    ).toBe(1);
    expect(err).toContain('connection refused');
  });
});

describe('HTTP listener before the daemon has started', () => {
  it('answers 503 on /status and /healthz, and serves its own metrics', async () => {
    const { logger } = memoryLogger();
    const daemon = new Daemon({
      configPath: '/nonexistent',
      load: testLoader,
      client: new FakeIpvs(),
      health: new ScriptedHealth().manager,
      logger,
      stateDir: '/nonexistent',
      metrics: new DaemonMetrics({ processMetrics: false }),
      watch: false,
    });
    const server = new StatusServer(daemon, logger);
    const { port } = await server.listen('127.0.0.1', 0);
    cleanups.push(() => server.close());
    const status = await fetch(`http://127.0.0.1:${port}/status`);
    expect(status.status).toBe(503);
    expect(await status.text()).toContain('starting');
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(503);
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('lvsd_config_last_reload_successful 0');
  });
});

describe('listen addresses', () => {
  it.each([
    ['127.0.0.1:9380', { host: '127.0.0.1', port: 9380 }],
    ['[::1]:9380', { host: '::1', port: 9380 }],
    [':9380', { host: '::', port: 9380 }],
    ['9380', { host: '::', port: 9380 }],
    ['localhost:80', { host: 'localhost', port: 80 }],
  ])('%s', (text, expected) => expect(parseListenAddress(text)).toEqual(expected));

  it.each(['127.0.0.1', '1.2.3.4:99999', '::1:80', 'a:b'])('refuses %s', (text) =>
    expect(parseListenAddress(text)).toBeNull(),
  );

  it('status asks a wildcard listener on loopback', () => {
    expect(statusUrl(':9380')).toBe('http://127.0.0.1:9380/status');
    expect(statusUrl('[::1]:9380')).toBe('http://[::1]:9380/status');
    expect(statusUrl('http://lb1:9380/')).toBe('http://lb1:9380/status');
  });
});
