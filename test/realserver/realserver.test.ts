import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeAddresses } from '../../src/director/fake-vip-addresses.js';
import {
  planRealServer,
  planRemoval,
  emptyRecord,
  sysctlNeeds,
  type RealServerVip,
} from '../../src/realserver/plan.js';
import { runRealServer } from '../../src/realserver/run.js';
import { formatRealServer } from '../../src/realserver/format.js';
import type { SysctlAccess } from '../../src/sysctl/access.js';

/** /proc/sys of a fresh namespace: the conf/<if> entries exist only for existing links. */
function procSys(
  ns: FakeAddresses,
  values: Record<string, number> = {},
): SysctlAccess & { values: Record<string, number>; writes: string[] } {
  const defaults = (name: string): number | null => {
    const scope = /^net\.ipv4\.conf\.([^.]+)\./.exec(name)?.[1];
    if (scope && scope !== 'all' && scope !== 'default' && !ns.links.some((l) => l.name === scope))
      return null;
    return values[name] ?? 0;
  };
  const writes: string[] = [];
  return {
    values,
    writes,
    async read(names) {
      return Object.fromEntries(names.map((n) => [n, defaults(n)]));
    },
    async write(name, value) {
      if (defaults(name) === null)
        throw new Error(
          `ENOENT: no such file or directory, open '/proc/sys/${name.replaceAll('.', '/')}'`,
        );
      writes.push(`${name}=${value}`);
      values[name] = value;
    },
  };
}

const dr = (address: string): RealServerVip => ({ address, mode: 'dr' });
const tun = (address: string): RealServerVip => ({ address, mode: 'tun' });
const texts = (steps: { text: string }[]) => steps.map((s) => s.text);

describe('what a real server needs (the LVS HOWTO, by hand)', () => {
  it('DR: VIP on lo as /32, arp_ignore=1 and arp_announce=2 on all and lo', async () => {
    const ns = new FakeAddresses();
    expect(
      texts(planRealServer([dr('10.0.0.1')], { addresses: await ns.read(), sysctls: {} })),
    ).toEqual([
      'sysctl net.ipv4.conf.all.arp_ignore: absent -> 1',
      'sysctl net.ipv4.conf.all.arp_announce: absent -> 2',
      'sysctl net.ipv4.conf.lo.arp_ignore: absent -> 1',
      'sysctl net.ipv4.conf.lo.arp_announce: absent -> 2',
      'vip 10.0.0.1/32 on lo',
    ]);
  });

  it('DR over IPv6: /128 on lo and no ARP settings (neighbour discovery answers per interface)', async () => {
    expect(
      texts(
        planRealServer([dr('2001:db8::1')], {
          addresses: await new FakeAddresses().read(),
          sysctls: {},
        }),
      ),
    ).toEqual(['vip 2001:db8::1/128 on lo']);
    expect(sysctlNeeds([dr('2001:db8::1')])).toEqual([]);
  });

  it('TUN: tunl0 made and up, ARP settings on all and tunl0, rp_filter relaxed, VIP on tunl0', async () => {
    const ns = new FakeAddresses();
    const steps = planRealServer([tun('10.0.0.1')], {
      addresses: await ns.read(),
      sysctls: { 'net.ipv4.conf.all.rp_filter': 1 },
    });
    expect(texts(steps)).toEqual([
      'interface tunl0 (loads the ipip module)',
      'interface tunl0 up',
      'sysctl net.ipv4.conf.all.arp_ignore: absent -> 1',
      'sysctl net.ipv4.conf.all.arp_announce: absent -> 2',
      'sysctl net.ipv4.conf.tunl0.arp_ignore: absent -> 1',
      'sysctl net.ipv4.conf.tunl0.arp_announce: absent -> 2',
      'sysctl net.ipv4.conf.tunl0.rp_filter: absent -> 0',
      'sysctl net.ipv4.conf.all.rp_filter: 1 -> 2',
      'vip 10.0.0.1/32 on tunl0',
    ]);
  });

  it('TUN over IPv6 uses ip6tnl0', async () => {
    expect(
      texts(
        planRealServer([tun('2001:db8::1')], {
          addresses: await new FakeAddresses().read(),
          sysctls: {},
        }),
      ),
    ).toEqual([
      'interface ip6tnl0 (loads the ip6_tunnel module)',
      'interface ip6tnl0 up',
      'vip 2001:db8::1/128 on ip6tnl0',
    ]);
  });

  it('accepts settings that already do the job (arp_ignore 2, loose rp_filter)', async () => {
    const ns = new FakeAddresses({
      links: [{ name: 'tunl0', kind: 'ipip', up: true }],
      addresses: [{ address: '10.0.0.1', prefix: 32, interface: 'tunl0' }],
    });
    const sysctls = Object.fromEntries(
      sysctlNeeds([tun('10.0.0.1')]).map((n) => [
        n.name,
        n.name.endsWith('arp_ignore') ? 2 : n.name.endsWith('rp_filter') ? 2 : n.value,
      ]),
    );
    expect(planRealServer([tun('10.0.0.1')], { addresses: await ns.read(), sysctls })).toEqual([]);
  });
});

describe('lvsd realserver: apply, --check, --remove', () => {
  it('sets everything up, then --check reports ready, and --remove restores the values it found', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-rs-'));
    const ns = new FakeAddresses();
    const sys = procSys(ns, { 'net.ipv4.conf.all.arp_announce': 1 });
    const io = { addresses: ns, sysctls: sys };
    const applied = await runRealServer({ vips: [dr('10.0.0.1')], action: 'apply', stateDir }, io);
    expect(applied.results?.every((r) => !r.error)).toBe(true);
    expect(formatRealServer(applied)).toContain('Applied 5 changes.');
    expect(ns.addresses).toContainEqual({ address: '10.0.0.1', prefix: 32, interface: 'lo' });
    expect(sys.values['net.ipv4.conf.all.arp_ignore']).toBe(1);

    const check = await runRealServer(
      { vips: [dr('10.0.0.1')], action: 'check', stateDir: null },
      io,
    );
    expect(check.steps).toEqual([]);
    expect(formatRealServer(check)).toContain('Ready:');

    const removed = await runRealServer({ vips: [dr('10.0.0.1')], action: 'remove', stateDir }, io);
    expect(texts(removed.steps)).toEqual([
      'vip 10.0.0.1/32 on lo',
      'sysctl net.ipv4.conf.all.arp_ignore: 1 -> 0',
      'sysctl net.ipv4.conf.all.arp_announce: 2 -> 1',
      'sysctl net.ipv4.conf.lo.arp_ignore: 1 -> 0',
      'sysctl net.ipv4.conf.lo.arp_announce: 2 -> 0',
    ]);
    expect(ns.addresses.filter((a) => a.interface === 'lo').map((a) => a.address)).toEqual([
      '127.0.0.1',
      '::1',
    ]);
    expect(sys.values['net.ipv4.conf.all.arp_announce']).toBe(1);
    expect(JSON.parse(await readFile(join(stateDir, 'realserver.json'), 'utf8'))).toEqual(
      emptyRecord(),
    );
  });

  it('--check changes nothing', async () => {
    const ns = new FakeAddresses();
    const sys = procSys(ns);
    const check = await runRealServer(
      { vips: [tun('10.0.0.1'), dr('10.0.0.2')], action: 'check', stateDir: null },
      { addresses: ns, sysctls: sys },
    );
    expect(check.steps.length).toBeGreaterThan(0);
    expect(check.results).toBeUndefined();
    expect(ns.writes).toEqual([]);
    expect(sys.writes).toEqual([]);
    expect(formatRealServer(check)).toMatch(/Not ready: \d+ missing/);
  });

  it('TUN: the module makes tunl0 itself (EEXIST on our request is success), then its sysctls exist', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-rs-'));
    const ns = new FakeAddresses();
    const sys = procSys(ns, { 'net.ipv4.conf.all.rp_filter': 1 });
    const result = await runRealServer(
      { vips: [tun('10.0.0.1')], action: 'apply', stateDir },
      { addresses: ns, sysctls: sys },
    );
    expect(result.results?.filter((r) => r.error)).toEqual([]);
    expect(ns.links.find((l) => l.name === 'tunl0')).toMatchObject({ up: true });
    expect(sys.values['net.ipv4.conf.tunl0.rp_filter']).toBe(0);
    expect(sys.values['net.ipv4.conf.all.rp_filter']).toBe(2);
    const record = JSON.parse(await readFile(join(stateDir, 'realserver.json'), 'utf8'));
    // tunl0's own values did not exist before: nothing to restore for them.
    expect(record.sysctls).toEqual({
      'net.ipv4.conf.all.arp_ignore': 0,
      'net.ipv4.conf.all.arp_announce': 0,
      'net.ipv4.conf.all.rp_filter': 1,
    });
    expect(record.vips).toEqual(['10.0.0.1/32 on tunl0']);
  });

  it('a tunnel that cannot be made explains the steps that depend on it', async () => {
    const ns = new FakeAddresses({ tunnelModules: false });
    const result = await runRealServer(
      { vips: [tun('10.0.0.1')], action: 'apply', stateDir: null },
      { addresses: ns, sysctls: procSys(ns) },
    );
    const text = formatRealServer(result);
    expect(text).toContain(
      '! interface tunl0 (loads the ipip module): create ipip tunl0: Operation not supported: this kernel ' +
        'has no ipip link type',
    );
    expect(text).toContain(
      '! vip 10.0.0.1/32 on tunl0: not done: interface tunl0 could not be created',
    );
    expect(text).toContain('! sysctl net.ipv4.conf.tunl0.rp_filter: absent -> 0: not done');
    expect(text).toContain('Applied 2 of 8 changes; 6 failed.');
  });

  it('--remove of one VIP keeps the ARP settings while another VIP still needs them', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-rs-'));
    const ns = new FakeAddresses();
    const io = { addresses: ns, sysctls: procSys(ns) };
    await runRealServer({ vips: [dr('10.0.0.1'), dr('10.0.0.2')], action: 'apply', stateDir }, io);
    const first = await runRealServer({ vips: [dr('10.0.0.1')], action: 'remove', stateDir }, io);
    expect(texts(first.steps)).toEqual(['vip 10.0.0.1/32 on lo']);
    const second = await runRealServer({ vips: [dr('10.0.0.2')], action: 'remove', stateDir }, io);
    expect(texts(second.steps)).toContain('sysctl net.ipv4.conf.all.arp_ignore: 1 -> 0');
  });

  it('--remove without a record removes the VIPs and leaves sysctls, saying so', async () => {
    const ns = new FakeAddresses({
      addresses: [{ address: '10.0.0.1', prefix: 32, interface: 'lo' }],
    });
    const removal = planRemoval(
      [dr('10.0.0.1')],
      { addresses: await ns.read(), sysctls: {} },
      emptyRecord(),
    );
    expect(texts(removal.steps)).toEqual(['vip 10.0.0.1/32 on lo']);
    const result = await runRealServer(
      { vips: [dr('10.0.0.1')], action: 'remove', stateDir: null },
      { addresses: ns, sysctls: procSys(ns) },
    );
    expect(result.warnings).toEqual(['no record of earlier changes: sysctls are left as they are']);
  });

  it('--remove that cannot remove a VIP keeps the ARP settings and the record', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-rs-'));
    class Stubborn extends FakeAddresses {
      override async deleteAddress(): Promise<void> {
        throw new Error('delete address 10.0.0.1/32 on lo: Operation not permitted');
      }
    }
    const ns = new Stubborn();
    const sys = procSys(ns);
    await runRealServer(
      { vips: [dr('10.0.0.1')], action: 'apply', stateDir },
      { addresses: ns, sysctls: sys },
    );
    const removed = await runRealServer(
      { vips: [dr('10.0.0.1')], action: 'remove', stateDir },
      { addresses: ns, sysctls: sys },
    );
    expect(formatRealServer(removed)).toContain(
      '! sysctl net.ipv4.conf.all.arp_ignore: 1 -> 0: not done: a VIP could not be removed',
    );
    expect(sys.values['net.ipv4.conf.all.arp_ignore']).toBe(1);
    const record = JSON.parse(await readFile(join(stateDir, 'realserver.json'), 'utf8'));
    expect(record.vips).toEqual(['10.0.0.1/32 on lo']);
    expect(record.sysctls['net.ipv4.conf.all.arp_ignore']).toBe(0);
  });
});
