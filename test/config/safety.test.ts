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
