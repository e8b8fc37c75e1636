/**
 * Random tables for property tests of the planner (fast-check): up to five services of
 * every kind, each with a random subset of reals, weights and thresholds; and the fake
 * kernel holding one, and a table's settings without counters, for comparison.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { FakeIpvs } from '../../src/ipvs/fake.js';
import type { IpvsOp } from '../../src/ipvs/client.js';
import {
  destId,
  serviceId,
  serviceKeyOf,
  type Dest,
  type IpvsTable,
  type Service,
} from '../../src/ipvs/model.js';
import type { DesiredService } from '../../src/reconcile/types.js';
import { dest, tcpService } from './fixtures.js';

function fwmarkService(base: Service): Service {
  const { family, scheduler, flags, timeout, netmask, pe } = base;
  return { family, fwmark: 10, scheduler, flags, timeout, netmask, pe };
}

const serviceShapes: Service[] = [
  tcpService('10.0.0.1', 80),
  tcpService('10.0.0.1', 443),
  { ...tcpService('10.0.0.2', 53), protocol: 'udp' } as Service,
  fwmarkService(tcpService('10.0.0.3', 0)),
  tcpService('2001:db8::1', 80),
];

const arbService = (index: number) =>
  fc
    .record({
      scheduler: fc.constantFrom('rr', 'wrr', 'wlc', 'lc', 'sh'),
      persistent: fc.boolean(),
      timeout: fc.integer({ min: 1, max: 3600 }),
    })
    .map(({ scheduler, persistent, timeout }): Service => {
      const shape = serviceShapes[index]!;
      return {
        ...shape,
        scheduler,
        flags: { ...shape.flags, persistent },
        timeout: persistent ? timeout : 0,
      } as Service;
    });

const realAddresses = (family: 'ipv4' | 'ipv6') =>
  family === 'ipv4'
    ? ['192.168.10.2', '192.168.10.3', '192.168.11.2', '192.168.11.3']
    : ['2001:db8:1::2', '2001:db8:1::3'];

const arbDests = (service: Service) =>
  fc.subarray(realAddresses(service.family)).chain((addresses) =>
    fc.tuple(
      ...addresses.map((address) =>
        fc
          .record({
            weight: fc.integer({ min: 0, max: 10 }),
            upper: fc.integer({ min: 0, max: 100 }),
          })
          .map(
            ({ weight, upper }): Dest =>
              dest(address, 'fwmark' in service ? 0 : (service as { port: number }).port, {
                weight,
                upperThreshold: upper,
              }),
          ),
      ),
    ),
  );

export const arbTable: fc.Arbitrary<DesiredService[]> = fc
  .subarray([0, 1, 2, 3, 4])
  .chain((indexes) =>
    fc.tuple(
      ...indexes.map((i) =>
        arbService(i).chain((service) =>
          arbDests(service).map((dests) => ({ name: `svc${i}`, service, dests })),
        ),
      ),
    ),
  );

export async function kernelWith(services: DesiredService[]): Promise<FakeIpvs> {
  const fake = new FakeIpvs();
  const ops: IpvsOp[] = services.flatMap((s) => [
    { op: 'add-service' as const, service: s.service },
    ...s.dests.map((d) => ({ op: 'add-dest' as const, service: serviceKeyOf(s.service), dest: d })),
  ]);
  const results = await fake.execute(ops);
  expect(results.every((r) => r.ok)).toBe(true);
  fake.log.length = 0;
  return fake;
}

export function settingsOf(table: IpvsTable) {
  return table.services
    .map(({ stats: _s, dests, ...service }) => ({
      id: serviceId(service),
      service,
      dests: dests
        .map(({ activeConns: _a, inactiveConns: _i, persistConns: _p, stats: _st, ...d }) => d)
        .sort((a, b) => destId(a).localeCompare(destId(b))),
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

export function settingsOfDesired(services: DesiredService[]) {
  return services
    .map((s) => ({
      id: serviceId(s.service),
      service: s.service,
      dests: [...s.dests].sort((a, b) => destId(a).localeCompare(destId(b))),
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
}
