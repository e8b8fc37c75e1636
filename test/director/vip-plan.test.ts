import { describe, expect, it } from 'vitest';
import { FakeAddresses } from '../../src/director/fake-vip-addresses.js';
import {
  heldAddressId,
  parseHeldAddressId,
  type HeldAddress,
} from '../../src/director/vip-addresses.js';
import { desiredVips } from '../../src/director/vips.js';
import { planVips } from '../../src/reconcile/vip-plan.js';

const vip = (
  address: string,
  iface = 'lvsd0',
  prefix = address.includes(':') ? 128 : 32,
): HeldAddress => ({ address, prefix, interface: iface });

describe('planVips', () => {
  it('creates the missing dummy, brings it up, then adds the VIPs, and owns what it adds', async () => {
    const ns = new FakeAddresses();
    const plan = planVips([vip('10.0.0.1'), vip('2001:db8::1')], await ns.read(), new Set());
    expect(plan.steps.map((s) => `${s.action} ${s.op.op} ${s.object}`)).toEqual([
      'add create-dummy interface lvsd0 (dummy)',
      'change link-up interface lvsd0 up',
      'add add-address 10.0.0.1/32 on lvsd0',
      'add add-address 2001:db8::1/128 on lvsd0',
    ]);
    expect(plan.owned).toEqual(['10.0.0.1/32 on lvsd0', '2001:db8::1/128 on lvsd0']);
    expect(plan.advice).toEqual([]);
  });

  it('plans nothing once the addresses are there (idempotent), and keeps owning them', async () => {
    const ns = new FakeAddresses({
      links: [{ name: 'lvsd0', kind: 'dummy', up: true }],
      addresses: [vip('10.0.0.1')],
    });
    const plan = planVips([vip('10.0.0.1')], await ns.read(), new Set(['10.0.0.1/32 on lvsd0']));
    expect(plan.steps).toEqual([]);
    expect(plan.owned).toEqual(['10.0.0.1/32 on lvsd0']);
  });

  it('leaves an address someone else put there alone: not owned, so never removed later', async () => {
    const ns = new FakeAddresses({
      links: [{ name: 'eth0', kind: null, up: true }],
      addresses: [vip('10.0.0.1', 'eth0', 24)],
    });
    const first = planVips([vip('10.0.0.1', 'eth0')], await ns.read(), new Set());
    expect(first.steps).toEqual([]);
    expect(first.owned).toEqual([]);
    expect(first.advice).toEqual([
      '10.0.0.1 is on eth0 as /24, the config says /32; lvsd leaves it as it is',
    ]);
    const gone = planVips([], await ns.read(), new Set(first.owned));
    expect(gone.steps).toEqual([]);
  });

  it('removes only the addresses it added once they leave the config', async () => {
    const ns = new FakeAddresses({
      links: [{ name: 'lvsd0', kind: 'dummy', up: true }],
      addresses: [vip('10.0.0.1'), vip('10.0.0.2'), vip('10.0.0.3')],
    });
    const plan = planVips(
      [vip('10.0.0.1')],
      await ns.read(),
      new Set(['10.0.0.1/32 on lvsd0', '10.0.0.2/32 on lvsd0']),
    );
    expect(plan.steps.map((s) => `${s.action} ${s.object}`)).toEqual([
      'remove 10.0.0.2/32 on lvsd0',
    ]);
    expect(plan.owned).toEqual(['10.0.0.1/32 on lvsd0']);
  });

  it('forgets an owned address that is already gone', async () => {
    const ns = new FakeAddresses({ links: [{ name: 'lvsd0', kind: 'dummy', up: true }] });
    const plan = planVips([], await ns.read(), new Set(['10.0.0.9/32 on lvsd0']));
    expect(plan.steps).toEqual([]);
    expect(plan.owned).toEqual([]);
  });

  it('moves an address between interfaces: removal before addition', async () => {
    const ns = new FakeAddresses({
      links: [
        { name: 'lvsd0', kind: 'dummy', up: true },
        { name: 'lvsd1', kind: 'dummy', up: true },
      ],
      addresses: [vip('10.0.0.1')],
    });
    const plan = planVips(
      [vip('10.0.0.1', 'lvsd1')],
      await ns.read(),
      new Set(['10.0.0.1/32 on lvsd0']),
    );
    expect(plan.steps.map((s) => `${s.action} ${s.object}`)).toEqual([
      'remove 10.0.0.1/32 on lvsd0',
      'add 10.0.0.1/32 on lvsd1',
    ]);
  });

  it('brings a down dummy up, and only reports a down named interface', async () => {
    const ns = new FakeAddresses({
      links: [
        { name: 'lvsd0', kind: 'dummy', up: false },
        { name: 'eth1', kind: null, up: false },
      ],
    });
    const plan = planVips([vip('10.0.0.1'), vip('10.0.0.2', 'eth1')], await ns.read(), new Set());
    expect(plan.steps.map((s) => `${s.op.op} ${s.object}`)).toEqual([
      'link-up interface lvsd0 up',
      'add-address 10.0.0.1/32 on lvsd0',
      'add-address 10.0.0.2/32 on eth1',
    ]);
    expect(plan.advice).toEqual([
      'interface eth1 is down: the VIPs lvsd holds on it (10.0.0.2) receive nothing until it is up',
    ]);
  });

  it('holds a VIP shared by several services once', async () => {
    const plan = planVips(
      [vip('10.0.0.1'), vip('10.0.0.1')],
      await new FakeAddresses({ links: [{ name: 'lvsd0', kind: 'dummy', up: true }] }).read(),
      new Set(),
    );
    expect(plan.steps).toHaveLength(1);
  });
});

describe('held address ids', () => {
  it('round-trip, in canonical spelling', () => {
    for (const held of [
      vip('10.0.0.1'),
      vip('2001:db8::1', 'lo'),
      vip('192.168.1.10', 'eth0.100', 24),
    ]) {
      expect(parseHeldAddressId(heldAddressId(held))).toEqual(held);
    }
    expect(parseHeldAddressId('2001:DB8:0::1/128 on lo')).toEqual(vip('2001:db8::1', 'lo'));
    expect(parseHeldAddressId('nonsense')).toBeNull();
    expect(parseHeldAddressId('10.0.0.300/32 on lo')).toBeNull();
  });
});

describe('desiredVips', () => {
  it("takes services' vip and top-level vips, once each", () => {
    const service = (v: HeldAddress | null) => ({ vip: v }) as never;
    const vips = desiredVips({
      services: [service(vip('10.0.0.1')), service(null), service(vip('10.0.0.1'))],
      vips: [vip('10.0.0.2', 'lo'), vip('10.0.0.1')],
    });
    expect(vips).toEqual([vip('10.0.0.1'), vip('10.0.0.2', 'lo')]);
  });
});

describe('FakeAddresses refuses what the kernel refuses', () => {
  it('names the errno', async () => {
    const ns = new FakeAddresses({ dummySupported: false });
    await expect(ns.createLink('lvsd0', 'dummy')).rejects.toMatchObject({ code: 'EOPNOTSUPP' });
    await expect(ns.addAddress(vip('10.0.0.1'))).rejects.toMatchObject({
      code: 'ENODEV',
      message: 'add address 10.0.0.1/32 on lvsd0: No such device',
    });
    await ns.addAddress(vip('10.0.0.1', 'lo'));
    await expect(ns.addAddress(vip('10.0.0.1', 'lo'))).rejects.toMatchObject({ code: 'EEXIST' });
    await ns.deleteAddress(vip('10.0.0.1', 'lo'));
    await expect(ns.deleteAddress(vip('10.0.0.1', 'lo'))).rejects.toMatchObject({
      code: 'EADDRNOTAVAIL',
    });
    await expect(new FakeAddresses().createLink('lo', 'dummy')).rejects.toMatchObject({
      code: 'EEXIST',
    });
  });
});
