/**
 * The write path's cost per rule at several table sizes, on the host (issue 21): an empty
 * table planned (desired -> plan), then every operation executed through the kernel client
 * (encoder, chunking, ACK attribution) over the scripted kernel socket. A linear write path
 * shows the same microseconds per rule at every size.
 *
 * Run: npm run bench:build && node dist-bench/bench/write-curve.js [SERVICES...]
 * (services x 10 reals each; default 1100 5500 11000 = 11k, 55k, 110k rules). Not in npm test.
 */
import { cpus, loadavg } from 'node:os';
import { KernelIpvsClient } from '../src/ipvs/kernel-client.js';
import { NetlinkTransport } from '../src/netlink/transport.js';
import { plan } from '../src/reconcile/plan.js';
import { machineLine } from './ipvs-report.js';
import { desiredTable } from './reconcile-generate.js';
import { ScriptedKernelSocket } from './scripted-kernel-socket.js';

const EMPTY = { services: [] };

async function once(
  services: number,
): Promise<{ rules: number; planMs: number; executeMs: number }> {
  const desired = desiredTable({ services, destsPerService: 10 });
  const socket = new ScriptedKernelSocket([]);
  const client = await KernelIpvsClient.over(new NetlinkTransport(socket));
  const t0 = performance.now();
  const planned = plan(
    desired,
    { table: EMPTY },
    { prune: 'managed', drainTimeoutMs: 0, now: 0, owned: new Set(), draining: {} },
  );
  const t1 = performance.now();
  const results = await client.execute(planned.steps.map((s) => s.op));
  const t2 = performance.now();
  await client.close();
  const refused = results.filter((r) => !r.ok).length;
  if (refused) throw new Error(`${refused} operations refused by the scripted kernel`);
  return { rules: planned.steps.length, planMs: t1 - t0, executeMs: t2 - t1 };
}

async function main(argv: string[]): Promise<void> {
  const sizes = argv.length ? argv.map(Number) : [1100, 5500, 11000];
  console.log(
    `# bench/write-curve: empty table -> plan -> execute over the scripted kernel socket\n${machineLine()}`,
  );
  console.log(
    `# load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} on ${cpus().length} CPUs`,
  );
  await once(200); // warm-up
  for (const services of sizes) {
    const samples = [await once(services), await once(services), await once(services)];
    samples.sort((a, b) => a.executeMs - b.executeMs);
    const m = samples[1] as Awaited<ReturnType<typeof once>>;
    const us = (ms: number) => ((ms * 1000) / m.rules).toFixed(2);
    console.log(
      `${String(m.rules).padStart(7)} rules: plan ${m.planMs.toFixed(0).padStart(6)} ms (${us(m.planMs)} us/rule), ` +
        `execute ${m.executeMs.toFixed(0).padStart(6)} ms (${us(m.executeMs)} us/rule)`,
    );
  }
}

await main(process.argv.slice(2));
