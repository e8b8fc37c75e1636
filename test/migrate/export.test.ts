/**
 * `lvsd export`'s text: ipvsadm -Sn's lines, in ipvsadm's order, with the thresholds -Sn
 * leaves out. The expected text is what ipvsadm 1.31 printed for these rules in the lab
 * (Debian 12's ipvsadm on the 6.1 kernel), plus -x / -y.
 */
import { describe, expect, it } from 'vitest';
import { exportIpvsadm } from '../../src/migrate/export.js';
import { importIpvsadm } from '../../src/migrate/ipvsadm.js';
import { configTable, loaded } from './helpers.js';

async function exported(rules: string): Promise<string> {
  const result = await importIpvsadm(rules, { file: 'rules' });
  return exportIpvsadm(configTable(loaded(result).config));
}

describe('lvsd export --format ipvsadm', () => {
  it("prints ipvsadm -Sn's lines in ipvsadm's order, thresholds added", async () => {
    // Given in another order: export sorts as ipvsadm does (mark, family, protocol, address, port).
    const shuffled = `
-A -f 9 -6 -s mh -p 30 --pe sip -b mh-fallback
-a -f 9 -6 -r [2001:db8::2]:0 -g -w 1
-A -t [2001:db8::10]:443 -s wrr -p 100 -M 64
-a -t [2001:db8::10]:443 -r [2001:db8::3]:443 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum
-a -t [2001:db8::10]:443 -r [2001:db8::2]:443 -g -w 5
-A -f 7 -s rr -p 600
-a -f 7 -r 192.168.10.2:0 -g -w 3
-A -u 10.0.0.2:53 -s sh -o -b sh-port
-a -u 10.0.0.2:53 -r 192.168.10.4:53 -i -w 1 --tun-type gre --tun-csum
-A -u 10.0.0.1:80 -s wlc
-a -u 10.0.0.1:80 -r 192.168.10.3:80 -m -w 1
-a -u 10.0.0.1:80 -r 192.168.10.2:8080 -m -w 2 -x 100 -y 50
-A -t 10.0.1.2:80 -s rr -p 600
-a -t 10.0.1.2:80 -r 192.168.10.2:80 -g -w 3
-A -t 10.0.1.1:80 -s rr -p 600
-a -t 10.0.1.1:80 -r 192.168.10.2:80 -g -w 3
`;
    expect(await exported(shuffled)).toBe(`-A -t 10.0.1.1:80 -s rr -p 600
-a -t 10.0.1.1:80 -r 192.168.10.2:80 -g -w 3
-A -t 10.0.1.2:80 -s rr -p 600
-a -t 10.0.1.2:80 -r 192.168.10.2:80 -g -w 3
-A -u 10.0.0.1:80 -s wlc
-a -u 10.0.0.1:80 -r 192.168.10.2:8080 -m -w 2 -x 100 -y 50
-a -u 10.0.0.1:80 -r 192.168.10.3:80 -m -w 1
-A -u 10.0.0.2:53 -s sh -o -b sh-port
-a -u 10.0.0.2:53 -r 192.168.10.4:53 -i -w 1 --tun-type gre --tun-csum
-A -t [2001:db8::10]:443 -s wrr -p 100 -M 64
-a -t [2001:db8::10]:443 -r [2001:db8::2]:443 -g -w 5
-a -t [2001:db8::10]:443 -r [2001:db8::3]:443 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum
-A -f 7 -s rr -p 600
-a -f 7 -r 192.168.10.2:0 -g -w 3
-A -f 9 -6 -s mh -p 30 --pe sip -b mh-fallback
-a -f 9 -6 -r [2001:db8::2]:0 -g -w 1
`);
  });

  it('names tunnel checksums as ipvsadm does (nocsum spelled out for gue and gre, nothing for ipip)', async () => {
    const text = await exported(`-A -t 10.0.0.5:80 -s rr
-a -t 10.0.0.5:80 -r 10.1.1.1:80 -i --tun-type gre --tun-csum
-a -t 10.0.0.5:80 -r 10.1.1.2:80 -i --tun-type gre
-a -t 10.0.0.5:80 -r 10.1.1.3:80 -i --tun-type gue --tun-port 5555
-a -t 10.0.0.5:80 -r 10.1.1.4:80 -i`);
    expect(text.split('\n').slice(1, 5)).toEqual([
      '-a -t 10.0.0.5:80 -r 10.1.1.1:80 -i -w 1 --tun-type gre --tun-csum',
      '-a -t 10.0.0.5:80 -r 10.1.1.2:80 -i -w 1 --tun-type gre --tun-nocsum',
      '-a -t 10.0.0.5:80 -r 10.1.1.3:80 -i -w 1 --tun-type gue --tun-port 5555 --tun-nocsum',
      '-a -t 10.0.0.5:80 -r 10.1.1.4:80 -i -w 1 --tun-type ipip',
    ]);
  });

  it("compares addresses as libipvs does, with C's 32-bit wrap: 192.168.x before 10.x", async () => {
    const text =
      await exported(`-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.1.1.1 -m\n-a -t 10.0.0.1:80 -r 192.168.1.1 -m
-A -t 192.168.0.1:80\n-a -t 192.168.0.1:80 -r 192.168.1.1`);
    expect(text.split('\n').filter((l) => l !== '')).toEqual([
      '-A -t 192.168.0.1:80 -s wlc',
      '-a -t 192.168.0.1:80 -r 192.168.1.1:80 -g -w 1',
      '-A -t 10.0.0.1:80 -s wlc',
      '-a -t 10.0.0.1:80 -r 192.168.1.1:80 -m -w 1',
      '-a -t 10.0.0.1:80 -r 10.1.1.1:80 -m -w 1',
    ]);
  });

  it('prints nothing for an empty table', () => {
    expect(exportIpvsadm({ services: [] })).toBe('');
  });
});
