/**
 * The user-space half of the kernel client, natively on the host (no kernel needed):
 * - write: the 11,000 messages of a 1000 x 10 table on an empty kernel (what `lvsd apply`
 *   sends): encoding alone, then KernelIpvsClient.execute() whole (encoding into sendmsg
 *   buffers, one ACK datagram per message taken apart and attributed);
 * - read: KernelIpvsClient.readTable() of 5000 x 10 = 50,000 dests, dumps answered as the
 *   kernel answers them (ip_vs_genl_fill_dest: settings, connection counts, STATS and STATS64
 *   with padding, 16 KiB datagrams), with counters skipped (plan, apply) and decoded (ls --stats).
 *
 * The kernel's side is a scripted socket (scripted-kernel-socket.ts) that does as little as
 * it can, so the figures are lvsd's. In the lab the same work runs under TCG emulation
 * against the real kernel (lab-kernel-bench.sh). Run: npm run bench (or node
 * dist-bench/bench/ipvs-codec.js).
 */
import type { IpvsOp } from '../src/ipvs/client.js';
import { KernelIpvsClient, opBody } from '../src/ipvs/kernel-client.js';
import { NLM_F_ACK, NLM_F_REQUEST } from '../src/netlink/constants.js';
import {
  DEFAULT_MAX_IN_FLIGHT,
  NetlinkTransport,
  type TransportOptions,
} from '../src/netlink/transport.js';
import { NetlinkWriter } from '../src/netlink/writer.js';
import { desiredTable } from './reconcile-generate.js';
import { machineLine, measure, measureAsync, printRow } from './ipvs-report.js';
import { ScriptedKernelSocket, SCRIPTED_FAMILY_ID } from './scripted-kernel-socket.js';

async function clientOn(
  socket: ScriptedKernelSocket,
  options: TransportOptions = {},
): Promise<KernelIpvsClient> {
  return KernelIpvsClient.over(new NetlinkTransport(socket, options));
}

async function main(): Promise<void> {
  console.log(
    `# bench/ipvs-codec: the kernel client's user-space work, natively\n${machineLine()}`,
  );

  const table = desiredTable({ services: 1000, destsPerService: 10 });
  const ops: IpvsOp[] = [];
  for (const s of table.services) {
    ops.push({ op: 'add-service', service: s.service });
    for (const dest of s.dests) ops.push({ op: 'add-dest', service: s.service, dest });
  }
  const encode = measure(() => {
    let w = new NetlinkWriter(128 * 1024);
    let bytes = 0;
    ops.forEach((op, seq) => {
      if (seq % DEFAULT_MAX_IN_FLIGHT === 0) {
        bytes += w.length;
        w = new NetlinkWriter(128 * 1024);
      }
      w.beginMessage(SCRIPTED_FAMILY_ID, NLM_F_REQUEST | NLM_F_ACK, seq, 0);
      opBody(op)(w);
      w.endMessage();
    });
    return bytes + w.length;
  });
  printRow(`encode ${ops.length} messages (1000 x 10 apply on an empty table)`, encode);

  for (const acks of ['last', 'each'] as const) {
    const writer = await clientOn(new ScriptedKernelSocket([]), { acks });
    const execute = await measureAsync(async () => {
      const results = await writer.execute(ops);
      if (!results.every((r) => r.ok)) throw new Error('a write was refused');
    });
    const answers = acks === 'each' ? `${ops.length} ACK datagrams` : `one ACK per sendmsg`;
    printRow(`execute() ${ops.length} ops: encode, send, ${answers}`, execute);
  }

  const big = desiredTable({ services: 5000, destsPerService: 10 }).services;
  const kernel = new ScriptedKernelSocket(big);
  for (const stats of [false, true]) {
    const reader = await clientOn(kernel.another());
    const read = await measureAsync(async () => {
      const live = await reader.readTable({ stats });
      const dests = live.services.reduce((n, s) => n + s.dests.length, 0);
      if (dests !== 50_000) throw new Error(`read ${dests} of 50000 dests`);
    });
    printRow(
      `readTable() 50000 dests, ${stats ? 'counters decoded (ls --stats)' : 'counters skipped (plan, apply)'}`,
      read,
    );
  }
}

await main();
