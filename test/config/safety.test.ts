/**
 * Safe by construction: input that would do harm when applied, or that would make the
 * messages about it unreadable. An empty config must say that it removes everything; check
 * timeouts follow what people write; hostile values are echoed short and escaped.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runValidate } from '../../src/cli/commands/validate.js';
import { CheckConfig } from '../../src/config/check.js';
import { escapeUnsafe, excerpt, quoted } from '../../src/config/excerpt.js';
import { loadConfig } from '../../src/config/index.js';
import { load, y } from './load-both.js';

function tempDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'lvsd-safety-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const service = '  web: { address: 10.0.0.1:80, reals: [192.168.10.2] }';

describe('a config that declares no services loads, with a warning that says what applying it does', () => {
  const removes =
    'applying it removes every service lvsd manages (the removal guard refuses this unless forced)';
  const cases: Array<{
    name: string;
    text: string;
    line: number;
    column: number;
    message: string;
    host?: string;
  }> = [
    {
      name: 'an empty file (: > lvsd.yaml)',
      text: '',
      line: 1,
      column: 1,
      message: `the config is empty: it declares no services; ${removes}`,
    },
    {
      name: 'blank lines only',
      text: '\n\n\n',
      line: 1,
      column: 1,
      message: `the config is empty: it declares no services; ${removes}`,
    },
    {
      name: 'comments only',
      text: y('# lvsd config', '# services:', '#   web: ...'),
      line: 1,
      column: 1,
      message: `the config is empty: it declares no services; ${removes}`,
    },
    {
      name: 'services: with every service commented out',
      text: y('services:', '  # web: { address: 10.0.0.1:80 }'),
      line: 1,
      column: 1,
      message: `the config is empty: it declares no services; ${removes}`,
    },
    {
      name: 'no services key',
      text: y('kernel:', '  sysctl: { ip_forward: true }'),
      line: 1,
      column: 1,
      message: `the config declares no services; ${removes}`,
    },
    {
      name: 'services: {}',
      text: y('kernel:', '  sysctl: { ip_forward: true }', 'services: {}'),
      line: 3,
      column: 1,
      message: `the config declares no services; ${removes}`,
    },
    {
      name: 'every service disabled',
      text: y('services:', '  web: { enabled: false, address: 10.0.0.1:80 }'),
      line: 1,
      column: 1,
      message: `every service is disabled (enabled: false), so none is declared; ${removes}`,
    },
    {
      name: "a host's override disables the only service",
      text: y(
        'services:',
        service,
        'hosts:',
        '  lb1:',
        '    services:',
        '      web: { enabled: false }',
      ),
      line: 1,
      column: 1,
      message: `every service is disabled (enabled: false), so none is declared; ${removes}`,
      host: 'lb1',
    },
  ];

  it.each(cases)('$name', ({ text, line, column, message, host }) => {
    const result = load(text, host === undefined ? { host: null } : { host });
    expect(result.ok ? [] : result.errors).toEqual([]);
    if (!result.ok) return;
    expect(result.warnings).toContainEqual({
      severity: 'warning',
      code: 'no-services',
      file: 'lvsd.yaml',
      line,
      column,
      path: 'services',
      message,
    });
    expect(result.config.services).toEqual([]);
    expect(result.config.declaresNoServices).toBe(true);
  });

  it('a config with a service declares services, and says nothing about it', () => {
    const result = load(y('services:', service));
    expect(result.ok && result.config.declaresNoServices).toBe(false);
    expect(result.warnings.filter((d) => d.code === 'no-services')).toEqual([]);
  });

  it('services left out for their errors do not count as absent: the errors speak', () => {
    const result = load(y('services:', '  web: { address: nowhere, reals: [192.168.10.2] }'));
    expect(result.ok).toBe(false);
    expect(result.warnings.filter((d) => d.code === 'no-services')).toEqual([]);
  });

  it('a directory whose files declare no service at all warns too (at the file with settings)', async () => {
    const dir = tempDir({ 'a.yaml': '# nothing yet\n', 'b.yaml': 'kernel: { sysctl: {} }\n' });
    const result = await loadConfig(dir);
    expect(result.ok && result.config.declaresNoServices).toBe(true);
    expect(result.warnings).toMatchObject([
      { code: 'no-services', file: join(dir, 'b.yaml'), line: 1, column: 1, path: 'services' },
    ]);
    const some = await loadConfig(tempDir({ 'a.yaml': '', 'b.yaml': y('services:', service) }));
    expect(some.ok && some.config.declaresNoServices).toBe(false);
    expect(some.warnings).toEqual([]);
  });

  it('lvsd validate exits 0 and shows the warning, in text and in JSON', async () => {
    const file = join(tempDir({ 'lvsd.yaml': '' }), 'lvsd.yaml');
    const out: string[] = [];
    const err: string[] = [];
    const io = { write: (t: string) => out.push(t), writeError: (t: string) => err.push(t) };
    expect(await runValidate({ config: file }, { ...io, color: false })).toBe(0);
    expect(err.join('')).toContain(
      `${file}:1:1: warning: services: the config is empty: it declares no services; ${removes}`,
    );
    expect(out.join('')).toContain('valid: 0 services, 0 reals (0 errors, 1 warning)');

    out.length = 0;
    expect(await runValidate({ config: file, json: true }, { ...io, color: false })).toBe(0);
    const report = JSON.parse(out.join(''));
    expect(report.valid).toBe(true);
    expect(report.results[0].warnings).toMatchObject([
      { severity: 'warning', code: 'no-services', line: 1, column: 1, path: 'services' },
    ]);
  });
});

describe('check timeouts people actually write', () => {
  const web = (check: string, extra: string[] = []) =>
    y(
      'services:',
      '  web:',
      '    address: 10.0.0.1:80',
      `    check: ${check}`,
      '    reals:',
      '      - 192.168.10.2',
      ...extra,
    );
  const loaded = (text: string) => {
    const result = load(text);
    expect(result.ok ? [] : result.errors).toEqual([]);
    if (!result.ok) throw new Error('invalid');
    return result;
  };

  it.each([
    ['1s', 1000],
    ['500ms', 500],
    ['2s', 2000],
    ['5s', 2000],
    ['1m', 2000],
  ])('no timeout at interval %s: the timeout is %d ms, without a warning', (interval, timeout) => {
    const result = loaded(web(`{ type: tcp, interval: ${interval} }`));
    expect(result.warnings).toEqual([]);
    expect(result.config.services[0]?.check?.timeout).toBe(timeout);
    expect(result.config.services[0]?.reals[0]?.check?.timeout).toBe(timeout);
  });

  it.each([
    ['equal to the interval', '1s', '1s', '1s'],
    ['above the interval', '1s', '3s', '3s'],
    ['far above, in other units', '2s', '1m', '1m'],
  ])(
    'a timeout %s is taken, capped at the interval, with a warning',
    (_, interval, timeout, shown) => {
      const result = loaded(web(`{ type: tcp, interval: ${interval}, timeout: ${timeout} }`));
      const ms = result.config.services[0]?.check?.interval;
      expect(result.config.services[0]?.check?.timeout).toBe(ms);
      expect(result.config.services[0]?.reals[0]?.check?.timeout).toBe(ms);
      expect(result.warnings).toEqual([
        {
          severity: 'warning',
          file: 'lvsd.yaml',
          line: 4,
          column: 46 + interval.length,
          path: 'services.web.check.timeout',
          message:
            `timeout ${shown} is not shorter than interval ${interval}: a check must end before ` +
            `the next one starts, so lvsd caps it at ${interval}; leave timeout out to get 2s or ` +
            'the interval, whichever is shorter',
        },
      ]);
    },
  );

  it('a timeout below the interval is kept as written', () => {
    const result = loaded(web('{ type: tcp, interval: 1s, timeout: 900ms }'));
    expect(result.warnings).toEqual([]);
    expect(result.config.services[0]?.check?.timeout).toBe(900);
  });

  it('a check in defaults: the default follows its interval, for every service inheriting it', () => {
    const text = y(
      'defaults:',
      '  check: { type: tcp, interval: 1s }',
      'services:',
      '  web: { address: 10.0.0.1:80, reals: [192.168.10.2] }',
      '  api: { address: 10.0.0.1:81, reals: [192.168.10.3] }',
    );
    const result = loaded(text);
    expect(result.warnings).toEqual([]);
    for (const svc of result.config.services) {
      expect(svc.check?.timeout).toBe(1000);
      expect(svc.reals[0]?.check?.timeout).toBe(1000);
    }
  });

  it('a check in defaults with a timeout too long: one warning, where it is written; every service capped', () => {
    const text = y(
      'defaults:',
      '  check: { type: tcp, interval: 1s, timeout: 5s }',
      'services:',
      '  web: { address: 10.0.0.1:80, reals: [192.168.10.2] }',
      '  api: { address: 10.0.0.1:81, reals: [192.168.10.3] }',
    );
    const result = loaded(text);
    expect(result.warnings).toMatchObject([
      {
        line: 2,
        column: 46,
        path: 'defaults.check.timeout',
        message: /^timeout 5s is not shorter/,
      },
    ]);
    for (const svc of result.config.services) expect(svc.reals[0]?.check?.timeout).toBe(1000);
  });

  it("a real's own check is capped on its own; its siblings keep the service's", () => {
    const text = web('{ type: tcp, interval: 2s }', [
      '      - { address: 192.168.10.3, check: { type: tcp, interval: 1s, timeout: 1s } }',
    ]);
    const result = loaded(text);
    expect(result.warnings).toMatchObject([{ path: 'services.web.reals[1].check.timeout' }]);
    const [first, second] = result.config.services[0]?.reals ?? [];
    expect(first?.check).toMatchObject({ interval: 2000, timeout: 2000 });
    expect(second?.check).toMatchObject({ interval: 1000, timeout: 1000 });
  });

  it('CheckConfig.parse fills the default from the interval too (what the health tests build)', () => {
    expect(CheckConfig.parse({ type: 'tcp', interval: '1s' })).toMatchObject({
      interval: 1000,
      timeout: 1000,
    });
    expect(CheckConfig.parse({ type: 'http' })).toMatchObject({ interval: 5000, timeout: 2000 });
  });
});

describe('hostile input: values are echoed short and escaped', () => {
  const errorsOf = (text: string) => {
    const result = load(text);
    expect(result.ok).toBe(false);
    return result.ok ? [] : result.errors;
  };
  const web = (...body: string[]) => y('services:', '  web:', ...body.map((line) => `    ${line}`));

  it('cuts a 5 MB scalar to 60 characters and its size', () => {
    const big = 'A'.repeat(5 * 1024 * 1024);
    const [error] = errorsOf(web(`address: ${big}`, 'reals: [192.168.10.2]'));
    expect(error?.message).toBe(
      `'${'A'.repeat(60)}…(5242880 bytes)' is not an IP address: IPVS balances IP addresses; ` +
        'write an IPv4 or IPv6 address (lvsd does not resolve names, so DNS cannot change the table)',
    );
  });

  it('cuts huge values and keys everywhere they are echoed, and stays fast (no did-you-mean table)', () => {
    const big = 'r'.repeat(1024 * 1024);
    // A flow mapping: YAML allows block keys of at most 1024 characters.
    const errors = errorsOf(
      y(
        'services:',
        `  web: { address: 10.0.0.1:80, scheduler: ${big}, ${big}: 1, reals: [192.168.10.2] }`,
      ),
    );
    const cut = `${'r'.repeat(60)}…(1048576 bytes)`;
    expect(errors.map((d) => [d.path, d.message])).toEqual([
      [
        'services.web.scheduler',
        `'${cut}' is not a valid scheduler (one of: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh)`,
      ],
      [
        `services.web.${cut}`,
        `unknown key '${cut}' (expected one of: description, enabled, address, protocol, fwmark, ` +
          'family, scheduler, scheduler_flags, ops, persistence, forwarding, weight, upper, lower, ' +
          'tunnel, check, reals, sorry_server, quorum, quorum_hysteresis, alpha, vip)',
      ],
    ]);
    for (const d of errors) expect(d.message.length + d.path.length).toBeLessThan(600);
  });

  it('a block key longer than YAML allows is a syntax error on both parsing paths', () => {
    const [error] = errorsOf(web('address: 10.0.0.1:80', `${'k'.repeat(1025)}: 1`));
    expect(error?.message).toMatch(/^YAML syntax: The : indicator must be at most 1024 chars/);
  });

  it('counts bytes as in the file (UTF-8) and does not cut a character in two', () => {
    const [error] = errorsOf(web(`address: ${'é'.repeat(59)}😀😀`, 'reals: [192.168.10.2]'));
    expect(error?.message).toMatch(new RegExp(`^'${'é'.repeat(59)}…\\(126 bytes\\)' is not`));
    expect(excerpt(`${'x'.repeat(59)}😀😀`)).toBe(`${'x'.repeat(59)}…(67 bytes)`);
  });

  it.each([
    ['ESC (terminal colours)', '\\e[31m10.0.0.1:80', String.raw`'\x1b[31m10.0.0.1:80'`],
    ['NUL and a C1 control', '10.0.0.1\\0:80\\N', String.raw`'10.0.0.1\x00:80\x85'`],
    ['a bidi override', '\\u202e10.0.0.1:80', String.raw`'\u202e10.0.0.1:80'`],
    ['a newline', '10.0.0.1\\n:80', String.raw`'10.0.0.1\n:80'`],
  ])('escapes %s in values', (_, yamlText, shown) => {
    const [error] = errorsOf(web(`address: "${yamlText}"`, 'reals: [192.168.10.2]'));
    expect(error?.message.startsWith(shown)).toBe(true);
    expect(escapeUnsafe(error?.message ?? '')).toBe(error?.message);
  });

  it('escapes control characters in keys, in the path and the message', () => {
    const text = y('services:', '  "we\\eb":', '    address: 10.0.0.1:80', '    "sh\\ecd": rr');
    const errors = errorsOf(text);
    expect(errors.map((d) => `${d.path}: ${d.message}`)).toContain(
      String.raw`services["we\x1bb"]["sh\x1bcd"]: unknown key 'sh\x1bcd'` +
        ' (expected one of: description, enabled, address, protocol, fwmark, family, scheduler,' +
        ' scheduler_flags, ops, persistence, forwarding, weight, upper, lower, tunnel, check,' +
        ' reals, sorry_server, quorum, quorum_hysteresis, alpha, vip)',
    );
  });

  it('escapes raw bytes read from a binary file', async () => {
    const dir = tempDir({});
    writeFileSync(
      join(dir, 'lvsd.yaml'),
      Buffer.concat([
        Buffer.from('services:\n  web:\n    address: 10.0.0.1:80'),
        Buffer.from([0x01, 0x7f, 0xff, 0xfe]),
        Buffer.from('\n    reals: [192.168.10.2]\n'),
      ]),
    );
    const result = await loadConfig(join(dir, 'lvsd.yaml'));
    expect(result.ok ? [] : result.errors.map((d) => d.message)).toEqual([
      String.raw`'80\x01\x7f��' in '10.0.0.1:80\x01\x7f��' is not a port (0..65535)`,
    ]);
  });

  it('quotes and escapes a text value shown as a value', () => {
    const [error] = errorsOf(
      web('address: 10.0.0.1:80', 'weight: "9\\e\\""', 'reals: [192.168.10.2]'),
    );
    expect(error?.message).toBe(String.raw`expected a number, got text "9\x1b\""`);
  });
});

describe('IPv6 with a port, written without brackets', () => {
  const ambiguous =
    `'2001:db8::1:80' is ambiguous: write "[2001:db8::1]:80" for port 80 of 2001:db8::1, ` +
    'or "[2001:db8::1:80]" for this address without a port (quoted: unquoted, [ starts a YAML list)';
  const v6 = (...body: string[]) => y('services:', '  web:', ...body.map((line) => `    ${line}`));

  it.each([
    [
      'the service address',
      v6('address: 2001:db8::1:80', 'reals: ["2001:db8::2"]'),
      'services.web.address',
    ],
    [
      'a real',
      v6('address: "[2001:db8::9]:80"', 'reals: [2001:db8::1:80]'),
      'services.web.reals[0]',
    ],
    [
      'a real as an object',
      v6('address: "[2001:db8::9]:80"', 'reals: [{ address: 2001:db8::1:80 }]'),
      'services.web.reals[0].address',
    ],
    [
      'the sorry server',
      v6('address: "[2001:db8::9]:80"', 'reals: ["2001:db8::2"]', 'sorry_server: 2001:db8::1:80'),
      'services.web.sorry_server',
    ],
  ])('%s is refused, with both spellings', (_, text, path) => {
    const result = load(text);
    expect(result.ok ? [] : result.errors.map((d) => [d.path, d.message])).toContainEqual([
      path,
      ambiguous,
    ]);
  });

  it('brackets say which was meant', () => {
    const result = load(
      v6(
        'address: "[2001:db8::9]:80"',
        'forwarding: nat',
        'reals: ["[2001:db8::1]:8080", "[2001:db8::1:80]"]',
      ),
    );
    expect(result.ok ? [] : result.errors).toEqual([]);
    expect(result.ok && result.config.services[0]?.reals.map((r) => r.id)).toEqual([
      '[2001:db8::1]:8080',
      '[2001:db8::1:80]:80',
    ]);
  });

  it('nine groups are no address; the message shows the bracketed spelling', () => {
    const result = load(v6('address: 10.0.0.1:80', 'reals: [2001:db8:0:0:0:0:0:5:80]'));
    expect(result.ok ? [] : result.errors.map((d) => d.message)).toEqual([
      `'2001:db8:0:0:0:0:0:5:80' is not an IP address; an IPv6 address with a port is written in ` +
        'brackets: "[2001:db8:0:0:0:0:0:5]:80"',
    ]);
  });

  it('addresses without ports are not touched: a multicast group, addresses ending in ::N', () => {
    const text = y(
      'kernel: { sync: { state: backup, interface: eth1, mcast_group: "ff02::1:2" } }',
      'services:',
      '  web: { address: "[2001:db8::9]:80", reals: ["2001:db8::10", "2001:db8:1::2"] }',
    );
    const result = load(text);
    expect(result.ok ? [] : result.errors).toEqual([]);
  });
});

describe('excerpt and quoted', () => {
  it.each([
    ['plain text', 'web', 'web', '"web"'],
    ['tab, newline, carriage return', 'a\tb\nc\r', String.raw`a\tb\nc\r`, String.raw`"a\tb\nc\r"`],
    [
      'ESC, DEL, a C1 control',
      '\u001b\u007f\u009b',
      String.raw`\x1b\x7f\x9b`,
      String.raw`"\x1b\x7f\x9b"`,
    ],
    [
      'bidi and zero-width characters',
      '\u202e\u200b\u2066',
      String.raw`\u202e\u200b\u2066`,
      String.raw`"\u202e\u200b\u2066"`,
    ],
    ['a lone surrogate', 'a\ud800b', String.raw`a\ud800b`, String.raw`"a\ud800b"`],
    ['a surrogate pair', '😀', '😀', '"😀"'],
    ['quotes and backslashes', 'a"b\\c', 'a"b\\c', String.raw`"a\"b\\c"`],
  ])('%s', (_, text, shown, inQuotes) => {
    expect(excerpt(text)).toBe(shown);
    expect(quoted(text)).toBe(inQuotes);
  });

  it('cuts after 60 characters, with the size in bytes outside the quotes', () => {
    expect(quoted('b'.repeat(100))).toBe(`"${'b'.repeat(60)}"…(100 bytes)`);
    expect(excerpt('b'.repeat(60))).toBe('b'.repeat(60));
  });
});
