/**
 * One side of a lab benchmark, run by bench/netns.ts's inChild() inside a namespace of its
 * own (a process cannot enter a namespace from Node): the kernel client is opened first,
 * then only the call is timed, as `--timings` times its phases. Each figure is a fresh
 * process's, as in `lvsd apply` (the write path not yet compiled): higher than the figures
 * of a process that had already written, as this benchmark measured before issue 21.
 * Prints one JSON object.
 *
 *   kernel-child.js execute SERVICES DESTS [IN_FLIGHT] [each]  an empty table's write: its
 *     operations, IN_FLIGHT messages per sendmsg (default: the client's), an ACK asked of every
 *     message with "each" (or when IN_FLIGHT is 1, ipvsadm's way)
 *   kernel-child.js read SERVICES DESTS ORDER           readTable() three ways, in ORDER (0-2)
 *   kernel-child.js read-once SERVICES DESTS BYTES      one readTable() without counters (what
 *     plan and apply read) into a receive buffer of BYTES, the only read of the process
 */
import type { IpvsOp } from '../src/ipvs/client.js';
import { KernelIpvsClient } from '../src/ipvs/kernel-client.js';
import type { Times } from './netns.js';
import { desiredTable, type TableShape } from './reconcile-generate.js';

export function opsOf(shape: TableShape): IpvsOp[] {
  const ops: IpvsOp[] = [];
  for (const s of desiredTable(shape).services) {
    ops.push({ op: 'add-service', service: s.service });
    for (const dest of s.dests) ops.push({ op: 'add-dest', service: s.service, dest });
  }
  return ops;
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

export interface ExecuteFigures {
  times: Times;
  ops: number;
  messages: number;
  sendmsgs: number;
  answers: number;
}

async function execute(
  shape: TableShape,
  inFlight: number,
  eachAck: boolean,
): Promise<ExecuteFigures> {
  const ops = opsOf(shape);
  const client = await KernelIpvsClient.open({
    ...(inFlight ? { maxInFlight: inFlight } : {}),
    ...(eachAck || inFlight === 1 ? { acks: 'each' as const } : {}),
  });
  try {
    const before = { ...client.counters }; // the family lookup is not the write's
    const { times, value } = await timeCall(() => client.execute(ops));
    const refused = value.filter((r) => !r.ok);
    if (refused.length)
      throw new Error(
        `${refused.length} writes refused, first: ${(refused[0] as { error: Error }).error.message}`,
      );
    const c = client.counters;
    return {
      times,
      ops: ops.length,
      messages: c.messagesSent - before.messagesSent,
      sendmsgs: c.sendmsgs - before.sendmsgs,
      answers: c.datagramsReceived - before.datagramsReceived,
    };
  } finally {
    await client.close();
  }
}

export interface ReadFigures {
  default: Times;
  bigBuffers: Times;
  stats: Times;
  datagrams: number;
  datagramsBigBuffers: number;
}

/** What plan and apply read (counters skipped), into a 6 KiB buffer, and what `lvsd ls --stats` reads. */
async function read(shape: TableShape, order: number): Promise<ReadFigures> {
  const client = await KernelIpvsClient.open();
  // A 6 KiB receive buffer instead of 64 KiB: the kernel then sizes dump datagrams to 6 KiB, not 32.
  const bigBuffers = await KernelIpvsClient.open({ messageBufferBytes: 6 * 1024 });
  const figures: Partial<ReadFigures> = {};
  const sides = [
    ['default', client, false],
    ['bigBuffers', bigBuffers, false],
    ['stats', client, true],
  ] as const;
  try {
    // The order turns every run: the first read after ipvsadm's tends to be slower.
    for (const [name, reader, stats] of [...sides.slice(order), ...sides.slice(0, order)]) {
      const before = reader.counters.datagramsReceived;
      const { times, value: table } = await timeCall(() => reader.readTable({ stats }));
      figures[name] = times;
      if (name === 'default') figures.datagrams = reader.counters.datagramsReceived - before;
      if (name === 'bigBuffers')
        figures.datagramsBigBuffers = reader.counters.datagramsReceived - before;
      const dests = table.services.reduce((n, s) => n + s.dests.length, 0);
      if (
        table.services.length !== shape.services ||
        dests !== shape.services * shape.destsPerService
      )
        throw new Error(
          `read ${table.services.length} services / ${dests} dests, expected ${shape.services} / ` +
            `${shape.services * shape.destsPerService}`,
        );
    }
  } finally {
    await client.close();
    await bigBuffers.close();
  }
  return figures as ReadFigures;
}

/**
 * One read, the first of a fresh process, into a receive buffer of `bytes`: the kernel sizes
 * a dump's datagrams after the largest buffer a socket has read into (up to 32 KiB).
 */
async function readOnce(shape: TableShape, bytes: number): Promise<Times & { datagrams: number }> {
  const client = await KernelIpvsClient.open({ messageBufferBytes: bytes });
  try {
    const { times, value: table } = await timeCall(() => client.readTable({ stats: false }));
    const dests = table.services.reduce((n, s) => n + s.dests.length, 0);
    if (dests !== shape.services * shape.destsPerService) throw new Error(`read ${dests} dests`);
    return { ...times, datagrams: client.counters.datagramsReceived };
  } finally {
    await client.close();
  }
}

async function main(argv: string[]): Promise<void> {
  const [mode, services, dests, extra, acks] = argv;
  const shape = { services: Number(services), destsPerService: Number(dests) };
  if (mode === 'execute') {
    const inFlight = extra && extra !== 'default' ? Number(extra) : 0;
    console.log(JSON.stringify(await execute(shape, inFlight, acks === 'each')));
  } else if (mode === 'read-once') {
    console.log(JSON.stringify(await readOnce(shape, Number(extra))));
  } else if (mode === 'read') {
    console.log(JSON.stringify(await read(shape, Number(extra ?? 0))));
  } else {
    throw new Error(`kernel-child: unknown mode ${mode} (execute | read)`);
  }
}

if (process.argv[1]?.endsWith('kernel-child.js')) await main(process.argv.slice(2));
