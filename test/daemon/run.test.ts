/**
 * runDaemon (what `lvsd run` calls) wired with the real health manager and desired-state
 * code, on FakeIpvs, with a scripted signal source: SIGHUP reloads, SIGTERM stops and
 * leaves the table, a second start makes zero writes, --no-http listens nowhere.
 */
import { EventEmitter } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDaemon, type RunDaemonOptions } from '../../src/daemon/index.js';
import { FakeIpvs } from '../../src/ipvs/fake.js';
import { memoryLogger, testLoader, waitFor } from './helpers.js';

const content = (weight: number) =>
  `services:\n  web:\n    vip: 10.0.0.1:80\n    reals:\n      192.168.10.2:80: ${weight}\n`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

async function weightOf(kernel: FakeIpvs): Promise<number | undefined> {
  return (await kernel.readTable()).services[0]?.dests[0]?.weight;
}

async function start(
  kernel: FakeIpvs,
  dir: string,
  stateDir: string,
  extra: Partial<RunDaemonOptions> = {},
) {
  const signals = new EventEmitter();
  const { logger, lines } = memoryLogger();
  let closed = 0;
  const done = runDaemon({
    config: dir,
    stateDir,
    http: false,
    cleanupOnExit: false,
    logLevel: 'debug',
    watch: false,
    reloadDebounceMs: 50,
    version: '1.2.3',
    logger,
    load: testLoader,
    openClient: async () =>
      Object.assign(Object.create(kernel) as FakeIpvs, { close: async () => void closed++ }),
    signals: signals as unknown as NodeJS.Process,
    ...extra,
  });
  await waitFor('the first pass', () => lines.some((l) => l.event === 'reconcile'));
  return { signals, lines, done, closed: () => closed };
}

describe('runDaemon', () => {
  it('reloads on SIGHUP, stops on SIGTERM leaving the table, and restarts with zero writes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lvsd-run-'));
    const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-state-'));
    await writeFile(join(dir, 'web.yaml'), content(1));
    const kernel = new FakeIpvs();
    const first = await start(kernel, dir, stateDir);
    expect(await weightOf(kernel)).toBe(1);

    await writeFile(join(dir, 'web.yaml'), content(4));
    first.signals.emit('SIGHUP');
    await waitFor('the SIGHUP reload', async () => (await weightOf(kernel)) === 4);

    first.signals.emit('SIGTERM');
    expect(await first.done).toBe(0);
    expect(first.closed()).toBe(1);
    expect(first.signals.listenerCount('SIGHUP')).toBe(0);
    expect(await weightOf(kernel)).toBe(4);

    const writes = kernel.log.length;
    const second = await start(kernel, dir, stateDir);
    expect(kernel.log.length).toBe(writes);
    second.signals.emit('SIGINT');
    expect(await second.done).toBe(0);
  });

  it('exits 1 without touching the kernel when the config is invalid', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lvsd-run-'));
    await writeFile(join(dir, 'web.yaml'), 'error: no\n');
    const kernel = new FakeIpvs();
    const { logger, lines } = memoryLogger();
    const code = await runDaemon({
      config: dir,
      stateDir: await mkdtemp(join(tmpdir(), 'lvsd-state-')),
      http: false,
      cleanupOnExit: false,
      logLevel: 'info',
      watch: false,
      reloadDebounceMs: 50,
      version: '1',
      logger,
      load: testLoader,
      openClient: async () => kernel,
      signals: new EventEmitter() as unknown as NodeJS.Process,
    });
    expect(code).toBe(1);
    expect(kernel.log).toEqual([]);
    expect(lines.find((l) => l.event === 'config_rejected')?.errors).toEqual([
      expect.stringContaining('no'),
    ]);
  });

  it('serves HTTP when asked, and exits 1 before touching the kernel when the address is taken', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lvsd-run-'));
    const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-state-'));
    await writeFile(join(dir, 'web.yaml'), content(2));
    const port = await freePort();
    const kernel = new FakeIpvs();
    const running = await start(kernel, dir, stateDir, { http: `127.0.0.1:${port}` });
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain(
      'lvsd_real_weight{service="web",local_address="10.0.0.1",local_port="80",proto="TCP",local_mark="",' +
        'real="192.168.10.2:80",remote_address="192.168.10.2",remote_port="80"} 2',
    );

    const other = new FakeIpvs();
    const { logger } = memoryLogger();
    const code = await runDaemon({
      config: dir,
      stateDir,
      http: `127.0.0.1:${port}`,
      cleanupOnExit: false,
      logLevel: 'info',
      watch: false,
      reloadDebounceMs: 50,
      version: '1',
      logger,
      load: testLoader,
      openClient: async () => other,
      signals: new EventEmitter() as unknown as NodeJS.Process,
    });
    expect(code).toBe(1);
    expect(other.log).toEqual([]);

    running.signals.emit('SIGTERM');
    expect(await running.done).toBe(0);
  });
});

describe('runDaemon with the real config loader', () => {
  const yaml = (weight: string) => `reconcile:
  drift_interval: 30s
  drain_timeout: 0s
services:
  web:
    address: 10.0.0.1:80
    forwarding: nat
    reals:
      - address: 192.168.10.2:8080
        weight: ${weight}
`;

  it('applies a real config file, refuses a broken edit naming file, line and field, and takes the fix', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lvsd-run-'));
    const file = join(dir, 'web.yaml');
    await writeFile(file, yaml('2'));
    const kernel = new FakeIpvs();
    const signals = new EventEmitter();
    const { logger, lines } = memoryLogger();
    const done = runDaemon({
      config: dir,
      stateDir: await mkdtemp(join(tmpdir(), 'lvsd-state-')),
      http: false,
      cleanupOnExit: false,
      logLevel: 'debug',
      watch: true,
      reloadDebounceMs: 50,
      version: '1',
      logger,
      openClient: async () => kernel,
      signals: signals as unknown as NodeJS.Process,
    });
    await waitFor('the real in the kernel', async () => (await weightOf(kernel)) === 2);
    const table = await kernel.readTable();
    expect(table.services[0]).toMatchObject({ address: '10.0.0.1', port: 80, protocol: 'tcp' });
    expect(table.services[0]!.dests[0]).toMatchObject({
      address: '192.168.10.2',
      port: 8080,
      forwarding: 'nat',
    });

    const writes = kernel.log.length;
    await writeFile(file, yaml('heavy'));
    const rejected = await waitFor('the refusal', () =>
      lines.find((l) => l.event === 'config_rejected'),
    );
    const errors = rejected.errors as string[];
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatch(
      new RegExp(
        `^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:10:\\d+: error: services\\.web\\.reals\\[0\\]\\.weight`,
      ),
    );
    expect(kernel.log.length).toBe(writes);

    await writeFile(file, yaml('6'));
    await waitFor('the fix in the kernel', async () => (await weightOf(kernel)) === 6);
    signals.emit('SIGTERM');
    expect(await done).toBe(0);
  });
});

describe('runDaemon with real health checks (TCP to a loopback listener)', () => {
  const checked = (port: number) => `reconcile:
  drain_timeout: 0s
services:
  web:
    address: 10.0.0.1:80
    forwarding: nat
    check:
      type: tcp
      address: 127.0.0.1
      port: ${port}
      interval: 200ms
      timeout: 150ms
      rise: 1
      fall: 1
    reals:
      - 192.168.10.2:8080
`;

  it(
    'puts a real in when its check passes, takes it out when it fails, and a restart keeps a live real ' +
      'in with zero writes',
    async () => {
      const listener = createServer((socket) => socket.destroy());
      await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
      const port = (listener.address() as AddressInfo).port;
      const dir = await mkdtemp(join(tmpdir(), 'lvsd-run-'));
      await writeFile(join(dir, 'web.yaml'), checked(port));
      const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-state-'));
      const kernel = new FakeIpvs();
      const httpPort = await freePort();
      const boot = () => {
        const signals = new EventEmitter();
        const { logger, lines } = memoryLogger();
        const done = runDaemon({
          config: dir,
          stateDir,
          http: `127.0.0.1:${httpPort}`,
          cleanupOnExit: false,
          logLevel: 'debug',
          watch: false,
          reloadDebounceMs: 50,
          version: '1',
          logger,
          // The fake outlives each run, as the kernel outlives lvsd.
          openClient: async () =>
            Object.assign(Object.create(kernel) as FakeIpvs, { close: async () => undefined }),
          signals: signals as unknown as NodeJS.Process,
        });
        return { signals, lines, done };
      };

      // First start: the check's `initial` is down, so the real goes in only once it passes.
      const first = boot();
      await waitFor('the checked real in the kernel', async () => (await weightOf(kernel)) === 1);
      const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      expect(metrics).toMatch(
        /lvsd_check_duration_seconds_count\{service="web",type="tcp"\} [1-9]/,
      );
      expect(metrics).toMatch(/lvsd_health_transitions_total\{service="web",to="up"\} 1/);
      first.signals.emit('SIGTERM');
      expect(await first.done).toBe(0);

      // Restart: the real is live with weight 1, so it starts up before any check ran: no writes.
      const writes = kernel.log.length;
      const second = boot();
      await waitFor('the first pass', () => second.lines.some((l) => l.event === 'reconcile'));
      expect(kernel.log.length).toBe(writes);

      // The backend goes away: the check fails and the real leaves.
      await new Promise((r) => listener.close(r));
      await waitFor(
        'the failed real out of the kernel',
        async () => (await kernel.readTable()).services[0]?.dests.length === 0,
      );
      const status = (await (await fetch(`http://127.0.0.1:${httpPort}/status`)).json()) as {
        services: Array<{
          dests: Array<{ health: string; inKernel: boolean; message: string | null }>;
        }>;
      };
      expect(status.services[0]!.dests[0]).toMatchObject({ health: 'down', inKernel: false });
      expect(status.services[0]!.dests[0]!.message).toMatch(/ECONNREFUSED|refused/i);
      second.signals.emit('SIGTERM');
      expect(await second.done).toBe(0);
    },
  );
});
