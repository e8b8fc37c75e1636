/**
 * `lvsd import` and `lvsd export` as commands: what goes to stdout and stderr, exit codes,
 * -o, stdin; export of the live table (the fake kernel) and of a config.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runExport } from '../../src/cli/commands/export.js';
import {
  type ImportIo,
  runImportIpvsadm,
  runImportKeepalived,
  validated,
} from '../../src/cli/commands/import.js';
import { formatDiagnostics } from '../../src/config/diagnostics.js';
import { importKeepalived } from '../../src/migrate/keepalived.js';
import { memFs } from '../migrate/helpers.js';
import { FakeIpvs } from '../../src/ipvs/fake.js';
import { testIo } from './io.js';

function importIo(stdin = ''): ImportIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    color: false,
    write: (t: string) => {
      io.out += t;
    },
    writeError: (t: string) => {
      io.err += t;
    },
    readStdin: async () => stdin,
  };
  return io;
}

const fixtures = 'test/migrate/fixtures';

describe('lvsd import keepalived', () => {
  it('prints the config on stdout, warnings and a summary on stderr; exit 0', async () => {
    const io = importIo();
    expect(await runImportKeepalived(`${fixtures}/fwmark-pair.conf`, {}, io)).toBe(0);
    expect(io.out).toMatch(
      /^# Imported by `lvsd import keepalived` from test\/migrate\/fixtures\/fwmark-pair\.conf\./,
    );
    expect(io.out).toContain('\n  www:\n    fwmark: 1\n');
    expect(io.out).toContain('\nvrrp:\n  instances:\n');
    expect(io.err).toContain(
      'test/migrate/fixtures/fwmark-pair.conf:29:4: warning: authentication is not imported: lvsd offers no VRRPv2',
    );
    expect(io.err.trimEnd().split('\n').at(-1)).toBe(
      'lvsd import: 1 service(s), 2 real(s), 5 warning(s)',
    );
  });

  it('errors: every one with file:line:column, nothing on stdout, exit 1', async () => {
    const io = importIo();
    expect(await runImportKeepalived(`${fixtures}/errors/keepalived.conf`, {}, io)).toBe(1);
    expect(io.out).toBe('');
    expect(io.err).toContain(
      "test/migrate/fixtures/errors/broken.conf:3:5: error: 'real_server' block is " +
        "not closed: '}' missing before the end of the file",
    );
    expect(io.err).toContain(
      "test/migrate/fixtures/errors/keepalived.conf:9:5: error: invalid lvs_scheduler 'nosuch'",
    );
    expect(io.err).toContain('lvsd import: 6 error(s); nothing was written\n');
  });

  it('a config lvsd would refuse is not written: the loader has the last word', async () => {
    const result = await importKeepalived('k.conf', {
      fs: memFs({
        'k.conf':
          'virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 10.1.1.1 80 {\n }\n}\n',
      }),
    });
    const [real] = result.services[0]?.reals ?? [];
    if (real)
      real.check = {
        fields: [
          ['type', 'http'],
          ['path', 'no-slash'],
        ],
        notes: [],
      };
    const checked = validated(result, '<import>');
    expect(checked.ok).toBe(false);
    expect(checked.ok ? [] : formatDiagnostics(checked.errors)).toMatch(
      /^<import>:\d+:\d+: error: services\.tcp-10-0-0-1-80\.check\.path: /,
    );
  });

  it('a path without / and an empty DNS name: what keepalived sends, or a warning, never a refused file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lvsd-import-'));
    const file = join(dir, 'k.conf');
    await writeFile(
      file,
      'virtual_server 10.0.0.1 53 {\n protocol TCP\n real_server 10.1.1.1 53 {\n  DNS_CHECK {\n   name ""\n  }\n' +
        '  HTTP_GET {\n   url {\n    path health\n   }\n   url {\n    path /ok\n   }\n  }\n }\n}\n',
    );
    const io = importIo();
    expect(await runImportKeepalived(file, {}, io)).toBe(0);
    expect(io.out).toContain('          name: .\n');
    expect(io.out).toContain('          path: /ok\n');
    expect(io.err).toContain(
      `${file}:9:5: warning: path 'health' is not imported: keepalived requests it as written, and a path ` +
        "starts with '/' (write the path the server answers)",
    );
  });

  it('-o writes the file and names it', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'lvsd-import-')), 'lvsd.yaml');
    const io = importIo();
    expect(await runImportKeepalived(`${fixtures}/nat-dr.conf`, { output: out }, io)).toBe(0);
    expect(io.out).toBe('');
    expect(await readFile(out, 'utf8')).toContain('\n  shop:\n');
    expect(io.err).toBe(`lvsd import: 2 service(s), 4 real(s): ${out}\n`);
  });
});

describe('lvsd import ipvsadm', () => {
  it('reads stdin for - (or no file)', async () => {
    const io = importIo('-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.1.1.1:80 -m\n');
    expect(await runImportIpvsadm('-', {}, io)).toBe(0);
    expect(io.out).toContain('  # <stdin>:1: -A -t 10.0.0.1:80 -s rr\n  tcp-10-0-0-1-80:\n');
    expect(await runImportIpvsadm(undefined, {}, importIo('-A -t 10.0.0.1:80\n'))).toBe(0);
  });

  it("the loader's warnings are in the file too, name its final lines, and are counted", async () => {
    const io = importIo('-A -t 10.0.0.1:80 -p 60 --pe sip\n-a -t 10.0.0.1:80 -r 10.1.1.1:80 -m\n');
    expect(await runImportIpvsadm('-', {}, io)).toBe(0);
    const note =
      '# WARNING (lvsd validate) services.tcp-10-0-0-1-80.persistence.engine: the sip engine reads Call-IDs';
    expect(io.out).toContain(note);
    const line = io.out.split('\n').findIndex((l) => l.includes('engine: sip')) + 1;
    expect(io.err).toContain(`<import>:${line}:`);
    expect(io.err.trimEnd().split('\n').at(-1)).toBe(
      'lvsd import: 1 service(s), 1 real(s), 1 warning(s)',
    );
  });

  it('a file that cannot be read: exit 1', async () => {
    const io = importIo();
    expect(await runImportIpvsadm('/nonexistent/rules', {}, io)).toBe(1);
    expect(io.err).toMatch(/^lvsd import ipvsadm: cannot read \/nonexistent\/rules: /);
  });
});

describe('lvsd import --json', () => {
  it('one object on stdout: the config, counts and warnings with file:line; nothing on stderr', async () => {
    const io = importIo();
    const code = await runImportKeepalived(`${fixtures}/fwmark-pair.conf`, { json: true }, io);
    expect(code).toBe(0);
    expect(io.err).toBe('');
    const out = JSON.parse(io.out);
    expect(out).toMatchObject({ ok: true, services: 1, reals: 2, errors: [] });
    expect(out.config).toMatch(/^# Imported by `lvsd import keepalived`/);
    expect(out.warnings).toHaveLength(5);
    expect(out.warnings[0]).toMatchObject({
      severity: 'warning',
      file: `${fixtures}/fwmark-pair.conf`,
    });
    expect(out.warnings.some((w: { line: number }) => w.line === 29)).toBe(true);
  });

  it('errors: ok false, no config, every error with its line; exit 1', async () => {
    const io = importIo();
    const code = await runImportKeepalived(
      `${fixtures}/errors/keepalived.conf`,
      { json: true },
      io,
    );
    expect(code).toBe(1);
    const out = JSON.parse(io.out);
    expect(out.ok).toBe(false);
    expect(out.config).toBeNull();
    expect(out.errors).toHaveLength(6);
    expect(out.errors.map((e: { file: string; line: number }) => `${e.file}:${e.line}`)).toContain(
      `${fixtures}/errors/keepalived.conf:9`,
    );
  });

  it('a file that cannot be read: the error as JSON on stdout', async () => {
    const io = importIo();
    expect(await runImportIpvsadm('/nonexistent/rules', { json: true }, io)).toBe(1);
    expect(JSON.parse(io.out).error).toMatchObject({ command: 'import ipvsadm' });
    expect(io.err).toBe('');
  });

  it('with -o: the file is written, and the object names it instead of carrying the config', async () => {
    const output = join(await mkdtemp(join(tmpdir(), 'lvsd-import-json-')), 'lvsd.yaml');
    const io = importIo('-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.1.1.1:80 -m\n');
    expect(await runImportIpvsadm('-', { json: true, output }, io)).toBe(0);
    const out = JSON.parse(io.out);
    expect(out).toMatchObject({ ok: true, output, services: 1, reals: 1 });
    expect(out.config).toBeUndefined();
    expect(await readFile(output, 'utf8')).toContain('tcp-10-0-0-1-80:');
  });
});

describe('lvsd export', () => {
  it('the live table, as ipvsadm-restore input with thresholds', async () => {
    const kernel = new FakeIpvs();
    const service = {
      family: 'ipv4',
      protocol: 'tcp',
      address: '10.0.0.1',
      port: 80,
      scheduler: 'rr',
      flags: { persistent: false, onePacket: false, sched1: false, sched2: false, sched3: false },
      timeout: 0,
      netmask: 32,
      pe: null,
    } as const;
    const dest = {
      address: '10.1.1.1',
      port: 8080,
      family: 'ipv4',
      forwarding: 'nat',
      weight: 3,
      upperThreshold: 100,
      lowerThreshold: 10,
      tunnelType: 'ipip',
      tunnelPort: 0,
      tunnelFlags: { csum: false, remcsum: false },
    } as const;
    await kernel.execute([
      { op: 'add-service', service },
      { op: 'add-dest', service, dest },
    ]);
    const io = testIo(async () => kernel);
    expect(await runExport({ format: 'ipvsadm' }, io)).toBe(0);
    expect(io.out).toBe(
      '-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.1.1.1:8080 -m -w 3 -x 100 -y 10\n',
    );
  });

  it("a config's table with -c, without a kernel", async () => {
    const io = testIo(async () => {
      throw new Error('no kernel here');
    });
    expect(await runExport({ format: 'ipvsadm', config: 'examples/dr.yaml' }, io)).toBe(0);
    expect(io.out).toBe(`-A -t 10.0.0.2:80 -s wlc
-a -t 10.0.0.2:80 -r 192.168.1.11:80 -g -w 1
-a -t 10.0.0.2:80 -r 192.168.1.12:80 -g -w 2
-a -t 10.0.0.2:80 -r 192.168.1.13:80 -g -w 2 -x 5000 -y 4000
`);
  });

  it('an unknown format is a usage error; an invalid config exits 1; no kernel exits 1', async () => {
    const none = testIo(async () => {
      throw new Error('IPVS is not available');
    });
    expect(await runExport({ format: 'json' }, none)).toBe(2);
    expect(none.err).toBe("lvsd export: unknown format 'json' (known: ipvsadm)\n");
    expect(await runExport({ format: 'ipvsadm', config: 'no/such/file.yaml' }, none)).toBe(1);
    expect(none.err).toContain('no/such/file.yaml: invalid configuration; nothing exported.');
    expect(await runExport({ format: 'ipvsadm' }, none)).toBe(1);
    expect(none.err).toContain('lvsd export: IPVS is not available');
  });
});
