/**
 * 1000 reals failing at once (100 services x 10, the real HealthManager with scripted
 * checkers on real timers): they leave the kernel in one pass, not a queue of passes, and
 * no check result is processed while a pass is under way; recovery likewise.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { CheckConfig } from '../../src/config/check.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { DaemonMetrics } from '../../src/daemon/metrics.js';
import { CHECKERS, type CheckerRegistry } from '../../src/health/checkers/index.js';
import { HealthManager } from '../../src/health/manager.js';
import type { IpvsOp, IpvsOpResult } from '../../src/ipvs/client.js';
import { FakeIpvs } from '../../src/ipvs/fake.js';
import { MemorySysctls } from '../../src/sysctl/memory.js';
import { CallLog, memoryLogger, testLoader, waitFor } from './helpers.js';

const SERVICES = 100;
const REALS = 10;

function yaml(): string {
  const lines = ['services:'];
  for (let s = 0; s < SERVICES; s++) {
    lines.push(
      `  s${s}:`,
      `    vip: 10.1.${s >> 8}.${s & 255}:80`,
      '    checked: true',
      '    reals:',
    );
    for (let r = 0; r < REALS; r++) lines.push(`      192.168.${s}.${r + 1}:80: 1`);
  }
  return `${lines.join('\n')}\n`;
}

/** Every check answers on the next I/O turn, as a refused connect does: up unless `down`. */
function scripted(state: { down: boolean }): CheckerRegistry {
  return Object.fromEntries(
    Object.keys(CHECKERS).map((type) => [
      type,
      {
        type,
        prepare: () => () =>
          new Promise((resolve) =>
            setImmediate(() =>
              resolve(state.down ? { ok: false, message: 'refused' } : { ok: true, message: 'ok' }),
            ),
          ),
      },
    ]),
  ) as unknown as CheckerRegistry;
}

/** A kernel whose writes take `delayMs`, noting the checks counted when each write began and ended. */
class SlowWrites extends CallLog {
  delayMs = 0;
  readonly during: Array<[number, number]> = [];
  constructor(
    kernel: FakeIpvs,
    private readonly checks: () => number,
  ) {
    super(kernel);
  }
  override async execute(ops: readonly IpvsOp[]): Promise<IpvsOpResult[]> {
    const before = this.checks();
    await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    const result = await super.execute(ops);
    this.during.push([before, this.checks()]);
    return result;
  }
}

const running: Daemon[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((d) => d.stop()));
});

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'lvsd-mass-'));
  await writeFile(join(dir, 'lvsd.yaml'), yaml());
  const state = { down: false };
  const health = new HealthManager({
    logger: pino({ level: 'silent' }),
    checkers: scripted(state),
    // Every check at the same moment: the 1000 results land in one turn.
    random: () => 0,
  });
  // fall and rise 1: every real decides on its first answer, so how a loaded host spreads later
  // rounds of checks cannot split the decisions further.
  const fast: Partial<CheckConfig> = { interval: 100, timeout: 80, fall: 1, rise: 1 };
  const load = async (path: string) => {
    const outcome = await testLoader(path);
    if (outcome.ok)
      for (const service of outcome.config.services)
        for (const real of service.reals) real.check = { ...real.check!, ...fast } as CheckConfig;
    return outcome;
  };
  const kernel = new FakeIpvs();
  const client = new SlowWrites(kernel, () => health.counters.checks);
  const { logger, lines } = memoryLogger();
  const daemon = new Daemon({
    configPath: dir,
    load,
    client,
    health,
    logger,
    stateDir: await mkdtemp(join(tmpdir(), 'lvsd-mass-state-')),
    hostPorts: { sysctls: new MemorySysctls(), openAddresses: null, markRules: null },
    metrics: new DaemonMetrics({ processMetrics: false }),
    watch: false,
  });
  running.push(daemon);
  await daemon.start();
  const inKernel = async () => {
    let n = 0;
    for (const service of await kernel.listServices())
      n += (await kernel.listDests(service)).length;
    return n;
  };
  const healthPasses = () =>
    lines.filter(
      (l) => l.event === 'reconcile' && (l.triggers as string[]).includes('health'),
    ) as Array<{
      writes: number;
    }>;
  return { state, health, client, inKernel, healthPasses };
}

describe('daemon: mass failure and recovery', () => {
  // The checks all start together, but a loaded host may spread their answers over a few
  // turns: the first turn's batch starts a pass, and everything decided while it runs waits
  // for it and comes out as one more batch; on a host loaded by other work (a lab VM beside
  // the tests) stragglers land while that pass runs, and make a third or a fourth. Never a
  // queue of passes: before checks waited for passes, the same failure made six.
  it('1000 reals failing together leave the kernel in at most five passes; so do they come back', async () => {
    const s = await setup();
    expect(await s.inKernel()).toBe(SERVICES * REALS);
    s.state.down = true;
    await waitFor('all out', async () => (await s.inKernel()) === 0, 15_000);
    const out = s.healthPasses().map((p) => p.writes);
    expect(out.length).toBeLessThanOrEqual(5);
    expect(out.reduce((a, b) => a + b, 0)).toBe(SERVICES * REALS);
    s.state.down = false;
    await waitFor('all back', async () => (await s.inKernel()) === SERVICES * REALS, 15_000);
    const back = s
      .healthPasses()
      .map((p) => p.writes)
      .slice(out.length);
    expect(back.length).toBeLessThanOrEqual(5);
    expect(back.reduce((a, b) => a + b, 0)).toBe(SERVICES * REALS);
  }, 40_000);

  it('no check result is processed while a pass writes, and checks go on after it', async () => {
    const s = await setup();
    s.client.delayMs = 400; // four check intervals
    s.state.down = true;
    await waitFor('all out', async () => (await s.inKernel()) === 0, 15_000);
    expect(s.client.during.length).toBeGreaterThan(0);
    for (const [before, after] of s.client.during) expect(after).toBe(before);
    const after = s.health.counters.checks;
    await waitFor(
      'checks again',
      () => s.health.counters.checks >= after + 2 * SERVICES * REALS,
      5000,
    );
  }, 40_000);
});
