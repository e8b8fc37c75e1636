/**
 * The kernel client against the real kernel, side by side with ipvsadm, in one run (lab
 * only: root and IPVS; run through bench/lab-kernel-bench.sh):
 * - write: KernelIpvsClient.execute() of a 1000 x 10 table on an empty table vs
 *   `ipvsadm-restore` of the same rules (goal: at most 0.3x);
 * - read: KernelIpvsClient.readTable() of 50,000 dests (5000 x 10) vs `ipvsadm -Ln`
 *   (goal: at most 1x).
 * ipvsadm is timed by bash's `time` around the process (C starts in milliseconds even under
 * TCG); the client is timed around the call, in a process already started, which is what
 * `--timings` reports as the write and read phases. After each write, `ipvsadm -Sn` must
 * show exactly the generated rules, or the figure is not printed.
 *
 * Usage: node dist-bench/bench/ipvs-kernel.js [RUNS]   (flushes the IPVS table)
 */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { IpvsOp } from '../src/ipvs/client.js';
import { KernelIpvsClient } from '../src/ipvs/kernel-client.js';
import { machineLine, ms, summarize, type Measurement } from './ipvs-report.js';
import { desiredTable, ipvsadmRules, type TableShape } from './reconcile-generate.js';

const run = promisify(execFile);
const MAX_BUFFER = 256 * 1024 * 1024;

/** Wall time of a shell command as bash's `time` sees it, in ms. */
async function timeShell(command: string): Promise<number> {
  const { stderr } = await run('bash', ['-c', `TIMEFORMAT=%3R; time { ${command} ; } >/dev/null`], { maxBuffer: MAX_BUFFER });
  const seconds = Number(stderr.trim().split('\n').pop());
  if (!Number.isFinite(seconds)) throw new Error(`cannot read the time of "${command}": ${stderr}`);
  return seconds * 1000;
}

async function sh(command: string): Promise<string> {
  const { stdout } = await run('bash', ['-c', command], { maxBuffer: MAX_BUFFER });
  return stdout;
}

function sortedLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .sort();
}

function opsOf(shape: TableShape): IpvsOp[] {
  const ops: IpvsOp[] = [];
  for (const s of desiredTable(shape).services) {
    ops.push({ op: 'add-service', service: s.service });
    for (const dest of s.dests) ops.push({ op: 'add-dest', service: s.service, dest });
  }
  return ops;
}

async function expectTable(rules: string, what: string): Promise<void> {
  const saved = sortedLines(await sh('ipvsadm -Sn'));
  const wanted = sortedLines(rules);
  if (saved.length !== wanted.length || saved.some((line, i) => line !== wanted[i])) {
    const missing = wanted.filter((l) => !saved.includes(l)).slice(0, 3);
    throw new Error(`${what}: ipvsadm -Sn shows ${saved.length} lines, expected ${wanted.length}; e.g. missing ${JSON.stringify(missing)}`);
  }
}

function row(label: string, m: Measurement): string {
  return `${label.padEnd(58, '.')} ${ms(m.medianMs).padStart(9)} ms  (min ${ms(m.minMs)}, max ${ms(m.maxMs)}, ${m.runs} runs)`;
}

function ratioLine(label: string, ours: Measurement, theirs: Measurement, goal: number): string {
  const ratio = ours.medianMs / theirs.medianMs;
  return `${label}: ${ratio.toFixed(2)}x  (goal <= ${goal}x: ${ratio <= goal ? 'met' : 'NOT met'})`;
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  console.log(`# bench/ipvs-kernel: kernel client vs ipvsadm on the real kernel\n${machineLine()}`);
  console.log(`# kernel IPVS: ${(await sh('head -n1 /proc/net/ip_vs')).trim()}; ${(await sh('ipvsadm --version')).trim()}`);
  const dir = await mkdtemp(join(tmpdir(), 'lvsd-bench-'));
  const client = await KernelIpvsClient.open();
  try {
    // --- write: 1000 x 10 on an empty table
    const writeShape = { services: 1000, destsPerService: 10 };
    const rules = ipvsadmRules(writeShape);
    const rulesFile = join(dir, 'write.rules');
    await writeFile(rulesFile, rules);
    const ops = opsOf(writeShape);
    const restore: number[] = [];
    const clientWrite: number[] = [];
    for (let i = 0; i < runs; i++) {
      await sh('ipvsadm -C');
      restore.push(await timeShell(`ipvsadm-restore < ${rulesFile}`));
      await expectTable(rules, 'ipvsadm-restore');
      await sh('ipvsadm -C');
      const before = { ...client.counters };
      const start = performance.now();
      const results = await client.execute(ops);
      clientWrite.push(performance.now() - start);
      const failed = results.filter((r) => !r.ok);
      if (failed.length) throw new Error(`${failed.length} writes refused, first: ${(failed[0] as { error: Error }).error.message}`);
      await expectTable(rules, 'kernel client');
      if (i === 0) {
        const sent = client.counters.messagesSent - before.messagesSent;
        const sendmsgs = client.counters.sendmsgs - before.sendmsgs;
        console.log(`# write: ${ops.length} operations in ${sent} netlink messages over ${sendmsgs} sendmsg calls`);
      }
    }
    const restoreM = summarize(restore);
    const writeM = summarize(clientWrite);
    console.log(row(`ipvsadm-restore, ${writeShape.services} x ${writeShape.destsPerService} (whole process)`, restoreM));
    console.log(row(`kernel client execute(), ${ops.length} ops (write phase)`, writeM));
    console.log(ratioLine('write ratio client / ipvsadm-restore', writeM, restoreM, 0.3));

    // --- read: 50,000 dests
    const readShape = { services: 5000, destsPerService: 10 };
    const bigRules = join(dir, 'read.rules');
    await writeFile(bigRules, ipvsadmRules(readShape));
    await sh('ipvsadm -C');
    await sh(`ipvsadm-restore < ${bigRules}`);
    const listing: number[] = [];
    const reading: number[] = [];
    for (let i = 0; i < runs; i++) {
      listing.push(await timeShell('ipvsadm -Ln'));
      const start = performance.now();
      const table = await client.readTable();
      reading.push(performance.now() - start);
      const dests = table.services.reduce((n, s) => n + s.dests.length, 0);
      if (table.services.length !== readShape.services || dests !== readShape.services * readShape.destsPerService) {
        throw new Error(`read ${table.services.length} services / ${dests} dests, expected ${readShape.services} / ${readShape.services * readShape.destsPerService}`);
      }
    }
    const listM = summarize(listing);
    const readM = summarize(reading);
    console.log(row(`ipvsadm -Ln, ${readShape.services * readShape.destsPerService} dests (whole process)`, listM));
    console.log(row(`kernel client readTable() (read phase)`, readM));
    console.log(ratioLine('read ratio client / ipvsadm -Ln', readM, listM, 1));
  } finally {
    await client.close();
    await sh('ipvsadm -C');
  }
}

await main();
