/**
 * Files and directories (conf.d), the examples, the generated schema and reference page,
 * and `lvsd validate` itself.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runValidate } from '../../src/cli/commands/validate.js';
import { hostNames, loadConfig, readConfigTexts } from '../../src/config/index.js';
import { formatDiagnostics } from '../../src/config/diagnostics.js';
import { renderJsonSchema, renderReference } from '../../src/config/json-schema.js';

const root = new URL('../../', import.meta.url).pathname;

const lines = (...text: string[]) => `${text.join('\n')}\n`;

function tempDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'lvsd-config-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('a directory is one config', () => {
  it('loads every *.yaml and *.yml in name order, ignoring other files', async () => {
    const dir = tempDir({
      '10-web.yaml': 'services:\n  web: { address: 10.0.0.1:80, reals: [192.168.1.1] }\n',
      '20-dns.yml':
        'services:\n  dns: { address: 10.0.0.2:53, protocol: udp, reals: [192.168.1.2] }\n',
      '00-kernel.yaml': 'kernel:\n  timeouts: { tcp: 900 }\n',
      'README.txt': 'not config',
      '.hidden.yaml': 'garbage: [',
    });
    const result = await loadConfig(dir);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.files.map((f) => f.slice(dir.length + 1))).toEqual([
      '00-kernel.yaml',
      '10-web.yaml',
      '20-dns.yml',
    ]);
    expect(result.config.services.map((s) => s.name)).toEqual(['web', 'dns']);
    expect(result.config.kernel.timeouts).toEqual({ tcp: 900 });
  });

  it('rejects a service name used in two files, naming both', async () => {
    const dir = tempDir({
      'a.yaml': 'services:\n  web: { address: 10.0.0.1:80, reals: [192.168.1.1] }\n',
      'b.yaml': '# second\nservices:\n  web: { address: 10.0.0.2:80, reals: [192.168.1.2] }\n',
    });
    const result = await loadConfig(dir);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toEqual([
      {
        severity: 'error',
        file: join(dir, 'b.yaml'),
        line: 3,
        column: 3,
        path: 'services.web',
        message:
          `service 'web' is also declared at ${join(dir, 'a.yaml')}:2:3: ` +
          'service names must be unique across the files of a directory',
      },
    ]);
  });

  it('rejects a setting made in two files', async () => {
    const dir = tempDir({
      'a.yaml': 'kernel:\n  timeouts: { tcp: 900 }\n',
      'b.yaml': 'kernel:\n  timeouts: { tcp: 600, udp: 60 }\n',
    });
    const result = await loadConfig(dir);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(
      result.errors.map((e) => [e.file.slice(dir.length + 1), e.line, e.column, e.path]),
    ).toEqual([['b.yaml', 2, 15, 'kernel.timeouts.tcp']]);
  });

  it('names the file an error is in', async () => {
    const dir = tempDir({
      'a.yaml': 'defaults: { forwarding: dr }\n',
      'b.yaml': 'services:\n  web:\n    address: 10.0.0.1:80\n    reals: [192.168.1.1:8080]\n',
    });
    const result = await loadConfig(dir);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(formatDiagnostics(result.errors)).toBe(
      `${join(dir, 'b.yaml')}:4:13: error: services.web.reals[0]: ` +
        'DR forwarding cannot map ports: the real keeps the destination port of the packet, ' +
        'so 192.168.1.1:8080 cannot serve port 80; drop the port or use nat',
    );
  });

  it('reports syntax errors of every file at once', async () => {
    const dir = tempDir({ 'a.yaml': 'services:\n  web: {\n', 'b.yaml': 'services: [\n' });
    const result = await loadConfig(dir);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(new Set(result.errors.map((e) => e.file.slice(dir.length + 1)))).toEqual(
      new Set(['a.yaml', 'b.yaml']),
    );
  });

  it('reports a missing path and an empty directory', async () => {
    const missing = await loadConfig('/nonexistent/lvsd');
    expect(missing.ok ? null : missing.errors[0]?.message).toBe('no such file or directory');
    const empty = await loadConfig(tempDir({}));
    expect(empty.ok ? null : empty.errors[0]?.message).toMatch(/no \*\.yaml or \*\.yml/);
  });
});

const exampleDir = join(root, 'examples');
const examples = readdirSync(exampleDir).map((n) => join(exampleDir, n));

describe('examples', () => {
  it('covers the setups of the LVS documentation', () => {
    const names = examples.map((p) => p.slice(exampleDir.length + 1));
    expect(names).toEqual(
      expect.arrayContaining([
        'nat-web.yaml',
        'dr.yaml',
        'tun.yaml',
        'fwmark-http-https.yaml',
        'persistent-https.yaml',
        'udp-dns.yaml',
        'ipv6.yaml',
        'sctp.yaml',
        'conf.d',
      ]),
    );
  });

  it.each(examples)(
    '%s is valid, for the base config and every host, without warnings',
    async (path) => {
      const texts = await readConfigTexts(path);
      for (const host of [null, ...hostNames(texts)]) {
        const result = await loadConfig(path, { host });
        expect(result.ok ? result.warnings : [...result.errors, ...result.warnings]).toEqual([]);
      }
    },
  );

  it.each(examples.filter((p) => statSync(p).isFile()))(
    '%s points at the schema and explains itself in a header',
    (path) => {
      const text = readFileSync(path, 'utf8');
      expect(
        text.startsWith('# yaml-language-server: $schema=../schemas/lvsd.schema.json\n#\n'),
      ).toBe(true);
      const header = text
        .split('\n')
        .slice(2)
        .findIndex((line) => !line.startsWith('#'));
      expect(header).toBeGreaterThanOrEqual(4);
    },
  );

  it.each([
    'nat-web.yaml',
    'dr.yaml',
    'tun.yaml',
    'fwmark-http-https.yaml',
    'persistent-https.yaml',
    'udp-dns.yaml',
    'ipv6.yaml',
    'sctp.yaml',
  ])('%s says when to use it and what the reals need', (name) => {
    const text = readFileSync(join(exampleDir, name), 'utf8');
    expect(text).toMatch(/# When to use it:/);
    expect(text).toMatch(/What the reals need/);
  });

  it('the NAT web pair is the one of the LVS documentation', async () => {
    const result = await loadConfig(join(exampleDir, 'nat-web.yaml'));
    if (!result.ok) throw new Error('invalid');
    const web = result.config.services[0];
    expect(web?.service).toMatchObject({ address: '10.0.0.1', port: 80, scheduler: 'rr' });
    expect(web?.reals.map((r) => [r.id, r.dest.forwarding])).toEqual([
      ['192.168.10.2:80', 'nat'],
      ['192.168.11.2:80', 'nat'],
    ]);
  });
});

describe('generated files', () => {
  it('schemas/lvsd.schema.json is up to date (npm run build && npm run schema)', () => {
    expect(readFileSync(join(root, 'schemas/lvsd.schema.json'), 'utf8')).toBe(renderJsonSchema());
  });

  it('docs/config-reference.md is up to date (npm run build && npm run schema)', () => {
    expect(readFileSync(join(root, 'docs/config-reference.md'), 'utf8')).toBe(renderReference());
  });

  it('the schema documents the keys other parts of lvsd rely on', () => {
    const text = renderJsonSchema();
    for (const key of [
      'quorum_hysteresis',
      'sorry_server',
      'alpha',
      'drain_timeout',
      'drift_interval',
      'prune',
      'expire_quiescent_template',
      'conn_reuse_mode',
      'ipv6_forwarding',
      'mcast_group',
      'syncmaxlen',
      'scheduler_flags',
    ]) {
      expect(text).toContain(`"${key}"`);
    }
  });
});

describe('lvsd validate', () => {
  function io() {
    const out: string[] = [];
    const err: string[] = [];
    return {
      out,
      err,
      io: {
        write: (t: string) => out.push(t),
        writeError: (t: string) => err.push(t),
        color: false,
      },
    };
  }

  it('exits 0 on a valid config and says what it found', async () => {
    const { out, io: streams } = io();
    expect(await runValidate({ config: join(exampleDir, 'nat-web.yaml') }, streams)).toBe(0);
    expect(out.join('')).toMatch(
      /nat-web.yaml: valid: 1 service, 2 reals \(0 errors, 0 warnings\)/,
    );
  });

  it('exits 1 and prints every error on an invalid config', async () => {
    const dir = tempDir({
      'bad.yaml': lines(
        'services:',
        '  web:',
        '    address: 10.0.0.1:80',
        '    shceduler: rr',
        '    reals: [{ address: 192.168.1.1, weight: 70000 }]',
      ),
    });
    const { err, io: streams } = io();
    expect(await runValidate({ config: join(dir, 'bad.yaml') }, streams)).toBe(1);
    const text = err.join('');
    expect(text).toContain(
      `${join(dir, 'bad.yaml')}:4:5: error: services.web.shceduler: ` +
        "unknown key 'shceduler' — did you mean 'scheduler'?",
    );
    expect(text).toContain('services.web.reals[0].weight: 70000 is above the maximum 65535');
    expect(text).toMatch(/invalid \(2 errors, 0 warnings\)/);
  });

  it("notes this machine's forwarding when a NAT config leaves it alone (exit status unchanged)", async () => {
    const nat =
      'services:\n  web: { address: 10.0.0.1:80, forwarding: nat, reals: [192.168.1.1:8080] }\n';
    const dir = tempDir({
      'nat.yaml': nat,
      'nat-fwd.yaml': `kernel: { sysctl: { ip_forward: true } }\n${nat}`,
    });
    const run = async (file: string, forwarding: number | null) => {
      const { err, io: streams } = io();
      const sysctls = async (names: readonly string[]) =>
        Object.fromEntries(names.map((n) => [n, forwarding]));
      const code = await runValidate(
        { config: join(dir, file) },
        { ...streams, readSysctls: sysctls },
      );
      return { code, err: err.join('') };
    };
    const off = await run('nat.yaml', 0);
    expect(off.code).toBe(0);
    expect(off.err).toMatch(
      new RegExp(
        String.raw`^note \(this machine\): net\.ipv4\.ip_forward is 0: NAT \(masquerading\) ` +
          String.raw`services cannot forward packets; set kernel\.sysctl\.ip_forward: true$`,
        'm',
      ),
    );
    expect((await run('nat.yaml', 1)).err).toBe('');
    expect((await run('nat.yaml', null)).err).toBe('');
    expect((await run('nat-fwd.yaml', 0)).err).toBe('');
  });

  it('exits 2 when the path does not exist', async () => {
    const { err, io: streams } = io();
    expect(await runValidate({ config: '/nonexistent/lvsd.yaml' }, streams)).toBe(2);
    expect(err.join('')).toMatch(/no such file or directory/);
  });

  it('prints diagnostics as JSON with --json', async () => {
    const dir = tempDir({
      'bad.yaml': 'services:\n  web: { address: 10.0.0.1:80, ops: true, reals: [192.168.1.1] }\n',
    });
    const { out, io: streams } = io();
    expect(await runValidate({ config: join(dir, 'bad.yaml'), json: true }, streams)).toBe(1);
    const report = JSON.parse(out.join(''));
    expect(report.valid).toBe(false);
    expect(report.results[0].errors).toEqual([
      expect.objectContaining({
        severity: 'error',
        file: join(dir, 'bad.yaml'),
        line: 2,
        column: 37,
        path: 'services.web.ops',
      }),
    ]);
  });

  it('validates every host of a fleet with --all-hosts', async () => {
    const dir = tempDir({
      'fleet.yaml': lines(
        'services:',
        '  web: { address: 10.0.0.1:80, forwarding: nat, reals: [192.168.1.1:8080] }',
        'hosts:',
        '  lb1: {}',
        '  lb2:',
        '    services:',
        '      web: { forwarding: dr }',
      ),
    });
    const { out, err, io: streams } = io();
    expect(await runValidate({ config: join(dir, 'fleet.yaml'), allHosts: true }, streams)).toBe(1);
    expect(out.join('')).toMatch(/\[base\] .*valid/);
    expect(out.join('')).toMatch(/\[lb1\] .*valid for host lb1/);
    expect(err.join('')).toMatch(
      /\[lb2\] .*fleet.yaml:2:57: error: services.web.reals\[0\]: DR forwarding cannot map ports/,
    );
  });

  it('loads no netlink code: validate runs where there is no IPVS, no root and no Linux', async () => {
    const { execFileSync } = await import('node:child_process');
    const command = join(root, 'dist/cli/commands/validate.js');
    try {
      statSync(command);
    } catch {
      return; // not built in this checkout; the unit tests above cover the command
    }
    const out = execFileSync(process.execPath, [
      '--input-type=module',
      '-e',
      `
      import { runValidate } from ${JSON.stringify(command)};
      import { createRequire } from 'node:module';
      const code = await runValidate(
        { config: ${JSON.stringify(join(exampleDir, 'conf.d'))}, allHosts: true },
        { write() {}, writeError() {}, color: false },
      );
      const loaded = Object.keys(createRequire(import.meta.url).cache);
      const netlink = loaded.some((k) => k.includes('netlink'));
      console.log(JSON.stringify({ code, netlink }));
    `,
    ]).toString();
    expect(JSON.parse(out.trim())).toEqual({ code: 0, netlink: false });
  });
});
