import { describe, expect, it } from 'vitest';
import { largeNumber, renderTable, runLs } from '../../src/cli/commands/ls.js';
import { FakeIpvs } from '../../src/ipvs/fake.js';
import { IpvsTable } from '../../src/ipvs/model.js';
import { dst, svc } from '../contract/ipvs-contract.js';

async function populated(): Promise<FakeIpvs> {
  const fake = new FakeIpvs();
  const web = { family: 'ipv4', protocol: 'tcp', address: '10.0.0.1', port: 80 } as const;
  const fwm = { family: 'ipv6', fwmark: 7 } as const;
  const results = await fake.execute([
    {
      op: 'add-service',
      service: svc({
        ...web,
        scheduler: 'wlc',
        flags: { persistent: true, onePacket: false, sched1: false, sched2: false, sched3: false },
        timeout: 300,
        netmask: 24,
      }),
    },
    { op: 'add-dest', service: web, dest: dst({ address: '192.168.10.3', port: 8080, weight: 2 }) },
    {
      op: 'add-dest',
      service: web,
      dest: dst({ address: '192.168.10.2', port: 8080, forwarding: 'dr' }),
    },
    {
      op: 'add-service',
      service: svc({
        ...fwm,
        scheduler: 'sh',
        flags: { persistent: false, onePacket: true, sched1: true, sched2: false, sched3: false },
      }),
    },
    {
      op: 'add-dest',
      service: fwm,
      dest: dst({ address: '2001:db8::5', port: 0, forwarding: 'tun' }),
    },
  ]);
  expect(results.every((r) => r.ok)).toBe(true);
  fake.setCounters(web, {
    dest: { address: '192.168.10.2', port: 8080 },
    activeConns: 12,
    inactiveConns: 3,
    stats: { conns: 123456789, inBytes: 5_000_000_000 },
  });
  fake.setCounters(web, { stats: { conns: 15, cps: 2 } });
  return fake;
}

describe('lvsd ls', () => {
  it('prints like ipvsadm -Ln: header, services sorted, dests sorted with forwarding and counters', async () => {
    const fake = await populated();
    const text = renderTable(await fake.getInfo(), await fake.readTable());
    expect(text).toBe(
      [
        'IP Virtual Server version 1.2.1 (size=4096)',
        'Prot LocalAddress:Port Scheduler Flags',
        '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
        'TCP  10.0.0.1:80 wlc persistent 300 mask 255.255.255.0',
        '  -> 192.168.10.2:8080            Route   1      12         3',
        '  -> 192.168.10.3:8080            Masq    2      0          0',
        'FWM  7 IPv6 sh (sh-fallback) ops',
        '  -> [2001:db8::5]:0              Tunnel  1      0          0',
        '',
      ].join('\n'),
    );
  });

  it('--stats and --rate use ipvsadm columns and units', async () => {
    const fake = await populated();
    const stats = renderTable(await fake.getInfo(), await fake.readTable(), { stats: true }).split(
      '\n',
    );
    expect(stats[1]).toBe(
      'Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes',
    );
    expect(stats[3]).toBe(
      'TCP  10.0.0.1:80                        15        0        0        0        0',
    );
    expect(stats[4]).toBe(
      '  -> 192.168.10.2:8080             123456K        0        0    5000M        0',
    );
    const exact = renderTable(await fake.getInfo(), await fake.readTable(), {
      stats: true,
      exact: true,
    }).split('\n');
    expect(exact[4]).toContain(' 123456789 ');
    const rate = renderTable(await fake.getInfo(), await fake.readTable(), { rate: true }).split(
      '\n',
    );
    expect(rate[1]).toBe(
      'Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS',
    );
    expect(rate[3]).toBe(
      'TCP  10.0.0.1:80                         2        0        0        0        0',
    );
    expect(largeNumber(99_999_999)).toBe(' 99999999');
    expect(largeNumber(100_000_000_000_000)).toBe('     100T');
  });

  it('--json writes an IpvsTable that the model schema reads back', async () => {
    const fake = await populated();
    let out = '';
    const code = await runLs(
      { json: true },
      async () => fake,
      (t) => (out += t),
    );
    expect(code).toBe(0);
    const parsed = IpvsTable.safeParse(JSON.parse(out));
    expect(parsed.success).toBe(true);
    expect(parsed.data?.services).toHaveLength(2);
  });

  it('explains why it cannot reach the kernel and exits 1', async () => {
    let err = '';
    const code = await runLs(
      {},
      async () => {
        const { IpvsUnavailableError, PERMISSION_HELP } = await import('../../src/ipvs/errors.js');
        throw new IpvsUnavailableError('permission', PERMISSION_HELP, 1);
      },
      () => undefined,
      (t) => (err += t),
    );
    expect(code).toBe(1);
    expect(err).toMatch(/CAP_NET_ADMIN/);
  });
});

describe('lvsd ls errors', () => {
  const noKernel = async () => {
    throw new Error('permission denied: run as root, or with CAP_NET_ADMIN');
  };
  it('are a line on stderr for people and JSON on stdout under --json, exit 1 both ways', async () => {
    let out = '';
    let err = '';
    const write = (t: string) => void (out += t);
    const writeError = (t: string) => void (err += t);
    expect(await runLs({}, noKernel, write, writeError)).toBe(1);
    expect(err).toBe('lvsd ls: permission denied: run as root, or with CAP_NET_ADMIN\n');
    expect(out).toBe('');
    err = '';
    expect(await runLs({ json: true }, noKernel, write, writeError)).toBe(1);
    expect(JSON.parse(out)).toEqual({
      error: { command: 'ls', message: 'permission denied: run as root, or with CAP_NET_ADMIN' },
    });
    expect(err).toBe('');
  });
});
