/**
 * The director's VIPs and fwmark checks, and the real-server helper, against the real
 * kernel (lab only), read back with `ip`, `sysctl` and `iptables`:
 * - reconcile holds VIPs on a dummy interface it creates, over rtnetlink, plans nothing the
 *   second time, removes only what it added, and leaves an operator's address alone;
 * - `lvsd plan`'s fwmark advice reads the marks set by real iptables(-nft) rules;
 * - `lvsd realserver` (the built CLI) prepares DR and TUN reals, --check is read-only, and
 *   --remove puts things back.
 * This file flushes the IPVS table of its network namespace.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RtnetlinkAddresses } from '../../src/director/rtnetlink.js';
import { readMarkRules } from '../../src/director/nft-reader.js';
import type { IpvsClient } from '../../src/ipvs/client.js';
import { openIpvs } from '../../src/ipvs/index.js';
import { formatPlan } from '../../src/reconcile/format.js';
import type { DesiredState } from '../../src/reconcile/types.js';
import { reconcile } from '../reconcile/pass.js';
import type { PassSettings } from '../reconcile/pass.js';
import { dest, desired, tcpService } from '../reconcile/fixtures.js';
import { Lab, Netns } from '../lab/topology.js';
import { CLI } from './forwarding-topology.js';

const self = new Netns('director', null);
const sh = (command: string, args: string[]) => self.run([command, ...args]);

const inLab = process.env.LVSD_LAB === '1';
// Building namespaces and starting node in them is slow on an emulated CPU shared with other labs.
vi.setConfig({ hookTimeout: 600_000, testTimeout: 900_000 });
const web = tcpService('10.0.0.1', 80, { scheduler: 'rr' });
const held = (address: string, iface = 'lvsd0') => ({
  address,
  prefix: address.includes(':') ? 128 : 32,
  interface: iface,
});

async function addressesOn(iface: string): Promise<string[]> {
  const text = await sh('ip', ['-o', 'addr', 'show', 'dev', iface]);
  return text.split('\n').flatMap((line) => {
    const m = /\sinet6?\s(\S+)/.exec(line);
    return m && !m[1]!.startsWith('fe80') ? [m[1]!] : [];
  });
}

if (!inLab) {
  describe.skip('forwarding: director VIPs and real-server helper (lab only: LVSD_LAB=1)', () =>
    it('needs the lab', () => undefined));
} else {
  describe('director VIPs over rtnetlink, through reconcile', { timeout: 900_000 }, () => {
    let ipvs: IpvsClient;
    let addresses: RtnetlinkAddresses;
    let stateDir: string;
    const options = (desiredState: DesiredState): PassSettings => ({
      desired: desiredState,
      stateDir,
      prune: 'managed',
      drainTimeoutMs: 0,
      dryRun: false,
      addresses,
      markRules: null,
    });

    beforeAll(async () => {
      ipvs = await openIpvs();
      await ipvs.execute([{ op: 'flush' }]);
      addresses = RtnetlinkAddresses.open();
      stateDir = await mkdtemp(join(tmpdir(), 'lvsd-fwd-'));
    });
    afterAll(async () => {
      await ipvs?.execute([{ op: 'flush' }]);
      await ipvs?.close();
      await addresses?.close();
    });

    it('creates the dummy lvsd0, brings it up and adds both VIPs', {
      timeout: 900_000,
    }, async () => {
      const state: DesiredState = {
        services: [desired('web', web, [dest('192.168.10.2', 80)])],
        vips: [held('10.0.0.1'), held('2001:db8::1')],
      };
      const result = await reconcile(ipvs, options(state));
      expect(formatPlan(result.plan)).toContain('+ vip 10.0.0.1/32 on lvsd0');
      expect(result.report?.failed).toBe(0);
      expect(await sh('ip', ['-d', 'link', 'show', 'lvsd0'])).toMatch(/dummy/);
      expect(await sh('ip', ['link', 'show', 'lvsd0'])).toMatch(/<[^>]*\bUP\b/);
      expect((await addressesOn('lvsd0')).sort()).toEqual(['10.0.0.1/32', '2001:db8::1/128']);
      // The VIP is local: the kernel routes it to this host.
      expect(await sh('ip', ['route', 'get', '10.0.0.1'])).toMatch(/^local 10\.0\.0\.1/);
    });

    it('plans nothing the second time', { timeout: 900_000 }, async () => {
      const state: DesiredState = {
        services: [desired('web', web, [dest('192.168.10.2', 80)])],
        vips: [held('10.0.0.1'), held('2001:db8::1')],
      };
      const again = await reconcile(ipvs, { ...options(state), dryRun: true });
      expect(formatPlan(again.plan)).toContain('No changes.');
    });

    it('removes the VIPs it added once they leave the config, and leaves an address the operator added', {
      timeout: 900_000,
    }, async () => {
      await sh('ip', ['addr', 'add', '10.0.0.99/32', 'dev', 'lvsd0']);
      const state: DesiredState = {
        services: [desired('web', web, [dest('192.168.10.2', 80)])],
        vips: [held('10.0.0.1')],
      };
      const result = await reconcile(ipvs, options(state));
      expect(result.plan.vips.map((s) => `${s.action} ${s.object}`)).toEqual([
        'remove 2001:db8::1/128 on lvsd0',
      ]);
      expect((await addressesOn('lvsd0')).sort()).toEqual(['10.0.0.1/32', '10.0.0.99/32']);
      const none = await reconcile(ipvs, options({ services: state.services }));
      expect(none.report?.failed).toBe(0);
      expect(await addressesOn('lvsd0')).toEqual(['10.0.0.99/32']);
    });
  });

  describe('fwmark advice reads the marks real iptables rules set', { timeout: 900_000 }, () => {
    it('sees --set-mark 10 (iptables-nft, over netlink) and warns about mark 20', {
      timeout: 900_000,
    }, async () => {
      await sh('iptables', [
        '-t',
        'mangle',
        '-A',
        'PREROUTING',
        '-d',
        '10.0.0.1',
        '-p',
        'tcp',
        '-m',
        'multiport',
        '--dports',
        '80,443',
        '-j',
        'MARK',
        '--set-mark',
        '10',
      ]);
      try {
        const scan = await readMarkRules();
        expect(scan).toMatchObject({ marks: [10], opaque: false });
        const ipvs = await openIpvs();
        try {
          const fwm = (mark: number) => ({
            family: 'ipv4' as const,
            fwmark: mark,
            scheduler: 'wlc',
            flags: {
              persistent: true,
              onePacket: false,
              sched1: false,
              sched2: false,
              sched3: false,
            },
            timeout: 360,
            netmask: 32,
            pe: null,
          });
          const result = await reconcile(ipvs, {
            desired: {
              services: [desired('web-fwm', fwm(10), []), desired('mail-fwm', fwm(20), [])],
            },
            stateDir: null,
            prune: 'managed',
            drainTimeoutMs: 0,
            dryRun: true,
            addresses: null,
          });
          expect(result.plan.advice.filter((a) => a.startsWith('fwmark'))).toEqual([
            expect.stringContaining(
              'fwmark 20 (mail-fwm): no nftables or iptables rule sets mark 20',
            ),
          ]);
        } finally {
          await ipvs.close();
        }
      } finally {
        await sh('iptables', ['-t', 'mangle', '-F', 'PREROUTING']);
      }
    });
  });

  describe('lvsd realserver on a real kernel', { timeout: 900_000 }, () => {
    let lab: Lab;
    let dr: Netns;
    let tun: Netns;
    const lvsd = async (ns: Netns, ...args: string[]) => ns.lvsd(['realserver', ...args], CLI);
    const sysctl = (ns: Netns, name: string) => ns.readSysctl(name);
    beforeAll(async () => {
      lab = await Lab.create({ prefix: 'rs' });
      dr = await lab.netns('dr');
      tun = await lab.netns('tun');
    });
    afterAll(() => lab?.teardown());

    it('DR: --check finds what is missing and changes nothing; apply sets it; --remove restores it', {
      timeout: 900_000,
    }, async () => {
      const check = await lvsd(dr, '--vip', '10.0.0.1', '--check');
      expect(check.code).toBe(1);
      expect(check.stdout).toContain('+ vip 10.0.0.1/32 on lo');
      expect(await sysctl(dr, 'net.ipv4.conf.all.arp_ignore')).toBe('0');
      const state = await mkdtemp(join(tmpdir(), 'lvsd-rs-'));
      const apply = await lvsd(
        dr,
        '--vip',
        '10.0.0.1,2001:db8::1',
        '--mode',
        'dr',
        '--state-dir',
        state,
      );
      expect(apply.code, apply.stdout + apply.stderr).toBe(0);
      expect(await dr.ip('-o', 'addr', 'show', 'dev', 'lo')).toMatch(/inet 10\.0\.0\.1\/32/);
      expect(await dr.ip('-o', 'addr', 'show', 'dev', 'lo')).toMatch(/inet6 2001:db8::1\/128/);
      for (const scope of ['all', 'lo']) {
        expect(await sysctl(dr, `net.ipv4.conf.${scope}.arp_ignore`)).toBe('1');
        expect(await sysctl(dr, `net.ipv4.conf.${scope}.arp_announce`)).toBe('2');
      }
      expect((await lvsd(dr, '--vip', '10.0.0.1,2001:db8::1', '--check')).code).toBe(0);
      const remove = await lvsd(
        dr,
        '--vip',
        '10.0.0.1,2001:db8::1',
        '--remove',
        '--state-dir',
        state,
      );
      expect(remove.code, remove.stdout + remove.stderr).toBe(0);
      expect(await dr.ip('-o', 'addr', 'show', 'dev', 'lo')).not.toMatch(/10\.0\.0\.1|2001:db8::1/);
      expect(await sysctl(dr, 'net.ipv4.conf.all.arp_ignore')).toBe('0');
      expect(await sysctl(dr, 'net.ipv4.conf.lo.arp_announce')).toBe('0');
    });

    it('TUN: VIP on tunl0 (up), ARP settings on all and tunl0, rp_filter relaxed; IPv6 on ip6tnl0', {
      timeout: 900_000,
    }, async () => {
      await tun.sysctl('net.ipv4.conf.all.rp_filter', 1);
      const state = await mkdtemp(join(tmpdir(), 'lvsd-rs-'));
      const apply = await lvsd(
        tun,
        '--vip',
        '10.0.0.1,2001:db8::1',
        '--mode',
        'tun',
        '--state-dir',
        state,
      );
      expect(apply.code, apply.stdout + apply.stderr).toBe(0);
      expect(await tun.ip('-o', 'addr', 'show', 'dev', 'tunl0')).toMatch(/inet 10\.0\.0\.1\/32/);
      expect(await tun.ip('-o', 'addr', 'show', 'dev', 'ip6tnl0')).toMatch(
        /inet6 2001:db8::1\/128/,
      );
      expect(await tun.ip('link', 'show', 'tunl0')).toMatch(/<[^>]*\bUP\b/);
      expect(await sysctl(tun, 'net.ipv4.conf.tunl0.arp_ignore')).toBe('1');
      expect(await sysctl(tun, 'net.ipv4.conf.tunl0.rp_filter')).toBe('0');
      expect(await sysctl(tun, 'net.ipv4.conf.all.rp_filter')).toBe('2');
      expect(
        (await lvsd(tun, '--vip', '10.0.0.1,2001:db8::1', '--mode', 'tun', '--check')).code,
      ).toBe(0);
      const remove = await lvsd(
        tun,
        '--vip',
        '10.0.0.1,2001:db8::1',
        '--mode',
        'tun',
        '--remove',
        '--state-dir',
        state,
      );
      expect(remove.code, remove.stdout + remove.stderr).toBe(0);
      expect(await sysctl(tun, 'net.ipv4.conf.all.rp_filter')).toBe('1');
      expect(await tun.ip('-o', 'addr', 'show', 'dev', 'tunl0')).not.toMatch(/10\.0\.0\.1/);
    });
  });
}
