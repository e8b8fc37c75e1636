/**
 * Health passes scoped to the services a batch names: what they read and write, what they
 * leave alone, and when a pass is full after all.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.js';
import { DaemonMetrics } from '../../src/daemon/metrics.js';
import { IpvsError, type IpvsOp, type IpvsOpResult } from '../../src/ipvs/client.js';
import { FakeIpvs } from '../../src/ipvs/fake.js';
import { ReadYielded } from '../../src/ipvs/errors.js';
import { serviceKeyOf } from '../../src/ipvs/model.js';
import { MemorySysctls } from '../../src/sysctl/memory.js';
import { dest, tcpService } from '../reconcile/fixtures.js';
import { CallLog, memoryLogger, ScriptedHealth, testLoader, waitFor } from './helpers.js';

/** The state file's drains as "serviceId -> destId" = since. */
function drainsIn(text: string): Record<string, number> {
  const draining = JSON.parse(text).draining as Record<string, Record<string, number>>;
  return Object.fromEntries(
    Object.entries(draining).flatMap(([service, reals]) =>
      Object.entries(reals).map(([real, since]) => [`${service} -> ${real}`, since]),
    ),
  );
}

const noSysctls = new MemorySysctls();
const web = serviceKeyOf(tcpService('10.0.0.1', 80));
const api = serviceKeyOf(tcpService('10.0.0.2', 80));
const _a = { address: '192.168.10.2', port: 80 };
const b = { address: '192.168.10.3', port: 80 };

const config = (extra = '') =>
  `${extra}services:\n` +
  ['web: 10.0.0.1:80', 'api: 10.0.0.2:80']
    .map((line) => {
      const [name, vip] = line.split(': ');
      return (
        `  ${name}:\n    vip: ${vip}\n    checked: true\n` +
        '    reals:\n      192.168.10.2:80: 1\n      192.168.10.3:80: 1\n'
      );
    })
    .join('');

/**
 * Refuses every write while `refusing` is set; a whole-table read takes `slowReadMs`, asking
 * its `yieldTo` every 10 ms meanwhile, as the kernel client does between services.
 */
class Refusing extends CallLog {
  refusing = false;
  slowReadMs = 0;
  tableReads = 0;
  override async readTable(options?: Parameters<CallLog['readTable']>[0]) {
    this.tableReads++;
    const end = Date.now() + this.slowReadMs;
    for (let now = Date.now(); now < end; now = Date.now()) {
      if (options?.yieldTo?.()) throw new ReadYielded();
      await new Promise((resolve) => setTimeout(resolve, Math.min(10, end - now)));
    }
    return super.readTable(options);
  }
  override async execute(ops: readonly IpvsOp[]): Promise<IpvsOpResult[]> {
    if (!this.refusing) return super.execute(ops);
    this.calls.push(...ops.map((op) => `refused ${op.op}`));
    return ops.map((op) => ({
      ok: false,
      error: new IpvsError(op.op, 'x', 12, 'Memory allocation problem'),
    }));
  }
}

const running: Daemon[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((d) => d.stop()));
});

async function setup(extra = '', edit = (text: string) => text, settleMs = 50) {
  const dir = await mkdtemp(join(tmpdir(), 'lvsd-scoped-'));
  await writeFile(join(dir, 'lvsd.yaml'), edit(config(extra)));
  const kernel = new FakeIpvs();
  const client = new Refusing(kernel);
  const health = new ScriptedHealth();
  const { logger, lines } = memoryLogger();
  const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-state-'));
  const daemon = new Daemon({
    configPath: dir,
    load: testLoader,
    client,
    health: health.manager,
    logger,
    stateDir,
    hostPorts: { sysctls: noSysctls, openAddresses: null, markRules: null },
    metrics: new DaemonMetrics({ processMetrics: false }),
    watch: false,
    drainRecheckMs: 50,
    retryMs: 100,
    settleMs,
    statsMaxAgeMs: 60_000,
  });
  running.push(daemon);
  await daemon.start();
  client.take();
  const passes = () =>
    lines.filter((l) => l.event === 'reconcile') as Array<{
      triggers: string[];
      scope?: string[];
      writes: number;
      /** When the pass started, and (the line's time) when it ended. */
      at: string;
      time: string;
    }>;
  return { kernel, client, health, daemon, logs: lines, stateDir, passes };
}

const weights = async (kernel: FakeIpvs, key: typeof web) =>
  Object.fromEntries(
    (await kernel.listDests(key)).map((d) => [`${d.address}:${d.port}`, d.weight]),
  );

describe('daemon: health passes scoped to the batch', () => {
  it('a batch for one service writes only that service, without a read', async () => {
    const s = await setup();
    s.health.setDown('web', '192.168.10.3:80', true);
    await waitFor('the scoped pass', () => s.passes().some((p) => p.scope));
    // No drain time: the failed real is deleted at once, as the last pass left the kernel.
    expect(s.client.take()).toEqual(['execute delete-dest TCP 10.0.0.1:80']);
    expect(s.passes().at(-1)).toMatchObject({ triggers: ['health'], scope: ['web'], writes: 1 });
    expect((await s.daemon.status()).lastReconcile).toMatchObject({
      triggers: ['health'],
      scope: ['web'],
    });
    expect(await weights(s.kernel, web)).toEqual({ '192.168.10.2:80': 1 });
    expect(await weights(s.kernel, api)).toEqual({ '192.168.10.2:80': 1, '192.168.10.3:80': 1 });
  });

  it('with a drain time, quiesces the real without a read; the settle pass reads that service alone', async () => {
    const s = await setup('drain_timeout_ms: 60000\n');
    s.health.setDown('web', '192.168.10.3:80', true);
    await waitFor('the settle pass', () => s.passes().some((p) => p.triggers.includes('settle')));
    const [health, settle] = s.passes().filter((p) => p.scope);
    expect(health).toMatchObject({ triggers: ['health'], scope: ['web'], writes: 1 });
    expect(settle).toMatchObject({ triggers: ['settle'], scope: ['web'], writes: 1 });
    expect(s.client.take()).toEqual([
      'execute edit-dest TCP 10.0.0.1:80',
      'readServices TCP 10.0.0.1:80',
      'execute delete-dest TCP 10.0.0.1:80',
    ]);
    expect(await weights(s.kernel, web)).toEqual({ '192.168.10.2:80': 1 });
    expect(s.logs.filter((l) => l.event === 'drift_repair')).toEqual([]);
  });

  it('settles the quiesces of a burst in one pass, once they pause', async () => {
    const s = await setup('drain_timeout_ms: 60000\n', undefined, 1000);
    await s.health.setDown('web', '192.168.10.3:80', true);
    await waitFor('web quiesced', () => s.passes().some((p) => p.scope?.includes('web')));
    await s.health.setDown('api', '192.168.10.3:80', true);
    await waitFor('api quiesced', () => s.passes().some((p) => p.scope?.includes('api')));
    expect(s.passes().some((p) => p.triggers.includes('settle'))).toBe(false);
    await waitFor('the settle pass', () => s.passes().some((p) => p.triggers.includes('settle')));
    const settles = s.passes().filter((p) => p.triggers.includes('settle'));
    expect(settles).toHaveLength(1);
    expect(settles[0]?.scope?.sort()).toEqual(['api', 'web']);
    expect(s.client.take()).toEqual([
      'execute edit-dest TCP 10.0.0.1:80',
      'execute edit-dest TCP 10.0.0.2:80',
      'readServices TCP 10.0.0.1:80, TCP 10.0.0.2:80',
      'execute delete-dest TCP 10.0.0.1:80',
      'execute delete-dest TCP 10.0.0.2:80',
    ]);
  });

  it('reads a service whose leaving real is at weight 0 already: its connections decide', async () => {
    const s = await setup('drain_timeout_ms: 60000\n', (text) =>
      text.replace('192.168.10.3:80: 1\n', '192.168.10.3:80: 0\n'),
    );
    s.health.setDown('web', '192.168.10.3:80', true);
    await waitFor('the scoped pass', () => s.passes().some((p) => p.scope));
    expect(s.client.take()).toEqual([
      'readServices TCP 10.0.0.1:80',
      'execute delete-dest TCP 10.0.0.1:80',
    ]);
  });

  it('keeps the other services draining entries in the state file, and /status shows both drains', async () => {
    const s = await setup('drain_timeout_ms: 60000\n');
    s.kernel.setCounters(api, { dest: b, activeConns: 2 });
    s.kernel.setCounters(web, { dest: b, activeConns: 5 });
    // api's drain starts in a full pass (the batch names no service).
    s.health.setDown('api', '192.168.10.3:80', true, { named: false });
    await waitFor(
      'api draining',
      async () => (await weights(s.kernel, api))['192.168.10.3:80'] === 0,
    );
    const stateFile = join(s.stateDir, 'state.json');
    // The state file is written after the kernel: wait for it too.
    const before = await waitFor('api in the state file', async () => {
      const drains = drainsIn(await readFile(stateFile, 'utf8'));
      return Object.keys(drains).length === 1 ? drains : null;
    });
    expect(Object.keys(before)).toEqual(['TCP 10.0.0.2:80 -> 192.168.10.3:80']);

    s.health.setDown('web', '192.168.10.3:80', true);
    await waitFor(
      'web draining',
      async () => (await weights(s.kernel, web))['192.168.10.3:80'] === 0,
    );
    // Quiesced without a read: the next pass that reads web (its settle) sees its connections,
    // for /status.
    await waitFor(
      'both drains in /status',
      async () => (await s.daemon.status()).draining.length === 2,
    );
    const after = await waitFor('web in the state file', async () => {
      const drains = drainsIn(await readFile(stateFile, 'utf8'));
      return Object.keys(drains).length === 2 ? drains : null;
    });
    expect(Object.keys(after).sort()).toEqual([
      'TCP 10.0.0.1:80 -> 192.168.10.3:80',
      'TCP 10.0.0.2:80 -> 192.168.10.3:80',
    ]);
    expect(after['TCP 10.0.0.2:80 -> 192.168.10.3:80']).toBe(
      before['TCP 10.0.0.2:80 -> 192.168.10.3:80'],
    );
    expect((await s.daemon.status()).draining.map((d) => d.service).sort()).toEqual([
      'TCP 10.0.0.1:80',
      'TCP 10.0.0.2:80',
    ]);

    // web's connections end: the drain recheck (scoped to web and api) deletes it; api's waits on.
    s.kernel.setCounters(web, { dest: b, activeConns: 0 });
    await waitFor(
      'web drained',
      async () => !('192.168.10.3:80' in (await weights(s.kernel, web))),
    );
    await waitFor(
      'state without web',
      async () => Object.keys(drainsIn(await readFile(stateFile, 'utf8'))).length === 1,
    );
    // The file can be read back before the pass that wrote it has resumed and updated /status.
    await waitFor(
      '/status without web',
      async () => (await s.daemon.status()).draining.length === 1,
    );
    expect((await s.daemon.status()).draining.map((d) => d.service)).toEqual(['TCP 10.0.0.2:80']);
  });

  it('looks at a waiting drain again with a pass scoped to its service', async () => {
    const s = await setup('drain_timeout_ms: 60000\n');
    s.kernel.setCounters(web, { dest: b, activeConns: 3 });
    await s.health.setDown('web', '192.168.10.3:80', true);
    await waitFor(
      'two drain rechecks',
      () => s.passes().filter((p) => p.triggers[0] === 'drain').length >= 2,
    );
    const rechecks = s.passes().filter((p) => p.triggers.includes('drain'));
    for (const pass of rechecks)
      expect(pass).toMatchObject({ triggers: ['drain'], scope: ['web'], writes: 0 });
    expect(s.client.take().filter((c) => !c.startsWith('readServices TCP 10.0.0.1:80'))).toEqual([
      'execute edit-dest TCP 10.0.0.1:80',
    ]);
    s.kernel.setCounters(web, { dest: b, activeConns: 0 });
    await waitFor('b deleted', async () => !('192.168.10.3:80' in (await weights(s.kernel, web))));
    const deleting = await waitFor('the deleting pass logged', () =>
      s.passes().find((p) => p.writes > 0 && p.triggers.includes('drain')),
    );
    expect(deleting).toMatchObject({ triggers: ['drain'], scope: ['web'], writes: 1 });
    expect((await s.daemon.status()).draining).toEqual([]);
  });

  it('a pass with any other trigger coalesced in is full', async () => {
    const s = await setup();
    // A drift pass starts; the batch and another drift request wait for it and share one pass.
    const first = s.daemon.requestPass('drift');
    s.health.setDown('web', '192.168.10.3:80', true);
    const second = s.daemon.requestPass('drift');
    await first;
    const summary = await second;
    expect(summary.triggers).toEqual(['health', 'drift']);
    expect(s.passes().at(-1)?.scope).toBeUndefined();
    expect(s.client.calls.filter((c) => c === 'readTable')).toHaveLength(2);
    expect(await weights(s.kernel, web)).toEqual({ '192.168.10.2:80': 1 });
  });

  it('a batch naming no service gets a full pass', async () => {
    const s = await setup();
    s.health.setDown('web', '192.168.10.3:80', true, { named: false });
    await waitFor('the pass', async () => !('192.168.10.3:80' in (await weights(s.kernel, web))));
    expect(s.client.calls).toContain('readTable');
    expect(s.passes().at(-1)?.scope).toBeUndefined();
  });

  it('repairs and logs drift in the service it reads, and leaves the rest to the drift timer', async () => {
    const s = await setup('drain_timeout_ms: 60000\n');
    // Someone sets web's a to weight 9 and api's a to weight 8; then web's b goes down.
    await s.kernel.execute([
      { op: 'edit-dest', service: web, dest: dest('192.168.10.2', 80, { weight: 9 }) },
      { op: 'edit-dest', service: api, dest: dest('192.168.10.2', 80, { weight: 8 }) },
    ]);
    s.health.setDown('web', '192.168.10.3:80', true);
    await waitFor('the settle pass', () => s.passes().some((p) => p.triggers.includes('settle')));
    expect(await weights(s.kernel, web)).toEqual({ '192.168.10.2:80': 1 });
    expect(await weights(s.kernel, api)).toEqual({ '192.168.10.2:80': 8, '192.168.10.3:80': 1 });
    // The health pass quiesced b without a read; the settle pass read web and repaired a.
    const repairs = s.logs.filter((l) => l.event === 'drift_repair');
    expect(repairs.map((l) => `${l.op} ${l.virtualService} ${l.dest} ${l.triggers}`)).toEqual([
      'edit-dest TCP 10.0.0.1:80 192.168.10.2:80 settle',
    ]);
    expect(
      s.logs
        .filter((l) => l.event === 'kernel_write' && (l.triggers as string[])[0] !== 'start')
        .map((l) => `${l.triggers} ${l.action} ${l.dest}`),
    ).toEqual(['health drain 192.168.10.3:80', 'settle remove 192.168.10.3:80']);
    // The health change itself is not drift; the next health pass for web repairs nothing.
    s.health.setDown('web', '192.168.10.3:80', false);
    await waitFor('b back', async () => (await weights(s.kernel, web))['192.168.10.3:80'] === 1);
    expect(s.logs.filter((l) => l.event === 'drift_repair')).toHaveLength(1);
  });

  it('does not put the drift check off: health passes every 50 ms still see a drift pass', async () => {
    const s = await setup('drift_interval_ms: 300\n');
    await s.kernel.execute([
      { op: 'edit-dest', service: api, dest: dest('192.168.10.2', 80, { weight: 8 }) },
    ]);
    let down = true;
    const flapping = setInterval(() => {
      s.health.setDown('web', '192.168.10.3:80', down);
      down = !down;
    }, 50);
    try {
      await waitFor(
        'api repaired by a drift pass',
        async () => (await weights(s.kernel, api))['192.168.10.2:80'] === 1,
        3000,
      );
    } finally {
      clearInterval(flapping);
    }
    expect(s.passes().some((p) => p.triggers.includes('drift') && !p.scope)).toBe(true);
    expect(s.passes().filter((p) => p.scope).length).toBeGreaterThan(3);
  });

  it('a drift check due while a quiesce waits for its settle is made by the settle, as a full pass', async () => {
    const s = await setup('drain_timeout_ms: 60000\ndrift_interval_ms: 1000\n', undefined, 1500);
    const started = Date.now();
    await s.kernel.execute([
      { op: 'edit-dest', service: api, dest: dest('192.168.10.2', 80, { weight: 8 }) },
    ]);
    await until(started + 400);
    // The settle's full read outlasts the wait's next look (at 2500 ms), as under emulation.
    s.client.slowReadMs = 800;
    await s.health.setDown('web', '192.168.10.3:80', true);
    await waitFor('web quiesced', () => s.passes().some((p) => p.scope?.includes('web')));
    // The drift check came due at 1000 ms: it waits for the settle, due at 1900 ms.
    await until(started + 1500);
    expect(s.passes().map((p) => p.triggers)).toEqual([['start'], ['health']]);
    expect((await weights(s.kernel, api))['192.168.10.2:80']).toBe(8);
    await waitFor('the settle pass', () => s.passes().length > 2, 3000);
    expect(s.passes()[2]).toMatchObject({ triggers: ['settle', 'drift'] });
    expect(s.passes()[2]?.scope).toBeUndefined();
    expect(await weights(s.kernel, api)).toEqual({ '192.168.10.2:80': 1, '192.168.10.3:80': 1 });
    expect(await weights(s.kernel, web)).toEqual({ '192.168.10.2:80': 1 });
    // Then the drift checks keep their interval: the wait's next look (at 2500 ms) is gone.
    await waitFor('the next drift pass', () => s.passes().length > 3, 3000);
    const [settle, next] = s.passes().slice(2);
    expect(s.passes()[3]).toMatchObject({ triggers: ['drift'] });
    expect(Date.parse(next!.at) - Date.parse(settle!.time)).toBeGreaterThanOrEqual(900);
  });

  const until = (at: number) =>
    new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));

  const fallTwo = (text: string) =>
    text.replaceAll('checked: true\n', 'checked: true\n    fall: 2\n');

  it('a drift check waits while a real is part-way to down, and runs once it is decided', async () => {
    const s = await setup('drift_interval_ms: 800\n', fallTwo, 300);
    const started = Date.now();
    await s.health.setDown('web', '192.168.10.3:80', true);
    expect(s.health.manager.partWay).toBe(1);
    await until(started + 1200);
    expect(s.passes().map((p) => p.triggers)).toEqual([['start']]);
    await s.health.setDown('web', '192.168.10.3:80', true);
    expect(s.health.manager.partWay).toBe(0);
    await waitFor('the drift pass', () => s.passes().some((p) => p.triggers.includes('drift')));
    // At the next look (300 ms), well before the bound (800 + 5 x 300 ms).
    expect(Date.now() - started).toBeLessThan(2200);
    expect(s.passes().map((p) => p.triggers)).toEqual([['start'], ['health'], ['drift']]);
  });

  it('a drift check waits 5 settle waits at most, whatever health does', async () => {
    const s = await setup('drift_interval_ms: 400\n', fallTwo, 200);
    const started = Date.now();
    await s.kernel.execute([
      { op: 'edit-dest', service: api, dest: dest('192.168.10.2', 80, { weight: 8 }) },
    ]);
    await s.health.setDown('web', '192.168.10.3:80', true);
    await until(started + 1000);
    expect(s.passes().map((p) => p.triggers)).toEqual([['start']]);
    await waitFor('the drift pass', () => s.passes().length > 1, 3000);
    expect(s.passes()[1]).toMatchObject({ triggers: ['drift'] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1300);
    expect(await weights(s.kernel, api)).toEqual({ '192.168.10.2:80': 1, '192.168.10.3:80': 1 });
    expect(s.health.manager.partWay).toBe(1);
  });

  it('a drift check gives way to a health batch that comes during its read, and comes again after', async () => {
    const s = await setup('drift_interval_ms: 300\n', undefined, 200);
    await s.kernel.execute([
      { op: 'edit-dest', service: api, dest: dest('192.168.10.2', 80, { weight: 8 }) },
    ]);
    // A whole-table read of 1.5 s, as a big table's under emulation.
    s.client.slowReadMs = 1500;
    const reads = s.client.tableReads;
    await waitFor('the drift check reading', () => s.client.tableReads > reads, 2000);
    const failedAt = Date.now();
    // The checks go on during the read: the real's failure is decided and written at once.
    await s.health.setDown('web', '192.168.10.3:80', true);
    await waitFor('web written', () => s.passes().some((p) => p.scope?.includes('web')), 1000);
    expect(Date.now() - failedAt).toBeLessThan(700);
    expect(await weights(s.kernel, web)).toEqual({ '192.168.10.2:80': 1 });
    expect(s.logs.some((l) => l.event === 'drift_check_yielded')).toBe(true);
    expect(s.passes().map((p) => p.triggers)).toEqual([['start'], ['health']]);
    // Then the drift check comes again, reads the whole table and repairs api.
    s.client.slowReadMs = 0;
    await waitFor(
      'the drift pass',
      () => s.passes().some((p) => p.triggers.includes('drift')),
      3000,
    );
    expect(await weights(s.kernel, api)).toEqual({ '192.168.10.2:80': 1, '192.168.10.3:80': 1 });
  });

  it('the settle waits while a real is part-way to down', async () => {
    const s = await setup('drain_timeout_ms: 60000\n', fallTwo, 200);
    // Each step is one round of checks: web's real fails twice, api's once, then again.
    await s.health.setDown('web', '192.168.10.3:80', true);
    await s.health.setDown('api', '192.168.10.3:80', true);
    await waitFor('web quiesced', () => s.passes().some((p) => p.scope?.includes('web')));
    const quiesced = Date.now();
    expect(s.health.manager.partWay).toBe(1);
    // Due 200 ms after the quiesce, the settle waits: api's real is part-way to down.
    await until(quiesced + 500);
    expect(s.passes().some((p) => p.triggers.includes('settle'))).toBe(false);
    await s.health.setDown('api', '192.168.10.3:80', true);
    expect(s.health.manager.partWay).toBe(0);
    const settle = await waitFor('the settle', () =>
      s.passes().find((p) => p.triggers.includes('settle')),
    );
    expect(settle.scope?.sort()).toEqual(['api', 'web']);
    // Once decided, not at its ceiling (5 x 200 ms after the first quiesce).
    expect(Date.parse(settle.at) - quiesced).toBeLessThan(950);
  });

  it('the settle waits while health decisions keep coming: a real back puts it off', async () => {
    const s = await setup('drain_timeout_ms: 60000\n', undefined, 300);
    await s.health.setDown('web', '192.168.10.3:80', true);
    await s.health.setDown('api', '192.168.10.3:80', true);
    await waitFor('api quiesced', () => s.passes().some((p) => p.scope?.includes('api')));
    const quiesced = Date.now();
    // Before the settle is due (300 ms after the last quiesce), web's real comes back.
    await until(quiesced + 150);
    await s.health.setDown('web', '192.168.10.3:80', false);
    const back = Date.now();
    // Its weight is back with one edit, unread; the settle is put off 300 ms from then.
    await until(quiesced + 380);
    expect(s.passes().some((p) => p.triggers.includes('settle'))).toBe(false);
    const settle = await waitFor('the settle', () =>
      s.passes().find((p) => p.triggers.includes('settle')),
    );
    expect(Date.parse(settle.at) - back).toBeGreaterThanOrEqual(220);
    expect(s.client.take()).toEqual([
      'execute edit-dest TCP 10.0.0.1:80',
      'execute edit-dest TCP 10.0.0.2:80',
      'execute edit-dest TCP 10.0.0.1:80',
      'readServices TCP 10.0.0.1:80, TCP 10.0.0.2:80',
      'execute delete-dest TCP 10.0.0.2:80',
    ]);
    expect(await weights(s.kernel, web)).toEqual({ '192.168.10.2:80': 1, '192.168.10.3:80': 1 });
    expect(await weights(s.kernel, api)).toEqual({ '192.168.10.2:80': 1 });
  });

  it('a refused write in a scoped pass is retried by a full pass', async () => {
    const s = await setup();
    s.client.refusing = true;
    s.health.setDown('web', '192.168.10.3:80', true);
    await waitFor('the refused pass', () => s.client.calls.includes('refused delete-dest'));
    s.client.refusing = false;
    await waitFor('the retry', async () => !('192.168.10.3:80' in (await weights(s.kernel, web))));
    const retry = s.passes().find((p) => p.triggers.includes('retry'));
    expect(retry?.scope).toBeUndefined();
    expect(s.client.calls).toContain('readTable');
  });
});

describe('daemon: reloads scoped to what they change', () => {
  const edited = (text: string) => text.replace('192.168.10.3:80: 1\n', '192.168.10.3:80: 7\n');

  it('a one-weight edit reads and writes only the edited service', async () => {
    const s = await setup();
    const dir = (await s.daemon.status()).config.path;
    s.client.take(); // status() read the table
    await writeFile(join(dir, 'lvsd.yaml'), edited(config()));
    expect(await s.daemon.reload('manual')).toMatchObject({ ok: true });
    expect(s.client.take().sort()).toEqual([
      'execute edit-dest TCP 10.0.0.1:80',
      'readServices TCP 10.0.0.1:80',
    ]);
    expect(s.passes().at(-1)).toMatchObject({ triggers: ['reload'], scope: ['web'], writes: 1 });
    expect(await weights(s.kernel, web)).toEqual({ '192.168.10.2:80': 1, '192.168.10.3:80': 7 });
  });

  it('a change of comments only makes no pass; a removed service makes a full one', async () => {
    const s = await setup();
    const dir = (await s.daemon.status()).config.path;
    s.client.take(); // status() read the table
    await writeFile(join(dir, 'lvsd.yaml'), `# a comment\n${config()}`);
    expect(await s.daemon.reload('manual')).toMatchObject({ ok: true });
    expect(s.client.take()).toEqual([]);
    const onlyWeb = config().slice(0, config().indexOf('  api:'));
    await writeFile(join(dir, 'lvsd.yaml'), onlyWeb);
    expect(await s.daemon.reload('manual')).toMatchObject({ ok: true });
    const calls = s.client.take();
    expect(calls).toContain('readTable');
    expect(calls).toContain('execute delete-service TCP 10.0.0.2:80');
    expect(s.passes().at(-1)?.scope).toBeUndefined();
  });
});
