/**
 * The Debian package: packaging/deb/build.sh builds it, lintian finds no error in it, and
 * dpkg installs it into a scratch root (`dpkg --root`, maintainer scripts run with
 * DPKG_ROOT), where the installed lvsd runs: --version, validate of the conffile, of its
 * example uncommented and of every example; the daemon's modules and the netlink binding
 * load; the unit is packaging/lvsd.service and systemd accepts it; purge takes it all away.
 * (Packs dist/ as it is: npm test builds it first.)
 */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { missing, root, run } from './helpers.js';

const BUILD_MS = 300_000;
const skip = missing('dpkg-deb', 'dpkg-shlibdeps', 'strip');

/** Does this machine have Node.js >= 20 from a Debian package (Debian 13, NodeSource)? */
function hostNodejsPackage(): string | null {
  try {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's field, not JavaScript's
    const version = execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'nodejs'], {
      encoding: 'utf8',
    });
    execFileSync('dpkg', ['--compare-versions', version, 'ge', '20']);
    return version;
  } catch {
    return null;
  }
}

// Each test runs the installed lvsd a few times: seconds apiece on a loaded CI machine.
describe.skipIf(skip)(`the Debian package ${skip}`, { timeout: 120_000 }, () => {
  let deb = '';
  let scratch = '';
  let built: Awaited<ReturnType<typeof run>>;
  const inRoot = (path: string) => join(scratch, path);
  /** The installed /usr/bin/lvsd; its #!/usr/bin/node is this machine's when it has one. */
  const installed = (args: string[]) =>
    existsSync('/usr/bin/node')
      ? run(inRoot('usr/bin/lvsd'), args)
      : run(process.execPath, [inRoot('usr/lib/lvsd/bin/lvsd.js'), ...args]);
  const dpkg = (args: string[]) =>
    run(
      'dpkg',
      [
        `--root=${scratch}`,
        `--log=${inRoot('var/log/dpkg.log')}`,
        '--force-script-chrootless',
        ...args,
      ],
      {
        env: { ...process.env, DPKG_ROOT: scratch },
      },
    );

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lvsd-deb-'));
    built = await run('bash', ['packaging/deb/build.sh', '--no-build', join(dir, 'out')]);
    deb = built.stdout.trim();
    scratch = join(dir, 'root');
    for (const sub of ['var/lib/dpkg/info', 'var/lib/dpkg/updates', 'var/log'])
      await mkdir(inRoot(sub), { recursive: true });
    await writeFile(inRoot('var/lib/dpkg/available'), '');
    // With this machine's package list, dpkg checks Depends (nodejs >= 20, libc6, ...)
    // against what is really installed here.
    if (hostNodejsPackage()) await copyFile('/var/lib/dpkg/status', inRoot('var/lib/dpkg/status'));
    else await writeFile(inRoot('var/lib/dpkg/status'), '');
  }, BUILD_MS);

  it('builds', () => {
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
    expect(deb).toMatch(/\/lvsd_\d+\.\d+\.\d+_[a-z0-9]+\.deb$/);
  });

  const noLintian = missing('lintian');
  it.skipIf(noLintian)(
    `lintian finds no error ${noLintian}`,
    async () => {
      const linted = await run('lintian', ['--tag-display-limit', '0', '-I', deb]);
      const tags = linted.stdout.split('\n').filter((l) => /^[EWIPX]: /.test(l));
      const summary = new Map<string, number>();
      for (const tag of tags) {
        const key = tag.split(' ').slice(0, 3).join(' ');
        summary.set(key, (summary.get(key) ?? 0) + 1);
      }
      console.log(
        `lintian: ${[...summary].map(([k, n]) => `${n} x ${k}`).join('; ') || 'no tags'}`,
      );
      expect(tags.filter((t) => t.startsWith('E: '))).toEqual([]);
      expect(tags.filter((t) => t.startsWith('W: '))).toEqual([]);
    },
    BUILD_MS,
  );

  it('declares what it needs and keeps /etc/lvsd/lvsd.yaml as a conffile', async () => {
    const control = (await run('dpkg-deb', ['-f', deb])).stdout;
    expect(control).toMatch(/^Depends: nodejs \(>= 20\), libc6 \(>= [^)]+\)/m);
    expect(control).toMatch(/^Architecture: (amd64|arm64|armhf|i386)$/m);
    const conffiles = await run('dpkg-deb', ['--info', deb, 'conffiles']);
    expect(conffiles.stdout.trim()).toBe('/etc/lvsd/lvsd.yaml');
  });

  it('puts each file in its Debian place, and one architecture of the netlink binary', async () => {
    const listing = (await run('dpkg-deb', ['-c', deb])).stdout;
    const paths = listing.split('\n').map((l) => l.split(/\s+/).slice(5).join(' '));
    for (const path of [
      './usr/bin/lvsd -> ../lib/lvsd/bin/lvsd.js',
      './usr/lib/lvsd/bin/lvsd.js',
      './usr/lib/lvsd/dist/cli/main.js',
      './usr/lib/lvsd/schemas/lvsd.schema.json',
      './lib/systemd/system/lvsd.service',
      './etc/lvsd/lvsd.yaml',
      './usr/share/man/man8/lvsd.8.gz',
      './usr/share/bash-completion/completions/lvsd',
      './usr/share/zsh/vendor-completions/_lvsd',
      './usr/share/fish/vendor_completions.d/lvsd.fish',
      './usr/share/doc/lvsd/copyright',
      './usr/share/doc/lvsd/changelog.gz',
      './usr/share/doc/lvsd/examples/nat-web.yaml',
      './usr/share/doc/lvsd/grafana/lvsd.json',
      './usr/share/doc/lvsd/prometheus/lvsd-rules.yml',
    ])
      expect(paths, path).toContain(path);
    expect(paths.filter((p) => p.includes('/prebuilds/') && p.endsWith('.node'))).toHaveLength(1);
    expect(
      paths.filter((p) => /^\.\/usr\/lib\/lvsd\/(src|test|docs|examples|packaging)\//.test(p)),
    ).toEqual([]);
  });

  it('installs into a scratch root, enabled at boot by its postinst', async () => {
    const installedDeb = await dpkg([
      '-i',
      ...(hostNodejsPackage() ? [] : ['--force-depends']),
      deb,
    ]);
    expect(installedDeb.code, installedDeb.stderr).toBe(0);
    expect(await readlink(inRoot('etc/systemd/system/multi-user.target.wants/lvsd.service'))).toBe(
      '/lib/systemd/system/lvsd.service',
    );
    expect(await readFile(inRoot('lib/systemd/system/lvsd.service'), 'utf8')).toBe(
      await readFile(join(root, 'packaging/lvsd.service'), 'utf8'),
    );
  });

  it('the installed lvsd runs: --version and validate of the shipped config', async () => {
    const version = await installed(['--version']);
    expect(version.stdout.trim()).toBe(
      JSON.parse(await readFile(join(root, 'package.json'), 'utf8')).version,
    );
    const validated = await installed(['validate', '-c', inRoot('etc/lvsd')]);
    expect(validated.code, validated.stderr).toBe(0);
    expect(validated.stdout).toMatch(/valid: 0 services/);
  });

  it('the $schema path docs/config.md and the conffile give editors is the installed schema', async () => {
    const schemaLine = /^# yaml-language-server: \$schema=(\S+)$/m;
    const documented = schemaLine.exec(await readFile(join(root, 'docs/config.md'), 'utf8'))?.[1];
    const conffile = schemaLine.exec(await readFile(inRoot('etc/lvsd/lvsd.yaml'), 'utf8'))?.[1];
    expect(documented).toBe(conffile);
    expect(documented).toMatch(/^\//);
    const schema = JSON.parse(await readFile(inRoot(documented!), 'utf8')) as { $schema?: string };
    expect(schema.$schema).toMatch(/json-schema\.org/);
  });

  it('the conffile`s example, uncommented, is a valid config', async () => {
    const text = await readFile(inRoot('etc/lvsd/lvsd.yaml'), 'utf8');
    const example = text.slice(text.indexOf('# kernel:'));
    const dir = await mkdtemp(join(tmpdir(), 'lvsd-conffile-'));
    await writeFile(join(dir, 'lvsd.yaml'), example.replace(/^# ?/gm, ''));
    const validated = await installed(['validate', '-c', dir]);
    expect(validated.code, validated.stderr).toBe(0);
    expect(validated.stdout).toMatch(/valid: 1 services?, 2 reals/);
  });

  it('the installed lvsd validates every example shipped in its docs', async () => {
    const examples = inRoot('usr/share/doc/lvsd/examples');
    for (const entry of await readdir(examples)) {
      const validated = await installed(['validate', '-c', join(examples, entry)]);
      expect(validated.code, `${entry}: ${validated.stderr}`).toBe(0);
    }
  });

  it('the daemon`s modules and the netlink binding load from the installed copy', async () => {
    const app = inRoot('usr/lib/lvsd');
    const loaded = await run(process.execPath, [
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(join(app, 'dist/daemon/index.js'))});
       const { createRequire } = await import('node:module');
       createRequire(${JSON.stringify(`${app}/`)})('netlink');
       console.log('loaded');`,
    ]);
    expect(loaded.stderr).toBe('');
    expect(loaded.stdout.trim()).toBe('loaded');
  });

  const noAnalyze = missing('systemd-analyze');
  it.skipIf(noAnalyze)(
    `systemd accepts the installed unit, man page included ${noAnalyze}`,
    async () => {
      // The unit names /usr/bin/lvsd; here that file is in the scratch root.
      const unit = (await readFile(inRoot('lib/systemd/system/lvsd.service'), 'utf8')).replaceAll(
        '/usr/bin/lvsd',
        inRoot('usr/bin/lvsd'),
      );
      const dir = await mkdtemp(join(tmpdir(), 'lvsd-unit-'));
      await writeFile(join(dir, 'lvsd.service'), unit);
      const verified = await run('systemd-analyze', ['verify', join(dir, 'lvsd.service')], {
        env: { ...process.env, MANPATH: inRoot('usr/share/man') },
      });
      expect(verified.stderr).toBe('');
      expect(verified.code).toBe(0);
    },
  );

  it('purge removes the files, the conffile and the enablement', async () => {
    const purged = await dpkg(['--purge', 'lvsd']);
    expect(purged.code, purged.stderr).toBe(0);
    for (const path of [
      'usr/bin/lvsd',
      'usr/lib/lvsd',
      'etc/lvsd/lvsd.yaml',
      'lib/systemd/system/lvsd.service',
    ])
      expect(existsSync(inRoot(path)), path).toBe(false);
    expect(existsSync(inRoot('etc/systemd/system/multi-user.target.wants/lvsd.service'))).toBe(
      false,
    );
  });
});
