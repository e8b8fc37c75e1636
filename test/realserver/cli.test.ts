import { describe, expect, it } from 'vitest';
import { FakeAddresses } from '../../src/director/fake-vip-addresses.js';
import { runRealServerCommand, type RealServerDeps } from '../../src/cli/commands/realserver.js';
import { realServerVips } from '../../src/realserver/from-config.js';
import type { ResolvedConfig, ResolvedService } from '../../src/config/resolved.js';
import { dest, tcpService } from '../reconcile/fixtures.js';

function service(
  name: string,
  address: string,
  reals: Array<[string, 'dr' | 'tun' | 'nat']>,
): ResolvedService {
  return {
    name,
    service: tcpService(address, 80),
    reals: reals.map(([a, forwarding]) => ({
      id: `${a}:80`,
      dest: dest(a, 80, { forwarding }),
      check: null,
      source: { file: 'x.yaml', line: 1, column: 1 },
    })),
    check: null,
    quorum: null,
    sorry: null,
    alpha: false,
    vip: null,
    source: { file: 'x.yaml', line: 1, column: 1 },
  };
}

const config = {
  services: [
    service('web-dr', '10.0.0.1', [
      ['192.168.10.2', 'dr'],
      ['192.168.10.3', 'dr'],
    ]),
    service('web-tun', '10.0.0.2', [['192.168.10.2', 'tun']]),
    service('web-nat', '10.0.0.3', [['192.168.10.2', 'nat']]),
    service('other-dr', '10.0.0.4', [['192.168.10.9', 'dr']]),
    {
      ...service('fwm', '10.0.0.5', [['192.168.10.2', 'dr']]),
      service: {
        family: 'ipv4',
        fwmark: 10,
        scheduler: 'wlc',
        flags: { persistent: true, onePacket: false, sched1: false, sched2: false, sched3: false },
        timeout: 360,
        netmask: 32,
        pe: null,
      },
    },
  ],
} as unknown as ResolvedConfig;

describe("VIPs from the director's config", () => {
  it(
    'takes the DR and TUN services that list this host, not NAT ones, and names fwmark services ' +
      'it cannot serve',
    () => {
      const found = realServerVips(config, new Set(['192.168.10.2', '127.0.0.1']));
      expect(found.vips).toEqual([
        { address: '10.0.0.1', mode: 'dr' },
        { address: '10.0.0.2', mode: 'tun' },
      ]);
      expect(found.notes).toEqual([
        'fwm: fwmark 10 has no address of its own; give its VIPs with --vip ... --mode dr',
      ]);
      expect(realServerVips(config, new Set(), true).vips.map((v) => v.address)).toEqual([
        '10.0.0.1',
        '10.0.0.2',
        '10.0.0.4',
      ]);
    },
  );
});

function deps(ns: FakeAddresses, out: string[], err: string[]): RealServerDeps {
  const values: Record<string, number> = {};
  return {
    openAddresses: async () => ns,
    sysctls: {
      read: async (names) => Object.fromEntries(names.map((n) => [n, values[n] ?? 0])),
      write: async (n, v) => void (values[n] = v),
    },
    loadConfig: async () => config,
    write: (t) => out.push(t),
    writeError: (t) => err.push(t),
  };
}

describe('lvsd realserver (command)', () => {
  it('exit codes: 2 for usage, 1 for --check with something missing, 0 once ready', async () => {
    const ns = new FakeAddresses({
      links: [{ name: 'eth0', kind: null, up: true }],
      addresses: [{ address: '192.168.10.2', prefix: 24, interface: 'eth0' }],
    });
    const out: string[] = [];
    const err: string[] = [];
    expect(await runRealServerCommand({ stateDir: '/nonexistent' }, deps(ns, out, err))).toBe(2);
    expect(err.pop()).toContain('give the VIPs');
    expect(
      await runRealServerCommand({ vip: ['10.0.0.300'], stateDir: '/x' }, deps(ns, out, err)),
    ).toBe(2);
    expect(err.pop()).toContain('--vip 10.0.0.300: not an IP address');
    expect(
      await runRealServerCommand(
        { vip: ['10.0.0.1'], mode: 'nat', stateDir: '/x' },
        deps(ns, out, err),
      ),
    ).toBe(2);
    expect(
      await runRealServerCommand(
        { vip: ['10.0.0.1'], check: true, remove: true, stateDir: '/x' },
        deps(ns, out, err),
      ),
    ).toBe(2);

    const d = deps(ns, out, err);
    expect(await runRealServerCommand({ config: 'lvs.yaml', check: true, stateDir: '/x' }, d)).toBe(
      1,
    );
    expect(out.pop()).toContain('+ vip 10.0.0.2/32 on tunl0');
    expect(ns.writes).toEqual([]);
  });

  it('-c: serves the VIPs of the services listing this host; --json for machines', async () => {
    const ns = new FakeAddresses({
      links: [{ name: 'eth0', kind: null, up: true }],
      addresses: [{ address: '192.168.10.2', prefix: 24, interface: 'eth0' }],
    });
    const out: string[] = [];
    const err: string[] = [];
    const d = deps(ns, out, err);
    const { mkdtemp } = await import('node:fs/promises');
    const stateDir = await mkdtemp('/tmp/lvsd-rs-cli-');
    expect(await runRealServerCommand({ config: 'lvs.yaml', stateDir }, d)).toBe(0);
    expect(ns.addresses).toContainEqual({ address: '10.0.0.1', prefix: 32, interface: 'lo' });
    expect(ns.addresses).toContainEqual({ address: '10.0.0.2', prefix: 32, interface: 'tunl0' });
    expect(err.join('')).toContain('fwm: fwmark 10');
    expect(
      await runRealServerCommand({ config: 'lvs.yaml', check: true, json: true, stateDir }, d),
    ).toBe(0);
    expect(JSON.parse(out.pop()!)).toMatchObject({ action: 'check', ready: true, steps: [] });
  });

  it('-c on a host no service lists: a clear error', async () => {
    const out: string[] = [];
    const err: string[] = [];
    expect(
      await runRealServerCommand(
        { config: 'lvs.yaml', stateDir: '/x' },
        deps(new FakeAddresses(), out, err),
      ),
    ).toBe(2);
    expect(err.join('')).toContain(
      'no DR or TUN service in lvs.yaml lists an address of this host as a real server',
    );
  });
});

describe('shorthands and tunnel notes', () => {
  it('--tun is --mode tun', async () => {
    const ns = new FakeAddresses();
    const out: string[] = [];
    expect(
      await runRealServerCommand(
        { vip: ['10.0.0.3'], tun: true, check: true, stateDir: '/x' },
        deps(ns, out, []),
      ),
    ).toBe(1);
    expect(out.join('')).toContain('+ vip 10.0.0.3/32 on tunl0');
    expect(
      await runRealServerCommand(
        { vip: ['10.0.0.3'], tun: true, dr: true, stateDir: '/x' },
        deps(ns, out, []),
      ),
    ).toBe(2);
  });
  it('names the GUE decapsulation a real must add itself', () => {
    const gue = service('api', '10.0.0.3', [['198.51.100.20', 'tun']]);
    gue.reals[0]!.dest = { ...gue.reals[0]!.dest, tunnelType: 'gue', tunnelPort: 6080 };
    const found = realServerVips({ services: [gue] }, new Set(['198.51.100.20']));
    expect(found.vips).toEqual([{ address: '10.0.0.3', mode: 'tun' }]);
    expect(found.notes).toEqual([
      'api: real 198.51.100.20 receives GUE, not plain IPIP; lvsd realserver sets up tunl0, add the ' +
        'decapsulation yourself (ip fou add port 6080 gue)',
    ]);
  });
});

describe('lvsd realserver reads the config with the real loader', () => {
  it('finds the DR VIP of examples/dr.yaml, and refuses an invalid file with its line (exit 2)', async () => {
    const { loadConfigFile } = await import('../../src/cli/commands/realserver.js');
    const config = await loadConfigFile('examples/dr.yaml');
    expect(realServerVips(config, new Set(['192.168.1.12'])).vips).toEqual([
      { address: '10.0.0.2', mode: 'dr' },
    ]);
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const dir = await mkdtemp('/tmp/lvsd-rs-bad-');
    await writeFile(`${dir}/bad.yaml`, 'services:\n  x:\n    adress: 10.0.0.1:80\n');
    const err: string[] = [];
    const d = {
      ...deps(new FakeAddresses(), [], err),
      loadConfig: (path: string, host?: string) => loadConfigFile(path, host),
    };
    expect(await runRealServerCommand({ config: `${dir}/bad.yaml`, stateDir: '/x' }, d)).toBe(2);
    expect(err.join('')).toMatch(/bad\.yaml:3:5: error: services\.x\.adress: unknown key 'adress'/);
  });
});
