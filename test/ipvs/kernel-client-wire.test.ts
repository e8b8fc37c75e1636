/**
 * The kernel client's whole user-space path (transport, encoder, answers, dump decoding)
 * against a scripted socket that answers as the kernel does (bench/scripted-kernel-socket.ts).
 * The kernel itself is the lab's business (test/kernel); here: a read gives the table the
 * kernel holds, and every write of a batch gets its result.
 */
import { describe, expect, it } from 'vitest';
import { ScriptedKernelSocket } from '../../bench/scripted-kernel-socket.js';
import { desiredTable } from '../../bench/reconcile-generate.js';
import { KernelIpvsClient } from '../../src/ipvs/kernel-client.js';
import { serviceId } from '../../src/ipvs/model.js';
import { NetlinkTransport } from '../../src/netlink/transport.js';

async function clientOn(kernel: ScriptedKernelSocket) {
  return { client: await KernelIpvsClient.over(new NetlinkTransport(kernel)) };
}

describe('KernelIpvsClient over a scripted kernel socket', () => {
  const table = desiredTable({ services: 200, destsPerService: 3 }).services;

  it('reads every service and its dests, in the order the kernel sends them, with or without counters', async () => {
    const kernel = new ScriptedKernelSocket(table);
    const { client } = await clientOn(kernel);
    const a = await client.readTable({ stats: false });
    expect(a.services.map((s) => s.dests.map((d) => `${d.address}:${d.port}`))).toEqual(
      table.map((s) => s.dests.map((d) => `${d.address}:${d.port}`)),
    );
    expect(a.services[7]).toMatchObject({ ...table[7]!.service, dests: expect.any(Array) });
    expect(a.services[7]!.stats).toBeUndefined();
    const b = await client.readTable();
    expect(b.services[7]!.stats).toMatchObject({ conns: 1000 });
    expect(b.services[7]!.dests[0]!.stats).toMatchObject({ conns: 1000 });
    expect(kernel.seen.dumps).toBe(2 * (1 + table.length));
    await client.close();
  });

  it('reads a few services with one sendmsg for their lookups, then one dump each', async () => {
    const kernel = new ScriptedKernelSocket(table);
    const { client } = await clientOn(kernel);
    const missing = { ...table[0]!.service, address: '10.255.255.254' };
    const keys = [table[5]!.service, missing, table[0]!.service, table[199]!.service];
    const before = { ...client.counters };
    const read = await client.readServices(keys, { stats: false });
    expect(read.services.map(serviceId)).toEqual(
      [5, 0, 199].map((i) => serviceId(table[i]!.service)),
    );
    expect(read.services.map((s) => s.dests.map((d) => d.address))).toEqual(
      [5, 0, 199].map((i) => table[i]!.dests.map((d) => d.address)),
    );
    expect(read.services[0]!.stats).toBeUndefined();
    expect(kernel.seen.gets).toBe(4);
    // One sendmsg for the four lookups, one per dest dump of the three found.
    expect(client.counters.sendmsgs - before.sendmsgs).toBe(1 + 3);
    const withStats = await client.readServices([table[9]!.service]);
    expect(withStats.services[0]!.stats).toMatchObject({ conns: 1000 });
    await client.close();
  });

  it('gives every write of a batch its result, with one ACK per sendmsg', async () => {
    const kernel = new ScriptedKernelSocket([]);
    const { client } = await clientOn(kernel);
    const ops = table.flatMap((s) => [
      { op: 'add-service' as const, service: s.service },
      ...s.dests.map((dest) => ({ op: 'add-dest' as const, service: s.service, dest })),
    ]);
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
