/**
 * Resident memory of the daemon (issue 15 goals: under 64 MiB at 1000 services x 10 reals
 * without checks, flat across reloads; under 150 MiB with 10,000 checked reals). Each case
 * runs in a fresh process: the daemon (src/daemon, real HealthManager, fake kernel, a
 * silent logger) started on the config, RSS after start, after each of 3 reloads with one
 * weight edited, and (checked) after 10, 20 and 30 s of TCP checks at 1 s against loopback listeners
 * in a child process.
 *
 * `checked` runs twice: every check on the daemon's event loop (workers 0), then the TCP
 * checks on one worker thread (workers 1), each in its own process. `yaml` is `plain` with
 * the config read from a YAML file by the daemon's own loader (parse, zod, resolve, the
 * memo of the last load), each reload after one weight edited in the file; `yaml-full` the
 * same without the memo (every load reads, checks and resolves every service).
 *
 * Run: npm run bench:build && node dist-bench/bench/rss.js [plain|yaml|yaml-full|checked [workers]]
 *
 * Off by default, for finding where the memory is (bench/results/2026-12-07-memory-sources.md):
 * LVSD_BENCH_SNAPSHOT=DIR (heap snapshots, read with scripts/heap-summary.js),
 * LVSD_BENCH_BREAKDOWN=1|spaces (RSS by mapping, V8's heap), LVSD_BENCH_IDLE=S (idle after
 * the start and the reloads), LVSD_BENCH_ALLOC=start|reloads (allocation profile).
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import pino from 'pino';
import { CheckConfig } from '../src/config/check.js';
import { ServiceMemo } from '../src/config/memo.js';
import type { ResolvedConfig, ResolvedService } from '../src/config/resolved.js';
import { Daemon } from '../src/daemon/daemon.js';
import { type ConfigLoader, loadConfigOutcome } from '../src/daemon/config-loader.js';
import { DaemonMetrics } from '../src/daemon/metrics.js';
import { HealthManager } from '../src/health/manager.js';
import { FakeIpvs } from '../src/ipvs/fake.js';
import { destId } from '../src/ipvs/model.js';
import { MemorySysctls } from '../src/sysctl/memory.js';
import { machineLine } from './ipvs-report.js';
import { dest, service, yamlTable } from './reconcile-generate.js';

// LVSD_BENCH_HEAP_GROWING=20: V8 grows the old generation by 20% between full collections
// rather than its default (about 2x); less garbage held, more collections (see the results).
if (process.env.LVSD_BENCH_HEAP_GROWING)
  v8.setFlagsFromString(`--heap-growing-percent=${process.env.LVSD_BENCH_HEAP_GROWING}`);

const source = { file: 'bench.yaml', line: 1, column: 1 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** RSS, and the heap in use (live: after a full GC, when run with --expose-gc). */
const mib = () => {
  const { rss, heapUsed } = process.memoryUsage();
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const after = process.memoryUsage();
  const live = gc
    ? `, live ${(after.heapUsed / 2 ** 20).toFixed(0)}, RSS after a full GC ${(after.rss / 2 ** 20).toFixed(0)}` +
      breakdown()
    : '';
  return `${(rss / 2 ** 20).toFixed(0)} MiB (heap used ${(heapUsed / 2 ** 20).toFixed(0)}${live})`;
};

/**
 * LVSD_BENCH_SNAPSHOT=DIR: a heap snapshot at each step (DIR/MODE-STEP.heapsnapshot), for
 * bench/heap-summary.ts to attribute the live heap by constructor.
 */
function snapshot(step: string): void {
  const dir = process.env.LVSD_BENCH_SNAPSHOT;
  if (dir) v8.writeHeapSnapshot(join(dir, `${process.argv[2]}-${step}.heapsnapshot`));
}

/**
 * LVSD_BENCH_BREAKDOWN=1: where the RSS is, after the full GC: V8's heap (physical pages it
 * holds, of which live), malloc's brk heap, other anonymous mappings (V8's pages, thread
 * stacks, mmap'd malloc chunks), and file-backed pages (node's binary, shared libraries).
 */
function breakdown(): string {
  if (!process.env.LVSD_BENCH_BREAKDOWN) return '';
  const kib: Record<string, number> = { brk: 0, anon: 0, file: 0 };
  let kind = 'anon';
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) kind = head[2] === '[heap]' ? 'brk' : head[1] !== '0' ? 'file' : 'anon';
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) kib[kind] = (kib[kind] ?? 0) + Number(rss[1]);
  }
  const h = v8.getHeapStatistics();
  const m = (b: number) => (b / 2 ** 20).toFixed(1);
  if (process.env.LVSD_BENCH_BREAKDOWN === 'spaces')
    for (const sp of v8.getHeapSpaceStatistics())
      console.log(
        `    ${sp.space_name}: physical ${m(sp.physical_space_size)} used ${m(sp.space_used_size)}`,
      );
  const k = (x: number | undefined) => ((x ?? 0) / 1024).toFixed(1);
  return (
    ` [V8 heap physical ${m(h.total_physical_size)} used ${m(h.used_heap_size)}, external ` +
    `${m(process.memoryUsage().external)}; RSS: brk ${k(kib.brk)}, anon ${k(kib.anon)}, files ${k(kib.file)}]`
  );
}

/**
 * LVSD_BENCH_ALLOC=start|reloads: V8's sampling heap profiler over the start (or the three
 * reloads), freed objects included, summed by function (self): what they allocate, which is
 * what fills the old generation's pages that stay committed after them.
 */
async function allocationProfile<T>(what: string, run: () => Promise<T>): Promise<T> {
  if (process.env.LVSD_BENCH_ALLOC !== what) return run();
  const { Session } = await import('node:inspector');
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((ok, fail) =>
      session.post(method, params, (err, res) => (err ? fail(err) : ok(res))),
    );
  await post('HeapProfiler.startSampling', {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  const result = await run();
  const { profile } = (await post('HeapProfiler.stopSampling')) as {
    profile: { head: SampleNode };
  };
  const by = new Map<string, number>();
  let inFake = 0;
  // Anything called from the fake kernel (src/ipvs/fake.js) is the fake's: the kernel's in
  // production. A builtin (Object.keys, Map.set...) is named with the function that called it.
  const walk = (n: SampleNode, fake: boolean, caller = '') => {
    const f = n.callFrame;
    const file = f.url.replace(/.*\/(dist|dist-bench|node_modules)\//, '');
    const own = `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
    const key = f.url ? own : `${f.functionName} in ${caller}`;
    const underFake = fake || f.url.endsWith('/ipvs/fake.js');
    if (underFake) inFake += n.selfSize;
    else by.set(key, (by.get(key) ?? 0) + n.selfSize);
    for (const c of n.children) walk(c, underFake, f.url ? own : caller);
  };
  walk(profile.head, false);
  const total = [...by.values()].reduce((a, b) => a + b, 0);
  console.log(
    `allocated during the ${what}: ${((total + inFake) / 2 ** 20).toFixed(1)} MiB, of which the fake ` +
      `kernel ${(inFake / 2 ** 20).toFixed(1)}; the rest by function (self):`,
  );
  for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 25))
    console.log(`  ${(v / 2 ** 20).toFixed(2).padStart(6)}  ${k}`);
  return result;
}
interface SampleNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SampleNode[];
}

/** A fresh config (as a reload re-parses); `edit` bumps the weight of service 0's real 0. */
function makeConfig(
  services: number,
  reals: number,
  ports: number[] | null,
  edit: number,
): ResolvedConfig {
  const list: ResolvedService[] = [];
  for (let i = 0; i < services; i++) {
    const realList = Array.from({ length: reals }, (_, j) => {
      const d = dest(j, i === 0 && j === 0 ? 1 + edit : 1);
      const check = ports
        ? CheckConfig.parse({
            type: 'tcp',
            interval: 1,
            timeout: 0.9,
            address: '127.0.0.1',
            port: ports[j % ports.length],
          })
        : null;
      return { id: destId(d), dest: d, check, source };
    });
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
    hash: `bench${edit}`,
    host: null,
    services: list,
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

async function listeners(count: number) {
  const child = fork(
    fileURLToPath(new URL('./health-listeners.js', import.meta.url)),
    [String(count)],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const ports = await new Promise<number[]>((resolve) =>
    child.once('message', (m: { ports: number[] }) => resolve(m.ports)),
  );
  return { ports, stop: () => child.kill() };
}

type Mode = 'plain' | 'yaml' | 'yaml-full' | 'checked';

/** The daemon's loader over a YAML file; `write(edit)` writes the file with that edit. */
function yamlLoader(path: string, withMemo: boolean) {
  const memo = withMemo ? new ServiceMemo() : undefined;
  const text = yamlTable({ services: 1000, destsPerService: 10 });
  return {
    load: ((file: string) => loadConfigOutcome(file, undefined, memo)) as ConfigLoader,
    write: (edit: number) => writeFile(path, text.replace('weight: 1 }', `weight: ${1 + edit} }`)),
  };
}

/**
 * The live heap the fake kernel's table of services x reals costs on its own: the daemon
 * here runs on FakeIpvs, which holds in lvsd's heap what the kernel holds outside it.
 */
async function fakeTableMiB(services: number, reals: number): Promise<string> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return '(run with --expose-gc to see it)';
  gc();
  const before = process.memoryUsage().heapUsed;
  const fake = new FakeIpvs();
  for (let i = 0; i < services; i++) {
    const svc = service(i);
    await fake.execute([{ op: 'add-service', service: svc }]);
    const ops = Array.from({ length: reals }, (_, j) => ({
      op: 'add-dest' as const,
      service: svc,
      dest: dest(j, 1),
    }));
    await fake.execute(ops);
  }
  fake.log.length = 0;
  gc();
  const mib = (process.memoryUsage().heapUsed - before) / 2 ** 20;
  void fake;
  return `${mib.toFixed(1)} MiB`;
}

async function measure(mode: Mode, workers: number): Promise<void> {
  const [services, reals] = mode === 'checked' ? [100, 100] : [1000, 10];
  const backends = mode === 'checked' ? await listeners(100) : null;
  let edit = 0;
  const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-rss-'));
  const configPath = join(stateDir, 'lvsd.yaml');
  const yaml = mode.startsWith('yaml') ? yamlLoader(configPath, mode === 'yaml') : null;
  await yaml?.write(0);
  const logger = pino({ level: 'silent' });
  const client = new FakeIpvs();
  const daemon = new Daemon({
    configPath,
    load:
      yaml?.load ??
      (async () => ({
        ok: true,
        config: makeConfig(services, reals, backends?.ports ?? null, edit),
        warnings: [],
      })),
    client,
    health: new HealthManager({ logger, workers }),
    logger,
    stateDir,
    hostPorts: { sysctls: new MemorySysctls(), openAddresses: null, markRules: null },
    metrics: new DaemonMetrics(),
    watch: false,
  });
  const at: string[] = [`before start ${mib()}`];
  snapshot('before-start');
  await allocationProfile('start', () => daemon.start());
  // The fake's record of every op it was sent is for tests, not a cost of the daemon.
  client.log.length = 0;
  at.push(`after start ${mib()}`);
  snapshot('after-start');
  // LVSD_BENCH_IDLE=S: S seconds idle after the start (V8's memory reducer runs on idle).
  if (process.env.LVSD_BENCH_IDLE) {
    await sleep(Number(process.env.LVSD_BENCH_IDLE) * 1000);
    at.push(`after ${process.env.LVSD_BENCH_IDLE} s idle ${mib()}`);
  }
  await allocationProfile('reloads', async () => {
    for (edit = 1; edit <= 3; edit++) {
      await yaml?.write(edit);
      await daemon.reload('manual');
      client.log.length = 0;
      at.push(`reload ${edit} ${mib()}`);
    }
  });
  snapshot('after-reloads');
  if (process.env.LVSD_BENCH_IDLE) {
    await sleep(Number(process.env.LVSD_BENCH_IDLE) * 1000);
    at.push(`reloads then ${process.env.LVSD_BENCH_IDLE} s idle ${mib()}`);
  }
  // Checks for 30 s, read every 10: a steady main thread lets V8's memory reducer run.
  for (let s = 10; backends && s <= 30; s += 10) {
    await sleep(10_000);
    at.push(`after ${s} s of checks ${mib()}`);
  }
  const source = {
    plain: '',
    yaml: ', read from YAML',
    'yaml-full': ', read from YAML without the memo',
  };
  const what =
    mode === 'checked' ? `TCP checks at 1 s, workers ${workers}` : `no checks${source[mode]}`;
  console.log(`${services} x ${reals} reals, ${what}: ${at.join('; ')}`);
  if (mode !== 'checked')
    console.log(`  of which the fake kernel's table alone: ${await fakeTableMiB(services, reals)}`);
  await daemon.stop();
  backends?.stop();
  await rm(stateDir, { recursive: true, force: true });
}

const mode = process.argv[2];
if (mode === 'plain' || mode === 'yaml' || mode === 'yaml-full' || mode === 'checked')
  await measure(mode, Number(process.argv[3] ?? 0));
else {
  console.log(machineLine());
  for (const each of [['plain'], ['yaml-full'], ['yaml'], ['checked', '0'], ['checked', '1']]) {
    const child = fork(fileURLToPath(import.meta.url), each, { stdio: 'inherit' });
    await new Promise((resolve) => child.once('exit', resolve));
  }
}
