/**
 * Health checking at scale, natively on the host against the fake kernel:
 *
 * 1. 10,000 TCP checks at a 1 s interval (100 services x 100 reals) against 100 loopback
 *    listeners in a child process: lvsd's CPU share over a steady window, its RSS.
 *    Steps 1 and 2 run the daemon itself (src/daemon: Daemon with the HealthManager, the
 *    metrics and a JSON logger at the default level writing to /dev/null, its state file in
 *    a temporary directory) against FakeIpvs: the product's code path, not a copy.
 * 2. Decision to kernel: one listener stops (100 reals, one per service, go down after
 *    `fall`), then starts again (back after `rise`); for each transition, the time from the
 *    state machine's decision to the kernel table changing for that real, p50 /
 *    p99 / max, two ways:
 *    - full: the daemon's 'changes' batches reach it emptied (naming no service), which
 *      makes every health pass a full one (read 10k dests, plan, apply): the daemon before
 *      scoped passes;
 *    - scoped: the batches as the HealthManager sends them: the daemon reads, plans and
 *      applies only the services they name.
 * 3. Reload: 2,300 services x 16 reals (36,800 checked reals), a re-parsed config with the
 *    same checks (new objects): time of HealthManager.update; and with 1% of checks changed.
 *    keepalived took 100-130 s for 2.3k x 37k (acassen/keepalived#2318).
 *
 * Steps 1 and 2 run once per variant asked (`workers`: 0 = every check on the daemon's
 * event loop, N = the socket checks on N worker threads making tcp checks through epoll,
 * N:node = through net.Socket), in the same run, with the main thread's event loop
 * utilisation beside the process's CPU, then their CPU per check side by side.
 *
 * `kind` http makes the checks of steps 1 and 2 (and the reload's) `type: http` (GET /,
 * status only) against listeners that answer each request with a small 200 response and
 * never close first; the workers' http checks go through epoll or net.Socket as their tcp
 * checks do (checkers/http-epoll.ts, checkers/http.ts).
 *
 * Goals (issue 7): under half a core; p99 decision to kernel under 50 ms.
 * Run: npm run bench:build && node dist-bench/bench/health-10k.js [steadySeconds]
 *   [reload,own,steady,latency|scoped|floor] [workers=0,1:node,1] [kind=tcp|http]
 */
import { fork } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import pino from 'pino';
import { CheckConfig } from '../src/config/check.js';
import type { ResolvedConfig, ResolvedService } from '../src/config/resolved.js';
import { monitorEventLoopDelay, performance as perf } from 'node:perf_hooks';
import { Daemon } from '../src/daemon/daemon.js';
import { DaemonMetrics } from '../src/daemon/metrics.js';
import { CHECKERS, type CheckerRegistry } from '../src/health/checkers/index.js';
import { HealthManager } from '../src/health/manager.js';
import type { TcpPath } from '../src/health/worker-pool.js';
import { encodeSockaddr } from '../src/ffi/raw-socket.js';
import { tcpConnector } from '../src/ffi/tcp-connect.js';
import {
  ForwardingIpvsClient,
  type IpvsClient,
  type IpvsOp,
  type IpvsOpResult,
  type ReadOptions,
} from '../src/ipvs/client.js';
import { FakeIpvs } from '../src/ipvs/fake.js';
import {
  destId,
  serviceId,
  type IpvsTable,
  type LiveDest,
  type LiveService,
  type ServiceKey,
} from '../src/ipvs/model.js';
import { desiredState } from '../src/reconcile/desired.js';
import { Reconciler } from '../src/reconcile/reconciler.js';
import { StateStore } from '../src/reconcile/state.js';
import { MemorySysctls } from '../src/sysctl/memory.js';
import { createLogger } from '../src/util/log.js';
import { machineLine } from './ipvs-report.js';
import { percentile } from './percentile.js';
import { dest, service } from './reconcile-generate.js';

// LVSD_BENCH_HEAP_GROWING=20: V8 grows the old generation by 20% between full collections
// rather than its default (about 2x); less garbage held, more collections (see the results).
if (process.env.LVSD_BENCH_HEAP_GROWING)
  v8.setFlagsFromString(`--heap-growing-percent=${process.env.LVSD_BENCH_HEAP_GROWING}`);

const SERVICES = 100;
const REALS = 100;
const STEADY_S = Number(process.argv[2] ?? 10);
const RISE = 2;
const FALL = 2;

const noSysctls = new MemorySysctls();
/** The kernel as a daemon finds it at restart: every real already programmed. */
async function programme(kernel: IpvsClient, config: ResolvedConfig): Promise<void> {
  const ports = { sysctls: noSysctls, openAddresses: null, markRules: null };
  const reconciler = new Reconciler({ ipvs: kernel, state: new StateStore(null), ...ports });
  await reconciler.pass(desiredState(config), {
    policy: { prune: 'managed', drainTimeoutMs: 0, maxRemoval: 0.5, allowMassRemoval: false },
  });
}

/** The check type of the steady and latency steps (fifth argument). */
const KIND: 'tcp' | 'http' = process.argv[5] === 'http' ? 'http' : 'tcp';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const source = { file: 'bench.yaml', line: 1, column: 1 };

/**
 * Each call builds new objects, as a reload re-parses the file. Real j is checked on
 * listener port ports[j % ports.length].
 */
function makeConfig(
  services: number,
  reals: number,
  ports: number[],
  interval: number,
  changed = (_i: number, _j: number) => false,
): ResolvedConfig {
  const list: ResolvedService[] = [];
  for (let i = 0; i < services; i++) {
    const realList = [];
    for (let j = 0; j < reals; j++) {
      const d = dest(j);
      const check = CheckConfig.parse({
        type: KIND,
        ...(KIND === 'http' ? { path: '/' } : {}),
        interval,
        timeout: 0.5,
        rise: RISE,
        fall: FALL,
        address: '127.0.0.1',
        port: ports[j % ports.length],
        ...(changed(i, j) ? { rise: 3 } : {}),
      });
      realList.push({ id: destId(d), dest: d, check, source });
    }
    list.push({
      name: `svc${i}`,
      service: service(i),
      reals: realList,
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
    services: list,
    kernel: { sysctls: {} },
    vips: [],
    reconcile: {
      drainTimeoutMs: 0,
      prune: 'managed',
      driftIntervalMs: 60_000,
      maxRemoval: 0.5,
      allowMassRemoval: false,
    },
  };
}

async function startListeners(count: number) {
  const child = fork(
    fileURLToPath(new URL('./health-listeners.js', import.meta.url)),
    [String(count), KIND],
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
  return {
    ports,
    close: (i: number) => ask({ close: i }, 'closed'),
    open: (i: number) => ask({ open: i }, 'opened'),
    stop: () => child.kill(),
  };
}

type PassKind = 'full' | 'scoped';

/**
 * One real round trip through the event loop: a datagram to ourselves on loopback. The
 * kernel answers a netlink request at once, but lvsd reads the answer from its socket
 * when the event loop next polls, behind whatever else is ready: so does this.
 */
class RoundTrip {
  private readonly socket = dgram.createSocket('udp4');
  private readonly waiting: Array<() => void> = [];
  private readonly byte = Buffer.alloc(1);
  private port = 0;

  async open(): Promise<void> {
    this.socket.on('message', () => this.waiting.shift()?.());
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    this.port = this.socket.address().port;
    this.socket.unref();
  }

  go(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.socket.send(this.byte, this.port, '127.0.0.1');
    });
  }

  close(): void {
    this.socket.close();
  }
}

/**
 * The fake kernel as lvsd would see the real one: every call waits for one round trip
 * through the event loop (when `roundTrips` is set), and each real's write is noted when
 * the table changes ("TCP 10.0.0.1:80 -> 192.168.0.1:8080"): at the request, as the kernel
 * applies a netlink write while it is sent, before the acknowledgement comes back.
 */
class KernelClock extends ForwardingIpvsClient {
  onWrite: (key: string, at: number) => void = () => undefined;
  roundTrips: RoundTrip | null = null;
  override async getService(key: ServiceKey): Promise<LiveService | null> {
    await this.roundTrips?.go();
    return super.getService(key);
  }
  override async listDests(key: ServiceKey, options?: ReadOptions): Promise<LiveDest[]> {
    await this.roundTrips?.go();
    return super.listDests(key, options);
  }
  override async readTable(options?: ReadOptions): Promise<IpvsTable> {
    await this.roundTrips?.go();
    return super.readTable(options);
  }
  /** The kernel applies a netlink write as it is sent; its acknowledgement is the round trip. */
  override async execute(ops: readonly IpvsOp[]): Promise<IpvsOpResult[]> {
    const results = await this.inner.execute(ops);
    const at = performance.now();
    for (const op of ops)
      if ('dest' in op) this.onWrite(`${serviceId(op.service)} -> ${destId(op.dest)}`, at);
    await this.roundTrips?.go();
    return results;
  }
}

/**
 * lvsd run, as src/daemon/index.ts wires it (the HTTP listener and signals aside), over
 * the given kernel. `unnamed()` true empties the health batches on their way to the
 * daemon, which then runs full passes (its rule for a batch that names no service): the
 * same daemon, before and after scoping. `checkers`: the manager's registry (default the
 * real checkers).
 */
async function startDaemon(
  config: ResolvedConfig,
  kernel: KernelClock,
  unnamed: () => boolean = () => false,
  checkers: CheckerRegistry = CHECKERS,
  workers = 0,
  tcpPath: TcpPath = 'epoll',
) {
  // LVSD_BENCH_LOG=FILE keeps the daemon's log, at debug level (each pass with its triggers and scope).
  const logFile = process.env.LVSD_BENCH_LOG;
  const logger = createLogger({
    level: logFile ? 'debug' : 'info',
    format: 'json',
    destination: pino.destination({ dest: logFile ?? '/dev/null', sync: true }),
  });
  const manager = new HealthManager({
    logger: logger.child({ component: 'health' }),
    ...(checkers === CHECKERS ? { workers, tcpPath } : { checkers }),
  });
  // Runs before the daemon's listener: the daemon sees the batch emptied.
  manager.prependListener('changes', (batch) => {
    if (!unnamed()) return;
    batch.transitions.length = 0;
    batch.weights.length = 0;
    batch.quorum.length = 0;
  });
  const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-bench-'));
  const metrics = new DaemonMetrics();
  const passes: number[] = [];
  // Samples of each pass's duration, taken where the daemon reports them to its histogram.
  const observe = metrics.reconcileDuration.observe.bind(metrics.reconcileDuration);
  metrics.reconcileDuration.observe = ((labels: { trigger: string }, seconds: number) => {
    if (labels.trigger === 'health') passes.push(seconds * 1000);
    observe(labels, seconds);
  }) as typeof metrics.reconcileDuration.observe;
  const daemon = new Daemon({
    configPath: 'bench.yaml',
    load: async () => ({ ok: true, config, warnings: [] }),
    client: kernel,
    health: manager,
    logger,
    stateDir,
    hostPorts: { sysctls: noSysctls, openAddresses: null, markRules: null },
    metrics,
    watch: false,
  });
  await daemon.start();
  return {
    daemon,
    manager,
    passes,
    stop: async () => {
      await daemon.stop();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

/** Decision (the state machine's transition) to the kernel table changing for that real. */
function decisionToKernel(manager: HealthManager, config: ResolvedConfig, kernel: KernelClock) {
  const ids = new Map(config.services.map((s) => [s.name, serviceId(s.service)]));
  const decided = new Map<string, number>();
  const latencies: number[] = [];
  manager.on(
    'transition',
    (t) => void decided.set(`${ids.get(t.service)} -> ${t.real}`, performance.now()),
  );
  kernel.onWrite = (key, at) => {
    const since = decided.get(key);
    if (since === undefined) return;
    decided.delete(key);
    latencies.push(at - since);
  };
  return { take: () => latencies.splice(0), unwritten: () => decided.size };
}

function row(label: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const p50 = percentile(sorted, 50).toFixed(1);
  const p99 = percentile(sorted, 99).toFixed(1);
  const max = (sorted[sorted.length - 1] ?? NaN).toFixed(1);
  return `${label}: n=${sorted.length} p50 ${p50} ms, p99 ${p99} ms, max ${max} ms`;
}

/**
 * The floor: bare net.connect + reset to the same listeners at the same rate, no lvsd code.
 * What a fresh TCP connection costs Node (and, on loopback, the kernel's work for both ends
 * of the handshake, charged to the connecting process).
 */
async function bareConnects(ports: number[], seconds: number): Promise<void> {
  await connectFloor('bare net.connect + reset', seconds, (done, failed) => {
    for (let i = 0; i < (SERVICES * REALS) / 100; i++) {
      const socket = net.connect({ host: '127.0.0.1', port: ports[i % ports.length] as number });
      socket.once('connect', () => {
        socket.resetAndDestroy();
        done();
      });
      socket.once('error', () => {
        socket.destroy();
        failed();
      });
    }
  });
}

/** The floor of the epoll path: the same connects through TcpConnector, without the scheduler. */
async function bareEpollConnects(ports: number[], seconds: number): Promise<void> {
  const connector = tcpConnector();
  const addresses = ports.map((port) => encodeSockaddr('127.0.0.1', port));
  const label = 'bare socket + connect + poll + reset through libc (ffi/tcp-connect.ts)';
  await connectFloor(label, seconds, (done, failed) => {
    for (let i = 0; i < (SERVICES * REALS) / 100; i++)
      connector.connect(addresses[i % addresses.length] as Buffer, null, (errno) =>
        errno === 0 ? done() : failed(),
      );
  });
}

/**
 * Starts a hundredth of the reals' connects every 10 ms for `seconds` (the checks' rate),
 * then prints the connects a second and the CPU each cost.
 */
async function connectFloor(
  label: string,
  seconds: number,
  tick: (done: () => void, failed: () => void) => void,
): Promise<void> {
  let done = 0;
  let failed = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const timer = setInterval(
    () =>
      tick(
        () => done++,
        () => failed++,
      ),
    10,
  );
  await sleep(seconds * 1000);
  clearInterval(timer);
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  const perConnect = (us: number) => (us / Math.max(done, 1)).toFixed(0);
  console.log(
    `floor, ${label}: ${(done / (wall / 1000)).toFixed(0)}/s (${failed} failed), CPU per connect ` +
      `${perConnect(cpu.user + cpu.system)} us (user ${perConnect(cpu.user)}, system ${perConnect(cpu.system)})`,
  );
  await sleep(1000);
}

/**
 * lvsd's own cost per check, without I/O: the same 10,000 checks, the manager's registry
 * giving it a tcp checker that answers at once. Scheduling, timers, the abort
 * signal, the runner, the state machine and the events: what lvsd adds to a connect.
 */
async function ownOverhead(seconds: number): Promise<void> {
  const instant: CheckerRegistry = {
    ...CHECKERS,
    tcp: { type: 'tcp', prepare: () => async () => ({ ok: true, message: 'connected' }) },
  };
  const config = makeConfig(SERVICES, REALS, [9], 1);
  const kernel = new KernelClock(new FakeIpvs());
  await programme(kernel, config);
  const { manager, stop } = await startDaemon(config, kernel, () => false, instant);
  let results = 0;
  manager.on('result', () => void results++);
  manager.on('tally', (tallies) => {
    for (const t of tallies) results += t.ok + t.failed;
  });
  await sleep(2000);
  results = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  await stop();
  const perCheck = (cpu.user + cpu.system) / Math.max(results, 1);
  console.log(
    `lvsd's own cost (the daemon), checks without I/O: ${(results / (wall / 1000)).toFixed(0)}/s, ` +
      `${perCheck.toFixed(1)} us per check (${perCheck.toFixed(0)}% of a core at 10,000/s)`,
  );
}

/** One way to run the checks: in process (workers 0), or on worker threads making tcp checks one way. */
interface Variant {
  workers: number;
  tcpPath: TcpPath;
}

function label(v: Variant): string {
  if (v.workers === 0) return `${KIND}, workers 0 (net.Socket)`;
  return `${KIND}, workers ${v.workers}, ${v.tcpPath === 'node' ? 'net.Socket' : 'epoll'}`;
}

/** "0,1:node,1": in process, one worker through net.Socket, one worker through epoll. */
function variants(arg: string): Variant[] {
  return arg.split(',').map((item) => {
    const [workers, path] = item.split(':');
    return { workers: Number(workers), tcpPath: path === 'node' ? 'node' : 'epoll' };
  });
}

interface Steady {
  variant: Variant;
  checksPerS: number;
  usPerCheck: number;
  userUs: number;
  systemUs: number;
}

async function steadyAndLatency(
  listeners: Awaited<ReturnType<typeof startListeners>>,
  variant: Variant,
): Promise<Steady> {
  const { workers, tcpPath } = variant;
  console.log(
    workers === 0
      ? 'checks in process (workers: 0)'
      : `${KIND} checks on ${workers} worker thread(s), through ${tcpPath === 'node' ? 'net.Socket' : 'epoll'}`,
  );
  const config = makeConfig(SERVICES, REALS, listeners.ports, 1);
  const kernel = new KernelClock(new FakeIpvs());
  let kind: PassKind = 'full';
  // As the daemon restarts: the kernel already has every real, so they start up.
  await programme(kernel, config);
  const { daemon, manager, passes, stop } = await startDaemon(
    config,
    kernel,
    () => kind === 'full',
    CHECKERS,
    workers,
    tcpPath,
  );
  const follower = decisionToKernel(manager, config, kernel);
  kernel.roundTrips = new RoundTrip();
  await kernel.roundTrips.open();
  let results = 0;
  let failures = 0;
  const lag = monitorEventLoopDelay({ resolution: 10 });
  const reasons = new Map<string, number>();
  manager.on('result', (r) => {
    results++;
    if (r.ok) return;
    failures++;
    // Ports and addresses aside, so one reason counts once ("connect ECONNREFUSED").
    const reason = r.message.replace(/[\d.:]+/g, 'N');
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  });
  // A worker's repeats are counted there (health/settled.ts): their reasons are those above.
  manager.on('tally', (tallies) => {
    for (const t of tallies) {
      results += t.ok + t.failed;
      failures += t.failed;
      if (t.failed > 0) reasons.set('(repeats)', (reasons.get('(repeats)') ?? 0) + t.failed);
    }
  });
  await sleep(2000);
  follower.take();

  results = 0;
  failures = 0;
  reasons.clear();
  lag.enable();
  const elu0 = perf.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(STEADY_S * 1000);
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  lag.disable();
  const elu = perf.eventLoopUtilization(elu0);
  const pct = (us: number) => ((us / 1000 / wall) * 100).toFixed(1);
  console.log(
    `steady ${STEADY_S} s: ${results} checks (${(results / (wall / 1000)).toFixed(0)}/s, ${failures} failed); ` +
      `lvsd's CPU ${pct(cpu.user + cpu.system)}% of one core ` +
      `(user ${pct(cpu.user)}%, system ${pct(cpu.system)}%)  goal < 50%`,
  );
  if (failures > 0) {
    const top = [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 3);
    console.log(`  failed: ${top.map(([reason, n]) => `${n} ${reason}`).join('; ')}`);
  }
  reasons.clear();
  const perCheckUs = (cpu.user + cpu.system) / Math.max(results, 1);
  const perResult = (us: number) => (us / Math.max(results, 1)).toFixed(0);
  console.log(
    `  CPU per check ${perCheckUs.toFixed(0)} us (user ${perResult(cpu.user)}, system ${perResult(cpu.system)}): ` +
      `at the full 10,000 checks/s that is ${perCheckUs.toFixed(0)}% of one core ` +
      '(fewer than 10,000/s above means the process was starved of CPU)',
  );
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
  console.log(
    `  event loop delay p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms; ` +
      `main event loop busy ${(elu.utilization * 100).toFixed(1)}%; ` +
      `RSS ${mib(process.memoryUsage().rss)} MiB (heap used ${mib(process.memoryUsage().heapUsed)} MiB)`,
  );

  const steady: Steady = {
    variant,
    checksPerS: results / (wall / 1000),
    usPerCheck: perCheckUs,
    userUs: cpu.user / Math.max(results, 1),
    systemUs: cpu.system / Math.max(results, 1),
  };
  passes.splice(0);
  const kinds = parts.has('latency') ? (['full', 'scoped'] as const) : (['scoped'] as const);
  for (const pass of parts.has('latency') || parts.has('scoped') ? kinds : []) {
    kind = pass;
    const listener = pass === 'full' ? 7 : 8;
    await listeners.close(listener);
    await sleep(1000 * (FALL + 1.5));
    await listeners.open(listener);
    await sleep(1000 * (RISE + 1.5));
    // A pass asked for now runs after any pass still going: this variant's passes are all done.
    await daemon.requestPass('drift');
    const latencies = follower.take();
    const onePass = passes.splice(0);
    const inKernel = (await kernel.readTable()).services.reduce((n, s) => n + s.dests.length, 0);
    console.log(
      `decision -> kernel, ${pass} passes (100 reals down, then up; ${inKernel} of 10000 in the kernel after, ` +
        `${follower.unwritten()} decisions not written):`,
    );
    console.log(`  ${row('transition to kernel', latencies)}  goal p99 < 50 ms`);
    console.log(`  ${row('one health pass', onePass)}`);
  }
  await stop();
  kernel.roundTrips.close();
  return steady;
}

/** The steady windows side by side, and each one's CPU per check against the net.Socket worker's. */
function printSteady(rows: Steady[]): void {
  const base = rows.find((r) => r.variant.workers > 0 && r.variant.tcpPath === 'node');
  console.log('\nsteady windows side by side (same run):');
  console.log('| variant | checks/s | CPU per check | user | system | vs workers, net.Socket |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const ratio = base ? (r.usPerCheck / base.usPerCheck).toFixed(2) : '-';
    console.log(
      `| ${label(r.variant)} | ${r.checksPerS.toFixed(0)} | ${r.usPerCheck.toFixed(0)} us | ` +
        `${r.userUs.toFixed(0)} us | ${r.systemUs.toFixed(0)} us | ${ratio} |`,
    );
  }
}

async function reload(): Promise<void> {
  const logger = pino({ level: 'warn' }, pino.destination('/dev/null'));
  // First runs at 99.9% of a 60 s interval: nothing is checked while the reload is timed.
  const manager = new HealthManager({ logger, random: () => 0.999 });
  const ports = [9];
  const services = 2300;
  const reals = 16;
  let t = performance.now();
  const first = makeConfig(services, reals, ports, 60);
  const buildMs = performance.now() - t;
  t = performance.now();
  const started = manager.update(first);
  const startMs = performance.now() - t;
  const same = makeConfig(services, reals, ports, 60);
  t = performance.now();
  const kept = manager.update(same);
  const keptMs = performance.now() - t;
  const onePercent = makeConfig(services, reals, ports, 60, (i, j) => (i * reals + j) % 100 === 0);
  t = performance.now();
  const changed = manager.update(onePercent);
  const changedMs = performance.now() - t;
  t = performance.now();
  desiredState(onePercent, manager.snapshot());
  const desiredMs = performance.now() - t;
  console.log(
    `reload ${services} x ${reals} = ${services * reals} checked reals ` +
      `(config built in ${buildMs.toFixed(0)} ms, not counted):`,
  );
  console.log(`  first start: ${startMs.toFixed(0)} ms (${started.started} checks started)`);
  console.log(
    `  unchanged re-parsed config: ${keptMs.toFixed(0)} ms (${kept.kept} kept, ${kept.restarted} restarted)` +
      '   keepalived: 100-130 s',
  );
  console.log(
    `  1% of checks changed: ${changedMs.toFixed(0)} ms (${changed.kept} kept, ${changed.restarted} restarted)`,
  );
  console.log(
    `  snapshot + desiredState over ${services * reals} reals: ${desiredMs.toFixed(0)} ms`,
  );
  await manager.stop();
}

// A second argument picks parts (comma-separated: reload, own, steady), e.g. for a profile.
const parts = new Set((process.argv[3] ?? 'reload,own,steady,latency').split(','));
console.log(machineLine());
if (parts.has('reload')) await reload();
if (parts.has('own')) await ownOverhead(5);
// `floor` alone: the bare connects of both paths, without the daemon.
if (parts.has('floor')) {
  const listeners = await startListeners(REALS);
  await bareConnects(listeners.ports, STEADY_S);
  await bareEpollConnects(listeners.ports, STEADY_S);
  await bareConnects(listeners.ports, STEADY_S);
  await bareEpollConnects(listeners.ports, STEADY_S);
  listeners.stop();
}
if (parts.has('steady') || parts.has('latency') || parts.has('scoped')) {
  const listeners = await startListeners(REALS);
  await bareConnects(listeners.ports, 5);
  await bareEpollConnects(listeners.ports, 5);
  const rows: Steady[] = [];
  for (const variant of variants(process.argv[4] ?? '0,1:node,1'))
    rows.push(await steadyAndLatency(listeners, variant));
  printSteady(rows);
  listeners.stop();
}
