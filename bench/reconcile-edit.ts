/**
 * A one-line edit, natively on the host against the fake kernel: one real's weight changes
 * in an N x 10 table. Timed from the moment the change exists to the moment the last netlink
 * message is encoded (WireFake encodes every write exactly as the kernel client would),
 * through the same path lvsd takes: reconcile() = read the table, plan, apply.
 *
 * Goals (issue 5): 1000 x 10 under 0.5 s; 5000 x 10 scales linearly (about 5x);
 * exactly one netlink message per edit (the benchmark refuses to report otherwise).
 *
 * Run: npm run bench (or node dist-bench/bench/reconcile-edit.js).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DesiredState } from '../src/reconcile/plan.js';
import { reconcile, type ReconcileOptions, type SysctlAccess } from '../src/reconcile/reconcile.js';
import { PhaseTimer } from '../src/util/timings.js';
import { WireFake } from './ipvs-wire-fake.js';
import { machineLine, ms, printRow, summarize, type Measurement } from './ipvs-report.js';
import { desiredTable, type TableShape } from './reconcile-generate.js';

const EDITS = 9;

/** No /proc/sys writes from a benchmark; reads answer "absent" like a host without IPVS. */
const noSysctls: SysctlAccess = {
  read: async (names) => Object.fromEntries(names.map((n) => [n, null])),
  write: async () => undefined,
};

function withWeight(desired: DesiredState, serviceIndex: number, destIndex: number, weight: number): DesiredState {
  const services = desired.services.slice();
  const target = services[serviceIndex];
  if (!target) throw new Error(`no service ${serviceIndex}`);
  const dests = target.dests.slice();
  dests[destIndex] = { ...(dests[destIndex] as DesiredState['services'][0]['dests'][0]), weight };
  services[serviceIndex] = { ...target, dests };
  return { ...desired, services };
}

interface EditFigures {
  total: Measurement;
  phases: Record<string, Measurement>;
}

async function benchEdits(shape: TableShape): Promise<EditFigures> {
  const kernel = new WireFake();
  const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-bench-'));
  const base: ReconcileOptions = {
    desired: desiredTable(shape),
    stateDir,
    prune: 'managed',
    drainTimeoutMs: 0,
    dryRun: false,
    sysctls: noSysctls,
  };
  const first = await reconcile(kernel, base);
  if (first.report?.failed) throw new Error(`initial apply failed ${first.report.failed} operations`);

  const totals: number[] = [];
  const phaseSamples: Record<string, number[]> = {};
  // The edited real moves through the table so no edit hits a warm spot; weights alternate.
  for (let k = 0; k <= EDITS; k++) {
    const serviceIndex = Math.floor(((k + 1) * shape.services) / (EDITS + 2));
    const desired = withWeight(base.desired, serviceIndex, k % shape.destsPerService, 2 + k);
    kernel.resetCounters();
    const timer = new PhaseTimer();
    const start = performance.now();
    await reconcile(kernel, { ...base, desired, timer });
    const elapsed = performance.now() - start;
    if (kernel.messages !== 1) throw new Error(`edit ${k} sent ${kernel.messages} netlink messages, expected exactly 1`);
    base.desired = desired;
    if (k === 0) continue; // warm-up
    totals.push(elapsed);
    for (const phase of timer.phases) (phaseSamples[phase.name] ??= []).push(phase.ms);
  }
  await rm(stateDir, { recursive: true, force: true });
  return {
    total: summarize(totals),
    phases: Object.fromEntries(Object.entries(phaseSamples).map(([name, samples]) => [name, summarize(samples)])),
  };
}

async function main(): Promise<void> {
  console.log(`# bench/reconcile-edit: one weight changed, to the last netlink message encoded (fake kernel)\n${machineLine()}`);
  const results: Array<[TableShape, EditFigures]> = [];
  for (const shape of [
    { services: 1000, destsPerService: 10 },
    { services: 5000, destsPerService: 10 },
  ]) {
    const figures = await benchEdits(shape);
    results.push([shape, figures]);
    const label = `${shape.services} x ${shape.destsPerService}`;
    printRow(`one-line edit ${label}: desired state -> last message encoded`, figures.total, shape.services === 1000 ? 'goal < 500 ms' : '');
    for (const [name, m] of Object.entries(figures.phases)) printRow(`  ${name}`, m);
  }
  const [small, large] = results;
  if (small && large) {
    const ratio = large[1].total.medianMs / small[1].total.medianMs;
    console.log(`scaling 5000 x 10 / 1000 x 10: ${ratio.toFixed(2)}x (linear = 5x; ${ms(small[1].total.medianMs)} -> ${ms(large[1].total.medianMs)} ms)`);
  }
  console.log('netlink messages per edit: 1 (checked on every run)');
}

await main();
