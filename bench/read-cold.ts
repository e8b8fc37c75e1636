/**
 * The read + plan of a no-op reconcile in a fresh process (issue 21): what `lvsd plan` pays
 * over a table where nothing is compiled yet. One child process per sample, no warm-up: the
 * table read through the kernel client over the scripted kernel socket (its replies built
 * before the clock starts), then planned against the same table as desired state (0 steps).
 * Samples of two variants alternate, so a loaded host weighs on both alike: the build as it
 * is, and the same with the V8 flags given (e.g. --always-sparkplug).
 *
 * Run: npm run bench:build && node dist-bench/bench/read-cold.js [SERVICES] [SAMPLES] [V8 FLAGS...]
 * (default 1000 services x 10 reals = 10,000 dests, 9 samples each). Not in npm test.
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { KernelIpvsClient } from '../src/ipvs/kernel-client.js';
import { NetlinkTransport } from '../src/netlink/transport.js';
import { plan } from '../src/reconcile/plan.js';
import { machineLine } from './ipvs-report.js';
import { desiredTable } from './reconcile-generate.js';
import { ScriptedKernelSocket } from './scripted-kernel-socket.js';
import { median } from './percentile.js';

interface Sample {
  read: number;
  plan: number;
  cpu: number;
  steps: number;
}

async function sample(services: number): Promise<void> {
  const desired = desiredTable({ services, destsPerService: 10 });
  const socket = new ScriptedKernelSocket(
    desired.services.map((s) => ({ service: s.service, dests: s.dests })),
    false,
  );
  const client = await KernelIpvsClient.over(new NetlinkTransport(socket));
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const table = await client.readTable({ stats: false });
  const t1 = performance.now();
  const planned = plan(
    desired,
    { table },
    { prune: 'managed', drainTimeoutMs: 0, now: 0, owned: new Set(), draining: {} },
  );
  const t2 = performance.now();
  const used = process.cpuUsage(cpu);
  await client.close();
  const out: Sample = {
    read: t1 - t0,
    plan: t2 - t1,
    cpu: (used.user + used.system) / 1000,
    steps: planned.steps.length,
  };
  console.log(JSON.stringify(out));
}

function run(self: string, flags: string[], services: number): Sample {
  const out = execFileSync(process.execPath, [...flags, self, '--sample', String(services)]);
  const s = JSON.parse(out.toString()) as Sample;
  if (s.steps !== 0) throw new Error(`the no-op plan has ${s.steps} steps`);
  return s;
}

function line(name: string, runs: Sample[]): string {
  const m = (f: (s: Sample) => number) => median(runs.map(f)).toFixed(1);
  return (
    `${name.padEnd(40)} read ${m((s) => s.read)} ms, plan ${m((s) => s.plan)} ms, ` +
    `read + plan ${m((s) => s.read + s.plan)} ms, CPU ${m((s) => s.cpu)} ms`
  );
}

function main(argv: string[]): void {
  const services = Number(argv[0] ?? 1000);
  const samples = Number(argv[1] ?? 9);
  const flags = argv.slice(2);
  const self = new URL(import.meta.url).pathname;
  const plain: Sample[] = [];
  const flagged: Sample[] = [];
  for (let i = 0; i < samples; i++) {
    plain.push(run(self, process.execArgv, services));
    if (flags.length) flagged.push(run(self, [...process.execArgv, ...flags], services));
  }
  console.log(`# bench/read-cold: a fresh process's no-op read + plan\n${machineLine()}`);
  console.log(
    `# load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(
        ' ',
      )} on ${cpus().length} CPUs; ${services * 10} dests, medians of ${samples} processes`,
  );
  console.log(line('as built', plain));
  if (flags.length) console.log(line(flags.join(' '), flagged));
}

if (process.argv[2] === '--sample') await sample(Number(process.argv[3]));
else main(process.argv.slice(2));
