/**
 * The kernel client's whole user-space path (transport, encoder, answers, dump decoding)
 * against a scripted socket that answers as the kernel does (bench/scripted-kernel-socket.ts).
 * The kernel itself is the lab's business (test/kernel); here: reads spread over several
 * dump sockets give the same table as one, and every write of a batch gets its result.
 */
import { describe, expect, it } from 'vitest';
import { ScriptedKernelSocket } from '../../bench/scripted-kernel-socket.js';
import { desiredTable } from '../../bench/reconcile-generate.js';
import { KernelIpvsClient } from '../../src/ipvs/kernel-client.js';
import { NetlinkTransport } from '../../src/ipvs/netlink-transport.js';

async function clientOn(kernel: ScriptedKernelSocket, dumpSockets: number) {
  let opened = 0;
  const client = await KernelIpvsClient.over(new NetlinkTransport(kernel.asSocket()), {
    dumpSockets,
    openReader: () => {
      opened++;
      return new NetlinkTransport(kernel.another().asSocket());
    },
  });
  return { client, opened: () => opened };
}

describe('KernelIpvsClient over a scripted kernel socket', () => {
  const table = desiredTable({ services: 200, destsPerService: 3 }).services;

  it('reads the same table, in the same order, with one dump socket or four', async () => {
    const kernel = new ScriptedKernelSocket(table);
    const one = await clientOn(kernel, 1);
    const four = await clientOn(kernel, 4);
    const a = await one.client.readTable({ stats: false });
    const b = await four.client.readTable({ stats: false });
    expect(one.opened()).toBe(0);
    expect(four.opened()).toBe(3);
    expect(b).toEqual(a);
    expect(a.services.map((s) => s.dests.map((d) => `${d.address}:${d.port}`))).toEqual(table.map((s) => s.dests.map((d) => `${d.address}:${d.port}`)));
    expect(a.services[7]).toMatchObject({ ...table[7]!.service, dests: expect.any(Array) });
    // A second read reuses the sockets it opened.
    await four.client.readTable();
    expect(four.opened()).toBe(3);
    await one.client.close();
    await four.client.close();
  });

  it('gives every write of a batch its result, with one ACK per sendmsg', async () => {
    const kernel = new ScriptedKernelSocket([]);
    const { client } = await clientOn(kernel, 1);
    const ops = table.flatMap((s) => [{ op: 'add-service' as const, service: s.service }, ...s.dests.map((dest) => ({ op: 'add-dest' as const, service: s.service, dest }))]);
    const before = { ...client.counters };
    const results = await client.execute(ops);
    expect(results).toHaveLength(ops.length);
    expect(results.every((r) => r.ok)).toBe(true);
    const sendmsgs = client.counters.sendmsgs - before.sendmsgs;
    expect(sendmsgs).toBe(Math.ceil(ops.length / 256));
    expect(client.counters.datagramsReceived - before.datagramsReceived).toBe(sendmsgs);
    await client.close();
  });
});
