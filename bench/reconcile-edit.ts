/**
 * A one-line edit, natively on the host against the fake kernel: one real's weight changes
 * on one line of an N x 10 YAML config. Timed from the moment the edited file is on disk to
 * the moment the last netlink message is encoded (WireFake encodes every write exactly as
 * the kernel client would), through the path lvsd takes on a reload: load the config
 * (read, parse, validate, resolve), desiredState(), then one Reconciler pass = read the table,
 * plan, apply.
 *
 * Goals (issue 5): 1000 x 10 under 0.5 s; 5000 x 10 scales linearly (about 5x);
 * exactly one netlink message per edit (the benchmark refuses to report otherwise).
 *
 * Run: npm run bench (or node dist-bench/bench/reconcile-edit.js).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/index.js';
import { desiredState } from '../src/reconcile/desired.js';
import { Reconciler } from '../src/reconcile/reconciler.js';
import { StateStore } from '../src/reconcile/state.js';
import { MemorySysctls } from '../src/sysctl/memory.js';
import { PhaseTimer } from '../src/util/timings.js';
import { WireFake } from './ipvs-wire-fake.js';
import { machineLine, ms, printRow, summarize, type Measurement } from './ipvs-report.js';
import { yamlRealLine, yamlTable, type TableShape } from './reconcile-generate.js';

const EDITS = 9;

/** No /proc/sys writes from a benchmark; reads answer "absent" like a host without IPVS. */
const noSysctls = new MemorySysctls();

/** The config text with real j of service i at a new weight: one line differs. */
function withWeight(
  lines: readonly string[],
  shape: TableShape,
  i: number,
  j: number,
  weight: number,
): string {
  const at = yamlRealLine(shape, i, j);
  const edited = lines.slice();
  const line = edited[at] ?? '';
  if (!/weight: \d+ }$/.test(line)) throw new Error(`line ${at + 1} is not a real: ${line}`);
  edited[at] = line.replace(/weight: \d+ }$/, `weight: ${weight} }`);
  return edited.join('\n');
}

async function load(file: string, timer: PhaseTimer) {
  const loaded = await timer.time('load', () => loadConfig(file, { host: null }));
  if (!loaded.ok) throw new Error(`generated config refused: ${loaded.errors[0]?.message}`);
  return timer.time('desired', () => desiredState(loaded.config));
}

interface EditFigures {
  total: Measurement;
  /** CPU time (user + system) of the same span: on a busy host, closer to an idle machine's wall time. */
  cpu: Measurement;
  phases: Record<string, Measurement>;
}

async function benchEdits(shape: TableShape): Promise<EditFigures> {
  const kernel = new WireFake();
  const dir = await mkdtemp(join(tmpdir(), 'lvsd-bench-'));
  const file = join(dir, 'lvsd.yaml');
  let lines = yamlTable(shape).split('\n');
  await writeFile(file, lines.join('\n'));
  const reconciler = new Reconciler({
    ipvs: kernel,
    state: new StateStore(join(dir, 'state')),
    sysctls: noSysctls,
    openAddresses: null,
    markRules: null,
  });
  const policy = {
    prune: 'managed' as const,
    drainTimeoutMs: 0,
    maxRemoval: 0.5,
    allowMassRemoval: false,
  };
  const first = await reconciler.pass(await load(file, new PhaseTimer()), { policy });
  if (first.report?.failed)
    throw new Error(`initial apply failed ${first.report.failed} operations`);

  const totals: number[] = [];
  const cpus: number[] = [];
  const phaseSamples: Record<string, number[]> = {};
  // The edited real moves through the table so no edit hits a warm spot; weights change each time.
  for (let k = 0; k <= EDITS; k++) {
    const serviceIndex = Math.floor(((k + 1) * shape.services) / (EDITS + 2));
    const text = withWeight(lines, shape, serviceIndex, k % shape.destsPerService, 2 + k);
    await writeFile(file, text);
    lines = text.split('\n');
    kernel.resetCounters();
    const timer = new PhaseTimer();
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    const desired = await load(file, timer);
    await reconciler.pass(desired, { policy, timer });
    const elapsed = performance.now() - start;
    const cpu = process.cpuUsage(cpuStart);
    if (kernel.messages !== 1)
      throw new Error(`edit ${k} sent ${kernel.messages} netlink messages, expected exactly 1`);
    if (k === 0) continue; // warm-up
    totals.push(elapsed);
    cpus.push((cpu.user + cpu.system) / 1000);
    for (const phase of timer.phases) (phaseSamples[phase.name] ??= []).push(phase.ms);
  }
  await rm(dir, { recursive: true, force: true });
  return {
    total: summarize(totals),
    cpu: summarize(cpus),
    phases: Object.fromEntries(
      Object.entries(phaseSamples).map(([name, samples]) => [name, summarize(samples)]),
    ),
  };
}

async function main(): Promise<void> {
  console.log(
    '# bench/reconcile-edit: one weight changed in the YAML file, to the last netlink message encoded' +
      ` (fake kernel)\n${machineLine()}`,
  );
  console.log(
    `# load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} on ${cpus().length} CPUs at the start`,
  );
  const results: Array<[TableShape, EditFigures]> = [];
  for (const shape of [
    { services: 1000, destsPerService: 10 },
    { services: 5000, destsPerService: 10 },
  ]) {
    const figures = await benchEdits(shape);
    results.push([shape, figures]);
    const label = `${shape.services} x ${shape.destsPerService}`;
    printRow(
      `one-line edit ${label}: file changed -> last message encoded`,
      figures.total,
      shape.services === 1000 ? 'goal < 500 ms' : '',
    );
    printRow(`  the same, CPU time (user + system)`, figures.cpu);
    for (const [name, m] of Object.entries(figures.phases)) printRow(`  ${name}`, m);
  }
  const [small, large] = results;
  if (small && large) {
    const ratio = large[1].total.medianMs / small[1].total.medianMs;
    console.log(
      `scaling 5000 x 10 / 1000 x 10: ${ratio.toFixed(2)}x wall ` +
        `(linear = 5x; ${ms(small[1].total.medianMs)} -> ${ms(large[1].total.medianMs)} ms)`,
    );
    const cpuRatio = large[1].cpu.medianMs / small[1].cpu.medianMs;
    console.log(
      `scaling 5000 x 10 / 1000 x 10: ${cpuRatio.toFixed(2)}x CPU time ` +
        `(${ms(small[1].cpu.medianMs)} -> ${ms(large[1].cpu.medianMs)} ms)`,
    );
  }
  console.log('netlink messages per edit: 1 (checked on every run)');
}

await main();
