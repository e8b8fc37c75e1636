import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeAddresses } from '../../src/director/fake-vip-addresses.js';
import type { HeldAddress } from '../../src/director/vip-addresses.js';
import { FakeIpvs } from '../../src/ipvs/fake.js';
import { formatApplyReport, formatPlan, planToJson } from '../../src/reconcile/format.js';
import type { DesiredState } from '../../src/reconcile/types.js';
import { reconcile } from '../reconcile/pass.js';
import type { PassSettings as ReconcileOptions } from '../reconcile/pass.js';
import { dest, desired, tcpService } from '../reconcile/fixtures.js';

const vip = (address: string, iface = 'lvsd0'): HeldAddress => ({
  address,
  prefix: address.includes(':') ? 128 : 32,
  interface: iface,
});
const web = tcpService('10.0.0.1', 80, { scheduler: 'rr' });
const withVips = (vips: HeldAddress[]): DesiredState => ({
  services: [desired('web', web, [dest('192.168.10.2', 80)])],
  vips,
});

async function options(
  stateDir: string,
  desiredState: DesiredState,
  addresses: FakeAddresses,
  extra: Partial<ReconcileOptions> = {},
): Promise<ReconcileOptions> {
  return {
    desired: desiredState,
    stateDir,
    prune: 'managed',
    drainTimeoutMs: 0,
    dryRun: false,
    sysctls: {
      read: async (names) => Object.fromEntries(names.map((n) => [n, 1])),
      write: async () => undefined,
    },
    addresses,
    markRules: null,
    ...extra,
  };
}

describe('VIPs go through the one reconcile path', () => {
  it('adds the dummy and the VIP, records it, then has nothing to do', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-vip-'));
    const ipvs = new FakeIpvs();
    const ns = new FakeAddresses();
    const first = await reconcile(ipvs, await options(stateDir, withVips([vip('10.0.0.1')]), ns));
    expect(formatPlan(first.plan)).toContain('  + vip 10.0.0.1/32 on lvsd0');
    expect(formatPlan(first.plan)).toContain('  + interface lvsd0 (dummy)');
    expect(formatPlan(first.plan)).toMatch(/Plan: 4 to add, 1 to change, 0 to remove\./);
    expect(first.report?.failed).toBe(0);
    // The service goes in before the address: no moment where the VIP answers with RSTs.
    expect(ns.writes).toEqual(['create dummy lvsd0', 'up lvsd0', 'add 10.0.0.1/32 on lvsd0']);
    expect(ns.addresses).toContainEqual(vip('10.0.0.1'));
    const saved = JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8'));
    expect(saved.vips).toEqual(['10.0.0.1/32 on lvsd0']);

    const second = await reconcile(ipvs, await options(stateDir, withVips([vip('10.0.0.1')]), ns));
    expect(formatPlan(second.plan)).toContain('No changes.');
    expect(ns.writes).toHaveLength(3);
  });

  it('removes a VIP it added when it leaves the config, before the IPVS batch', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-vip-'));
    const ipvs = new FakeIpvs();
    const ns = new FakeAddresses();
    await reconcile(
      ipvs,
      await options(stateDir, withVips([vip('10.0.0.1'), vip('2001:db8::1')]), ns),
    );
    const after = await reconcile(ipvs, await options(stateDir, withVips([vip('10.0.0.1')]), ns));
    expect(formatPlan(after.plan)).toContain('  - vip 2001:db8::1/128 on lvsd0');
    expect(formatApplyReport(after.report!)).toContain('  - vip 2001:db8::1/128 on lvsd0');
    expect(ns.addresses).not.toContainEqual(vip('2001:db8::1'));
    expect(JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8')).vips).toEqual([
      '10.0.0.1/32 on lvsd0',
    ]);
    // A config without any VIP still removes the ones lvsd added (the state file remembers them).
    const none = await reconcile(
      ipvs,
      await options(stateDir, { services: withVips([]).services }, ns, { addresses: ns }),
    );
    expect(none.plan.vips.map((s) => s.object)).toEqual(['10.0.0.1/32 on lvsd0']);
    expect(ns.addresses.filter((a) => a.interface === 'lvsd0')).toEqual([]);
  });

  it('never removes an address it found in place', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-vip-'));
    const ns = new FakeAddresses({
      links: [{ name: 'eth0', kind: null, up: true }],
      addresses: [vip('10.0.0.1', 'eth0')],
    });
    const ipvs = new FakeIpvs();
    await reconcile(ipvs, await options(stateDir, withVips([vip('10.0.0.1', 'eth0')]), ns));
    const later = await reconcile(ipvs, await options(stateDir, withVips([]), ns));
    expect(later.plan.vips).toEqual([]);
    expect(ns.addresses).toContainEqual(vip('10.0.0.1', 'eth0'));
  });

  it('reports a kernel without dummy interfaces against each step, and owns nothing it failed to add', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-vip-'));
    const ns = new FakeAddresses({ dummySupported: false });
    const result = await reconcile(
      new FakeIpvs(),
      await options(stateDir, withVips([vip('10.0.0.1')]), ns),
    );
    const text = formatApplyReport(result.report!);
    expect(text).toContain(
      '! interface lvsd0 (dummy): create dummy lvsd0: Operation not supported',
    );
    expect(text).toContain('! vip 10.0.0.1/32 on lvsd0: not done: create dummy lvsd0');
    expect(text).toContain('Applied 2 of 5 changes; 3 failed.');
    expect(ns.writes).toEqual(['create dummy lvsd0']);
    expect(JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8')).vips).toBeUndefined();
  });

  it('reads a state file written before VIPs existed', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-vip-'));
    await writeFile(
      join(stateDir, 'state.json'),
      JSON.stringify({ version: 1, owned: ['TCP 10.0.0.1:80'], draining: {} }),
    );
    const result = await reconcile(
      new FakeIpvs(),
      await options(stateDir, withVips([vip('10.0.0.1')]), new FakeAddresses()),
    );
    expect(result.warnings).toEqual([]);
    expect(result.plan.vips).toHaveLength(3);
  });

  it('dry runs plan VIPs without touching them; snapshot plans (no address client) leave VIPs out', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-vip-'));
    const ns = new FakeAddresses();
    const dry = await reconcile(
      new FakeIpvs(),
      await options(stateDir, withVips([vip('10.0.0.1')]), ns, { dryRun: true }),
    );
    expect(dry.plan.vips).toHaveLength(3);
    expect(ns.writes).toEqual([]);
    expect(planToJson(dry.plan)).toMatchObject({
      vips: [{ action: 'add', op: 'create-dummy', object: 'interface lvsd0 (dummy)' }, {}, {}],
    });
    const snapshot = await reconcile(
      new FakeIpvs(),
      await options(stateDir, withVips([vip('10.0.0.1')]), ns, { addresses: null }),
    );
    expect(snapshot.plan.vips).toEqual([]);
  });
});

describe('fwmark advice in the plan', () => {
  const fwm = {
    family: 'ipv4' as const,
    fwmark: 10,
    scheduler: 'wlc',
    flags: { persistent: true, onePacket: false, sched1: false, sched2: false, sched3: false },
    timeout: 360,
    netmask: 32,
    pe: null,
  };
  it(
    'reads the firewall marks only when the config has fwmark services, and warns about a mark ' +
      'no rule sets',
    async () => {
      let reads = 0;
      const markRules = async () => {
        reads++;
        return { marks: [20], opaque: false, unread: [] };
      };
      const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-vip-'));
      const ns = new FakeAddresses();
      const plain = await reconcile(
        new FakeIpvs(),
        await options(stateDir, withVips([]), ns, { markRules, dryRun: true }),
      );
      expect(reads).toBe(0);
      expect(plain.plan.advice).toEqual([]);
      const marked = await reconcile(
        new FakeIpvs(),
        await options(
          stateDir,
          { services: [desired('shop', fwm, [dest('192.168.1.100', 0, { forwarding: 'dr' })])] },
          ns,
          { markRules, dryRun: true },
        ),
      );
      expect(reads).toBe(1);
      expect(formatPlan(marked.plan)).toContain(
        '! fwmark 10 (shop): no nftables or iptables rule sets mark 10',
      );
    },
  );
});
