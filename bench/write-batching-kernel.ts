/**
 * Does the kernel's cost per write depend on how lvsd batches? (issue 21; lab only: root and
 * IPVS.) For each table size, on an empty table: ipvsadm-restore of the rules, then
 * KernelIpvsClient.execute() of the same operations with several messages-per-sendmsg
 * settings; per rule, wall and the process's system time (the kernel's work in our
 * syscalls). `ipvsadm -Sn` must show the rules after each side.
 *
 * Usage: node dist-bench/bench/write-batching-kernel.js SERVICES[,SERVICES...] [IN_FLIGHT,...]
 * (10 reals per service; flushes the IPVS table).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { IpvsOp } from '../src/ipvs/client.js';
import { KernelIpvsClient } from '../src/ipvs/kernel-client.js';
import { desiredTable, ipvsadmRules, type TableShape } from './reconcile-generate.js';

const run = promisify(execFile);
const sh = async (command: string) =>
  (await run('bash', ['-c', command], { maxBuffer: 256 * 1024 * 1024 })).stdout;

function opsOf(shape: TableShape): IpvsOp[] {
  const ops: IpvsOp[] = [];
  for (const s of desiredTable(shape).services) {
    ops.push({ op: 'add-service', service: s.service });
    for (const dest of s.dests) ops.push({ op: 'add-dest', service: s.service, dest });
  }
  return ops;
}

async function sameRules(rules: string, what: string): Promise<void> {
  const sorted = (text: string) => text.trim().split('\n').sort().join('\n');
  if (sorted(await sh('ipvsadm -Sn')) !== sorted(rules))
    throw new Error(`after ${what}, ipvsadm -Sn differs from the generated rules`);
}

async function main(argv: string[]): Promise<void> {
  const sizes = (argv[0] ?? '100,1000,5000').split(',').map(Number);
  const inFlight = (argv[1] ?? '256,16,1').split(',').map(Number);
  const dir = await mkdtemp(join(tmpdir(), 'lvsd-batching-'));
  for (const services of sizes) {
    const shape = { services, destsPerService: 10 };
    const rules = ipvsadmRules(shape);
    const file = join(dir, `rules-${services}`);
    await writeFile(file, rules);
    const ops = opsOf(shape);
    const per = (ms: number) => `${((ms * 1000) / ops.length).toFixed(0).padStart(5)} us/rule`;
    await sh('ipvsadm -C');
    const out = await sh(`TIMEFORMAT='%3R %3U %3S'; { time ipvsadm-restore < ${file} ; } 2>&1`);
    const [wall, , sys] = out
      .trim()
      .split('\n')
      .pop()!
      .split(' ')
      .map((s) => Number(s) * 1000);
    await sameRules(rules, 'ipvsadm-restore');
    console.log(
      `${String(ops.length).padStart(7)} rules  ipvsadm-restore       ${per(wall!)} (system ${per(sys!)})`,
    );
    for (const n of inFlight) {
      await sh('ipvsadm -C');
      const client = await KernelIpvsClient.open({
        maxInFlight: n,
        acks: n === 1 ? 'each' : 'last',
      });
      const cpu = process.cpuUsage();
      const start = performance.now();
      const results = await client.execute(ops);
      const ms = performance.now() - start;
      const used = process.cpuUsage(cpu);
      await client.close();
      const refused = results.filter((r) => !r.ok).length;
      if (refused) throw new Error(`${refused} operations refused`);
      await sameRules(rules, `execute (${n} per sendmsg)`);
      console.log(
        `${String(ops.length).padStart(7)} rules  execute, ${String(n).padStart(3)}/sendmsg  ${per(ms)} ` +
          `(system ${per(used.system / 1000)}, user ${per(used.user / 1000)})`,
      );
    }
  }
  await sh('ipvsadm -C');
}

await main(process.argv.slice(2));
