/**
 * Does the kernel's cost per write depend on how lvsd batches? (issue 21; lab only: root and
 * IPVS.) For each table size, on an empty table: ipvsadm-restore of the rules, then
 * KernelIpvsClient.execute() of the same operations with several messages-per-sendmsg
 * settings; per rule, wall and the process's system time (the kernel's work in our
 * syscalls). `ipvsadm -Sn` must show the rules after each side. Each side writes into a
 * network namespace of its own, created for it (bench/netns.ts: a flushed table would make
 * every add walk the kernel's dest trash), the client in a process of its own
 * (bench/kernel-child.ts), opened before the timed call.
 *
 * Usage: node dist-bench/bench/write-batching-kernel.js SERVICES[,SERVICES...] [IN_FLIGHT,...]
 * (10 reals per service; creates and deletes namespaces lvsdb-*).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecuteFigures } from './kernel-child.js';
import { expectRules, FreshTables, inChild, timeShell } from './netns.js';
import { ipvsadmRules } from './reconcile-generate.js';

async function main(argv: string[]): Promise<void> {
  const sizes = (argv[0] ?? '100,1000,5000').split(',').map(Number);
  const inFlight = (argv[1] ?? '256,16,1').split(',').map(Number);
  const dir = await mkdtemp(join(tmpdir(), 'lvsd-batching-'));
  const tables = new FreshTables('lvsdb');
  try {
    for (const services of sizes) {
      const rules = ipvsadmRules({ services, destsPerService: 10 });
      const file = join(dir, `rules-${services}`);
      await writeFile(file, rules);
      const count = services * 11;
      const per = (ms: number) => `${((ms * 1000) / count).toFixed(0).padStart(5)} us/rule`;
      const ns = await tables.create(`r${services}`);
      const restore = await timeShell(FreshTables.inside(ns, `ipvsadm-restore < ${file}`));
      await expectRules(ns, rules, 'ipvsadm-restore');
      console.log(
        `${String(count).padStart(7)} rules  ipvsadm-restore       ${per(restore.wall)} ` +
          `(system ${per(restore.system)})`,
      );
      for (const n of inFlight) {
        const nsl = await tables.create(`l${services}-${n}`);
        const { times } = await inChild<ExecuteFigures>(nsl, [
          'execute',
          String(services),
          '10',
          String(n),
        ]);
        await expectRules(nsl, rules, `execute (${n} per sendmsg)`);
        console.log(
          `${String(count).padStart(7)} rules  execute, ${String(n).padStart(3)}/sendmsg  ${per(times.wall)} ` +
            `(system ${per(times.system)}, user ${per(times.user)})`,
        );
      }
    }
  } finally {
    await tables.deleteAll();
  }
}

await main(process.argv.slice(2));
