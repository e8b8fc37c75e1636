/**
 * The director snapshot tells the truth: for random configs, live tables and lvsd states,
 * planning against the live (fake) director and planning against a snapshot of it, taken
 * as `lvsd ls --json` takes it and read back from JSON as `lvsd plan --state` reads it,
 * give the same plan, removals, drains, sysctls, VIPs and advice included.
 */
import fc from 'fast-check';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeAddresses } from '../../src/director/fake-vip-addresses.js';
import { FakeIpvs } from '../../src/ipvs/fake.js';
import type { IpvsOp } from '../../src/ipvs/client.js';
import { destId, serviceId, type Dest, type Service } from '../../src/ipvs/model.js';
import { planOffline, Reconciler } from '../../src/reconcile/reconciler.js';
import { parseSnapshot } from '../../src/reconcile/snapshot.js';
import { StateStore } from '../../src/reconcile/state.js';
import type { DesiredState, Drains, ReconcilePolicy } from '../../src/reconcile/types.js';
import type { SysctlAccess } from '../../src/sysctl/access.js';
import { dest, desired, tcpService } from './fixtures.js';

const shapes: Service[] = [
  tcpService('10.0.0.1', 80),
  tcpService('10.0.0.1', 443, { scheduler: 'rr' }),
  { ...tcpService('10.0.0.2', 53), protocol: 'udp' } as Service,
  tcpService('10.0.0.3', 25, { scheduler: 'sh' }),
];
const reals = ['192.168.10.2', '192.168.10.3', '192.168.11.2'];

const arbDests = fc
  .subarray(reals)
  .chain((addresses) =>
    fc.tuple(
      ...addresses.map((a) =>
        fc.integer({ min: 0, max: 3 }).map((w) => dest(a, 80, { weight: w })),
      ),
    ),
  );

const arbCase = fc.record({
  live: fc.array(fc.tuple(arbDests, fc.array(fc.nat(5), { minLength: 3, maxLength: 3 })), {
    minLength: 4,
    maxLength: 4,
  }),
  liveMask: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
  wanted: fc.array(arbDests, { minLength: 4, maxLength: 4 }),
  wantedMask: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
  ownedMask: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
  drainingSince: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }),
  vip: fc.boolean(),
  ownedVip: fc.boolean(),
  forward: fc.constantFrom(undefined, 0, 1),
  forwardNow: fc.constantFrom(null, 0, 1),
  drainTimeoutMs: fc.constantFrom(0, 60_000),
  prune: fc.constantFrom('managed' as const, 'all' as const),
});

type Case = typeof arbCase extends fc.Arbitrary<infer T> ? T : never;

async function director(c: Case) {
  const kernel = new FakeIpvs();
  const ops: IpvsOp[] = [];
  shapes.forEach((service, i) => {
    if (!c.liveMask[i]) return;
    ops.push({ op: 'add-service', service });
    for (const d of c.live[i]![0]) ops.push({ op: 'add-dest', service, dest: d });
  });
  await kernel.execute(ops);
  shapes.forEach((service, i) => {
    if (!c.liveMask[i]) return;
    for (const [j, d] of c.live[i]![0].entries())
      kernel.setCounters(service, { dest: d as Dest, activeConns: c.live[i]![1][j] ?? 0 });
  });
  const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-snap-'));
  const state = new StateStore(stateDir);
  const owned = shapes.filter((_, i) => c.ownedMask[i]).map((s) => serviceId(s));
  const draining: Drains = {};
  if (c.drainingSince !== undefined)
    for (const id of owned) draining[id] = { '192.168.10.2:80': c.drainingSince };
  await state.write({
    version: 2,
    owned,
    draining,
    ...(c.ownedVip ? { vips: ['10.0.0.9/32 on lvsd0'] } : {}),
  });
  const addresses = new FakeAddresses({ links: [{ name: 'lvsd0', kind: 'dummy', up: true }] });
  if (c.ownedVip) addresses.addresses.push({ address: '10.0.0.9', prefix: 32, interface: 'lvsd0' });
  const values: Record<string, number | null> = { 'net.ipv4.ip_forward': c.forwardNow };
  const sysctls: SysctlAccess = {
    read: async (names) => Object.fromEntries(names.map((n) => [n, values[n] ?? null])),
    write: async () => undefined,
  };
  return new Reconciler({
    ipvs: kernel,
    state,
    sysctls,
    openAddresses: async () => addresses,
    markRules: async () => ({ marks: [], opaque: false, unread: [] }),
  });
}

function desiredOf(c: Case): DesiredState {
  return {
    services: shapes.flatMap((s, i) =>
      c.wantedMask[i] ? [desired(`s${i}`, s, c.wanted[i]!)] : [],
    ),
    ...(c.forward === undefined ? {} : { sysctls: { 'net.ipv4.ip_forward': c.forward } }),
    ...(c.vip ? { vips: [{ address: '10.0.0.8', prefix: 32, interface: 'lvsd0' }] } : {}),
  };
}

describe('plan --state against a director snapshot', () => {
  it('plans exactly what a pass on the director plans', async () => {
    await fc.assert(
      fc.asyncProperty(arbCase, async (c) => {
        const reconciler = await director(c);
        const want = desiredOf(c);
        const policy: ReconcilePolicy = {
          prune: c.prune,
          drainTimeoutMs: c.drainTimeoutMs,
          maxRemoval: 0.5,
          allowMassRemoval: false,
        };
        const options = { policy, dryRun: true, now: 200_000 };
        const live = await reconciler.pass(want, options);
        const taken = await reconciler.snapshot({ version: 'test', host: 'lb1' });
        const read = parseSnapshot(JSON.parse(JSON.stringify(taken)), 'snapshot.json');
        const offline = await planOffline(read.actual, want, options, read.state ?? undefined);
        expect(offline.plan).toEqual(live.plan);
        expect(offline.refused).toEqual(live.refused);
        expect(read.warnings).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });

  it('ids of the generated shapes are distinct', () => {
    expect(new Set(shapes.map((s) => serviceId(s))).size).toBe(shapes.length);
    expect(new Set(reals.map((a) => destId(dest(a, 80)))).size).toBe(reals.length);
  });
});
