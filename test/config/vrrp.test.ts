/**
 * The `vrrp:` section: a valid pair resolves to what src/vrrp runs, a host entry changes
 * its priority, and every refusal names the file, line, column and field.
 */
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../src/config/diagnostics.js';
import { loadConfigText, type LoadResult } from '../../src/config/index.js';
import { resolveVrrp, VrrpConfig } from '../../src/config/vrrp.js';

const y = (...lines: string[]) => `${lines.join('\n')}\n`;

function load(text: string, options: { host?: string | null } = {}): LoadResult {
  return loadConfigText(text, 'lvsd.yaml', { ...options, parser: 'yaml' });
}

const instance = (...extra: string[]) =>
  y(
    'vrrp:',
    '  instances:',
    '    VI_1:',
    '      interface: vrrptest0',
    '      vrid: 51',
    '      version: 3',
    '      priority: 150',
    '      advert_interval: 500ms',
    '      vips: [192.0.2.100/24, "2001:db8::100/64"]',
    ...extra.map((l) => `      ${l}`),
  );

function errors(result: LoadResult): Diagnostic[] {
  return result.ok ? [] : result.errors;
}

describe('vrrp config', () => {
  it('resolves an instance with its defaults', () => {
    const result = load(instance());
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(result.config.vrrp?.instances[0]).toEqual({
      name: 'VI_1',
      interface: 'vrrptest0',
      vrid: 51,
      version: 3,
      family: 'ipv4',
      priority: 150,
      intervalCs: 50,
      preempt: true,
      preemptDelayMs: 0,
      vips: [
        { address: '192.0.2.100', prefix: 24 },
        { address: '2001:db8::100', prefix: 64 },
      ],
      advertised: ['192.0.2.100'],
      unicast: null,
      track: { interfaces: [], services: [], exec: null, weight: null },
      syncDaemon: false,
      notify: null,
    });
    expect(result.warnings.map((w) => w.message)).toContainEqual(
      expect.stringMatching(/not in the adverts/),
    );
  });

  it('a host entry changes the priority and keeps the rest', () => {
    const text =
      instance() +
      y('hosts:', '  lb2:', '    vrrp:', '      instances:', '        VI_1: { priority: 100 }');
    const result = load(text, { host: 'lb2' });
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(result.config.vrrp?.instances[0]).toMatchObject({
      priority: 100,
      vrid: 51,
      intervalCs: 50,
    });
  });

  const refusals: Array<{
    name: string;
    text: string;
    line: number;
    path: string;
    message: RegExp;
  }> = [
    {
      name: 'a typo, with did-you-mean',
      text: instance('prempt: false'),
      line: 10,
      path: 'vrrp.instances.VI_1.prempt',
      message: /prempt.*did you mean 'preempt'/,
    },
    {
      name: 'no explicit version',
      text: instance().replace('      version: 3\n', ''),
      line: 3,
      path: 'vrrp.instances.VI_1.version',
      message: /./,
    },
    {
      name: 'a sub-second interval on v2',
      text: instance().replace('version: 3', 'version: 2'),
      line: 8,
      path: 'vrrp.instances.VI_1.advert_interval',
      message: /VRRPv2 carries the interval in whole seconds/,
    },
    {
      name: 'an interval out of range on v3',
      text: instance().replace('500ms', '41s'),
      line: 8,
      path: 'vrrp.instances.VI_1.advert_interval',
      message: /10ms\.\.40\.95s/,
    },
    {
      name: 'IPv6 on v2',
      text: instance()
        .replace('version: 3', 'version: 2')
        .replace('500ms', '1s')
        .replace('192.0.2.100/24, ', ''),
      line: 6,
      path: 'vrrp.instances.VI_1.version',
      message: /IPv4 only/,
    },
    {
      name: 'a unicast peer of the other family',
      text: instance('unicast: { source: 192.0.2.2, peers: ["2001:db8::1"] }'),
      line: 10,
      path: 'vrrp.instances.VI_1.unicast.peers[0]',
      message: /is ipv6, the instance is ipv4/,
    },
    {
      name: 'a tracked service that does not exist',
      text: instance('track: { services: [web], weight: -60 }'),
      line: 10,
      path: 'vrrp.instances.VI_1.track.services[0]',
      message: /no service named 'web'/,
    },
    {
      name: 'sync_daemon without kernel.sync',
      text: instance('sync_daemon: true'),
      line: 10,
      path: 'vrrp.instances.VI_1.sync_daemon',
      message: /add kernel.sync/,
    },
    {
      name: 'a VIP also held by a service',
      text:
        instance() +
        y(
          'services:',
          '  web:',
          '    address: 192.0.2.100:80',
          '    vip: lvsd0',
          '    reals: [192.0.2.50]',
        ),
      line: 9,
      path: 'vrrp.instances.VI_1.vips[0]',
      message: /also held by services.web.vip/,
    },
    {
      name: 'a sync group whose members time differently',
      text:
        instance() +
        y(
          '    VI_2:',
          '      interface: vrrptest1',
          '      vrid: 52',
          '      version: 3',
          '      priority: 150',
          '      vips: [192.0.2.101/24]',
          '  sync_groups:',
          '    G1: [VI_1, VI_2]',
        ),
      line: 17,
      path: 'vrrp.sync_groups.G1',
      message: /master-down intervals differ/,
    },
    {
      name: 'a sync group naming an unknown instance',
      text: instance() + y('  sync_groups:', '    G1: [VI_1, VI_9]'),
      line: 11,
      path: 'vrrp.sync_groups.G1[1]',
      message: /no instance named 'VI_9'/,
    },
  ];

  it.each(refusals)('refuses $name at file:line and path', ({ text, line, path, message }) => {
    const found = errors(load(text));
    const match = found.find((e) => e.path === path);
    expect(match, JSON.stringify(found)).toBeDefined();
    expect(match).toMatchObject({ file: 'lvsd.yaml', line });
    expect(match?.message).toMatch(message);
  });

  it("refuses a VIP without prefix outside the interface's networks (when this machine has the interface)", () => {
    const parsed = VrrpConfig.parse({
      instances: {
        VI_1: {
          interface: 'eth0',
          vrid: 1,
          version: 3,
          priority: 100,
          vips: ['198.51.100.7', '192.0.2.8'],
        },
      },
    });
    const networks = new Map([['eth0', [{ address: '192.0.2.1', prefix: 24 }]]]);
    const context = {
      services: new Map(),
      heldElsewhere: [],
      kernelSync: false,
      interfaceNetworks: networks,
    };
    const { findings } = resolveVrrp(parsed, context);
    expect(findings.filter((f) => f.severity === 'error')).toEqual([
      expect.objectContaining({
        path: ['vrrp', 'instances', 'VI_1', 'vips', 0],
        message: expect.stringMatching(/outside every network of eth0 \(192.0.2.1\/24\)/),
      }),
    ]);
    // Elsewhere (a laptop without eth0) nothing is known, so nothing is refused.
    expect(resolveVrrp(parsed, { ...context, interfaceNetworks: new Map() }).findings).toEqual([]);
  });
});
