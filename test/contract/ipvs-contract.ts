/**
 * The IpvsClient contract: one suite, run against the fake on the host
 * (test/ipvs/fake.contract.test.ts) and against the kernel client in the lab
 * (test/kernel/ipvs.contract.kernel.test.ts). Where they disagree, the kernel is right and
 * the fake is fixed.
 *
 * With an independent reader (ipvsadm in the lab), what the client wrote is also checked
 * with `ipvsadm -Sn` / `-Ln --thresholds`, and what ipvsadm wrote is read back by the client.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { IpvsClient, IpvsOp, IpvsOpResult } from '../../src/ipvs/client.js';
import type {
  Dest,
  Family,
  LiveDest,
  LiveService,
  Protocol,
  Service,
  ServiceKey,
} from '../../src/ipvs/model.js';
import { ReadYielded } from '../../src/ipvs/errors.js';
import { serviceId, serviceKeyOf } from '../../src/ipvs/model.js';
import { dest as buildDest } from '../builders.js';

/** What ipvsadm shows, as text, and lets us write (lab only). */
export interface IndependentReader {
  /** Runs ipvsadm with these arguments; resolves with stdout, rejects on failure. */
  ipvsadm(args: string[], input?: string): Promise<string>;
}

export interface ContractOptions {
  /** A client on an IPVS table that may hold leftovers (the suite flushes it). */
  client(): Promise<IpvsClient>;
  reader?: IndependentReader;
  /** An interface a sync daemon can bind to. */
  syncInterface: string;
  /** Schedulers to loop over (the lab kernel's modules). */
  schedulers: readonly string[];
  /** Services in the big batch test (kept smaller on slow emulated kernels). */
  bigBatchServices?: number;
  /** Waits this long before reading counters that the kernel folds every 2 s. */
  statsSettleMs?: number;
}

const flagsOff = {
  persistent: false,
  onePacket: false,
  sched1: false,
  sched2: false,
  sched3: false,
};

export function svc(partial: Partial<Service> & ServiceKey): Service {
  return {
    scheduler: 'wlc',
    flags: flagsOff,
    timeout: 0,
    netmask: partial.family === 'ipv6' ? 128 : 32,
    pe: null,
    ...partial,
  } as Service;
}

/** A dest as test/builders.ts builds it, on port 80 unless the partial says otherwise. */
export function dst(partial: Partial<Dest> & { address: string }): Dest {
  return buildDest(partial.address, partial.port ?? 80, partial);
}

/** A service without counters, dests sorted: what must read back exactly. */
export function settingsOf(service: LiveService): Service & { dests: Dest[] } {
  const { stats: _stats, dests, ...rest } = service;
  return { ...(rest as Service), dests: dests.map(destSettings).sort(byDest) };
}

export function destSettings(d: LiveDest | Dest): Dest {
  return {
    address: d.address,
    port: d.port,
    family: d.family,
    forwarding: d.forwarding,
    weight: d.weight,
    upperThreshold: d.upperThreshold,
    lowerThreshold: d.lowerThreshold,
    tunnelType: d.tunnelType,
    tunnelPort: d.tunnelPort,
    tunnelFlags: { ...d.tunnelFlags },
  };
}

function byDest(a: Dest, b: Dest): number {
  return `${a.address}|${a.port}`.localeCompare(`${b.address}|${b.port}`);
}
function byService(a: ServiceKey, b: ServiceKey): number {
  return serviceId(a).localeCompare(serviceId(b));
}

function expectAllOk(results: IpvsOpResult[]): void {
  const failures = results.flatMap((r) => (r.ok ? [] : [r.error.message]));
  expect(failures).toEqual([]);
}

export function defineIpvsContract(name: string, options: ContractOptions): void {
  describe(`IpvsClient contract: ${name}`, () => {
    let ipvs: IpvsClient;

    async function reset(): Promise<void> {
      await ipvs.execute([
        { op: 'flush' },
        { op: 'delete-daemon', state: 'master' },
        { op: 'delete-daemon', state: 'backup' },
      ]);
      await ipvs.execute([{ op: 'set-timeouts', timeouts: { tcp: 900, tcpFin: 120, udp: 300 } }]);
    }

    async function table(): Promise<Array<ReturnType<typeof settingsOf>>> {
      const t = await ipvs.readTable();
      return t.services.map(settingsOf).sort(byService);
    }

    beforeAll(async () => {
      ipvs = await options.client();
    });
    afterAll(async () => {
      if (ipvs) {
        await reset();
        await ipvs.close();
      }
    });
    beforeEach(async () => {
      await reset();
    });

    it('reports version 1.2.1 and a connection table size', async () => {
      const info = await ipvs.getInfo();
      expect(info.version).toBe('1.2.1');
      expect(info.connTableSize).toBeGreaterThan(0);
    });

    it('starts empty after flush, a missing service reads as null and has no dests', async () => {
      expect(await ipvs.listServices()).toEqual([]);
      const key: ServiceKey = { family: 'ipv4', protocol: 'tcp', address: '10.9.9.9', port: 1 };
      expect(await ipvs.getService(key)).toBeNull();
      expect(await ipvs.listDests(key)).toEqual([]);
    });

    it('readServices: the services asked for, in that order, with their dests; absent ones left out', async () => {
      const web: ServiceKey = { family: 'ipv4', protocol: 'tcp', address: '10.6.0.1', port: 80 };
      const dns: ServiceKey = { family: 'ipv6', protocol: 'udp', address: 'fd00:6::1', port: 53 };
      const mark: ServiceKey = { family: 'ipv4', fwmark: 61 };
      const missing: ServiceKey = {
        family: 'ipv4',
        protocol: 'tcp',
        address: '10.6.0.9',
        port: 80,
      };
      const other: ServiceKey = { family: 'ipv4', protocol: 'tcp', address: '10.6.0.2', port: 80 };
      expectAllOk(
        await ipvs.execute([
          { op: 'add-service', service: svc(web) },
          { op: 'add-dest', service: web, dest: dst({ address: '192.168.6.1' }) },
          { op: 'add-dest', service: web, dest: dst({ address: '192.168.6.2', weight: 3 }) },
          { op: 'add-service', service: svc(dns) },
          { op: 'add-dest', service: dns, dest: dst({ address: 'fd00:6::11', port: 53 }) },
          { op: 'add-service', service: svc(mark) },
          { op: 'add-service', service: svc(other) },
          { op: 'add-dest', service: other, dest: dst({ address: '192.168.6.3' }) },
        ]),
      );
      const everything = await ipvs.readTable();
      const byId = new Map(everything.services.map((s) => [serviceId(s), settingsOf(s)]));
      const read = await ipvs.readServices([mark, missing, dns, web]);
      expect(read.services.map(serviceId)).toEqual([mark, dns, web].map(serviceId));
      expect(read.services.map(settingsOf)).toEqual(
        [mark, dns, web].map((k) => byId.get(serviceId(k))),
      );
      expect(read.services[2]?.dests[0]?.stats).toBeDefined();
      const bare = await ipvs.readServices([web], { stats: false });
      expect(bare.services[0]).not.toHaveProperty('stats');
      expect(bare.services[0]?.dests[0]).not.toHaveProperty('stats');
      expect(bare.services.map(settingsOf)).toEqual([byId.get(serviceId(web))]);
      expect((await ipvs.readServices([missing])).services).toEqual([]);
      expect((await ipvs.readServices([])).services).toEqual([]);
    });

    describe('services: every protocol x scheduler x family reads back exactly', () => {
      const families: Array<[Family, string]> = [
        ['ipv4', '10.1.0.'],
        ['ipv6', '2001:db8:1::'],
      ];
      const protocols: Protocol[] = ['tcp', 'udp', 'sctp'];
      for (const [family, prefix] of families) {
        for (const protocol of protocols) {
          it(`${family} ${protocol}`, async () => {
            const services = options.schedulers.map((scheduler, i) =>
              svc({ family, protocol, address: `${prefix}${i + 1}`, port: 80 + i, scheduler }),
            );
            expectAllOk(
              await ipvs.execute(services.map((service) => ({ op: 'add-service', service }))),
            );
            expect(await table()).toEqual(
              services.map((s) => ({ ...s, dests: [] })).sort(byService),
            );
            for (const s of services)
              expect(settingsOf((await ipvs.getService(s)) as LiveService)).toEqual({
                ...s,
                dests: [],
              });
            // Edit: every service moves to the next scheduler and becomes persistent.
            const edited = services.map((s, i) =>
              svc({
                ...s,
                scheduler: options.schedulers[(i + 1) % options.schedulers.length] as string,
                flags: { ...flagsOff, persistent: true },
                timeout: 120 + i,
                netmask: family === 'ipv6' ? 64 : 24,
              }),
            );
            expectAllOk(
              await ipvs.execute(edited.map((service) => ({ op: 'edit-service', service }))),
            );
            expect(await table()).toEqual(edited.map((s) => ({ ...s, dests: [] })).sort(byService));
            if (options.reader) await expectIpvsadmSave(options.reader, await ipvs.readTable());
            expectAllOk(
              await ipvs.execute(
                services.map((s) => ({ op: 'delete-service', service: serviceKeyOf(s) })),
              ),
            );
            expect(await ipvs.listServices()).toEqual([]);
          });
        }
      }
    });

    describe('service flags, persistence and fwmark', () => {
      const cases: Array<[string, Service]> = [
        [
          'persistent with netmask',
          svc({
            family: 'ipv4',
            protocol: 'tcp',
            address: '10.2.0.1',
            port: 443,
            flags: { ...flagsOff, persistent: true },
            timeout: 3600,
            netmask: 16,
          }),
        ],
        [
          'one-packet udp',
          svc({
            family: 'ipv4',
            protocol: 'udp',
            address: '10.2.0.2',
            port: 53,
            scheduler: 'rr',
            flags: { ...flagsOff, onePacket: true },
          }),
        ],
        [
          'sh with fallback and port',
          svc({
            family: 'ipv4',
            protocol: 'tcp',
            address: '10.2.0.3',
            port: 80,
            scheduler: 'sh',
            flags: { ...flagsOff, sched1: true, sched2: true },
          }),
        ],
        [
          'mh with sched3',
          svc({
            family: 'ipv4',
            protocol: 'tcp',
            address: '10.2.0.4',
            port: 80,
            scheduler: 'mh',
            flags: { ...flagsOff, sched1: true, sched3: true },
          }),
        ],
        [
          'sip persistence engine',
          svc({
            family: 'ipv4',
            protocol: 'udp',
            address: '10.2.0.5',
            port: 5060,
            scheduler: 'rr',
            flags: { ...flagsOff, persistent: true },
            timeout: 60,
            pe: 'sip',
          }),
        ],
        [
          'ipv6 persistent /48',
          svc({
            family: 'ipv6',
            protocol: 'tcp',
            address: '2001:db8:2::1',
            port: 443,
            flags: { ...flagsOff, persistent: true },
            timeout: 300,
            netmask: 48,
          }),
        ],
        ['fwmark ipv4', svc({ family: 'ipv4', fwmark: 1, scheduler: 'rr' })],
        [
          'fwmark ipv6 persistent',
          svc({
            family: 'ipv6',
            fwmark: 0xfffffffe,
            flags: { ...flagsOff, persistent: true },
            timeout: 30,
            netmask: 64,
          }),
        ],
        [
          'port 0 (all ports) persistent',
          svc({
            family: 'ipv4',
            protocol: 'tcp',
            address: '10.2.0.6',
            port: 0,
            flags: { ...flagsOff, persistent: true },
            timeout: 360,
          }),
        ],
      ];
      for (const [label, service] of cases) {
        it(label, async () => {
          expectAllOk(await ipvs.execute([{ op: 'add-service', service }]));
          expect(await table()).toEqual([{ ...service, dests: [] }]);
          if (options.reader) await expectIpvsadmSave(options.reader, await ipvs.readTable());
        });
      }

      it('an edit clears flags, persistence and the engine', async () => {
        const [, withPe] = cases[4] as [string, Service];
        expectAllOk(await ipvs.execute([{ op: 'add-service', service: withPe }]));
        const plain = svc({ ...serviceKeyOf(withPe), scheduler: 'wlc' });
        expectAllOk(await ipvs.execute([{ op: 'edit-service', service: plain }]));
        expect(await table()).toEqual([{ ...plain, dests: [] }]);
      });
    });

    describe('dests: forwarding x family x tunnel settings read back exactly', () => {
      const v4: ServiceKey = { family: 'ipv4', protocol: 'tcp', address: '10.3.0.1', port: 80 };
      const v6: ServiceKey = {
        family: 'ipv6',
        protocol: 'tcp',
        address: '2001:db8:3::1',
        port: 80,
      };
      const fwm: ServiceKey = { family: 'ipv4', fwmark: 77 };
      const cases: Array<[string, ServiceKey, Dest[]]> = [
        [
          'ipv4 nat, dr, tun',
          v4,
          [
            dst({ address: '192.168.3.1', port: 8080 }),
            dst({ address: '192.168.3.2', forwarding: 'dr' }),
            dst({ address: '192.168.3.3', forwarding: 'tun' }),
          ],
        ],
        [
          'ipv4 weights and thresholds',
          v4,
          [
            dst({ address: '192.168.3.4', weight: 0 }),
            dst({ address: '192.168.3.5', weight: 65535, upperThreshold: 100, lowerThreshold: 50 }),
            dst({ address: '192.168.3.6', upperThreshold: 7 }),
          ],
        ],
        [
          'ipv4 tunnels: gue with port and checksums, gre',
          v4,
          [
            dst({
              address: '192.168.3.7',
              forwarding: 'tun',
              tunnelType: 'gue',
              tunnelPort: 6080,
              tunnelFlags: { csum: true, remcsum: false },
            }),
            dst({
              address: '192.168.3.8',
              forwarding: 'tun',
              tunnelType: 'gre',
              tunnelFlags: { csum: true, remcsum: false },
            }),
          ],
        ],
        [
          'ipv6 nat, dr, tun',
          v6,
          [
            dst({ address: '2001:db8:3::10', port: 8080 }),
            dst({ address: '2001:db8:3::11', forwarding: 'dr' }),
            dst({ address: '2001:db8:3::12', forwarding: 'tun' }),
          ],
        ],
        [
          'ipv6 service, ipv4 tunnelled dest (mixed family)',
          v6,
          [dst({ address: '192.168.3.20', forwarding: 'tun' })],
        ],
        [
          'fwmark with dr (port 0) and nat (port 8080)',
          fwm,
          [
            dst({ address: '192.168.3.30', port: 0, forwarding: 'dr' }),
            dst({ address: '192.168.3.31', port: 8080 }),
          ],
        ],
      ];
      for (const [label, key, dests] of cases) {
        it(label, async () => {
          const service = svc({ ...key, scheduler: 'wrr' });
          expectAllOk(
            await ipvs.execute([
              { op: 'add-service', service },
              ...dests.map((dest): IpvsOp => ({ op: 'add-dest', service: key, dest })),
            ]),
          );
          expect(await table()).toEqual([{ ...service, dests: [...dests].sort(byDest) }]);
          expect((await ipvs.listDests(key)).map(destSettings).sort(byDest)).toEqual(
            [...dests].sort(byDest),
          );
          if (options.reader) {
            await expectIpvsadmSave(options.reader, await ipvs.readTable());
            await expectIpvsadmThresholds(options.reader, await ipvs.readTable());
          }
          // Edit every dest (weight and thresholds), then delete them one by one.
          const edited = dests.map((d) => ({
            ...d,
            weight: d.weight + 2,
            upperThreshold: 20,
            lowerThreshold: 10,
          }));
          expectAllOk(
            await ipvs.execute(
              edited.map((dest): IpvsOp => ({ op: 'edit-dest', service: key, dest })),
            ),
          );
          expect((await ipvs.listDests(key)).map(destSettings).sort(byDest)).toEqual(
            [...edited].sort(byDest),
          );
          expectAllOk(
            await ipvs.execute(
              dests.map(
                (d): IpvsOp => ({
                  op: 'delete-dest',
                  service: key,
                  dest: { address: d.address, port: d.port },
                }),
              ),
            ),
          );
          expect(await ipvs.listDests(key)).toEqual([]);
        });
      }

      it('a fresh dest has no connections', async () => {
        expectAllOk(
          await ipvs.execute([
            { op: 'add-service', service: svc(v4) },
            { op: 'add-dest', service: v4, dest: dst({ address: '192.168.3.40' }) },
          ]),
        );
        const [d] = await ipvs.listDests(v4);
        expect(d).toMatchObject({ activeConns: 0, inactiveConns: 0, persistConns: 0 });
      });
    });

    describe('errors: errno and ipvsadm wording, attributed to the exact operation', () => {
      const key: ServiceKey = { family: 'ipv4', protocol: 'tcp', address: '10.4.0.1', port: 80 };
      const missing: ServiceKey = {
        family: 'ipv4',
        protocol: 'tcp',
        address: '10.4.0.99',
        port: 80,
      };
      const d1 = dst({ address: '192.168.4.1' });
      const cases: Array<[string, IpvsOp, number, RegExp]> = [
        [
          'duplicate service',
          { op: 'add-service', service: svc(key) },
          17,
          /^Service already exists$/,
        ],
        [
          'edit of a missing service',
          { op: 'edit-service', service: svc(missing) },
          3,
          /^No such service$/,
        ],
        [
          'delete of a missing service',
          { op: 'delete-service', service: missing },
          3,
          /^No such service$/,
        ],
        ['zero of a missing service', { op: 'zero', service: missing }, 3, /^No such service$/],
        [
          'dest for a missing service',
          { op: 'add-dest', service: missing, dest: d1 },
          3,
          /^Service not defined$/,
        ],
        [
          'duplicate dest',
          { op: 'add-dest', service: key, dest: d1 },
          17,
          /^Destination already exists$/,
        ],
        [
          'edit of a missing dest',
          { op: 'edit-dest', service: key, dest: dst({ address: '192.168.4.2' }) },
          2,
          /^No such destination$/,
        ],
        [
          'delete of a missing dest',
          { op: 'delete-dest', service: key, dest: { address: '192.168.4.2', port: 80 } },
          2,
          /^No such destination$/,
        ],
        [
          'unknown scheduler',
          { op: 'add-service', service: svc({ ...key, port: 81, scheduler: 'xyz' }) },
          2,
          /^Scheduler not found: ip_vs_xyz$/,
        ],
        [
          'unknown persistence engine',
          { op: 'add-service', service: svc({ ...key, port: 82, pe: 'nope' }) },
          2,
          /persistence engine not found: ip_vs_pe_nope/,
        ],
        [
          'lower threshold above upper',
          {
            op: 'add-dest',
            service: key,
            dest: dst({ address: '192.168.4.3', upperThreshold: 5, lowerThreshold: 6 }),
          },
          34,
          /lower threshold is higher/,
        ],
        [
          'lower threshold without upper',
          { op: 'edit-dest', service: key, dest: { ...d1, lowerThreshold: 1 } },
          34,
          /lower threshold is higher/,
        ],
        [
          'gue tunnel without port',
          {
            op: 'add-dest',
            service: key,
            dest: dst({ address: '192.168.4.4', forwarding: 'tun', tunnelType: 'gue' }),
          },
          22,
          /Invalid operation/,
        ],
        [
          'ipv6 dest in an ipv4 service without tunnel',
          { op: 'add-dest', service: key, dest: dst({ address: '2001:db8:4::1' }) },
          22,
          /Invalid operation/,
        ],
        [
          'multicast dest',
          { op: 'add-dest', service: key, dest: dst({ address: '224.0.0.1' }) },
          22,
          /Invalid operation/,
        ],
        [
          'ipv6 persistence netmask 0',
          {
            op: 'add-service',
            service: svc({
              family: 'ipv6',
              protocol: 'tcp',
              address: '2001:db8:4::1',
              port: 80,
              netmask: 0,
            }),
          },
          22,
          /prefix length from 1 to 128/,
        ],
        [
          'stopping a daemon that does not run',
          { op: 'delete-daemon', state: 'backup' },
          3,
          /^No daemon is running$/,
        ],
      ];
      for (const [label, op, errno, reason] of cases) {
        it(label, async () => {
          const results = await ipvs.execute([
            { op: 'add-service', service: svc(key) },
            { op: 'add-dest', service: key, dest: d1 },
            op,
            { op: 'add-dest', service: key, dest: dst({ address: '192.168.4.200' }) },
          ]);
          expect(results[0]).toEqual({ ok: true });
          expect(results[1]).toEqual({ ok: true });
          expect(results[3]).toEqual({ ok: true }); // the batch goes on after a refusal
          const r = results[2] as IpvsOpResult;
          expect(r.ok).toBe(false);
          if (r.ok) return;
          expect(r.error.errno).toBe(errno);
          expect(r.error.reason).toMatch(reason);
          expect(r.error.operation).toBe(op.op);
          expect(r.error.message).toContain(r.error.object);
        });
      }

      it('refuses what cannot be encoded before it reaches the kernel', async () => {
        const [r] = await ipvs.execute([
          {
            op: 'add-service',
            service: svc({ family: 'ipv4', protocol: 'tcp', address: '2001:db8::1', port: 1 }),
          },
        ]);
        expect(r).toMatchObject({ ok: false, error: { errno: 22 } });
      });
    });

    it('timeouts: defaults, partial set, 0 keeps the current value', async () => {
      expect(await ipvs.getTimeouts()).toEqual({ tcp: 900, tcpFin: 120, udp: 300 });
      expectAllOk(await ipvs.execute([{ op: 'set-timeouts', timeouts: { tcp: 1000, udp: 0 } }]));
      expect(await ipvs.getTimeouts()).toEqual({ tcp: 1000, tcpFin: 120, udp: 300 });
      expectAllOk(await ipvs.execute([{ op: 'set-timeouts', timeouts: { tcpFin: 60 } }]));
      expect(await ipvs.getTimeouts()).toEqual({ tcp: 1000, tcpFin: 60, udp: 300 });
      if (options.reader) {
        expect((await options.reader.ipvsadm(['-L', '--timeout'])).trim()).toBe(
          'Timeout (tcp tcpfin udp): 1000 60 300',
        );
      }
    });

    it('sync daemons: start, list, refuse a second one, stop', async () => {
      expectAllOk(
        await ipvs.execute([
          {
            op: 'add-daemon',
            daemon: { state: 'master', interface: options.syncInterface, syncId: 7 },
          },
        ]),
      );
      const [master] = await ipvs.listDaemons();
      expect(master).toMatchObject({
        state: 'master',
        interface: options.syncInterface,
        syncId: 7,
      });
      const [again] = await ipvs.execute([
        {
          op: 'add-daemon',
          daemon: { state: 'master', interface: options.syncInterface, syncId: 8 },
        },
      ]);
      expect(again).toMatchObject({
        ok: false,
        error: { errno: 17, reason: 'Daemon has already run' },
      });
      expectAllOk(
        await ipvs.execute([
          {
            op: 'add-daemon',
            daemon: { state: 'backup', interface: options.syncInterface, syncId: 9 },
          },
        ]),
      );
      expect((await ipvs.listDaemons()).map((d) => [d.state, d.syncId])).toEqual([
        ['master', 7],
        ['backup', 9],
      ]);
      if (options.reader) {
        const text = await options.reader.ipvsadm(['-L', '--daemon']);
        // ipvsadm 1.31 goes on with maxlen, group, port and ttl after the syncid.
        expect(text).toContain(`master sync daemon (mcast=${options.syncInterface}, syncid=7,`);
        expect(text).toContain(`backup sync daemon (mcast=${options.syncInterface}, syncid=9,`);
      }
      expectAllOk(
        await ipvs.execute([
          { op: 'delete-daemon', state: 'master' },
          { op: 'delete-daemon', state: 'backup' },
        ]),
      );
      expect(await ipvs.listDaemons()).toEqual([]);
    });

    it('a read without stats has the same settings and no counters', async () => {
      const key: ServiceKey = { family: 'ipv4', protocol: 'tcp', address: '10.5.1.1', port: 80 };
      expectAllOk(
        await ipvs.execute([
          { op: 'add-service', service: svc(key) },
          { op: 'add-dest', service: key, dest: dst({ address: '192.168.5.11' }) },
        ]),
      );
      const full = await ipvs.readTable();
      const bare = await ipvs.readTable({ stats: false });
      expect(full.services[0]?.stats).toBeDefined();
      expect(full.services[0]?.dests[0]?.stats).toBeDefined();
      expect(bare.services[0]).not.toHaveProperty('stats');
      expect(bare.services[0]?.dests[0]).not.toHaveProperty('stats');
      expect(bare.services.map(settingsOf)).toEqual(full.services.map(settingsOf));
      expect(await ipvs.listDests(key, { stats: false })).toEqual([
        expect.not.objectContaining({ stats: expect.anything() }),
      ]);
    });

    it('a whole-table read asks yieldTo before each service and ends when it says so', async () => {
      const keys: ServiceKey[] = [1, 2, 3].map((i) => ({
        family: 'ipv4',
        protocol: 'tcp',
        address: `10.5.2.${i}`,
        port: 80,
      }));
      expectAllOk(
        await ipvs.execute(
          keys.flatMap((key, i): IpvsOp[] => [
            { op: 'add-service', service: svc(key) },
            { op: 'add-dest', service: key, dest: dst({ address: `192.168.5.${20 + i}` }) },
          ]),
        ),
      );
      let asked = 0;
      const read = await ipvs.readTable({ yieldTo: () => ++asked < 0 });
      expect(read.services.map((s) => s.dests.length)).toEqual([1, 1, 1]);
      expect(asked).toBe(3);
      asked = 0;
      await expect(ipvs.readTable({ yieldTo: () => ++asked === 2 })).rejects.toBeInstanceOf(
        ReadYielded,
      );
      expect(asked).toBe(2);
      // Nothing was left half-read: the next read is whole.
      expect((await ipvs.readTable()).services).toHaveLength(3);
    });

    it('zero and flush', async () => {
      const key: ServiceKey = { family: 'ipv4', protocol: 'udp', address: '10.5.0.1', port: 53 };
      expectAllOk(
        await ipvs.execute([
          { op: 'add-service', service: svc(key) },
          { op: 'add-dest', service: key, dest: dst({ address: '192.168.5.1', port: 53 }) },
          { op: 'zero', service: key },
          { op: 'zero' },
        ]),
      );
      const s = await ipvs.getService(key);
      expect(s?.stats?.conns ?? 0).toBe(0);
      expectAllOk(await ipvs.execute([{ op: 'flush' }]));
      expect(await ipvs.listServices()).toEqual([]);
    });

    it('a big batch: many services with dests in one execute, all acknowledged', async () => {
      const n = options.bigBatchServices ?? 300;
      const ops: IpvsOp[] = [];
      const expected: Array<Service & { dests: Dest[] }> = [];
      for (let i = 0; i < n; i++) {
        const key: ServiceKey = {
          family: 'ipv4',
          protocol: 'tcp',
          address: `10.6.${i >> 8}.${i & 255}`,
          port: 80,
        };
        const service = svc({ ...key, scheduler: 'rr' });
        const dests = [1, 2, 3, 4, 5].map((j) =>
          dst({ address: `192.168.${i & 255}.${j}`, port: 8000 + (i >> 8), weight: j }),
        );
        ops.push(
          { op: 'add-service', service },
          ...dests.map((dest): IpvsOp => ({ op: 'add-dest', service: key, dest })),
        );
        expected.push({ ...service, dests: dests.sort(byDest) });
      }
      // One refusal in the middle is attributed to its own operation.
      const dupIndex = 6 * Math.floor(n / 2);
      ops.splice(dupIndex + 1, 0, { ...(ops[dupIndex] as IpvsOp) });
      const results = await ipvs.execute(ops);
      expect(results.length).toBe(ops.length);
      const failed = results.flatMap((r, i) => (r.ok ? [] : [[i, r.error.reason]]));
      expect(failed).toEqual([[dupIndex + 1, 'Service already exists']]);
      expect(await table()).toEqual(expected.sort(byService));
    });
  });
}

// ---------------------------------------------------------------------------
// ipvsadm as independent reader

/** One line of `ipvsadm -Sn`, parsed into what it says (not how it says it). */
export interface SavedRule {
  kind: 'service' | 'dest';
  service: string;
  fields: Record<string, string>;
}

/** Parses `ipvsadm -Sn` ("-A -t 10.0.0.1:80 -s wlc", "-a -t ... -r 1.2.3.4:80 -m -w 1"). */
export function parseIpvsadmSave(text: string): SavedRule[] {
  const rules: SavedRule[] = [];
  for (const line of text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)) {
    const words = line.split(/\s+/);
    const kind = words[0] === '-A' ? 'service' : words[0] === '-a' ? 'dest' : null;
    if (!kind) continue;
    let service = '';
    const fields: Record<string, string> = {};
    for (let i = 1; i < words.length; i++) {
      const w = words[i] as string;
      const next = words[i + 1];
      if (w === '-t' || w === '-u' || w === '--sctp-service' || w === '-f') {
        service = `${w} ${next}`;
        i++;
        if (w === '-f' && words[i + 1] === '-6') {
          service += ' -6';
          i++;
        }
      } else if (w === '-m' || w === '-g' || w === '-i' || w === '-o') {
        fields[w] = 'yes';
      } else if (next !== undefined && !next.startsWith('-')) {
        fields[w] = next;
        i++;
      } else {
        fields[w] = 'yes';
      }
    }
    rules.push({ kind, service, fields });
  }
  return rules;
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export function ipvsadmServiceName(key: ServiceKey): string {
  if ('fwmark' in key) {
    // ipvsadm 1.31 prints the mark as a signed int: 0xfffffffe is "-f -2".
    const mark = key.fwmark | 0;
    return key.family === 'ipv6' ? `-f ${mark} -6` : `-f ${mark}`;
  }
  const flag = key.protocol === 'tcp' ? '-t' : key.protocol === 'udp' ? '-u' : '--sctp-service';
  return `${flag} ${hostPort(key.address, key.port)}`;
}

/** `ipvsadm -Sn` must show every service and dest of `table`, and nothing else. */
export async function expectIpvsadmSave(
  reader: IndependentReader,
  t: { services: LiveService[] },
): Promise<void> {
  const rules = parseIpvsadmSave(await reader.ipvsadm(['-Sn']));
  const services = rules.filter((r) => r.kind === 'service');
  expect(services.map((r) => r.service).sort()).toEqual(
    t.services.map((s) => ipvsadmServiceName(s)).sort(),
  );
  for (const s of t.services) {
    const name = ipvsadmServiceName(s);
    const rule = services.find((r) => r.service === name) as SavedRule;
    expect(rule.fields['-s'], name).toBe(s.scheduler);
    if (s.flags.persistent) expect(rule.fields['-p'], name).toBe(String(s.timeout));
    else expect(rule.fields['-p'], name).toBeUndefined();
    expect(rule.fields['--pe'], `${name} pe`).toBe(s.pe ?? undefined);
    // -Sn writes one-packet scheduling as "-o".
    expect(rule.fields['-o'] === 'yes', `${name} ops`).toBe(s.flags.onePacket);
    const dests = rules.filter((r) => r.kind === 'dest' && r.service === name);
    expect(dests.map((r) => r.fields['-r']).sort(), name).toEqual(
      s.dests.map((d) => hostPort(d.address, d.port)).sort(),
    );
    for (const d of s.dests) {
      const r = dests.find((x) => x.fields['-r'] === hostPort(d.address, d.port)) as SavedRule;
      const sw = d.forwarding === 'nat' ? '-m' : d.forwarding === 'tun' ? '-i' : '-g';
      expect(r.fields[sw], `${name} -> ${d.address} ${sw}`).toBe('yes');
      expect(r.fields['-w'], `${name} -> ${d.address} weight`).toBe(String(d.weight));
    }
  }
}

/** `ipvsadm -Sn` omits thresholds: `ipvsadm -Ln --thresholds` shows them. */
export async function expectIpvsadmThresholds(
  reader: IndependentReader,
  t: { services: LiveService[] },
): Promise<void> {
  const text = await reader.ipvsadm(['-Ln', '--thresholds']);
  const seen = new Map<string, [number, number]>();
  for (const line of text.split('\n')) {
    const m = /^\s+->\s+(\S+)\s+(\d+)\s+(\d+)\s+\d+\s+\d+/.exec(line);
    if (m) seen.set(m[1] as string, [Number(m[2]), Number(m[3])]);
  }
  for (const s of t.services) {
    for (const d of s.dests) {
      expect(seen.get(hostPort(d.address, d.port)), `${d.address}:${d.port}`).toEqual([
        d.upperThreshold,
        d.lowerThreshold,
      ]);
    }
  }
}
