/**
 * The LVS forwarding methods with real packets (lab only), each from a file in examples/
 * applied by `lvsd apply` (the built CLI) in the director's namespace (this process's),
 * with the client and every real in their own namespaces:
 * - NAT (nat-web.yaml): rr answers alternately, replies pass back through the director;
 *   weight 0 (nat-web-maintenance.yaml): no new connections, the open one keeps working;
 * - DR (dr.yaml): reals on the director's segment, VIP on their lo set by `lvsd realserver`,
 *   VIP held on the director's eth0 by lvsd; the director sees no reply packet;
 * - TUN (tun.yaml): reals reached over IPIP (and GUE), VIP on tunl0; replies direct;
 * - IPv6 NAT (ipv6.yaml): two reals behind the director, port 80 mapped to 8080.
 * Needs `npm run build`. Flushes the IPVS table of its namespace.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Lab, natLab, Netns, type BuiltLab } from '../lab/topology.js';
import {
  applyExample,
  countPacketsFrom,
  holdConnection,
  lineServer,
  statsWhen,
  stopAll,
} from './forwarding-topology.js';
import { CLI } from './forwarding-topology.js';

const inLab = process.env.LVSD_LAB === '1';
// Building namespaces and starting node in them is slow on an emulated CPU shared with other labs.
vi.setConfig({ hookTimeout: 600_000, testTimeout: 900_000 });
const director = new Netns('director', null);

function expectAlternating(answers: string[], names: string[]): void {
  expect(new Set(answers)).toEqual(new Set(names));
  for (let i = 1; i < answers.length; i++)
    expect(answers[i], `answer ${i} repeats ${answers[i - 1]}: ${answers.join(', ')}`).not.toBe(
      answers[i - 1],
    );
}

async function freshState(): Promise<string> {
  await director.ipvsadm('-C');
  return mkdtemp(join(tmpdir(), 'lvsd-fwd-'));
}

if (!inLab) {
  describe.skip('forwarding methods with packets (lab only: LVSD_LAB=1)', () =>
    it('needs the lab', () => undefined));
} else {
  describe('NAT (examples/nat-web.yaml): VIP 10.0.0.1:80, rr over two masqueraded reals', {
    timeout: 900_000,
  }, () => {
    let lab: BuiltLab;
    let state: string;
    beforeAll(async () => {
      lab = await natLab({ prefix: 'fnat' });
      state = await freshState();
      // lvsd must turn forwarding on itself: the config says kernel.sysctl.ip_forward: true.
      await director.sysctl('net.ipv4.ip_forward', 0);
    });
    afterAll(async () => {
      stopAll();
      await lab?.teardown();
    });

    it('plan reports ip_forward off; apply sets it and the service', {
      timeout: 900_000,
    }, async () => {
      const plan = await director.lvsd(
        ['plan', '-c', 'examples/nat-web.yaml', '--state-dir', state],
        CLI,
      );
      expect(plan.stdout).toContain('~ sysctl net.ipv4.ip_forward: 0 -> 1');
      await applyExample(director, 'examples/nat-web.yaml', state);
      expect(await director.readSysctl('net.ipv4.ip_forward')).toBe('1');
      expect(await director.ipvsadm('-Ln')).toMatch(
        /TCP {2}10\.0\.0\.1:80 rr\n.*192\.168\.10\.2:80 +Masq +1.*\n.*192\.168\.11\.2:80 +Masq +1/,
      );
    });

    it('four requests are answered alternately by both reals, and the replies pass through the director', {
      timeout: 900_000,
    }, async () => {
      const answers = await lab.ask(4);
      expectAlternating(answers, ['real1', 'real2']);
      // Masquerading: IPVS rewrote every reply on its way back (OutPkts counts them).
      const after = await statsWhen(
        director,
        'TCP  10.0.0.1:80',
        (c) => c.conns >= 4 && c.outPackets >= 4,
      );
      expect(after.conns).toBe(4);
    });

    it('a second apply changes nothing', { timeout: 900_000 }, async () => {
      const again = await applyExample(director, 'examples/nat-web.yaml', state);
      expect(again).toContain('No changes.');
    });

    it('weight 0 (nat-web-maintenance.yaml): no new connections to the real, its open connection keeps working', {
      timeout: 900_000,
    }, async () => {
      // Servers that keep a connection open and answer each line with their name.
      for (const real of lab.reals) await real.server.stop();
      for (const real of lab.reals) await lineServer(real.ns, real.name, [80]);
      let held = await holdConnection(lab.client, '10.0.0.1', 80);
      for (let i = 0; i < 3 && (await held.ask()) !== 'real2'; i++)
        held = await holdConnection(lab.client, '10.0.0.1', 80);
      expect(await held.ask()).toBe('real2');

      const applied = await applyExample(director, 'examples/nat-web-maintenance.yaml', state);
      expect(applied).toMatch(/192\.168\.11\.2:80.*weight: 1 -> 0/);
      const table = await director.ipvsadm('-Ln');
      expect(table).toMatch(/192\.168\.11\.2:80 +Masq +0 +[1-9]/);
      expect(await lab.ask(4)).toEqual(['real1', 'real1', 'real1', 'real1']);
      expect(await held.ask()).toBe('real2');
      held.close();
    });
  });

  describe("DR (examples/dr.yaml): VIP 10.0.0.2:80, three reals on the director's segment", {
    timeout: 900_000,
  }, () => {
    let lab: Lab;
    let client: Netns;
    let state: string;
    const reals = [
      { name: 'real11', address: '192.168.1.11' },
      { name: 'real12', address: '192.168.1.12' },
      { name: 'real13', address: '192.168.1.13' },
    ];
    const realNs: Netns[] = [];

    beforeAll(async () => {
      lab = await Lab.create({ prefix: 'fdr' });
      state = await freshState();
      client = await lab.netns('client');
      for (const real of reals) realNs.push(await lab.netns(real.name));
      await lab.segment('switch', [
        { ns: director, dev: 'eth0', addresses: ['192.168.1.1/24'] },
        { ns: client, dev: 'eth0', addresses: ['192.168.1.50/24'] },
        ...reals.map((r, i) => ({ ns: realNs[i]!, dev: 'eth0', addresses: [`${r.address}/24`] })),
      ]);
      await client.addRoute('10.0.0.2/32', '192.168.1.1');
      for (const [i, real] of reals.entries())
        await lab.serve(realNs[i]!, real.name, ['http:[::]:80']);
    });
    afterAll(() => lab?.teardown());

    it("lvsd realserver -c dr.yaml puts the VIP on each real's lo with ARP silenced", {
      timeout: 900_000,
    }, async () => {
      for (const ns of realNs) {
        const result = await ns.lvsd(
          ['realserver', '-c', 'examples/dr.yaml', '--state-dir', join(state, ns.name)],
          CLI,
        );
        expect(result.code, result.stdout + result.stderr).toBe(0);
        expect(await ns.ip('-o', 'addr', 'show', 'dev', 'lo')).toContain('inet 10.0.0.2/32');
        expect(await ns.readSysctl('net.ipv4.conf.all.arp_ignore')).toBe('1');
        expect(await ns.readSysctl('net.ipv4.conf.all.arp_announce')).toBe('2');
      }
    });

    it("lvsd apply holds the VIP on the director's eth0 and adds the service", {
      timeout: 900_000,
    }, async () => {
      await applyExample(director, 'examples/dr.yaml', state);
      expect(await director.ip('-o', 'addr', 'show', 'dev', 'eth0')).toContain('inet 10.0.0.2/32');
      expect(await director.ipvsadm('-Ln')).toMatch(/TCP {2}10\.0\.0\.2:80 wlc\n(.*Route.*\n){3}/);
    });

    it('the reals answer the client directly: the director sees requests, never a reply', {
      timeout: 900_000,
    }, async () => {
      const fromVip = await countPacketsFrom(director, '10.0.0.2');
      const answers: string[] = [];
      for (let i = 0; i < 6; i++) answers.push(await client.httpGet('http://10.0.0.2/'));
      expect(answers.every((a) => reals.some((r) => r.name === a))).toBe(true);
      expect(new Set(answers).size).toBeGreaterThanOrEqual(2);
      const after = await statsWhen(
        director,
        'TCP  10.0.0.2:80',
        (c) => c.conns >= 6 && c.inPackets >= 6 * 3,
      );
      expect(after.conns).toBe(6);
      expect(after.outPackets).toBe(0);
      // Not one packet from the VIP reached the director: replies went real -> client.
      expect(await fromVip()).toBe(0);
    });
  });

  describe('TUN (examples/tun.yaml): VIP 10.0.0.3:443, reals over IPIP and GUE', {
    timeout: 900_000,
  }, () => {
    let lab: Lab;
    let client: Netns;
    let real1: Netns;
    let real2: Netns;
    let state: string;

    beforeAll(async () => {
      lab = await Lab.create({ prefix: 'ftun' });
      state = await freshState();
      client = await lab.netns('client');
      real1 = await lab.netns('real1');
      real2 = await lab.netns('real2');
      // One wire, several networks: the director reaches each real's own network; the
      // reals also have a leg on the client's network and answer it directly.
      await lab.segment('wan', [
        {
          ns: director,
          dev: 'eth0',
          addresses: ['172.16.0.1/24', '203.0.113.1/24', '198.51.100.1/24'],
        },
        { ns: client, dev: 'eth0', addresses: ['172.16.0.50/24'] },
        { ns: real1, dev: 'eth0', addresses: ['203.0.113.10/24', '172.16.0.11/24'] },
        { ns: real2, dev: 'eth0', addresses: ['198.51.100.20/24', '172.16.0.12/24'] },
      ]);
      await client.addRoute('10.0.0.3/32', '172.16.0.1');
      await director.ip('addr', 'add', '10.0.0.3/32', 'dev', 'lo');
      await lab.serve(real1, 'real1', ['http:[::]:443']);
      await lab.serve(real2, 'real2', ['http:[::]:443']);
    });
    afterAll(() => lab?.teardown());

    it('lvsd realserver -c tun.yaml: VIP on tunl0, rp_filter relaxed; it names the GUE port real2 must open', {
      timeout: 900_000,
    }, async () => {
      for (const ns of [real1, real2]) {
        await ns.sysctl('net.ipv4.conf.all.rp_filter', 1);
        const result = await ns.lvsd(
          ['realserver', '-c', 'examples/tun.yaml', '--state-dir', join(state, ns.name)],
          CLI,
        );
        expect(result.code, result.stdout + result.stderr).toBe(0);
        expect(await ns.ip('-o', 'addr', 'show', 'dev', 'tunl0')).toContain('inet 10.0.0.3/32');
        expect(await ns.readSysctl('net.ipv4.conf.tunl0.rp_filter')).toBe('0');
        if (ns === real2) expect(result.stderr).toContain('ip fou add port 6080 gue');
      }
      await real2.ip('fou', 'add', 'port', '6080', 'gue');
    });

    it('both reals answer, the director never sees a reply', { timeout: 900_000 }, async () => {
      await applyExample(director, 'examples/tun.yaml', state);
      expect(await director.ipvsadm('-Ln')).toMatch(/203\.0\.113\.10:443 +Tunnel/);
      const fromVip = await countPacketsFrom(director, '10.0.0.3');
      const answers: string[] = [];
      for (let i = 0; i < 6; i++) answers.push(await client.httpGet('http://10.0.0.3:443/'));
      expect(new Set(answers)).toEqual(new Set(['real1', 'real2']));
      const stats = await statsWhen(director, 'TCP  10.0.0.3:443', (c) => c.conns >= 6);
      expect(stats.inPackets).toBeGreaterThanOrEqual(6 * 3);
      expect(stats.outPackets).toBe(0);
      expect(await fromVip()).toBe(0);
    });
  });

  describe('IPv6 NAT (examples/ipv6.yaml): [2001:db8::80]:80 to two reals on :8080', {
    timeout: 900_000,
  }, () => {
    let lab: Lab;
    let client: Netns;
    let state: string;
    const reals: Netns[] = [];

    beforeAll(async () => {
      lab = await Lab.create({ prefix: 'fv6' });
      state = await freshState();
      client = await lab.netns('client');
      await lab.link(
        { ns: director, dev: 'to-client', addresses: ['2001:db8:1::1/64', '2001:db8:2::1/64'] },
        { ns: client, dev: 'eth0', addresses: ['2001:db8:1::50/64', '2001:db8:2::50/64'] },
      );
      await director.addAddress('lo', '2001:db8::80/128');
      await client.addRoute('2001:db8::80/128', '2001:db8:1::1');
      for (const name of ['real2', 'real3']) reals.push(await lab.netns(name));
      await lab.segment('lan6', [
        { ns: director, dev: 'lan', addresses: ['2001:db8:10::1/64'] },
        { ns: reals[0]!, dev: 'eth0', addresses: ['2001:db8:10::2/64'] },
        { ns: reals[1]!, dev: 'eth0', addresses: ['2001:db8:10::3/64'] },
      ]);
      for (const [i, ns] of reals.entries()) {
        await ns.addRoute('default', '2001:db8:10::1');
        await lab.serve(ns, ['real2', 'real3'][i]!, ['http:[::]:8080']);
      }
      await director.sysctl('net.ipv6.conf.all.forwarding', 0);
    });
    afterAll(() => lab?.teardown());

    it('plan reports IPv6 forwarding off and the fwmark 20 service no rule marks; apply sets forwarding', {
      timeout: 900_000,
    }, async () => {
      const plan = await director.lvsd(
        ['plan', '-c', 'examples/ipv6.yaml', '--state-dir', state],
        CLI,
      );
      expect(plan.stdout).toContain('~ sysctl net.ipv6.conf.all.forwarding: 0 -> 1');
      expect(plan.stdout).toContain('fwmark 20 (mark6): no nftables or iptables rule sets mark 20');
      await applyExample(director, 'examples/ipv6.yaml', state);
      expect(await director.readSysctl('net.ipv6.conf.all.forwarding')).toBe('1');
      expect(await director.ipvsadm('-Ln')).toMatch(
        /TCP {2}\[2001:db8::80\]:80 wrr persistent 300 mask 64/,
      );
    });

    it('clients from two /64s reach both reals (port 80 mapped to 8080), each sticking to its own', {
      timeout: 900_000,
    }, async () => {
      const first = await client.httpGet('http://[2001:db8::80]/', { source: '2001:db8:1::50' });
      const second = await client.httpGet('http://[2001:db8::80]/', { source: '2001:db8:2::50' });
      expect(new Set([first, second])).toEqual(new Set(['real2', 'real3']));
      expect(await client.httpGet('http://[2001:db8::80]/', { source: '2001:db8:1::50' })).toBe(
        first,
      );
      expect(await client.httpGet('http://[2001:db8::80]/', { source: '2001:db8:2::50' })).toBe(
        second,
      );
      await statsWhen(director, 'TCP  [2001:db8::80]:80', (c) => c.conns >= 4 && c.outPackets >= 4);
    });
  });
}
