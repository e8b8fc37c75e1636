/**
 * The write phase of a fresh process (issue 21): what `lvsd apply` pays on a small table,
 * where nothing is compiled yet. One process per sample, no warm-up: an empty table planned,
 * then every operation executed through the kernel client over the scripted kernel socket.
 * Prints the median of the samples; each sample is a child process of this one.
 *
 * Run: npm run bench:build && node dist-bench/bench/write-cold.js [SERVICES] [SAMPLES]
 * (default 100 services x 10 reals = 1100 rules, 7 samples). Not in npm test.
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

async function sample(services: number): Promise<void> {
  const desired = desiredTable({ services, destsPerService: 10 });
  const socket = new ScriptedKernelSocket([]);
  const client = await KernelIpvsClient.over(new NetlinkTransport(socket));
  const t0 = performance.now();
  const planned = plan(
    desired,
    { table: { services: [] } },
    { prune: 'managed', drainTimeoutMs: 0, now: 0, owned: new Set(), draining: {} },
  );
  const t1 = performance.now();
  const cpu = process.cpuUsage();
  const results = await client.execute(planned.steps.map((s) => s.op));
  const used = process.cpuUsage(cpu);
  const t2 = performance.now();
  await client.close();
  if (results.some((r) => !r.ok)) throw new Error('operations refused by the scripted kernel');
  const executeCpu = (used.user + used.system) / 1000;
  console.log(
    JSON.stringify({ rules: planned.steps.length, plan: t1 - t0, execute: t2 - t1, executeCpu }),
  );
}

function main(argv: string[]): void {
  const services = Number(argv[0] ?? 100);
  const samples = Number(argv[1] ?? 7);
  const self = new URL(import.meta.url).pathname;
  const runs = Array.from({ length: samples }, () => {
    const out = execFileSync(process.execPath, [
      ...process.execArgv,
      self,
      '--sample',
      String(services),
    ]);
    return JSON.parse(out.toString()) as { rules: number; plan: number; execute: number };
  });
  const rules = (runs[0] as { rules: number }).rules;
  const us = (ms: number) => ((ms * 1000) / rules).toFixed(2);
  const plan = median(runs.map((r) => r.plan));
  const execute = median(runs.map((r) => r.execute));
  console.log(`# bench/write-cold: a fresh process's plan and execute\n${machineLine()}`);
  console.log(
    `# load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} on ${cpus().length} CPUs`,
  );
  console.log(
    `${rules} rules, median of ${samples} processes: plan ${plan.toFixed(1)} ms (${us(plan)} us/rule), ` +
      `execute ${execute.toFixed(1)} ms (${us(execute)} us/rule)`,
  );
}

if (process.argv[2] === '--sample') await sample(Number(process.argv[3]));
else main(process.argv.slice(2));
