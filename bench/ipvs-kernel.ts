/**
 * The kernel client against the real kernel, side by side with ipvsadm, in one run (lab
 * only: root and IPVS; run through bench/lab-kernel-bench.sh):
 * - write: KernelIpvsClient.execute() of a 1000 x 10 table on an empty table vs
 *   `ipvsadm-restore` of the same rules (goal: at most 0.3x);
 * - read: KernelIpvsClient.readTable() of 50,000 dests (5000 x 10) vs `ipvsadm -Ln`
 *   (goal: at most 1x).
 * ipvsadm is timed by bash's `time` around the process (C starts in milliseconds even under
 * TCG); the client is timed around the call, in a process already started (bench/kernel-child.ts),
 * which is what `--timings` reports as the write and read phases. After each write,
 * `ipvsadm -Sn` must show exactly the generated rules, or the figure is not printed.
 * Every side writes into a network namespace of its own, created for it (bench/netns.ts): a
 * table written after `ipvsadm -C` pays the kernel's dest trash, a cost of the flush, not of
 * the writer (issue 21).
 *
 * Usage: node dist-bench/bench/ipvs-kernel.js [RUNS]   (creates and deletes namespaces lvsdk-*)
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecuteFigures, ReadFigures } from './kernel-child.js';
import { machineLine, ms, summarize, type Measurement } from './ipvs-report.js';
import { expectRules, FreshTables, inChild, sh, timeShell, type Times } from './netns.js';
import { ipvsadmRules } from './reconcile-generate.js';

function row(label: string, samples: Times[]): string {
  const m = summarize(samples.map((t) => t.wall));
  const user = summarize(samples.map((t) => t.user)).medianMs;
  const system = summarize(samples.map((t) => t.system)).medianMs;
  return (
    `${label.padEnd(58, '.')} ${ms(m.medianMs).padStart(9)} ms  (min ${ms(m.minMs)}, max ${ms(m.maxMs)}, ` +
    `${m.runs} runs; CPU user ${ms(user)}, system ${ms(system)})`
  );
}

const wallOf = (samples: Times[]) => summarize(samples.map((t) => t.wall));

function ratioLine(label: string, ours: Measurement, theirs: Measurement, goal: number): string {
  const ratio = ours.medianMs / theirs.medianMs;
  return `${label}: ${ratio.toFixed(2)}x  (goal <= ${goal}x: ${ratio <= goal ? 'met' : 'NOT met'})`;
}

/** 1000 x 10 on an empty table, each side and each run in a fresh namespace. */
async function writes(tables: FreshTables, dir: string, runs: number): Promise<void> {
  const shape = { services: 1000, destsPerService: 10 };
  const rules = ipvsadmRules(shape);
  const rulesFile = join(dir, 'write.rules');
  await writeFile(rulesFile, rules);
  const restore: Times[] = [];
  const clientWrite: Times[] = [];
  const eachAckWrite: Times[] = [];
  for (let i = 0; i < runs; i++) {
    const ns = await tables.create(`r${i}`);
    restore.push(await timeShell(FreshTables.inside(ns, `ipvsadm-restore < ${rulesFile}`)));
    await expectRules(ns, rules, 'ipvsadm-restore');
    for (const [acks, samples] of [
      ['last', clientWrite],
      ['each', eachAckWrite],
    ] as const) {
      const nsl = await tables.create(`${acks}${i}`);
      const figures = await inChild<ExecuteFigures>(nsl, [
        'execute',
        '1000',
        '10',
        'default',
        acks,
      ]);
      samples.push(figures.times);
      await expectRules(nsl, rules, 'kernel client');
      if (i === 0 && acks === 'last')
        console.log(
          `# write: ${figures.ops} operations in ${figures.messages} netlink messages over ` +
            `${figures.sendmsgs} sendmsg calls, ${figures.answers} answer datagrams`,
        );
    }
  }
  console.log(row('ipvsadm-restore, 1000 x 10 (whole process)', restore));
  console.log(row('kernel client execute(), 11000 ops (write phase)', clientWrite));
  console.log(row('  the same, asking an ACK of every message', eachAckWrite));
  console.log(
    ratioLine('write ratio client / ipvsadm-restore', wallOf(clientWrite), wallOf(restore), 0.3),
  );
}

/** 50,000 dests restored into a fresh namespace, then read by ipvsadm and the client in turn. */
async function reads(tables: FreshTables, dir: string, runs: number): Promise<void> {
  const shape = { services: 5000, destsPerService: 10 };
  const rulesFile = join(dir, 'read.rules');
  await writeFile(rulesFile, ipvsadmRules(shape));
  const ns = await tables.create('read');
  await sh(FreshTables.inside(ns, `ipvsadm-restore < ${rulesFile}`));
  const listing: Times[] = [];
  const sides: Record<'default' | 'bigBuffers' | 'stats', Times[]> = {
    default: [],
    bigBuffers: [],
    stats: [],
  };
  for (let i = 0; i < runs; i++) {
    listing.push(await timeShell(FreshTables.inside(ns, 'ipvsadm -Ln')));
    const figures = await inChild<ReadFigures>(ns, ['read', '5000', '10', String(i % 3)]);
    for (const side of ['default', 'bigBuffers', 'stats'] as const) sides[side].push(figures[side]);
    if (i === 0)
      console.log(
        `# read: ${figures.datagrams} datagrams; into a 6 KiB buffer: ${figures.datagramsBigBuffers}`,
      );
  }
  console.log(row('ipvsadm -Ln, 50000 dests (whole process)', listing));
  console.log(row('kernel client readTable() (read phase: plan, apply)', sides.default));
  console.log(row('  the same, read into a 6 KiB buffer (not 64 KiB)', sides.bigBuffers));
  console.log(row('kernel client readTable({ stats: true }) (ls --stats)', sides.stats));
  console.log(
    ratioLine('read ratio client / ipvsadm -Ln', wallOf(sides.default), wallOf(listing), 1),
  );
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  console.log(`# bench/ipvs-kernel: kernel client vs ipvsadm on the real kernel\n${machineLine()}`);
  console.log(
    `# kernel IPVS: ${(await sh('head -n1 /proc/net/ip_vs')).trim()}; ${(await sh('ipvsadm --version')).trim()}`,
  );
  const dir = await mkdtemp(join(tmpdir(), 'lvsd-bench-'));
  const tables = new FreshTables('lvsdk');
  try {
    await writes(tables, dir, runs);
    await reads(tables, dir, runs);
  } finally {
    await tables.deleteAll();
  }
}

await main();
