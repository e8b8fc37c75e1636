/**
 * The IpvsClient contract against the real kernel (lab only: root, IPVS, ipvsadm), with
 * ipvsadm as the independent reader in both directions:
 * - the client writes, `ipvsadm -Sn` / `-Ln --thresholds` / `-L --daemon` / `-L --timeout` agree;
 * - ipvsadm writes (every scheduler, fwmark, persistence with netmask, DR / TUN / NAT, IPv6,
 *   thresholds, tunnels, sync daemon, timeouts), the client reads it back exactly.
 * This file flushes the IPVS table of its network namespace: kernel test files that touch
 * IPVS must not run in parallel in the same namespace.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { IpvsClient } from '../../src/ipvs/client.js';
import { KNOWN_SCHEDULERS } from '../../src/ipvs/constants.js';
import { openIpvs } from '../../src/ipvs/index.js';
import type { Dest, Service } from '../../src/ipvs/model.js';
import {
  defineIpvsContract,
  destSettings,
  dst,
  settingsOf,
  svc,
  type IndependentReader,
} from '../contract/ipvs-contract.js';

const run = promisify(execFile);
const inLab = process.env.LVSD_LAB === '1';
const syncInterface = process.env.LVSD_SYNC_IF ?? 'lo';

const ipvsadm: IndependentReader = {
  async ipvsadm(args: string[], input?: string): Promise<string> {
    if (input !== undefined) {
      return new Promise((resolve, reject) => {
        const child = execFile('ipvsadm', args, (err, stdout, stderr) =>
          err
            ? reject(new Error(`ipvsadm ${args.join(' ')}: ${stderr || err.message}`))
            : resolve(stdout),
        );
        child.stdin?.end(input);
      });
    }
    try {
      const { stdout } = await run('ipvsadm', args);
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`ipvsadm ${args.join(' ')}: ${e.stderr || e.message}`);
    }
  },
};

if (!inLab) {
  describe.skip('IPVS kernel contract (lab only: LVSD_LAB=1)', () =>
    it('needs the lab', () => undefined));
} else {
  defineIpvsContract('kernel (generic netlink)', {
    client: () => openIpvs(),
    reader: ipvsadm,
    syncInterface,
    // Debian 6.1 ships every scheduler module but twos (6.2).
    schedulers: KNOWN_SCHEDULERS,
    bigBatchServices: Number(process.env.LVSD_BIG_BATCH ?? 300),
  });

  describe('ipvsadm writes, the kernel client reads back exactly', () => {
    let ipvs: IpvsClient;
    const flags = {
      persistent: false,
      onePacket: false,
      sched1: false,
      sched2: false,
      sched3: false,
    };

    beforeAll(async () => {
      ipvs = await openIpvs();
    });
    afterAll(async () => {
      await ipvsadm.ipvsadm(['-C']);
      await ipvs?.close();
    });
    beforeEach(async () => {
      await ipvsadm.ipvsadm(['-C']);
    });

    const cases: Array<[string, string[][], Service & { dests: Dest[] }]> = [
      ...KNOWN_SCHEDULERS.map((s, i): [string, string[][], Service & { dests: Dest[] }] => [
        `scheduler ${s}`,
        [['-A', '-t', `10.7.0.${i + 1}:80`, '-s', s]],
        {
          ...svc({
            family: 'ipv4',
            protocol: 'tcp',
            address: `10.7.0.${i + 1}`,
            port: 80,
            scheduler: s,
          }),
          dests: [],
        },
      ]),
      [
        'persistence with netmask',
        [['-A', '-t', '10.7.1.1:443', '-s', 'wlc', '-p', '600', '-M', '255.255.255.0']],
        {
          ...svc({
            family: 'ipv4',
            protocol: 'tcp',
            address: '10.7.1.1',
            port: 443,
            flags: { ...flags, persistent: true },
            timeout: 600,
            netmask: 24,
          }),
          dests: [],
        },
      ],
      [
        'udp one-packet, IPv6',
        [['-A', '-u', '[2001:db8:7::1]:53', '-s', 'rr', '-o']],
        {
          ...svc({
            family: 'ipv6',
            protocol: 'udp',
            address: '2001:db8:7::1',
            port: 53,
            scheduler: 'rr',
            flags: { ...flags, onePacket: true },
          }),
          dests: [],
        },
      ],
      [
        'sctp',
        [['-A', '--sctp-service', '10.7.1.2:3868', '-s', 'rr']],
        {
          ...svc({
            family: 'ipv4',
            protocol: 'sctp',
            address: '10.7.1.2',
            port: 3868,
            scheduler: 'rr',
          }),
          dests: [],
        },
      ],
      [
        'sh with scheduler flags',
        [['-A', '-t', '10.7.2.1:80', '-s', 'sh', '-b', 'sh-fallback,sh-port']],
        {
          ...svc({
            family: 'ipv4',
            protocol: 'tcp',
            address: '10.7.2.1',
            port: 80,
            scheduler: 'sh',
            flags: { ...flags, sched1: true, sched2: true },
          }),
          dests: [],
        },
      ],
      [
        'sip persistence engine',
        [['-A', '-u', '10.7.3.1:5060', '-s', 'rr', '-p', '60', '--pe', 'sip']],
        {
          ...svc({
            family: 'ipv4',
            protocol: 'udp',
            address: '10.7.3.1',
            port: 5060,
            scheduler: 'rr',
            flags: { ...flags, persistent: true },
            timeout: 60,
            pe: 'sip',
          }),
          dests: [],
        },
      ],
      [
        'NAT, DR and TUN dests with weights and thresholds',
        [
          ['-A', '-t', '10.7.4.1:80', '-s', 'wrr'],
          ['-a', '-t', '10.7.4.1:80', '-r', '192.168.7.1:8080', '-m', '-w', '3'],
          ['-a', '-t', '10.7.4.1:80', '-r', '192.168.7.2', '-g', '-w', '0'],
          [
            '-a',
            '-t',
            '10.7.4.1:80',
            '-r',
            '192.168.7.3',
            '-i',
            '-w',
            '2',
            '-x',
            '100',
            '-y',
            '10',
          ],
        ],
        {
          ...svc({
            family: 'ipv4',
            protocol: 'tcp',
            address: '10.7.4.1',
            port: 80,
            scheduler: 'wrr',
          }),
          dests: [
            dst({ address: '192.168.7.1', port: 8080, weight: 3 }),
            dst({ address: '192.168.7.2', port: 80, forwarding: 'dr', weight: 0 }),
            dst({
              address: '192.168.7.3',
              port: 80,
              forwarding: 'tun',
              weight: 2,
              upperThreshold: 100,
              lowerThreshold: 10,
            }),
          ],
        },
      ],
      [
        'GUE and GRE tunnels',
        [
          ['-A', '-t', '10.7.5.1:80', '-s', 'rr'],
          [
            '-a',
            '-t',
            '10.7.5.1:80',
            '-r',
            '192.168.7.11',
            '-i',
            '--tun-type',
            'gue',
            '--tun-port',
            '6080',
            '--tun-csum',
          ],
          // ipvsadm refuses --tun-remcsum with GRE: remote checksum offload is GUE's.
          [
            '-a',
            '-t',
            '10.7.5.1:80',
            '-r',
            '192.168.7.12',
            '-i',
            '--tun-type',
            'gre',
            '--tun-csum',
          ],
        ],
        {
          ...svc({
            family: 'ipv4',
            protocol: 'tcp',
            address: '10.7.5.1',
            port: 80,
            scheduler: 'rr',
          }),
          dests: [
            dst({
              address: '192.168.7.11',
              port: 80,
              forwarding: 'tun',
              tunnelType: 'gue',
              tunnelPort: 6080,
              tunnelFlags: { csum: true, remcsum: false },
            }),
            dst({
              address: '192.168.7.12',
              port: 80,
              forwarding: 'tun',
              tunnelType: 'gre',
              tunnelFlags: { csum: true, remcsum: false },
            }),
          ],
        },
      ],
      [
        'fwmark with DR (port 0) and NAT dests',
        [
          ['-A', '-f', '5', '-s', 'rr'],
          ['-a', '-f', '5', '-r', '192.168.7.21', '-g'],
          ['-a', '-f', '5', '-r', '192.168.7.22:8080', '-m'],
        ],
        {
          ...svc({ family: 'ipv4', fwmark: 5, scheduler: 'rr' }),
          dests: [
            dst({ address: '192.168.7.21', port: 0, forwarding: 'dr' }),
            dst({ address: '192.168.7.22', port: 8080 }),
          ],
        },
      ],
      [
        'IPv6 fwmark, persistent /64, IPv6 dests',
        [
          ['-A', '-f', '6', '-6', '-s', 'lc', '-p', '120', '-M', '64'],
          // ipvsadm 1.31 takes a port-less IPv6 real without brackets only.
          ['-a', '-f', '6', '-6', '-r', '2001:db8:7::10', '-g', '-w', '5'],
        ],
        {
          ...svc({
            family: 'ipv6',
            fwmark: 6,
            scheduler: 'lc',
            flags: { ...flags, persistent: true },
            timeout: 120,
            netmask: 64,
          }),
          dests: [dst({ address: '2001:db8:7::10', port: 0, forwarding: 'dr', weight: 5 })],
        },
      ],
    ];

    for (const [label, commands, expected] of cases) {
      it(label, async () => {
        for (const args of commands) await ipvsadm.ipvsadm(args);
        const table = await ipvs.readTable();
        expect(table.services.map(settingsOf)).toEqual([
          {
            ...expected,
            dests: [...expected.dests].sort((a, b) =>
              `${a.address}|${a.port}`.localeCompare(`${b.address}|${b.port}`),
            ),
          },
        ]);
        for (const s of table.services) {
          expect((await ipvs.listDests(s)).map(destSettings).length).toBe(expected.dests.length);
        }
      });
    }

    it('ipvsadm-restore of many rules reads back exactly', async () => {
      const lines: string[] = [];
      const expected: Array<Service & { dests: Dest[] }> = [];
      for (let i = 0; i < 50; i++) {
        const address = `10.8.0.${i + 1}`;
        lines.push(`-A -t ${address}:80 -s wlc`);
        const dests = [1, 2, 3].map((j) =>
          dst({ address: `192.168.8.${i * 3 + j}`, port: 8080, weight: j }),
        );
        for (const d of dests)
          lines.push(`-a -t ${address}:80 -r ${d.address}:8080 -m -w ${d.weight}`);
        expected.push({ ...svc({ family: 'ipv4', protocol: 'tcp', address, port: 80 }), dests });
      }
      await ipvsadm.ipvsadm(['-R'], `${lines.join('\n')}\n`);
      const sort = <T>(xs: T[]) => {
        const k = (x: T) => {
          const o = x as { address?: string; port?: number };
          return `${o.address}|${o.port}`;
        };
        return [...xs].sort((a, b) => k(a).localeCompare(k(b), 'en', { numeric: true }));
      };
      const got = (await ipvs.readTable()).services.map(settingsOf);
      expect(sort(got)).toEqual(sort(expected.map((s) => ({ ...s, dests: sort(s.dests) }))));
    });

    it('sync daemon and timeouts set by ipvsadm', async () => {
      await ipvsadm.ipvsadm([
        '--start-daemon',
        'master',
        '--mcast-interface',
        syncInterface,
        '--syncid',
        '3',
      ]);
      try {
        const daemons = await ipvs.listDaemons();
        expect(daemons).toHaveLength(1);
        expect(daemons[0]).toMatchObject({ state: 'master', interface: syncInterface, syncId: 3 });
      } finally {
        await ipvsadm.ipvsadm(['--stop-daemon', 'master']);
      }
      await ipvsadm.ipvsadm(['--set', '100', '20', '30']);
      try {
        expect(await ipvs.getTimeouts()).toEqual({ tcp: 100, tcpFin: 20, udp: 30 });
      } finally {
        await ipvsadm.ipvsadm(['--set', '900', '120', '300']);
      }
    });
  });
}
