/**
 * The migration's promise as a property, on the fake kernel: for a random IPVS table,
 * `lvsd export` then `lvsd import ipvsadm` gives a config that, planned against an empty
 * kernel and applied through the Reconciler, makes the same table again; and a second
 * pass has nothing to do. The tables cover what lvsd's config can express: both families,
 * TCP, UDP, SCTP and fwmark services, every scheduler with its flags, one-packet
 * scheduling, persistence with netmasks and the sip engine, NAT / DR / TUN reals with
 * weights, thresholds and ipip / gue / gre tunnels, reals of the other family through a
 * tunnel.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/index.js';
import { formatDiagnostics } from '../../src/config/diagnostics.js';
import { SCHEDULERS } from '../../src/config/schema.js';
import type { IpvsOp } from '../../src/ipvs/client.js';
import { FakeIpvs } from '../../src/ipvs/fake.js';
import type { Dest, Family, LiveService, Service } from '../../src/ipvs/model.js';
import { serviceId, serviceKeyOf } from '../../src/ipvs/model.js';
import { exportIpvsadm } from '../../src/migrate/export.js';
import { importIpvsadm } from '../../src/migrate/ipvsadm.js';
import { writeYaml } from '../../src/migrate/yaml-out.js';
import { desiredState } from '../../src/reconcile/desired.js';
import { isEmptyPlan } from '../../src/reconcile/plan.js';
import { settingsOf } from '../reconcile/arbitraries.js';
import { reconcile } from '../reconcile/pass.js';

const VIPS = {
  ipv4: ['10.0.0.1', '10.0.0.2', '192.168.0.1'],
  ipv6: ['2001:db8::1', '2001:db8::2'],
};
const REALS = {
  ipv4: ['192.168.10.2', '192.168.10.3', '10.1.1.1', '172.16.0.9'],
  ipv6: ['2001:db8:10::2', '2001:db8:10::3', 'fd00::9'],
};
const other = (f: Family): Family => (f === 'ipv4' ? 'ipv6' : 'ipv4');

const arbKey = fc.oneof(
  fc.record({
    family: fc.constantFrom<Family>('ipv4', 'ipv6'),
    protocol: fc.constantFrom('tcp' as const, 'udp' as const, 'sctp' as const),
    vip: fc.nat(),
    port: fc.constantFrom(0, 53, 80, 443),
  }),
  fc.record({
    family: fc.constantFrom<Family>('ipv4', 'ipv6'),
    fwmark: fc.integer({ min: 1, max: 3 }),
  }),
);

const arbService: fc.Arbitrary<Service> = fc
  .record({
    key: arbKey,
    scheduler: fc.constantFrom(...SCHEDULERS),
    sched1: fc.boolean(),
    sched2: fc.boolean(),
    ops: fc.boolean(),
    persistent: fc.boolean(),
    timeout: fc.integer({ min: 1, max: 86400 }),
    prefix: fc.integer({ min: 1, max: 128 }),
    sip: fc.boolean(),
  })
  .map((r): Service => {
    const k = r.key;
    const key =
      'fwmark' in k
        ? { family: k.family, fwmark: k.fwmark }
        : {
            family: k.family,
            protocol: k.protocol,
            address: VIPS[k.family][k.vip % VIPS[k.family].length] as string,
            port: k.port,
          };
    const named = r.scheduler === 'sh' || r.scheduler === 'mh';
    const udpOrMark = 'fwmark' in key || key.protocol === 'udp';
    // Port 0 (all ports) needs persistence, as in ipvsadm and the kernel.
    const persistent = r.persistent || ('port' in key && key.port === 0);
    const host = k.family === 'ipv4' ? 32 : 128;
    return {
      ...key,
      scheduler: r.scheduler,
      flags: {
        persistent,
        onePacket: r.ops && udpOrMark,
        sched1: named && r.sched1,
        sched2: named && r.sched2,
        sched3: false,
      },
      timeout: persistent ? r.timeout : 0,
      netmask: persistent ? Math.min(r.prefix, host) : host,
      pe: persistent && r.sip ? 'sip' : null,
    } as Service;
  });

const arbTunnel = fc.oneof(
  fc.constant({ tunnelType: 'ipip' as const, tunnelPort: 0, csum: 'none' }),
  fc.record({
    tunnelType: fc.constant('gue' as const),
    tunnelPort: fc.integer({ min: 1, max: 65535 }),
    csum: fc.constantFrom('none', 'csum', 'remcsum'),
  }),
  fc.record({
    tunnelType: fc.constant('gre' as const),
    tunnelPort: fc.constant(0),
    csum: fc.constantFrom('none', 'csum'),
  }),
);

const arbDest = fc.record({
  forwarding: fc.constantFrom('nat' as const, 'dr' as const, 'tun' as const),
  crossFamily: fc.boolean(),
  natPort: fc.constantFrom(0, 80, 8080),
  weight: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 65535 })),
  upper: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 100_000 })),
  lowerShare: fc.double({ min: 0, max: 1, noNaN: true }),
  tunnel: arbTunnel,
});

type DestPick = typeof arbDest extends fc.Arbitrary<infer T> ? T : never;

/** The service's reals: distinct addresses, ports as the kernel and lvsd take them. */
function destsFor(service: Service, picks: DestPick[]): Dest[] {
  const isMark = 'fwmark' in service;
  const anyRouted = picks.some((p) => p.forwarding !== 'nat');
  // A fwmark service's reals carry no port or one port for all (lvsd's rule): one NAT port, or none.
  const markPort = isMark && !anyRouted ? (picks[0]?.natPort ?? 0) : 0;
  const used = new Set<string>();
  return picks.flatMap((p, i) => {
    const family = p.forwarding === 'tun' && p.crossFamily ? other(service.family) : service.family;
    const address = REALS[family][i % REALS[family].length] as string;
    if (used.has(address)) return [];
    used.add(address);
    const servicePort = isMark ? 0 : service.port;
    const port = isMark
      ? p.forwarding === 'nat'
        ? markPort
        : 0
      : p.forwarding === 'nat'
        ? p.natPort
        : servicePort;
    const tun =
      p.forwarding === 'tun' ? p.tunnel : { tunnelType: 'ipip', tunnelPort: 0, csum: 'none' };
    return [
      {
        address,
        port,
        family,
        forwarding: p.forwarding,
        weight: p.weight,
        upperThreshold: p.upper,
        lowerThreshold: Math.floor(p.upper * p.lowerShare),
        tunnelType: tun.tunnelType,
        tunnelPort: tun.tunnelPort,
        tunnelFlags: { csum: tun.csum === 'csum', remcsum: tun.csum === 'remcsum' },
      } as Dest,
    ];
  });
}

const arbTable: fc.Arbitrary<LiveService[]> = fc
  .uniqueArray(fc.tuple(arbService, fc.array(arbDest, { maxLength: 4 })), {
    maxLength: 4,
    selector: ([s]) => serviceId(s),
  })
  .map((entries) =>
    entries.map(([service, picks]) => ({
      ...service,
      dests: destsFor(service, picks).map((d) => ({
        ...d,
        activeConns: 0,
        inactiveConns: 0,
        persistConns: 0,
      })),
    })),
  );

async function kernelWith(services: LiveService[]): Promise<FakeIpvs> {
  const fake = new FakeIpvs();
  const ops: IpvsOp[] = services.flatMap(({ dests, ...service }) => [
    { op: 'add-service' as const, service: service as Service },
    ...dests.map((d) => ({
      op: 'add-dest' as const,
      service: serviceKeyOf(service as Service),
      dest: d,
    })),
  ]);
  const results = await fake.execute(ops);
  for (const r of results) if (!r.ok) throw r.error;
  return fake;
}

const pass = (kernel: FakeIpvs, desired: ReturnType<typeof desiredState>, dryRun: boolean) =>
  reconcile(kernel, {
    desired,
    stateDir: null,
    dryRun,
    prune: 'managed',
    drainTimeoutMs: 0,
    addresses: null,
    markRules: null,
    sysctls: {
      read: async (names) => Object.fromEntries(names.map((n) => [n, null])),
      write: async () => undefined,
    },
  });

describe('import(export(table)) on an empty kernel gives the same table', () => {
  it('for random tables', async () => {
    await fc.assert(
      fc.asyncProperty(arbTable, async (services) => {
        const source = await kernelWith(services);
        const original = await source.readTable({ stats: false });
        const rules = exportIpvsadm(original);
        const imported = await importIpvsadm(rules, { file: 'export' });
        expect(imported.diagnostics, formatDiagnostics(imported.diagnostics)).toEqual([]);
        const yaml = writeYaml(imported);
        const load = loadConfigText(yaml, 'imported.yaml');
        if (!load.ok) throw new Error(`${formatDiagnostics(load.errors)}\n${rules}\n${yaml}`);

        const target = new FakeIpvs();
        const first = await pass(target, desiredState(load.config), false);
        expect(first.report?.failed ?? 0).toBe(0);
        expect(settingsOf(await target.readTable({ stats: false }))).toEqual(settingsOf(original));
        const again = await pass(target, desiredState(load.config), true);
        expect(isEmptyPlan(again.plan)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
