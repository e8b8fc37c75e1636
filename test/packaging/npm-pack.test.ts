/**
 * The npm package as an operator installs it: `npm pack` ships the CLI, the unit, the man
 * page, docs, examples, the schema and LICENSE (and no sources or tests);
 * `npm install -g --prefix DIR lvsd-X.tgz` puts `lvsd` and lvsd(8) in place, and the
 * installed lvsd validates every example, loads its native modules and prints a unit that
 * systemd accepts.
 * (Packs dist/ as it is: npm test builds it first.)
 */
import { readdir, realpath, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { missing, run } from './helpers.js';

const version = (await import('../../package.json', { with: { type: 'json' } })).default.version;
const INSTALL_MS = 300_000;

let dir: string;
let files: string[];
let prefix: string;
let installed: Awaited<ReturnType<typeof run>>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lvsd-pack-'));
  const packed = await run('npm', [
    'pack',
    '--ignore-scripts',
    '--json',
    '--pack-destination',
    dir,
  ]);
  expect(packed.code, packed.stderr).toBe(0);
  files = (JSON.parse(packed.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map(
    (f) => f.path,
  );
  prefix = join(dir, 'prefix');
  installed = await run(
    'npm',
    [
      'install',
      '-g',
      '--prefix',
      prefix,
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      join(dir, `lvsd-${version}.tgz`),
    ],
    { cwd: dir },
  );
}, INSTALL_MS);

const installedLvsd = (args: string[]) => run(join(prefix, 'bin/lvsd'), args, { cwd: dir });

describe('npm pack', () => {
  it('ships the CLI, the unit, the man page, docs, examples, the schema and LICENSE', () => {
    for (const file of [
      'LICENSE',
      'README.md',
      'package.json',
      'bin/lvsd.js',
      'dist/cli/main.js',
      'dist/daemon/systemd.js',
      'schemas/lvsd.schema.json',
      'examples/nat-web.yaml',
      'examples/conf.d/00-global.yaml',
      'packaging/lvsd.service',
      'packaging/lvsd.8',
      'docs/daemon.md',
      'docs/config.md',
    ])
      expect(files, file).toContain(file);
  });

  it('ships no sources, tests or build leftovers', () => {
    expect(
      files.filter((f) => /^(src|test|bench|lint|node_modules|dist-deb|lab-out)\//.test(f)),
    ).toEqual([]);
  });

  // tsc's maps name ../src files that do not ship: dead weight that points nowhere.
  it('ships no source maps', () => {
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
  });
});

// The installed lvsd runs once per example: seconds apiece on a loaded CI machine.
describe('npm install -g from the tarball', { timeout: 120_000 }, () => {
  it('installs lvsd on the prefix PATH and lvsd(8) in its man pages', () => {
    expect(installed.code, installed.stderr).toBe(0);
    expect(existsSync(join(prefix, 'bin/lvsd'))).toBe(true);
    expect(existsSync(join(prefix, 'share/man/man8/lvsd.8'))).toBe(true);
  });

  it('the installed lvsd prints its version', async () => {
    const printed = await installedLvsd(['--version']);
    expect(printed.stdout.trim()).toBe(version);
    expect(printed.code).toBe(0);
  });

  it('the installed lvsd validates every example shipped with it', async () => {
    const examples = join(prefix, 'lib/node_modules/lvsd/examples');
    const entries = (await readdir(examples)).filter((n) => n.endsWith('.yaml') || n === 'conf.d');
    expect(entries.length).toBeGreaterThan(5);
    for (const entry of entries) {
      const validated = await installedLvsd(['validate', '-c', join(examples, entry)]);
      expect(validated.code, `${entry}: ${validated.stderr}`).toBe(0);
      expect(validated.stdout).toMatch(/: valid/);
    }
  });

  it('the native modules load from the installed copy, though npm ran no install script', async () => {
    // npm 11 runs no dependency's install script in a global install unless allowed: the
    // netlink binding and koffi must load from the prebuilt binaries they ship.
    const app = join(prefix, 'lib/node_modules/lvsd');
    const loaded = await run(process.execPath, [
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(join(app, 'dist/daemon/index.js'))});
       const { createRequire } = await import('node:module');
       const require = createRequire(${JSON.stringify(`${app}/`)});
       require('netlink');
       console.log(typeof require('koffi').load);`,
    ]);
    expect(loaded.stderr).toBe('');
    expect(loaded.stdout.trim()).toBe('function');
  });

  const skip = missing('systemd-analyze');
  it.skipIf(skip)(
    `the unit the installed lvsd prints starts it, and systemd accepts it ${skip}`,
    async () => {
      const printed = await installedLvsd(['systemd-unit']);
      expect(printed.code).toBe(0);
      const exec = /^ExecStart=(\S+)/m.exec(printed.stdout)![1]!;
      // The npm link itself, or node with the installed script when systemd's PATH has another node.
      const script = await realpath(join(prefix, 'lib/node_modules/lvsd/bin/lvsd.js'));
      if (exec === join(prefix, 'bin/lvsd')) expect(await realpath(exec)).toBe(script);
      else expect(printed.stdout).toContain(`ExecStart=${process.execPath} ${script} run `);
      const unit = join(dir, 'lvsd.service');
      await writeFile(unit, printed.stdout);
      // With the installed man page, so Documentation=man:lvsd(8) is checked too.
      const verified = await run('systemd-analyze', ['verify', unit], {
        env: { ...process.env, MANPATH: join(prefix, 'share/man') },
      });
      expect(verified.stderr).toBe('');
      expect(verified.code).toBe(0);
    },
  );
});
