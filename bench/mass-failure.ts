/**
 * 1000 reals fail at once, under full check load, natively against the fake kernel: how
 * long from the failure until all of them are out of the kernel, and from the recovery
 * until all are back (after `rise`). The daemon (src/daemon, real HealthManager, real TCP
 * checks) runs 1000 target reals (100 services x 10, on TARGET listeners) among LOAD
 * more checked reals (on other listeners) at a 1 s interval; the listeners run in a child
 * process. All target listeners close at once, then open again.
 *
 * Variants in the same run, same daemon code:
 * - now: the daemon holds the checks while a pass is pending or running, and a batch is
 *   whatever one turn decided; every check on the daemon's event loop (workers: 0);
 * - workersN: the same, with the socket checks on N worker threads;
 * - before: holds ignored and batches cut at 100 changes (the daemon before issue 15).
 *
 * Run: npm run bench:build && node dist-bench/bench/mass-failure.js [loadReals=9000]
 *   [variants=before,now,workers1,workers2]
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import pino from 'pino';
import { CheckConfig } from '../src/config/check.js';
import type { ResolvedConfig, ResolvedService } from '../src/config/resolved.js';
import { Daemon } from '../src/daemon/daemon.js';
import { DaemonMetrics } from '../src/daemon/metrics.js';
import { HealthManager, type HealthManagerOptions } from '../src/health/manager.js';
import {
  ForwardingIpvsClient,
  type IpvsOp,
  type IpvsOpResult,
  type ReadOptions,
} from '../src/ipvs/client.js';
import { FakeIpvs } from '../src/ipvs/fake.js';
import {
  destId,
  type LiveDest,
  type LiveService,
  type ServiceKey,
  serviceId,
} from '../src/ipvs/model.js';
import { desiredState } from '../src/reconcile/desired.js';
import { Reconciler } from '../src/reconcile/reconciler.js';
import { StateStore } from '../src/reconcile/state.js';
import { MemorySysctls } from '../src/sysctl/memory.js';
import { machineLine } from './ipvs-report.js';
import { dest, service } from './reconcile-generate.js';

// LVSD_BENCH_HEAP_GROWING=20: V8 grows the old generation by 20% between full collections
// rather than its default (about 2x); less garbage held, more collections (see the results).
if (process.env.LVSD_BENCH_HEAP_GROWING)
  v8.setFlagsFromString(`--heap-growing-percent=${process.env.LVSD_BENCH_HEAP_GROWING}`);

const TARGET_SERVICES = 100;
const TARGET_REALS = 10;
const LOAD = Number(process.argv[2] ?? 9000);
const LOAD_REALS = 100;
const TARGET_LISTENERS = 10;
const LOAD_LISTENERS = 50;
const RISE = 2;
// MASS_FALL=2: as the lab bench (keepalived's retry 1).
const FALL = Number(process.env.MASS_FALL ?? 1);
// MASS_OP_US=N: each kernel request (a service or dests read, a write) costs N us of this
// thread's CPU, as netlink does under the lab's emulation, where a pass costs far more
// than natively and how passes follow one another decides the time to the kernel.
const OP_US = Number(process.env.MASS_OP_US ?? 0);
function spin(us: number): void {
  const until = performance.now() + us / 1000;
  while (performance.now() < until);
}
const source = { file: 'bench.yaml', line: 1, column: 1 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Services 0..99 hold the 1000 target reals; the rest, LOAD reals 100 a service. */
function makeConfig(ports: number[]): ResolvedConfig {
  const services: ResolvedService[] = [];
  const count = TARGET_SERVICES + Math.ceil(LOAD / LOAD_REALS);
  for (let i = 0; i < count; i++) {
    const target = i < TARGET_SERVICES;
    const reals = target ? TARGET_REALS : LOAD_REALS;
    const portOf = (j: number) =>
      target ? ports[j % TARGET_LISTENERS] : ports[TARGET_LISTENERS + (j % LOAD_LISTENERS)];
    const list = Array.from({ length: reals }, (_, j) => {
      const d = dest(j);
      const check = CheckConfig.parse({
        type: 'tcp',
        interval: 1,
        timeout: 0.9,
        rise: RISE,
        fall: FALL,
        address: '127.0.0.1',
        port: portOf(j),
      });
      return { id: destId(d), dest: d, check, source };
    });
    services.push({
      name: `svc${i}`,
      service: service(i),
      reals: list,
      check: null,
      quorum: null,
      sorry: null,
      alpha: false,
      vip: null,
      source,
    });
  }
  return {
    files: ['bench.yaml'],
    hash: 'bench',
    host: null,
    services,
    kernel: { sysctls: {} },
    vips: [],
    reconcile: {
      drainTimeoutMs: 0,
      prune: 'managed',
      driftIntervalMs: 600_000,
      maxRemoval: 0.5,
      allowMassRemoval: false,
    },
  };
}

async function startListeners(count: number) {
  const child = fork(
    fileURLToPath(new URL('./health-listeners.js', import.meta.url)),
    [String(count)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const ports = await new Promise<number[]>((resolve) =>
    child.once('message', (m: { ports: number[] }) => resolve(m.ports)),
  );
  const ask = (message: object, reply: string) =>
    new Promise<void>((resolve) => {
      const on = (m: Record<string, unknown>) => {
        if (reply in m) {
          child.off('message', on);
          resolve();
        }
      };
      child.on('message', on);
      child.send(message);
    });
  return { ports, ask, stop: () => child.kill() };
}

/** Counts the target reals in the kernel as writes apply (a netlink write applies as it is sent). */
class TargetCount extends ForwardingIpvsClient {
  inKernel = 0;
  onChange: (inKernel: number) => void = () => undefined;
  constructor(
    inner: FakeIpvs,
    private readonly targets: ReadonlySet<string>,
  ) {
    super(inner);
  }
  override getService(key: ServiceKey): Promise<LiveService | null> {
    spin(OP_US);
    return this.inner.getService(key);
  }
  override listDests(key: ServiceKey, options?: ReadOptions): Promise<LiveDest[]> {
    spin(OP_US);
    return this.inner.listDests(key, options);
  }
  override async execute(ops: readonly IpvsOp[]): Promise<IpvsOpResult[]> {
    spin(OP_US * ops.length);
    const results = await this.inner.execute(ops);
    const before = this.inKernel;
    for (const [i, op] of ops.entries()) {
      if (!results[i]?.ok || !('dest' in op) || !this.targets.has(serviceId(op.service))) continue;
      if (op.op === 'add-dest') this.inKernel++;
      if (op.op === 'delete-dest') this.inKernel--;
    }
    if (this.inKernel !== before) this.onChange(this.inKernel);
    return results;
  }
}

/** HealthManager as before issue 15: holds ignored, batches cut at 100 changes. */
class Before extends HealthManager {
  override holdChecks(): void {}
  override releaseChecks(): void {}
}

const noSysctls = new MemorySysctls();

async function variant(name: string, listeners: Awaited<ReturnType<typeof startListeners>>) {
  const config = makeConfig(listeners.ports);
  const targets = new Set(
    config.services.slice(0, TARGET_SERVICES).map((s) => serviceId(s.service)),
  );
  const client = new TargetCount(new FakeIpvs(), targets);
  // As the daemon restarts: every real already in the kernel, so its checks start up.
  await new Reconciler({
    ipvs: client,
    state: new StateStore(null),
    sysctls: noSysctls,
    openAddresses: null,
    markRules: null,
  }).pass(desiredState(config), {
    policy: { prune: 'managed', drainTimeoutMs: 0, maxRemoval: 0.5, allowMassRemoval: false },
  });
  // MASS_LOG=DIR: each variant's daemon and health logs (debug: every pass) to DIR/NAME.log.
  const logger = process.env.MASS_LOG
    ? pino({ level: 'debug' }, pino.destination(join(process.env.MASS_LOG, `${name}.log`)))
    : pino({ level: 'silent' });
  const options: HealthManagerOptions = { logger };
  const workers = name.startsWith('workers') ? Number(name.slice('workers'.length)) : 0;
  const manager =
    name === 'before'
      ? new Before({ ...options, batchSize: 100 })
      : new HealthManager({ ...options, workers });
  let checks = 0;
  manager.on('result', () => checks++);
  manager.on('tally', (tallies) => {
    for (const t of tallies) checks += t.ok + t.failed;
  });
  const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-mass-bench-'));
  const daemon = new Daemon({
    configPath: 'bench.yaml',
    load: async () => ({ ok: true, config, warnings: [] }),
    client,
    health: manager,
    logger,
    stateDir,
    hostPorts: { sysctls: noSysctls, openAddresses: null, markRules: null },
    metrics: new DaemonMetrics({ processMetrics: false }),
    watch: false,
  });
  await daemon.start();
  const total = TARGET_SERVICES * TARGET_REALS;
  const reach = (count: number) =>
    new Promise<number>((resolve) => {
      const t0 = performance.now();
      client.onChange = (n) => n === count && resolve(performance.now() - t0);
    });
  await sleep(3000);
  if (client.inKernel !== total)
    throw new Error(`${client.inKernel} of ${total} target reals in the kernel`);
  const targetListeners = Array.from({ length: TARGET_LISTENERS }, (_, i) => i);
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const checks0 = checks;
  const t0 = performance.now();
  logger.info({ event: 'bench.close' }, 'listeners close');
  const out = reach(0);
  await Promise.all(targetListeners.map((i) => listeners.ask({ close: i }, 'closed')));
  const outMs = await out;
  logger.info({ event: 'bench.out', ms: outMs }, 'all out');
  await sleep(1000);
  const back = reach(total);
  await Promise.all(targetListeners.map((i) => listeners.ask({ open: i }, 'opened')));
  const backMs = await back;
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const busy = performance.eventLoopUtilization(elu0).utilization;
  const rate = (checks - checks0) / wall;
  console.log(
    `${name.padEnd(8)} ${total} reals fail -> all out of the (fake) kernel ${outMs.toFixed(0)} ms; ` +
      `back -> all in ${backMs.toFixed(0)} ms (rise ${RISE}, 1 s interval); ` +
      `${rate.toFixed(0)} checks/s at ${(((cpu.user + cpu.system) / 1e6 / wall) * 100).toFixed(0)}% of a core, ` +
      `main event loop busy ${(busy * 100).toFixed(0)}%; ` +
      `RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
  );
  await daemon.stop();
  await rm(stateDir, { recursive: true, force: true });
  return { outMs, backMs };
}

console.log(machineLine());
console.log(
  `${TARGET_SERVICES * TARGET_REALS} target reals among ${LOAD} more, TCP checks every 1 s ` +
    `(${TARGET_SERVICES * TARGET_REALS + LOAD} checks/s asked), fall ${FALL}, rise ${RISE}`,
);
const listeners = await startListeners(TARGET_LISTENERS + LOAD_LISTENERS);
const results = new Map<string, { outMs: number; backMs: number }>();
for (const name of (process.argv[3] ?? 'before,now,workers1,workers2').split(','))
  results.set(name, await variant(name, listeners));
const now = results.get('now');
for (const [name, other] of results)
  if (now && name !== 'now')
    console.log(
      `ratio ${name}/now: out ${(other.outMs / now.outMs).toFixed(2)}x, ` +
        `back ${(other.backMs / now.backMs).toFixed(2)}x`,
    );
listeners.stop();
