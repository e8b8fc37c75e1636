/**
 * What the daemon says about each kernel write, after the counters were made to take one
 * increment per action (not per write) and the log fields to be assigned rather than spread
 * (both for the start's garbage at 1000 x 10): every write still has its log line with the
 * same keys in the same order, and lvsd_kernel_writes_total counts exactly those lines.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.js';
import { DaemonMetrics } from '../../src/daemon/metrics.js';
import { FakeIpvs } from '../../src/ipvs/fake.js';
import { MemorySysctls } from '../../src/sysctl/memory.js';
import { memoryLogger, ScriptedHealth, testLoader } from './helpers.js';

const running: Daemon[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((d) => d.stop()));
});

function yaml(web: Record<string, number>, api: Record<string, number>): string {
  const reals = (weights: Record<string, number>) =>
    Object.entries(weights)
      .map(([r, w]) => `      ${r}: ${w}`)
      .join('\n');
  return (
    'reconcile:\n  drain_timeout: 0s\n' +
    `services:\n  web:\n    vip: 10.0.0.1:80\n    reals:\n${reals(web)}\n` +
    `  api:\n    vip: 10.0.0.2:443\n    reals:\n${reals(api)}\n`
  );
}

async function setup(content: string) {
  const dir = await mkdtemp(join(tmpdir(), 'lvsd-writes-'));
  const file = join(dir, 'lvsd.yaml');
  await writeFile(file, content);
  const { logger, lines } = memoryLogger();
  const daemon = new Daemon({
    configPath: dir,
    load: (path) => testLoader(path),
    client: new FakeIpvs(),
    health: new ScriptedHealth().manager,
    logger,
    stateDir: await mkdtemp(join(tmpdir(), 'lvsd-writes-state-')),
    hostPorts: { sysctls: new MemorySysctls(), openAddresses: null, markRules: null },
    metrics: new DaemonMetrics({ processMetrics: false }),
    watch: false,
  });
  running.push(daemon);
  return { daemon, file, lines };
}

/** lvsd_kernel_writes_total by action, as scraped. */
async function writesByAction(daemon: Daemon): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await daemon.renderMetrics()).split('\n')) {
    const m = /^lvsd_kernel_writes_total\{action="(\w+)"\} (\d+)$/.exec(line);
    if (m) out[m[1] as string] = Number(m[2]);
  }
  return out;
}

/** The kernel_write log lines by action. */
function loggedByAction(lines: Array<Record<string, unknown>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of lines)
    if (l.event === 'kernel_write') out[l.action as string] = (out[l.action as string] ?? 0) + 1;
  return out;
}

describe('daemon: kernel writes in the metrics and the log', () => {
  it('counts each action once per write, the same as the lines logged, across a start and a reload', async () => {
    const s = await setup(
      yaml({ '192.168.10.2:80': 1, '192.168.10.3:80': 1 }, { '192.168.20.2:443': 1 }),
    );
    await s.daemon.start();
    // Two services and three reals.
    expect(await writesByAction(s.daemon)).toEqual({ add: 5 });
    expect(loggedByAction(s.lines)).toEqual({ add: 5 });

    // One weight edited, one real removed, one added, across both services.
    await writeFile(
      s.file,
      yaml({ '192.168.10.2:80': 4 }, { '192.168.20.2:443': 1, '192.168.20.3:443': 1 }),
    );
    await s.daemon.reload('manual');
    const logged = loggedByAction(s.lines);
    expect(logged.add).toBe(6);
    expect(logged.change).toBe(1);
    expect((logged.remove ?? 0) + (logged.drain ?? 0)).toBeGreaterThan(0);
    expect(await writesByAction(s.daemon)).toEqual(logged);
  });

  it('logs each write with its fields in the same order as before', async () => {
    const s = await setup(yaml({ '192.168.10.2:80': 1 }, { '192.168.20.2:443': 1 }));
    await s.daemon.start();
    await writeFile(s.file, yaml({ '192.168.10.2:80': 3 }, { '192.168.20.2:443': 1 }));
    await s.daemon.reload('manual');
    const writes = s.lines.filter((l) => l.event === 'kernel_write');
    const fields = (l: Record<string, unknown>) =>
      Object.keys(l).filter(
        (k) => !['level', 'time', 'pid', 'hostname', 'name', 'msg'].includes(k),
      );
    const addService = writes.find((l) => l.op === 'add-service')!;
    // Every write line starts with these, in this order.
    const head = ['event', 'action', 'op', 'service', 'virtualService'];
    expect(fields(addService)).toEqual([...head, 'triggers']);
    expect(addService).toMatchObject({
      service: 'web',
      virtualService: 'TCP 10.0.0.1:80',
      action: 'add',
    });
    const addDest = writes.find((l) => l.op === 'add-dest')!;
    expect(fields(addDest)).toEqual([...head, 'dest', 'triggers']);
    const edit = writes.find((l) => l.op === 'edit-dest')!;
    expect(fields(edit)).toEqual([...head, 'dest', 'changes', 'triggers']);
    expect(edit).toMatchObject({
      service: 'web',
      dest: '192.168.10.2:80',
      changes: ['weight: 1 -> 3'],
      msg: 'change TCP 10.0.0.1:80 -> 192.168.10.2:80',
    });
  });
});
