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

/** Wall, user and system time (ms) of one side's run. */
interface Times {
  wall: number;
  user: number;
  system: number;
}

/** Times of a shell command as bash's `time` sees them. */
async function timeShell(command: string): Promise<Times> {
  const { stderr } = await run(
    'bash',
    ['-c', `TIMEFORMAT='%3R %3U %3S'; time { ${command} ; } >/dev/null`],
    { maxBuffer: MAX_BUFFER },
  );
  const [wall, user, system] = (stderr.trim().split('\n').pop() ?? '').split(' ').map(Number);
  if (![wall, user, system].every((n) => Number.isFinite(n)))
    throw new Error(`cannot read the time of "${command}": ${stderr}`);
  return { wall: wall! * 1000, user: user! * 1000, system: system! * 1000 };
}

/** Times of a call in this process: user time is JavaScript, system time is the kernel's work in our syscalls. */
async function timeCall<T>(work: () => Promise<T>): Promise<{ times: Times; value: T }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const value = await work();
  const wall = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { times: { wall, user: used.user / 1000, system: used.system / 1000 }, value };
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
    throw new Error(
      `${what}: ipvsadm -Sn shows ${saved.length} lines, expected ${wanted.length}; e.g. missing ` +
        `${JSON.stringify(missing)}`,
    );
  }
}

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

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  console.log(`# bench/ipvs-kernel: kernel client vs ipvsadm on the real kernel\n${machineLine()}`);
  console.log(
    `# kernel IPVS: ${(await sh('head -n1 /proc/net/ip_vs')).trim()}; ${(await sh('ipvsadm --version')).trim()}`,
  );
  const dir = await mkdtemp(join(tmpdir(), 'lvsd-bench-'));
  const client = await KernelIpvsClient.open();
  // Variants, for the record: what asking an ACK of every message costs, and reading into fixed buffers.
  const eachAck = await KernelIpvsClient.open({ acks: 'each' });
  // Fixed 6 KiB receive buffers: one recvmsg per datagram, and the kernel sizes dump
  // datagrams to them (a 10-dest dump, 4.2 KiB, then fits one), but each read allocates
  // (and zeroes) 6 KiB.
  const bigBuffers = await KernelIpvsClient.open({ messageBufferBytes: 6 * 1024 });
  try {
    // --- write: 1000 x 10 on an empty table
    const writeShape = { services: 1000, destsPerService: 10 };
    const rules = ipvsadmRules(writeShape);
    const rulesFile = join(dir, 'write.rules');
    await writeFile(rulesFile, rules);
    const ops = opsOf(writeShape);
    const restore: Times[] = [];
    const clientWrite: Times[] = [];
    const eachAckWrite: Times[] = [];
    for (let i = 0; i < runs; i++) {
      await sh('ipvsadm -C');
      restore.push(await timeShell(`ipvsadm-restore < ${rulesFile}`));
      await expectTable(rules, 'ipvsadm-restore');
      await sh('ipvsadm -C');
      const before = { ...client.counters };
      for (const [writer, samples] of [
        [client, clientWrite],
        [eachAck, eachAckWrite],
      ] as const) {
        await sh('ipvsadm -C');
        const { times, value: results } = await timeCall(() => writer.execute(ops));
        samples.push(times);
        const failed = results.filter((r) => !r.ok);
        if (failed.length)
          throw new Error(
            `${failed.length} writes refused, first: ${(failed[0] as { error: Error }).error.message}`,
          );
        await expectTable(rules, 'kernel client');
      }
      if (i === 0) {
        const sent = client.counters.messagesSent - before.messagesSent;
        const sendmsgs = client.counters.sendmsgs - before.sendmsgs;
        const answers = client.counters.datagramsReceived - before.datagramsReceived;
        console.log(
          `# write: ${ops.length} operations in ${sent} netlink messages over ${sendmsgs} sendmsg calls, ` +
            `${answers} answer datagrams`,
        );
      }
    }
    console.log(
      row(
        `ipvsadm-restore, ${writeShape.services} x ${writeShape.destsPerService} (whole process)`,
        restore,
      ),
    );
    console.log(row(`kernel client execute(), ${ops.length} ops (write phase)`, clientWrite));
    console.log(row(`  the same, asking an ACK of every message`, eachAckWrite));
    console.log(
      ratioLine('write ratio client / ipvsadm-restore', wallOf(clientWrite), wallOf(restore), 0.3),
    );

    // --- read: 50,000 dests
    const readShape = { services: 5000, destsPerService: 10 };
    const bigRules = join(dir, 'read.rules');
    await writeFile(bigRules, ipvsadmRules(readShape));
    await sh('ipvsadm -C');
    await sh(`ipvsadm-restore < ${bigRules}`);
    const listing: Times[] = [];
    const reading: Times[] = [];
    const readingStats: Times[] = [];
    const readingBigBuffers: Times[] = [];
    for (let i = 0; i < runs; i++) {
      listing.push(await timeShell('ipvsadm -Ln'));
      // What plan and apply read (counters skipped), then what `lvsd ls --stats` reads.
      // The order turns every run: the first read after ipvsadm's tends to be slower.
      const sides = [
        [client, false, reading, 'default'],
        [bigBuffers, false, readingBigBuffers, '6k'],
        [client, true, readingStats, 'stats'],
      ] as const;
      const turn = i % sides.length;
      for (const [reader, stats, samples, name] of [
        ...sides.slice(turn),
        ...sides.slice(0, turn),
      ]) {
        const before = reader.counters.datagramsReceived;
        const { times, value: table } = await timeCall(() => reader.readTable({ stats }));
        samples.push(times);
        if (i === 0 && name !== 'stats')
          console.log(
            `# read${name === '6k' ? ' into 6 KiB buffers' : ''}: ` +
              `${reader.counters.datagramsReceived - before} datagrams`,
          );
        const dests = table.services.reduce((n, s) => n + s.dests.length, 0);
        if (
          table.services.length !== readShape.services ||
          dests !== readShape.services * readShape.destsPerService
        ) {
          throw new Error(
            `read ${table.services.length} services / ${dests} dests, expected ${readShape.services} / ` +
              `${readShape.services * readShape.destsPerService}`,
          );
        }
      }
    }
    console.log(
      row(
        `ipvsadm -Ln, ${readShape.services * readShape.destsPerService} dests (whole process)`,
        listing,
      ),
    );
    console.log(row(`kernel client readTable() (read phase: plan, apply)`, reading));
    console.log(
      row(`  the same, read into 6 KiB buffers (1 recvmsg per datagram)`, readingBigBuffers),
    );
    console.log(row(`kernel client readTable({ stats: true }) (ls --stats)`, readingStats));
    console.log(ratioLine('read ratio client / ipvsadm -Ln', wallOf(reading), wallOf(listing), 1));
  } finally {
    await client.close();
    await eachAck.close();
    await bigBuffers.close();
    await sh('ipvsadm -C');
  }
}

await main();
