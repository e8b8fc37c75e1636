/**
 * What /metrics costs, for comparing builds in one run (bench/results/2026-12-07-metrics-rss.md):
 * - modules: RSS after a full GC of a process that imported the `lvsd run` module graph
 *   (dist/cli/main.js, the run command, the daemon's entry) with nothing configured;
 * - scrape: DaemonMetrics.render() at 1000 services x 10 reals with process metrics on
 *   (median, min and max of 25 scrapes), and the bytes written.
 * Each figure comes from a fresh process (run with --max-semi-space-size=1, the systemd
 * unit's flag, and --expose-gc), rounds alternating between the builds given.
 *
 * Run: npm run bench:build && node dist-bench/bench/metrics-rss.js [ROUNDS] [TREE...]
 * (TREE: a checkout with a built dist/; default this one).
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DaemonMetrics } from '../src/daemon/metrics.js';
import type { StatusService } from '../src/daemon/status.js';

// Everything else of lvsd's is imported where it is used: the `modules` figure is the
// module graph of the tree measured and nothing of this bench's.

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

async function modules(tree: string): Promise<string> {
  for (const entry of ['cli/main.js', 'cli/commands/run.js', 'daemon/index.js'])
    await import(`${tree}/dist/${entry}`);
  await new Promise((r) => setTimeout(r, 50));
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  gc();
  gc();
  const { rss, heapUsed } = process.memoryUsage();
  return `modules ${mib(rss)} MiB RSS (heap ${mib(heapUsed)})`;
}

async function table(): Promise<StatusService[]> {
  const { emptyStats } = await import('../src/ipvs/model.js');
  const { dest, service } = await import('./reconcile-generate.js');
  const stats = {
    ...emptyStats(),
    conns: 5,
    inPackets: 10,
    outPackets: 9,
    inBytes: 1000,
    outBytes: 900,
  };
  return Array.from({ length: 1000 }, (_, i) => {
    const svc = service(i);
    const dests = Array.from({ length: 10 }, (_, j) => {
      const d = dest(i * 10 + j);
      return {
        ...d,
        activeConns: 1,
        inactiveConns: 2,
        persistConns: 0,
        stats,
        id: `${d.address}:${d.port}`,
        health: 'up' as const,
        check: null,
        configuredWeight: d.weight,
        inKernel: true,
        since: null,
        message: null,
      };
    });
    return {
      ...svc,
      id: `svc ${i}`,
      name: `svc${i}`,
      managed: true,
      inKernel: true,
      stats,
      dests,
      healthyWeight: 10,
    };
  });
}

async function scrape(tree: string): Promise<string> {
  const { DaemonMetrics: Metrics } = (await import(`${tree}/dist/daemon/metrics.js`)) as {
    DaemonMetrics: typeof DaemonMetrics;
  };
  const metrics = new Metrics();
  metrics.recordReload(true, 'abc', Date.now());
  for (let i = 0; i < 50; i++) metrics.reconcileDuration.observe({ trigger: 'drift' }, i / 100);
  metrics.update(await table());
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 25; i++) {
    const start = process.hrtime.bigint();
    bytes = (await metrics.render()).length;
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  const ms = (t: number | undefined) => (t ?? 0).toFixed(0);
  return `scrape median ${ms(times[12])} ms (min ${ms(times[0])}, max ${ms(times[24])}), ${bytes} bytes`;
}

const [what, tree] = process.argv.slice(2);
if (what === 'modules' || what === 'scrape') {
  console.log(await (what === 'modules' ? modules(tree!) : scrape(tree!)));
} else {
  const rounds = Number(what ?? 3) || 3;
  const here = resolve(fileURLToPath(import.meta.url), '../../..');
  const trees = process.argv.slice(3).map((t) => resolve(t));
  console.log((await import('./ipvs-report.js')).machineLine());
  for (let round = 1; round <= rounds; round++)
    for (const t of trees.length ? trees : [here])
      for (const kind of ['modules', 'scrape']) {
        const flags = ['--max-semi-space-size=1', '--expose-gc'];
        const out = execFileSync(process.execPath, [
          ...flags,
          fileURLToPath(import.meta.url),
          kind,
          t,
        ]);
        console.log(`${round} ${t}: ${out.toString().trim()}`);
      }
}
