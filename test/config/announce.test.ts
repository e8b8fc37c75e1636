/**
 * The `announce:` section: a valid one resolves to what src/announce runs; VIPs no service
 * backs and unknown services are refused at file:line and field; mh + sloppy_tcp are advised.
 */
import { describe, expect, it } from 'vitest';
import { loadConfigText, type LoadResult } from '../../src/config/index.js';

const y = (...lines: string[]) => `${lines.join('\n')}\n`;

function load(text: string): LoadResult {
  return loadConfigText(text, 'lvsd.yaml', { parser: 'yaml' });
}

const services = (scheduler = 'mh', sloppy = true) =>
  y(
    ...(sloppy ? ['kernel:', '  sysctl: { sloppy_tcp: true }'] : []),
    'services:',
    '  web-https:',
    '    address: 192.0.2.10:443',
    `    scheduler: ${scheduler}`,
    '    vip: lo',
    '    reals: [198.51.100.11, 198.51.100.12]',
    '  dns:',
    '    address: 192.0.2.53:53',
    '    protocol: udp',
    '    scheduler: mh',
    '    vip: lo',
    '    reals: [198.51.100.21]',
  );

const announce = (...vip: string[]) =>
  y('announce:', '  daemon: bird', '  vips:', ...vip.map((l) => `    ${l}`));

describe('announce config', () => {
  it('resolves with its defaults', () => {
    const result = load(
      services() + announce('- { prefix: 192.0.2.10/32, services: [web-https] }'),
    );
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(result.config.announce).toEqual({
      daemon: 'bird',
      bird: {
        socket: '/run/bird/bird.ctl',
        include: '/run/lvsd/bird-vips.conf',
        include6: '/run/lvsd/bird-vips6.conf',
      },
      intervalMs: 1000,
      vips: [
        {
          prefix: '192.0.2.10/32',
          family: 'ipv4',
          services: ['web-https'],
          rise: 3,
          fall: 2,
          holdDownMs: 10_000,
        },
      ],
      drain: { method: 'graceful-shutdown', waitMs: 30_000, onStop: false },
    });
    expect(result.warnings).toEqual([]);
  });

  it('a bare address is a host prefix; a wider prefix may hold several services', () => {
    const result = load(
      services() +
        announce(
          '- { prefix: 192.0.2.10, services: [web-https], rise: 1, fall: 1, hold_down: 0 }',
          '- { prefix: 192.0.2.0/24, services: [web-https, dns] }',
        ),
    );
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(result.config.announce?.vips.map((v) => v.prefix)).toEqual([
      '192.0.2.10/32',
      '192.0.2.0/24',
    ]);
    expect(result.config.announce?.vips[0]).toMatchObject({ rise: 1, fall: 1, holdDownMs: 0 });
  });

  const refusals: Array<{
    name: string;
    text: string;
    line: number;
    path: string;
    message: RegExp;
  }> = [
    {
      name: 'a VIP no service backs',
      text: services() + announce('- { prefix: 203.0.113.1/32, services: [web-https] }'),
      line: 18,
      path: 'announce.vips[0].services',
      message: /no listed service is at an address inside 203\.0\.113\.1\/32/,
    },
    {
      name: 'a service that does not exist, with did-you-mean',
      text: services() + announce('- { prefix: 192.0.2.10/32, services: [web-http] }'),
      line: 18,
      path: 'announce.vips[0].services[0]',
      message: /no service named 'web-http'.*did you mean 'web-https'/,
    },
    {
      name: 'host bits set',
      text: services() + announce('- { prefix: 192.0.2.10/24, services: [web-https] }'),
      line: 18,
      path: 'announce.vips[0].prefix',
      message: /host bits set/,
    },
    {
      name: 'the same prefix twice',
      text:
        services() +
        announce(
          '- { prefix: 192.0.2.10/32, services: [web-https] }',
          '- { prefix: 192.0.2.10, services: [web-https] }',
        ),
      line: 19,
      path: 'announce.vips[1].prefix',
      message: /announced twice/,
    },
    {
      name: 'an unknown daemon',
      text:
        services() +
        announce('- { prefix: 192.0.2.10/32, services: [web-https] }').replace('bird', 'gobgp'),
      line: 16,
      path: 'announce.daemon',
      message: /bird/,
    },
    {
      name: 'a relative include path',
      text:
        services() +
        announce('- { prefix: 192.0.2.10/32, services: [web-https] }') +
        y('  bird: { include: vips.conf }'),
      line: 19,
      path: 'announce.bird.include',
      message: /\//,
    },
    {
      name: 'rise 0',
      text: services() + announce('- { prefix: 192.0.2.10/32, services: [web-https], rise: 0 }'),
      line: 18,
      path: 'announce.vips[0].rise',
      message: /./,
    },
  ];

  it.each(refusals)('refuses $name at file:line and path', ({ text, line, path, message }) => {
    const result = load(text);
    const found = result.ok ? [] : result.errors;
    const match = found.find((e) => e.path === path);
    expect(match, JSON.stringify(found)).toBeDefined();
    expect(match).toMatchObject({ file: 'lvsd.yaml', line });
    expect(match?.message).toMatch(message);
  });

  it('advises mh and sloppy_tcp for announced services', () => {
    const result = load(
      services('wlc', false) + announce('- { prefix: 192.0.2.10/32, services: [web-https] }'),
    );
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    const warnings = result.warnings.map((w) => `${w.path}: ${w.message}`);
    expect(warnings).toContainEqual(
      expect.stringMatching(/services\[0\]: web-https uses scheduler wlc.*scheduler: mh/),
    );
    expect(warnings).toContainEqual(
      expect.stringMatching(/^announce: .*kernel\.sysctl\.sloppy_tcp: true/),
    );
  });

  it('warns about a service inside the prefix that does not gate it, and one outside that does', () => {
    const result = load(services() + announce('- { prefix: 192.0.2.0/24, services: [web-https] }'));
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(result.warnings.map((w) => w.message)).toContainEqual(
      expect.stringMatching(/dns .* is inside 192\.0\.2\.0\/24 but not listed/),
    );
    const outside = load(
      services() + announce('- { prefix: 192.0.2.10/32, services: [web-https, dns] }'),
    );
    if (!outside.ok) throw new Error(JSON.stringify(outside.errors));
    expect(outside.warnings.map((w) => w.message)).toContainEqual(
      expect.stringMatching(/dns \(192\.0\.2\.53\) is outside 192\.0\.2\.10\/32/),
    );
  });
});

describe('announce config and quorum', () => {
  it("an announced service's quorum without a sorry server is not called useless", () => {
    const text = services().replace(
      '    reals: [198.51.100.11, 198.51.100.12]',
      '    reals: [198.51.100.11, 198.51.100.12]\n    quorum: 2',
    );
    const plain = load(text);
    expect(plain.warnings.map((w) => w.message)).toContainEqual(
      expect.stringMatching(/quorum without sorry_server/),
    );
    const announced = load(text + announce('- { prefix: 192.0.2.10/32, services: [web-https] }'));
    if (!announced.ok) throw new Error(JSON.stringify(announced.errors));
    expect(announced.warnings).toEqual([]);
  });
});
