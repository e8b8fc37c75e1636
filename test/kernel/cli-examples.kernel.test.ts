/**
 * Every example through `lvsd apply` on the real kernel (lab only: root, IPVS; run
 * `npm run build` first). For each example the rules it should produce are written here by
 * hand as ipvsadm commands; ipvsadm-restore writes them into an empty table and ipvsadm
 * reads them back (-Sn, -Ln --thresholds, -Ln --tun-info: -Sn alone omits thresholds);
 * then the table is flushed, `lvsd apply -c EXAMPLE` writes it, and ipvsadm must read back
 * exactly the same. A second apply must write nothing (--json reports 0 writes; plan's
 * exit codes are tested in cli-nat.kernel.test.ts). Kernel-wide settings (timeouts, sync daemons) are compared
 * with ipvsadm's own listing of them.
 * This file writes the IPVS table of its network namespace (the suite gives it its own).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, sortedLines, type Netns } from '../lab/topology.js';

const inLab = process.env.LVSD_LAB === '1';

interface Example {
  file: string;
  /** The rules, as ipvsadm-restore input. */
  rules: string;
  /** `ipvsadm -L --timeout` after apply, when the example sets timeouts. */
  timeouts?: string;
  /** `ipvsadm -L --daemon` after apply, when the example runs sync daemons. */
  daemons?: string[];
}

const examples: Example[] = [
  {
    file: 'examples/nat-web.yaml',
    rules: `-A -t 10.0.0.1:80 -s rr
-a -t 10.0.0.1:80 -r 192.168.10.2:80 -m -w 1
-a -t 10.0.0.1:80 -r 192.168.11.2:80 -m -w 1`,
  },
  {
    file: 'examples/dr.yaml',
    rules: `-A -t 10.0.0.2:80 -s wlc
-a -t 10.0.0.2:80 -r 192.168.1.11:80 -g -w 1
-a -t 10.0.0.2:80 -r 192.168.1.12:80 -g -w 2
-a -t 10.0.0.2:80 -r 192.168.1.13:80 -g -w 2 -x 5000 -y 4000`,
  },
  {
    file: 'examples/tun.yaml',
    rules: `-A -t 10.0.0.3:443 -s wlc
-a -t 10.0.0.3:443 -r 203.0.113.10:443 -i -w 1 --tun-type ipip
-a -t 10.0.0.3:443 -r 198.51.100.20:443 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum`,
  },
  {
    file: 'examples/fwmark-http-https.yaml',
    rules: `-A -f 10 -s wlc -p 360
-a -f 10 -r 192.168.1.100:0 -g -w 1
-a -f 10 -r 192.168.1.200:0 -g -w 1`,
  },
  {
    file: 'examples/persistent-https.yaml',
    rules: `-A -t 10.0.0.5:443 -s wlc -p 600 -M 255.255.255.0
-a -t 10.0.0.5:443 -r 192.168.2.10:443 -g -w 1
-a -t 10.0.0.5:443 -r 192.168.2.11:443 -g -w 1
-a -t 10.0.0.5:443 -r 192.168.2.12:443 -g -w 1`,
  },
  {
    file: 'examples/udp-dns.yaml',
    rules: `-A -u 10.0.0.53:53 -s rr -o
-a -u 10.0.0.53:53 -r 192.168.3.10:53 -g -w 1
-a -u 10.0.0.53:53 -r 192.168.3.11:53 -g -w 1`,
    timeouts: 'Timeout (tcp tcpfin udp): 900 120 30',
  },
  {
    file: 'examples/ipv6.yaml',
    rules: `-A -t [2001:db8::80]:80 -s wrr -p 300 -M 64
-a -t [2001:db8::80]:80 -r [2001:db8:10::2]:8080 -m -w 1
-a -t [2001:db8::80]:80 -r [2001:db8:10::3]:8080 -m -w 2
-A -f 20 -6 -s sh -b sh-fallback,sh-port
-a -f 20 -6 -r [2001:db8:20::2]:0 -g -w 1
-a -f 20 -6 -r [2001:db8:20::3]:0 -g -w 1`,
  },
  {
    file: 'examples/sctp.yaml',
    rules: `-A --sctp-service 10.0.0.38:3868 -s sh
-a --sctp-service 10.0.0.38:3868 -r 192.168.4.10:3868 -m -w 1
-a --sctp-service 10.0.0.38:3868 -r 192.168.4.11:3868 -m -w 1`,
  },
  {
    // No hosts: entry for the lab's hostname: the base config, both sync daemons on eth1.
    file: 'examples/conf.d',
    rules: `-A -t 10.0.1.1:80 -s wlc
-a -t 10.0.1.1:80 -r 192.168.20.2:8080 -m -w 1
-a -t 10.0.1.1:80 -r 192.168.20.3:8080 -m -w 1
-a -t 10.0.1.1:80 -r 192.168.20.4:8080 -m -w 1
-A -t 10.0.1.2:25 -s wlc
-a -t 10.0.1.2:25 -r 192.168.21.2:25 -m -w 1
-a -t 10.0.1.2:25 -r 192.168.21.3:25 -m -w 1`,
    timeouts: 'Timeout (tcp tcpfin udp): 900 120 300',
    daemons: [
      'master sync daemon (mcast=eth1, syncid=10, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)',
      'backup sync daemon (mcast=eth1, syncid=10, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)',
    ],
  },
];

if (!inLab) {
  describe.skip('lvsd apply of every example (lab only: LVSD_LAB=1)', () =>
    it('needs the lab', () => undefined));
} else {
  describe('lvsd apply of every example, read back by ipvsadm', () => {
    let lab: Lab;
    let director: Netns;
    let scratch: string;

    beforeAll(async () => {
      lab = await Lab.create();
      director = lab.self;
      // The interfaces the examples name: eth0 for VIPs, eth1 for the sync daemons.
      for (const dev of ['eth0', 'eth1']) {
        await director.ip('link', 'add', dev, 'type', 'dummy');
        await director.ip('link', 'set', dev, 'up');
      }
      scratch = await mkdtemp(join(tmpdir(), 'lvsd-examples-'));
    });
    afterAll(async () => {
      await director?.tryRun(['ipvsadm', '--stop-daemon', 'master']);
      await director?.tryRun(['ipvsadm', '--stop-daemon', 'backup']);
      await director?.ipvsadm('-C').catch(() => undefined);
      await lab?.teardown();
    });

    it.each(examples)(
      '$file: the rules written by hand, as ipvsadm reads them back; then idempotent',
      async (example) => {
        await director.ipvsadm('-C');
        await director.run(['ipvsadm-restore'], { input: `${example.rules}\n` });
        const expected = await director.ipvsadmViews();
        // ipvsadm understood the hand-written rules (-Sn leaves thresholds out: -Ln --thresholds has them).
        expect(expected['-Sn']).toEqual(sortedLines(example.rules.replace(/ -x \d+ -y \d+/g, '')));
        await director.ipvsadm('-C');

        const stateDir = await mkdtemp(join(scratch, 'state-'));
        const apply = await director.lvsd(['apply', '-c', example.file, '--state-dir', stateDir]);
        expect(apply.code, `lvsd apply -c ${example.file}\n${apply.stdout}\n${apply.stderr}`).toBe(
          0,
        );
        expect(await director.ipvsadmViews()).toEqual(expected);
        if (example.timeouts)
          expect((await director.ipvsadm('-L', '--timeout')).trim()).toBe(example.timeouts);
        if (example.daemons)
          expect(sortedLines(await director.ipvsadm('-L', '--daemon'))).toEqual(
            [...example.daemons].sort(),
          );

        const again = await director.lvsd([
          'apply',
          '-c',
          example.file,
          '--state-dir',
          stateDir,
          '--json',
        ]);
        expect(again.code, again.stderr).toBe(0);
        const report = JSON.parse(again.stdout) as { writes: number; plan: { steps: unknown[] } };
        expect(report.plan.steps, `second apply of ${example.file} planned changes`).toEqual([]);
        expect(report.writes).toBe(0);

        if (example.daemons) {
          await director.ipvsadm('--stop-daemon', 'master');
          await director.ipvsadm('--stop-daemon', 'backup');
        }
      },
    );
  });
}
