/**
 * What the loader hands to the rest of lvsd: kernel-model objects with the defaults the
 * kernel reports, inheritance real -> service -> defaults -> built-in, kernel settings,
 * host overrides, and positions.
 */
import { describe, expect, it } from 'vitest';
import { loadConfigText, type LoadResult } from '../../src/config/index.js';
import type { ResolvedConfig } from '../../src/config/resolved.js';

const y = (...lines: string[]) => `${lines.join('\n')}\n`;

function config(text: string, options: { host?: string | null } = {}): ResolvedConfig {
  const result: LoadResult = loadConfigText(text, 'lvsd.yaml', options);
  if (!result.ok)
    throw new Error(
      result.errors.map((e) => `${e.line}:${e.column} ${e.path}: ${e.message}`).join('\n'),
    );
  return result.config;
}

describe('services and reals as the kernel models them', () => {
  it('fills in what the kernel reports for a plain service', () => {
    const c = config(
      y('services:', '  web:', '    address: 10.0.0.1:80', '    reals: [192.168.10.2]'),
    );
    expect(c.services[0]?.service).toEqual({
      family: 'ipv4',
      protocol: 'tcp',
      address: '10.0.0.1',
      port: 80,
      scheduler: 'wlc',
      flags: { persistent: false, onePacket: false, sched1: false, sched2: false, sched3: false },
      timeout: 0,
      netmask: 32,
      pe: null,
    });
    expect(c.services[0]?.reals[0]?.dest).toEqual({
      address: '192.168.10.2',
      port: 80,
      family: 'ipv4',
      forwarding: 'dr',
      weight: 1,
      upperThreshold: 0,
      lowerThreshold: 0,
      tunnelType: 'ipip',
      tunnelPort: 0,
      tunnelFlags: { csum: false, remcsum: false },
    });
    expect(c.services[0]?.reals[0]?.id).toBe('192.168.10.2:80');
  });

  it('canonicalises IPv6 and keeps netmasks as prefix lengths', () => {
    const c = config(
      y(
        'services:',
        '  v6:',
        '    address: "[2001:DB8:0:0::1]:443"',
        '    persistence: { netmask: 64, timeout: 5m }',
        '    forwarding: nat',
        '    reals: ["[2001:db8:0::2]:8443"]',
        '  v4:',
        '    address: 10.0.0.1:443',
        '    persistence: { netmask: 255.255.255.0 }',
        '    reals: [192.168.1.1]',
      ),
    );
    const [v6, v4] = c.services;
    expect(v6?.service).toMatchObject({
      family: 'ipv6',
      address: '2001:db8::1',
      port: 443,
      timeout: 300,
      netmask: 64,
      flags: { persistent: true },
    });
    expect(v6?.reals[0]?.id).toBe('[2001:db8::2]:8443');
    expect(v4?.service).toMatchObject({ timeout: 360, netmask: 24 });
    expect(c.services.map((s) => s.name)).toEqual(['v6', 'v4']);
  });

  it('inherits real -> service -> defaults -> built-in, field by field', () => {
    const c = config(
      y(
        'defaults: { scheduler: rr, forwarding: nat, weight: 5, upper: 100, check: { type: tcp } }',
        'services:',
        '  a:',
        '    address: 10.0.0.1:80',
        '    weight: 7',
        '    reals:',
        '      - 192.168.1.1:8080',
        '      - { address: 192.168.1.2:8080, weight: 9, forwarding: nat, check: false }',
        '      - { address: 192.168.1.3:8080, check: { type: http, path: /up } }',
        '  b:',
        '    address: 10.0.0.2:80',
        '    scheduler: sh',
        '    scheduler_flags: [sh-port]',
        '    check: false',
        '    reals: [192.168.1.4:8080]',
      ),
    );
    const [a, b] = c.services;
    expect(a?.service.scheduler).toBe('rr');
    expect(
      a?.reals.map((r) => [
        r.dest.weight,
        r.dest.forwarding,
        r.dest.upperThreshold,
        r.check?.type ?? null,
      ]),
    ).toEqual([
      [7, 'nat', 100, 'tcp'],
      [9, 'nat', 100, null],
      [7, 'nat', 100, 'http'],
    ]);
    expect(a?.check?.type).toBe('tcp');
    expect(b?.service).toMatchObject({ scheduler: 'sh', flags: { sched1: false, sched2: true } });
    expect(b?.check).toBeNull();
    expect(b?.reals[0]?.check).toBeNull();
  });

  it('gives fwmark services port-less reals and tunnels their settings', () => {
    const c = config(
      y(
        'services:',
        '  m:',
        '    fwmark: 10',
        '    family: ipv6',
        '    forwarding: tun',
        '    tunnel: { type: gue, port: 6080, checksum: remcsum }',
        '    reals: ["2001:db8::5", 192.0.2.7]',
        '    ops: true',
      ),
    );
    const m = c.services[0];
    expect(m?.service).toMatchObject({ family: 'ipv6', fwmark: 10, flags: { onePacket: true } });
    expect(
      m?.reals.map((r) => [
        r.id,
        r.dest.family,
        r.dest.tunnelType,
        r.dest.tunnelPort,
        r.dest.tunnelFlags,
      ]),
    ).toEqual([
      ['[2001:db8::5]:0', 'ipv6', 'gue', 6080, { csum: false, remcsum: true }],
      ['192.0.2.7:0', 'ipv4', 'gue', 6080, { csum: false, remcsum: true }],
    ]);
  });

  it('resolves sorry server, quorum, alpha and vip', () => {
    const c = config(
      y(
        'services:',
        '  web:',
        '    address: 10.0.0.1:80',
        '    forwarding: nat',
        '    reals: [{ address: 192.168.1.1:8080, weight: 3 }, 192.168.1.2:8080]',
        '    sorry_server: 192.168.1.9',
        '    quorum: 3',
        '    quorum_hysteresis: 1',
        '    alpha: true',
        '    vip: lvsd0',
      ),
    );
    const web = c.services[0];
    expect(web?.sorry).toMatchObject({
      address: '192.168.1.9',
      port: 80,
      forwarding: 'nat',
      weight: 1,
    });
    expect(web?.quorum).toEqual({ min: 3, hysteresis: 1 });
    expect(web?.alpha).toBe(true);
    expect(web?.vip).toEqual({ address: '10.0.0.1', prefix: 32, interface: 'lvsd0' });
  });

  it('places services and reals at their lines', () => {
    const c = config(
      y(
        'services:',
        '  web:',
        '    address: 10.0.0.1:80',
        '    reals:',
        '      - 192.168.1.1',
        '      - { address: 192.168.1.2 }',
      ),
    );
    expect(JSON.parse(JSON.stringify(c.services[0]?.source))).toEqual({
      file: 'lvsd.yaml',
      line: 2,
      column: 3,
    });
    expect(c.services[0]?.reals.map((r) => [r.source.line, r.source.column])).toEqual([
      [5, 9],
      [6, 9],
    ]);
  });
});

describe('YAML anchors and merge keys', () => {
  it('merges from x- keys, which are otherwise ignored', () => {
    const c = config(
      y(
        'x-backend: &backend { forwarding: nat, scheduler: rr, check: { type: tcp } }',
        'services:',
        '  web:',
        '    <<: *backend',
        '    address: 10.0.0.1:80',
        '    reals: [192.168.1.1:8080]',
        '  api:',
        '    <<: *backend',
        '    scheduler: wlc',
        '    address: 10.0.0.2:80',
        '    reals: [192.168.1.2:8080]',
      ),
    );
    expect(
      c.services.map((s) => [
        s.name,
        s.service.scheduler,
        s.reals[0]?.dest.forwarding,
        s.check?.type,
      ]),
    ).toEqual([
      ['web', 'rr', 'nat', 'tcp'],
      ['api', 'wlc', 'nat', 'tcp'],
    ]);
  });

  it('still places errors inside anchored services', () => {
    const result = loadConfigText(
      y(
        'x-a: &a { forwarding: dr }',
        'services:',
        '  web:',
        '    <<: *a',
        '    address: 10.0.0.1:80',
        '    reals: [192.168.1.1:8080]',
      ),
      'lvsd.yaml',
    );
    expect(result.ok ? [] : result.errors.map((e) => [e.line, e.column, e.path])).toEqual([
      [6, 13, 'services.web.reals[0]'],
    ]);
  });
});

describe('YAML that parses but has no value', () => {
  it.each([
    ['a scalar', '    <<: 0', 3, 5],
    ['a list holding a scalar', '    <<: [*a, 3]', 4, 5],
  ])(
    'a merge key (<<) whose value is %s is an error at that key, not a crash',
    (_what, line, atLine, atColumn) => {
      const lines =
        atLine === 3
          ? ['services:', '  web:', line]
          : ['x-a: &a { scheduler: rr }', 'services:', '  web:', line];
      const result = loadConfigText(y(...lines, '    address: 10.0.0.1:80'), 'lvsd.yaml');
      expect(result.ok).toBe(false);
      expect(
        result.ok ? [] : result.errors.map((e) => [e.file, e.line, e.column, e.message]),
      ).toEqual([
        ['lvsd.yaml', atLine, atColumn, 'YAML: Merge sources must be maps or map aliases'],
      ]);
    },
  );

  it('an alias bomb is an error, not a hang or a crash', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
    ];
    const result = loadConfigText(y(...bomb), 'lvsd.yaml');
    expect(
      result.ok ? [] : result.errors.map((e) => [e.line, e.message.startsWith('YAML: ')]),
    ).toEqual([[1, true]]);
  });
});

describe('kernel, vips and reconcile settings', () => {
  it('maps friendly sysctl names to dotted ones, booleans as 0/1', () => {
    const c = config(
      y(
        'kernel:',
        '  sysctl:',
        '    ip_forward: true',
        '    ipv6_forwarding: false',
        '    expire_quiescent_template: true',
        '    conn_reuse_mode: 2',
        '    sloppy_tcp: true',
        '    snat_reroute: false',
      ),
    );
    expect(c.kernel.sysctls).toEqual({
      'net.ipv4.ip_forward': 1,
      'net.ipv6.conf.all.forwarding': 0,
      'net.ipv4.vs.expire_quiescent_template': 1,
      'net.ipv4.vs.conn_reuse_mode': 2,
      'net.ipv4.vs.sloppy_tcp': 1,
      'net.ipv4.vs.snat_reroute': 0,
    });
  });

  it('sets only the timeouts given, in seconds', () => {
    expect(config(y('kernel:', '  timeouts: { tcp: 15m, udp: 30 }')).kernel.timeouts).toEqual({
      tcp: 900,
      udp: 30,
    });
    expect(config(y('kernel:', '  timeouts: { tcpfin: 2m }')).kernel.timeouts).toEqual({
      tcpFin: 120,
    });
    expect(config('services: {}\n').kernel.timeouts).toBeUndefined();
  });

  it.each([
    ['absent: left alone', 'services: {}', undefined],
    ['none', 'kernel: { sync: none }', []],
    ['empty list', 'kernel: { sync: [] }', []],
    [
      'one daemon',
      'kernel: { sync: { state: master, interface: eth1, syncid: 10 } }',
      [{ state: 'master', interface: 'eth1', syncId: 10 }],
    ],
    [
      'master and backup with multicast settings',
      y(
        'kernel:',
        '  sync:',
        '    - state: master',
        '      interface: eth1',
        '      syncmaxlen: 1460',
        '      mcast_group: 239.1.1.1',
        '      mcast_port: 8849',
        '      mcast_ttl: 2',
        '    - { state: backup, interface: eth1 }',
      ),
      [
        {
          state: 'master',
          interface: 'eth1',
          syncId: 0,
          syncMaxLen: 1460,
          mcastGroup: '239.1.1.1',
          mcastPort: 8849,
          mcastTtl: 2,
        },
        { state: 'backup', interface: 'eth1', syncId: 0 },
      ],
    ],
  ])('sync daemons: %s', (_name, text, daemons) => {
    expect(config(`${text}\n`).kernel.daemons).toEqual(daemons);
  });

  it('reads vips and reconcile settings with their defaults', () => {
    const c = config(
      y(
        'vips:',
        '  - { address: 10.0.0.9/24, interface: lvsd0 }',
        '  - { address: "2001:db8::9", interface: lvsd0 }',
        'reconcile: { drain_timeout: 0, prune: all, max_removal: 80%, allow_mass_removal: true }',
      ),
    );
    expect(c.vips).toEqual([
      { address: '10.0.0.9', prefix: 24, interface: 'lvsd0' },
      { address: '2001:db8::9', prefix: 128, interface: 'lvsd0' },
    ]);
    expect(c.reconcile).toEqual({
      drainTimeoutMs: 0,
      prune: 'all',
      driftIntervalMs: 30_000,
      maxRemoval: 0.8,
      allowMassRemoval: true,
    });
    expect(config('{}\n').reconcile).toEqual({
      drainTimeoutMs: 60_000,
      prune: 'managed',
      driftIntervalMs: 30_000,
      maxRemoval: 0.5,
      allowMassRemoval: false,
    });
  });
});

describe('hosts: one file for a fleet', () => {
  const fleet = y(
    'kernel:',
    '  sync: { state: master, interface: eth1, syncid: 1 }',
    'services:',
    '  web:',
    '    address: 10.0.0.1:80',
    '    forwarding: nat',
    '    reals: [192.168.1.1:8080, 192.168.1.2:8080]',
    '  mail:',
    '    address: 10.0.0.2:25',
    '    reals: [192.168.2.1]',
    'hosts:',
    '  lb1.example.net:',
    '    services:',
    '      web: { weight: 4, reals: [192.168.1.3:8080] }',
    '  lb2:',
    '    kernel:',
    '      sync: { state: backup, interface: eth2, syncid: 1 }',
    '    services:',
    '      mail: { enabled: false }',
    '      extra: { address: 10.0.0.3:53, protocol: udp, reals: [192.168.3.1] }',
  );

  it('applies nothing for an unknown machine, and the entry of a known one', () => {
    const base = config(fleet, { host: null });
    expect(base.host).toBeNull();
    expect(base.services.map((s) => s.name)).toEqual(['web', 'mail']);
    const lb1 = config(fleet, { host: 'lb1.example.net' });
    expect(lb1.host).toBe('lb1.example.net');
    expect(lb1.services[0]?.reals.map((r) => [r.id, r.dest.weight, r.dest.forwarding])).toEqual([
      ['192.168.1.3:8080', 4, 'nat'],
    ]);
    const lb2 = config(fleet, { host: 'lb2' });
    expect(lb2.services.map((s) => s.name)).toEqual(['web', 'extra']);
    expect(lb2.kernel.daemons).toEqual([{ state: 'backup', interface: 'eth2', syncId: 1 }]);
  });

  it('matches host names case-insensitively and by their first label', () => {
    expect(config(fleet, { host: 'LB2' }).host).toBe('lb2');
    expect(config(fleet, { host: 'lb1' }).host).toBe('lb1.example.net');
    expect(config(fleet, { host: 'lb2.example.net' }).host).toBe('lb2');
  });

  it('hashes the text and the host', () => {
    const a = config(fleet, { host: 'lb1' }).hash;
    expect(config(fleet, { host: 'lb1' }).hash).toBe(a);
    expect(config(fleet, { host: 'lb2' }).hash).not.toBe(a);
    expect(config(`${fleet}# changed\n`, { host: 'lb1' }).hash).not.toBe(a);
  });

  it('checks the merged result: a forwarding override that breaks the base reals is reported at those reals', () => {
    const result = loadConfigText(`${fleet}      web: { forwarding: dr }\n`, 'fleet.yaml', {
      host: 'lb2',
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => [e.line, e.path])).toEqual([
      [7, 'services.web.reals[0]'],
      [7, 'services.web.reals[1]'],
    ]);
    expect(result.errors[0]?.message).toMatch(/DR forwarding cannot map ports/);
  });
});
