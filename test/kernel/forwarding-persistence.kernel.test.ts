/**
 * Persistence with real packets (lab only), DR reals on one segment, each example applied
 * by `lvsd apply` in the director's namespace (this process's) after the previous one:
 * - fwmark + persistence (fwmark-http-https.yaml): ports 80 and 443 marked 10 by a mangle
 *   rule; `ipvsadm -Ln` shows `FWM  10 wlc persistent 360`; one client sticks to one real on
 *   both ports; `lvsd plan` warns while no rule marks 10, and stops once one does;
 * - port 0 (persistent-all-ports.yaml): one service for every port of the VIP (held by
 *   lvsd on the dummy lvsd0), a client sticks to one real on every port;
 * - netmask grouping (persistent-https.yaml, /24): two clients of one /24 share a real, a
 *   client of another /24 is scheduled on its own.
 * Needs `npm run build`. Flushes the IPVS table of its namespace.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Lab, markPorts, Netns } from '../lab/topology.js';
import { applyExample } from './forwarding-topology.js';
import { CLI } from './forwarding-topology.js';

const inLab = process.env.LVSD_LAB === '1';
// Building namespaces and starting node in them is slow on an emulated CPU shared with other labs.
vi.setConfig({ hookTimeout: 600_000, testTimeout: 900_000 });
const director = new Netns('director', null);

if (!inLab) {
  describe.skip('persistence with packets (lab only: LVSD_LAB=1)', () =>
    it('needs the lab', () => undefined));
} else {
  describe('persistence on DR reals: fwmark, port 0, netmask', { timeout: 900_000 }, () => {
    let lab: Lab;
    let client: Netns;
    let state: string;
    // Each real holds the addresses several examples give it, so one segment serves them all.
    const reals = [
      { name: 'realA', addresses: ['192.168.1.100', '192.168.2.10'] },
      { name: 'realB', addresses: ['192.168.1.200', '192.168.2.11'] },
      { name: 'realC', addresses: ['192.168.2.12'] },
    ];
    const realNs = new Map<string, Netns>();
    const get = (port: number, vip: string, source: string) =>
      client.httpGet(`http://${vip}:${port}/`, { source });
    const realserver = async (name: string, ...args: string[]) => {
      const ns = realNs.get(name)!;
      const result = await ns.lvsd(['realserver', ...args, '--state-dir', join(state, name)], CLI);
      expect(result.code, result.stdout + result.stderr).toBe(0);
      return result;
    };

    beforeAll(async () => {
      await director.ipvsadm('-C');
      state = await mkdtemp(join(tmpdir(), 'lvsd-persist-'));
      lab = await Lab.create({ prefix: 'fper' });
      client = await lab.netns('client');
      for (const real of reals) realNs.set(real.name, await lab.netns(real.name));
      await lab.segment('switch', [
        { ns: director, dev: 'eth0', addresses: ['192.168.1.1/24', '192.168.2.1/24'] },
        // Two clients in one /24 and one in another, all on one machine (curl --interface).
        {
          ns: client,
          dev: 'eth0',
          addresses: ['192.168.1.50/24', '192.168.1.51/24', '192.168.3.50/24'],
        },
        ...reals.map((r) => ({
          ns: realNs.get(r.name)!,
          dev: 'eth0',
          addresses: r.addresses.map((a) => `${a}/24`),
        })),
      ]);
      await client.addRoute('10.0.0.0/24', '192.168.1.1');
      for (const real of reals) {
        const ns = realNs.get(real.name)!;
        // Every real answers every client directly, whatever networks its own addresses are in.
        for (const net of ['192.168.1.0/24', '192.168.3.0/24'])
          await ns.ip('route', 'replace', net, 'dev', 'eth0');
        await lab.serve(ns, real.name, ['http:[::]:80', 'http:[::]:443', 'http:[::]:8080']);
      }
    });
    afterAll(() => lab?.teardown());

    it('fwmark: plan warns while no rule marks 10, and not once the mangle rule is in', {
      timeout: 900_000,
    }, async () => {
      const before = await director.lvsd(
        ['plan', '-c', 'examples/fwmark-http-https.yaml', '--state-dir', state],
        CLI,
      );
      expect(before.stdout).toContain(
        'fwmark 10 (shop): no nftables or iptables rule sets mark 10',
      );
      await markPorts(director, '10.0.0.4', [80, 443], 10);
      const after = await director.lvsd(
        ['plan', '-c', 'examples/fwmark-http-https.yaml', '--state-dir', state],
        CLI,
      );
      expect(after.stdout).not.toContain('fwmark 10');
    });

    it('fwmark 10 wlc persistent 360: one client sticks to one real on ports 80 and 443', {
      timeout: 900_000,
    }, async () => {
      await realserver('realA', '--vip', '10.0.0.4', '--dr');
      await realserver('realB', '--vip', '10.0.0.4', '--dr');
      await applyExample(director, 'examples/fwmark-http-https.yaml', state);
      expect(await director.ipvsadm('-Ln')).toContain('FWM  10 wlc persistent 360');
      expect(await director.ip('-o', 'addr', 'show', 'dev', 'eth0')).toContain('inet 10.0.0.4/32');
      const first = await get(80, '10.0.0.4', '192.168.1.50');
      expect(['realA', 'realB']).toContain(first);
      const answers = [
        await get(443, '10.0.0.4', '192.168.1.50'),
        await get(80, '10.0.0.4', '192.168.1.50'),
        await get(443, '10.0.0.4', '192.168.1.50'),
      ];
      expect(answers).toEqual([first, first, first]);
      // A second client gets its own template (the default netmask is /32): with wlc it goes
      // to the real without connections.
      const other = await get(443, '10.0.0.4', '192.168.1.51');
      expect(['realA', 'realB']).toContain(other);
      expect(await get(80, '10.0.0.4', '192.168.1.51')).toBe(other);
      console.log(`fwmark 10: client .50 -> ${first} on 80 and 443; client .51 -> ${other}`);
    });

    it('port 0: every port of the VIP goes to the real the client first reached', {
      timeout: 900_000,
    }, async () => {
      await realserver('realA', '-c', 'examples/persistent-all-ports.yaml');
      await realserver('realB', '-c', 'examples/persistent-all-ports.yaml');
      // This director switches examples: every service lvsd manages is replaced on purpose,
      // which the guard against mass removal refuses unless told.
      const applied = await applyExample(director, 'examples/persistent-all-ports.yaml', state, [
        '--allow-mass-removal',
      ]);
      // The fwmark example left the config: its reals drain, and the VIP lvsd held goes.
      expect(applied).toContain('- vip 10.0.0.4/32 on eth0');
      expect(await director.ip('-o', 'addr', 'show', 'dev', 'eth0')).not.toContain('10.0.0.4/32');
      expect(await director.ip('-d', 'link', 'show', 'lvsd0')).toContain('dummy');
      expect(await director.ip('-o', 'addr', 'show', 'dev', 'lvsd0')).toContain('inet 10.0.0.6/32');
      expect(await director.ipvsadm('-Ln')).toContain('TCP  10.0.0.6:0 rr persistent 300');
      const first = await get(8080, '10.0.0.6', '192.168.1.50');
      expect([
        await get(80, '10.0.0.6', '192.168.1.50'),
        await get(443, '10.0.0.6', '192.168.1.50'),
      ]).toEqual([first, first]);
      // rr: the next client's template goes to the other real, on every port too.
      const second = await get(80, '10.0.0.6', '192.168.1.51');
      expect(second).not.toBe(first);
      expect(await get(8080, '10.0.0.6', '192.168.1.51')).toBe(second);
    });

    it('netmask /24: two clients of one /24 share a real; a client of another /24 is scheduled apart', {
      timeout: 900_000,
    }, async () => {
      for (const name of ['realA', 'realB', 'realC'])
        await realserver(name, '-c', 'examples/persistent-https.yaml');
      // persistent-https.yaml holds no VIP itself: the operator put it on the director.
      await director.ip('addr', 'add', '10.0.0.5/32', 'dev', 'eth0');
      await applyExample(director, 'examples/persistent-https.yaml', state, [
        '--allow-mass-removal',
      ]);
      expect(await director.ipvsadm('-Ln')).toContain(
        'TCP  10.0.0.5:443 wlc persistent 600 mask 255.255.255.0',
      );
      const first = await get(443, '10.0.0.5', '192.168.1.50');
      expect(await get(443, '10.0.0.5', '192.168.1.51')).toBe(first);
      expect(await get(443, '10.0.0.5', '192.168.1.50')).toBe(first);
      // wlc: the real with a connection is not chosen for a new template.
      const apart = await get(443, '10.0.0.5', '192.168.3.50');
      expect(apart).not.toBe(first);
      expect(await director.ipvsadm('-Lnc')).toMatch(/192\.168\.1\.0:0 +10\.0\.0\.5:443/);
    });
  });
}
