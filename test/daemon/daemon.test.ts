import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Daemon, ConfigRejectedError } from '../../src/daemon/daemon.js';
import { DaemonMetrics } from '../../src/daemon/metrics.js';
import { FakeIpvs } from '../../src/ipvs/fake.js';
import { destId, serviceId } from '../../src/ipvs/model.js';
import { MemorySysctls } from '../../src/sysctl/memory.js';
import { dest, tcpService } from '../reconcile/fixtures.js';
import { memoryLogger, ScriptedHealth, testLoader, waitFor } from './helpers.js';

const noSysctls = new MemorySysctls();
const web = tcpService('10.0.0.1', 80);

function yaml(weights: Record<string, number>, extra = ''): string {
  const reals = Object.entries(weights)
    .map(([r, w]) => `      ${r}: ${w}`)
    .join('\n');
  return `${extra}services:\n  web:\n    vip: 10.0.0.1:80\n    checked: true\n    reals:\n${reals}\n`;
}

async function kernelWeights(kernel: FakeIpvs): Promise<Record<string, number>> {
  const svc = (await kernel.readTable()).services.find((s) => serviceId(s) === 'TCP 10.0.0.1:80');
  return Object.fromEntries((svc?.dests ?? []).map((d) => [destId(d), d.weight]));
}

async function metric(
  daemon: Pick<Daemon, 'stop' | 'renderMetrics'>,
  name: string,
): Promise<string> {
  const text = await daemon.renderMetrics();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n');
}

/**
 * Waits until a pass in flight has finished (its logs and counters written after the kernel
 * changed): a pass requested now runs after it. With nothing to change it writes nothing.
 */
async function settle(s: { daemon: { requestPass(t: 'drift'): Promise<unknown> } }): Promise<void> {
  await s.daemon.requestPass('drift');
}

interface Setup {
  dir: string;
  file: string;
  kernel: FakeIpvs;
  health: ScriptedHealth;
  daemon: Daemon;
  logs: Array<Record<string, unknown>>;
  loads: { count: number };
  stateDir: string;
}

const running: Array<Pick<Daemon, 'stop' | 'renderMetrics'>> = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((d) => d.stop()));
});

async function setup(
  options: {
    content?: string;
    kernel?: FakeIpvs;
    stateDir?: string;
    watch?: boolean;
    cleanupOnExit?: boolean;
    dir?: string;
    configPath?: string;
    health?: ScriptedHealth;
  } = {},
): Promise<Setup> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'lvsd-daemon-')));
  const file = join(dir, 'lvsd.yaml');
  if (options.content !== undefined) await writeFile(file, options.content);
  const kernel = options.kernel ?? new FakeIpvs();
  const health = options.health ?? new ScriptedHealth();
  const { logger, lines } = memoryLogger();
  const loads = { count: 0 };
  const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), 'lvsd-state-')));
  const daemon = new Daemon({
    configPath: options.configPath ?? dir,
    load: async (path) => {
      loads.count++;
      return testLoader(path);
    },
    client: kernel,
    health: health.manager,
    logger,
    stateDir,
    hostPorts: { sysctls: noSysctls, openAddresses: null, markRules: null },
    metrics: new DaemonMetrics({ processMetrics: false }),
    watch: options.watch ?? true,
    reloadDebounceMs: 100,
    drainRecheckMs: 50,
    retryMs: 100,
    statsMaxAgeMs: 0,
    cleanupOnExit: options.cleanupOnExit ?? false,
  });
  running.push(daemon);
  return { dir, file, kernel, health, daemon, logs: lines, loads, stateDir };
}

describe('daemon: start and reload', () => {
  it('applies the config at start and follows a weight edit in the file', async () => {
    const s = await setup({ content: yaml({ '192.168.10.2:80': 1, '192.168.10.3:80': 1 }) });
    await s.daemon.start();
    expect(await kernelWeights(s.kernel)).toEqual({ '192.168.10.2:80': 1, '192.168.10.3:80': 1 });
    expect(await metric(s.daemon, 'lvsd_config_last_reload_successful')).toBe(
      'lvsd_config_last_reload_successful 1',
    );

    await writeFile(s.file, yaml({ '192.168.10.2:80': 5, '192.168.10.3:80': 1 }));
    await waitFor(
      'the weight edit in the kernel',
      async () => (await kernelWeights(s.kernel))['192.168.10.2:80'] === 5,
    );
    expect(s.logs.some((l) => l.event === 'config_reloaded')).toBe(true);
  });

  it('refuses to start on an invalid config, naming every error, and touches nothing', async () => {
    const s = await setup({ content: 'error: weight must be a number\nservices: [' });
    await expect(s.daemon.start()).rejects.toBeInstanceOf(ConfigRejectedError);
    expect(s.kernel.log).toEqual([]);
    const rejected = s.logs.find((l) => l.event === 'config_rejected');
    expect(rejected?.errors).toHaveLength(1);
  });

  it('ignores an invalid new config: kernel untouched, metric 0, errors logged; a fix sets it to 1', async () => {
    const s = await setup({ content: yaml({ '192.168.10.2:80': 1 }) });
    await s.daemon.start();
    const writesBefore = s.kernel.log.length;

    await writeFile(join(s.dir, 'broken.yaml'), 'error: first problem\n');
    await writeFile(s.file, `error: second problem\n${yaml({ '192.168.10.2:80': 9 })}`);
    await waitFor('the metric to drop to 0', async () =>
      (await metric(s.daemon, 'lvsd_config_last_reload_successful')).endsWith(' 0'),
    );
    const rejected = s.logs.filter((l) => l.event === 'config_rejected').at(-1)!;
    expect(rejected.errors).toEqual([
      expect.stringContaining('first problem'),
      expect.stringContaining('second problem'),
    ]);
    expect(s.kernel.log.length).toBe(writesBefore);
    expect(await kernelWeights(s.kernel)).toEqual({ '192.168.10.2:80': 1 });
    expect((await s.daemon.status()).lastReload).toMatchObject({ ok: false });

    // The last good config is still in force: drift is still repaired against it, health still acts on it.
    s.health.setDown('web', '192.168.10.2:80', true);
    await waitFor(
      'the down real to leave',
      async () => Object.keys(await kernelWeights(s.kernel)).length === 0,
    );
    s.health.setDown('web', '192.168.10.2:80', false);
    await waitFor(
      'the real to come back',
      async () => (await kernelWeights(s.kernel))['192.168.10.2:80'] === 1,
    );

    await rm(join(s.dir, 'broken.yaml'));
    await writeFile(s.file, yaml({ '192.168.10.2:80': 9 }));
    await waitFor(
      'the fixed config in the kernel',
      async () => (await kernelWeights(s.kernel))['192.168.10.2:80'] === 9,
    );
    expect(await metric(s.daemon, 'lvsd_config_last_reload_successful')).toBe(
      'lvsd_config_last_reload_successful 1',
    );
    const stamp = Number(
      (await metric(s.daemon, 'lvsd_config_last_reload_success_timestamp_seconds')).split(' ')[1],
    );
    expect(stamp).toBeGreaterThan(Date.now() / 1000 - 60);
  });

  it('an emptied config file removes nothing: the reload is refused and the last good config stays', async () => {
    const s = await setup({ content: yaml({ '192.168.10.2:80': 1 }), watch: false });
    await s.daemon.start();
    const writes = s.kernel.log.length;
    const inForce = await metric(s.daemon, 'lvsd_config_info');
    const succeeded = await metric(s.daemon, 'lvsd_config_last_reload_success_timestamp_seconds');
    await writeFile(s.file, '');
    const record = await s.daemon.reload('signal');
    expect(record).toMatchObject({
      ok: false,
      errors: [expect.stringContaining('refusing to remove every service lvsd manages (1 of 1)')],
    });
    expect(s.kernel.log.length).toBe(writes);
    expect(await kernelWeights(s.kernel)).toEqual({ '192.168.10.2:80': 1 });
    expect(await metric(s.daemon, 'lvsd_config_last_reload_successful')).toBe(
      'lvsd_config_last_reload_successful 0',
    );
    expect(await metric(s.daemon, 'lvsd_removal_refused_total')).toBe(
      'lvsd_removal_refused_total 1',
    );
    // The refused config never shows as the one in force, nor as a success.
    expect(await metric(s.daemon, 'lvsd_config_info')).toBe(inForce);
    expect(await metric(s.daemon, 'lvsd_config_last_reload_success_timestamp_seconds')).toBe(
      succeeded,
    );
    expect(s.logs.find((l) => l.event === 'removal_refused')).toMatchObject({
      level: 'warn',
      removing: ['TCP 10.0.0.1:80'],
      managed: 1,
    });
    // The old config is in force: a weight edit applies as usual.
    expect((await s.daemon.status()).services.map((x) => x.name)).toEqual(['web']);
    await writeFile(s.file, yaml({ '192.168.10.2:80': 4 }));
    expect(await s.daemon.reload('signal')).toMatchObject({ ok: true });
    expect(await kernelWeights(s.kernel)).toEqual({ '192.168.10.2:80': 4 });
  });

  it('reloads on request (SIGHUP) with watching off, at once: a burst of requests loads twice at most', async () => {
    const s = await setup({ content: yaml({ '192.168.10.2:80': 1 }), watch: false });
    await s.daemon.start();
    await writeFile(s.file, yaml({ '192.168.10.2:80': 3 }));
    expect(s.loads.count).toBe(1);
    for (let i = 0; i < 5; i++) s.daemon.requestReload('signal');
    await waitFor(
      'the new weight',
      async () => (await kernelWeights(s.kernel))['192.168.10.2:80'] === 3,
    );
    await waitFor('the reload pass to settle', () =>
      s.logs.some((l) => l.event === 'reconcile' && (l.triggers as string[]).includes('reload')),
    );
    // The first SIGHUP reloads at once, the four that came during it become one more reload.
    await waitFor('the second reload', () => s.loads.count === 3);
    expect(s.loads.count).toBe(3);
  });

  it('an unchanged config reloaded by SIGHUP still runs a pass, and makes no writes', async () => {
    const s = await setup({ content: yaml({ '192.168.10.2:80': 1 }), watch: false });
    await s.daemon.start();
    const writes = s.kernel.log.length;
    const record = await s.daemon.reload('signal');
    expect(record?.ok).toBe(true);
    expect(s.logs.filter((l) => l.event === 'reconcile')).toHaveLength(2);
    expect(s.kernel.log.length).toBe(writes);
  });
});

describe('daemon: health, drift and drains', () => {
  it('a batch of health changes becomes a pass', async () => {
    const s = await setup({
      content: yaml({ '192.168.10.2:80': 1, '192.168.10.3:80': 2 }),
      watch: false,
    });
    await s.daemon.start();
    s.health.setDown('web', '192.168.10.3:80', true);
    await waitFor(
      'the down real to leave the kernel',
      async () => !('192.168.10.3:80' in (await kernelWeights(s.kernel))),
    );
    const status = await s.daemon.status();
    const down = status.services[0]!.dests.find((d) => d.id === '192.168.10.3:80')!;
    expect(down).toMatchObject({ health: 'down', inKernel: false, configuredWeight: 2 });
  });

  it('repairs drift within one drift interval, logging and counting each repair', async () => {
    const s = await setup({
      content: yaml({ '192.168.10.2:80': 1, '192.168.10.3:80': 1 }, 'drift_interval_ms: 200\n'),
      watch: false,
    });
    await s.daemon.start();
    // Someone runs `ipvsadm -D` on the managed service, and adds a real to nothing of ours.
    await s.kernel.execute([{ op: 'delete-service', service: web }]);
    await waitFor(
      'the service to be back',
      async () => Object.keys(await kernelWeights(s.kernel)).length === 2,
    );
    await settle(s);
    const repairs = s.logs.filter((l) => l.event === 'drift_repair');
    expect(repairs.map((l) => `${l.action} ${l.op}`).sort()).toEqual([
      'add add-dest',
      'add add-dest',
      'add add-service',
    ]);
    expect(await metric(s.daemon, 'lvsd_drift_repairs_total')).toContain(
      'lvsd_drift_repairs_total{action="add"} 3',
    );

    // ipvsadm -e changes a weight: put back too.
    await s.kernel.execute([
      { op: 'edit-dest', service: web, dest: dest('192.168.10.2', 80, { weight: 7 }) },
    ]);
    await waitFor(
      'the weight put back',
      async () => (await kernelWeights(s.kernel))['192.168.10.2:80'] === 1,
    );
    await settle(s);
    expect(await metric(s.daemon, 'lvsd_drift_repairs_total')).toContain(
      'lvsd_drift_repairs_total{action="change"} 1',
    );
  });

  it("after a refused reload, repairs drift on the kept config's interval and counts it as drift", async () => {
    const s = await setup({
      content: yaml({ '192.168.10.2:80': 1 }, 'drift_interval_ms: 200\n'),
      watch: false,
    });
    await s.daemon.start();
    // An emptied file: the guard refuses it. Its own drift interval (the 30 s default) and
    // its failed pass must not outlive the refusal: nothing was written, the aim is the same.
    await writeFile(s.file, '');
    expect(await s.daemon.reload('signal')).toMatchObject({ ok: false });
    await s.kernel.execute([
      { op: 'edit-dest', service: web, dest: dest('192.168.10.2', 80, { weight: 7 }) },
    ]);
    const changed = Date.now();
    await waitFor(
      'the weight put back',
      async () => (await kernelWeights(s.kernel))['192.168.10.2:80'] === 1,
      5000,
    );
    expect(Date.now() - changed).toBeLessThan(2000);
    await settle(s);
    expect(s.logs.filter((l) => l.event === 'drift_repair')).toHaveLength(1);
    expect(await metric(s.daemon, 'lvsd_drift_repairs_total')).toContain(
      'lvsd_drift_repairs_total{action="change"} 1',
    );
  });

  it('does not count a config change or a health change as drift', async () => {
    const s = await setup({ content: yaml({ '192.168.10.2:80': 1 }), watch: false });
    await s.daemon.start();
    await writeFile(s.file, yaml({ '192.168.10.2:80': 4 }));
    await s.daemon.reload();
    s.health.setDown('web', '192.168.10.2:80', true);
    await waitFor(
      'the real to leave',
      async () => Object.keys(await kernelWeights(s.kernel)).length === 0,
    );
    await settle(s);
    expect(s.logs.filter((l) => l.event === 'drift_repair')).toEqual([]);
    expect(s.logs.filter((l) => l.event === 'kernel_write').length).toBeGreaterThanOrEqual(4);
  });

  it('schedules passes while a drain waits, and deletes the real once its connections end', async () => {
    const s = await setup({
      content: yaml({ '192.168.10.2:80': 1, '192.168.10.3:80': 1 }, 'drain_timeout_ms: 60000\n'),
      watch: false,
    });
    await s.daemon.start();
    s.kernel.setCounters(web, { dest: { address: '192.168.10.3', port: 80 }, activeConns: 4 });
    await writeFile(s.file, yaml({ '192.168.10.2:80': 1 }, 'drain_timeout_ms: 60000\n'));
    await s.daemon.reload();
    expect(await kernelWeights(s.kernel)).toEqual({ '192.168.10.2:80': 1, '192.168.10.3:80': 0 });
    const status = await s.daemon.status();
    expect(status.draining).toMatchObject([{ dest: '192.168.10.3:80', activeConns: 4 }]);
    expect(status.services[0]!.dests.find((d) => d.id === '192.168.10.3:80')?.health).toBe(
      'draining',
    );

    // No reload, no health change, drift far away: only the drain's own follow-up can do this.
    s.kernel.setCounters(web, { dest: { address: '192.168.10.3', port: 80 }, activeConns: 0 });
    await waitFor(
      'the drained real to go',
      async () => !('192.168.10.3:80' in (await kernelWeights(s.kernel))),
    );
    await settle(s);
    expect(s.logs.filter((l) => l.event === 'drift_repair')).toEqual([]);
  });

  it('retries a pass the kernel refused', async () => {
    const s = await setup({
      content: yaml({ '192.168.10.2:80': 1 }).replace(
        'vip: 10.0.0.1:80',
        'vip: 10.0.0.1:80\n    scheduler: nosuch',
      ),
      watch: false,
    });
    await s.daemon.start();
    expect(s.logs.some((l) => l.event === 'kernel_write' && l.level === 'error')).toBe(true);
    await waitFor('a retry pass', () =>
      s.logs.some((l) => l.event === 'reconcile' && (l.triggers as string[]).includes('retry')),
    );
    expect((await s.daemon.status()).lastReconcile?.failed).toBeGreaterThan(0);
  });
});

describe('daemon: health of the daemon itself', () => {
  it('is unhealthy before the first pass and while the kernel fails, and retries until it answers again', async () => {
    const kernel = new FakeIpvs();
    let broken = false;
    const flaky = Object.assign(Object.create(kernel) as FakeIpvs, {
      readTable: async () => {
        if (broken) throw new Error('netlink: Connection reset');
        return kernel.readTable();
      },
    });
    const s = await setup({ content: yaml({ '192.168.10.2:80': 1 }), kernel: flaky, watch: false });
    expect(s.daemon.healthy().ok).toBe(false);
    await s.daemon.start();
    expect(s.daemon.healthy()).toEqual({ ok: true, reason: 'ok' });

    broken = true;
    const failed = await s.daemon.requestPass('drift');
    expect(failed.error?.message).toContain('Connection reset');
    expect(s.daemon.healthy()).toMatchObject({
      ok: false,
      reason: expect.stringContaining('Connection reset'),
    });
    expect(await metric(s.daemon as never, 'lvsd_reconcile_errors_total')).toBe(
      'lvsd_reconcile_errors_total 1',
    );

    broken = false;
    await waitFor('a retry pass that succeeds', () => s.daemon.healthy().ok);
    expect(
      s.logs.some(
        (l) =>
          l.event === 'reconcile' && (l.triggers as string[]).includes('retry') && l.error === null,
      ),
    ).toBe(true);
  });
});

describe('daemon: stop and restart', () => {
  it('leaves the table in place on stop, and a restart with the same config makes zero writes', async () => {
    const kernel = new FakeIpvs();
    const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-state-'));
    const first = await setup({
      content: yaml({ '192.168.10.2:80': 1, '192.168.10.3:80': 2 }),
      kernel,
      stateDir,
      watch: false,
    });
    await first.daemon.start();
    await first.daemon.stop();
    expect(first.health.stopped).toBe(true);
    const table = await kernel.readTable();
    expect(table.services).toHaveLength(1);
    const writes = kernel.log.length;

    const second = await setup({ dir: first.dir, kernel, stateDir, watch: false });
    await second.daemon.start();
    expect(kernel.log.length).toBe(writes);
    // The health side was handed the live table's weights, so it can start live reals up.
    const live = second.health.updates[0]?.liveWeights;
    expect([live?.('web', '192.168.10.2:80'), live?.('web', '192.168.10.3:80')]).toEqual([1, 2]);
    expect(second.logs.filter((l) => l.event === 'kernel_write')).toEqual([]);
  });

  it('--cleanup-on-exit removes what lvsd owns and leaves other services alone', async () => {
    const kernel = new FakeIpvs();
    const foreign = tcpService('10.9.9.9', 53);
    await kernel.execute([
      { op: 'add-service', service: foreign },
      { op: 'add-dest', service: foreign, dest: dest('192.168.50.1', 53) },
    ]);
    const s = await setup({
      content: yaml({ '192.168.10.2:80': 1 }),
      kernel,
      watch: false,
      cleanupOnExit: true,
    });
    await s.daemon.start();
    expect((await kernel.readTable()).services).toHaveLength(2);
    await s.daemon.stop();
    const left = await kernel.readTable();
    expect(left.services.map((x) => serviceId(x))).toEqual(['TCP 10.9.9.9:53']);
    expect(left.services[0]!.dests).toHaveLength(1);
  });

  it('stop waits for a pass in flight and runs no pass after it', async () => {
    const s = await setup({ content: yaml({ '192.168.10.2:80': 1 }), watch: false });
    await s.daemon.start();
    const pass = s.daemon.requestPass('drift');
    await s.daemon.stop();
    await pass;
    const after = await s.daemon.requestPass('drift');
    expect(after.skipped).toBe(true);
  });
});

describe('daemon: watching', () => {
  it('picks up a save by rename (write a temporary file, rename it over)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lvsd-watch-'));
    const file = join(dir, 'lvsd.yaml');
    await writeFile(file, yaml({ '192.168.10.2:80': 1 }));
    const s = await setup({ dir, configPath: file });
    await s.daemon.start();
    await writeFile(join(dir, '.lvsd.yaml.swp'), 'noise');
    await writeFile(join(dir, 'lvsd.yaml.tmp'), yaml({ '192.168.10.2:80': 6 }));
    await rename(join(dir, 'lvsd.yaml.tmp'), file);
    await waitFor(
      'the renamed-in config',
      async () => (await kernelWeights(s.kernel))['192.168.10.2:80'] === 6,
    );
    // and a second rename (the watch survives the first)
    await writeFile(join(dir, 'lvsd.yaml.tmp'), yaml({ '192.168.10.2:80': 8 }));
    await rename(join(dir, 'lvsd.yaml.tmp'), file);
    await waitFor(
      'the second renamed-in config',
      async () => (await kernelWeights(s.kernel))['192.168.10.2:80'] === 8,
    );
  });

  it('picks up a Kubernetes ConfigMap update (the ..data symlink swapped)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lvsd-configmap-'));
    const write = async (stamp: string, weight: number) => {
      await mkdir(join(dir, stamp));
      await writeFile(join(dir, stamp, 'lvsd.yaml'), yaml({ '192.168.10.2:80': weight }));
    };
    await write('..2026_11_25_20_00_00.1', 1);
    await symlink('..2026_11_25_20_00_00.1', join(dir, '..data'));
    await symlink('..data/lvsd.yaml', join(dir, 'lvsd.yaml'));
    const s = await setup({ dir });
    await s.daemon.start();
    expect(await kernelWeights(s.kernel)).toEqual({ '192.168.10.2:80': 1 });

    // What the kubelet's atomic writer does: new directory, new ..data_tmp link renamed over
    // ..data, old directory removed.
    await write('..2026_11_25_20_05_00.2', 4);
    await symlink('..2026_11_25_20_05_00.2', join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    await rm(join(dir, '..2026_11_25_20_00_00.1'), { recursive: true });
    await waitFor(
      'the swapped-in ConfigMap',
      async () => (await kernelWeights(s.kernel))['192.168.10.2:80'] === 4,
    );
  });

  it('picks up files added to and removed from a config directory', async () => {
    const s = await setup({ content: yaml({ '192.168.10.2:80': 1 }) });
    await s.daemon.start();
    await writeFile(
      join(s.dir, 'dns.yaml'),
      'services:\n  dns:\n    vip: 10.0.0.2:53\n    reals:\n      192.168.10.9:53: 1\n',
    );
    await waitFor('the added file', async () => (await s.kernel.readTable()).services.length === 2);
    await rm(join(s.dir, 'dns.yaml'));
    await waitFor(
      'the removed file',
      async () => (await s.kernel.readTable()).services.length === 1,
    );
  });
});
