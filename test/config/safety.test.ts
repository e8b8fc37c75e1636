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
