/**
 * lvsd's systemd unit: `lvsd systemd-unit` points ExecStart at the lvsd that runs it,
 * packaging/lvsd.service is the same unit for the Debian package's /usr/bin/lvsd, systemd
 * itself accepts it (`systemd-analyze verify`), and its sandbox keeps CAP_NET_ADMIN and
 * CAP_NET_RAW and rates "OK" or better (`systemd-analyze security`; the unit before this
 * one rated 6.4 MEDIUM).
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lvsdCommand, type Install } from '../../src/cli/commands/systemd-unit.js';
import { packagedUnit } from '../../src/cli/packaging.js';
import { systemdWord } from '../../src/cli/unit-file.js';
import { lvsd, missing, root, run } from './helpers.js';

const SCRIPT = '/usr/local/lib/node_modules/lvsd/bin/lvsd.js';

/** A file system of symbolic links: path -> what it resolves to (absent: does not exist). */
function install(
  invoked: string,
  node: string,
  links: Record<string, string>,
  script = SCRIPT,
): Install {
  return { invoked, node, script, realpath: (path) => links[path] ?? null };
}

async function unitFrom(args: string[]): Promise<string> {
  const printed = await lvsd(['systemd-unit', ...args]);
  expect(printed.stderr).toBe('');
  expect(printed.code).toBe(0);
  return printed.stdout;
}

async function unitFile(text: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'lvsd-unit-')), 'lvsd.service');
  await writeFile(path, text);
  return path;
}

describe('the unit file', () => {
  it('packaging/lvsd.service is the unit for /usr/bin/lvsd (npm run packaging writes it)', async () => {
    expect(await readFile(join(root, 'packaging/lvsd.service'), 'utf8')).toBe(packagedUnit());
  });

  it.each([
    ['/usr/bin/lvsd', '/usr/bin/lvsd'],
    ['/opt/my lvsd/bin/lvsd.js', '"/opt/my lvsd/bin/lvsd.js"'],
    ['/srv/100%/lvsd', '/srv/100%%/lvsd'],
    ['/home/$USER/lvsd', '/home/$$USER/lvsd'],
    ['/tmp/a"b\\c', '"/tmp/a\\"b\\\\c"'],
    ['', '""'],
  ])('writes %j as %s on a command line', (word, written) => {
    expect(systemdWord(word)).toBe(written);
  });
});

describe('which lvsd the unit starts', () => {
  it('the link npm made, when systemd finds the same node on its PATH', () => {
    const links = {
      '/usr/local/bin/lvsd': SCRIPT,
      [SCRIPT]: SCRIPT,
      '/usr/bin/node': '/usr/bin/node',
    };
    expect(lvsdCommand(install('/usr/local/bin/lvsd', '/usr/bin/node', links))).toEqual([
      '/usr/local/bin/lvsd',
    ]);
  });

  it('node and the script when the node running lvsd is not the one systemd would find (nvm)', () => {
    const nvm = '/root/.nvm/versions/node/v20.20.2';
    const script = `${nvm}/lib/node_modules/lvsd/bin/lvsd.js`;
    const links = {
      [`${nvm}/bin/lvsd`]: script,
      [script]: script,
      '/usr/bin/node': '/usr/bin/node',
    };
    expect(lvsdCommand(install(`${nvm}/bin/lvsd`, `${nvm}/bin/node`, links, script))).toEqual([
      `${nvm}/bin/node`,
      script,
    ]);
  });

  it('node and the script when lvsd was run as a script, or systemd has no node at all', () => {
    const links = { [SCRIPT]: SCRIPT, '/usr/local/bin/lvsd': SCRIPT };
    expect(lvsdCommand(install(SCRIPT, '/usr/bin/node', links))).toEqual(['/usr/bin/node', SCRIPT]);
    expect(lvsdCommand(install('/usr/local/bin/lvsd', '/usr/bin/node', links))).toEqual([
      '/usr/bin/node',
      SCRIPT,
    ]);
  });

  it('`lvsd systemd-unit` from this checkout starts this node with this checkout', async () => {
    const unit = await unitFrom([]);
    const script = join(root, 'bin/lvsd.js');
    expect(unit).toContain(
      `ExecStart=${process.execPath} ${script} run -c /etc/lvsd --state-dir /run/lvsd --http 127.0.0.1:9380\n`,
    );
    expect(unit).toContain(`ExecStartPre=${process.execPath} ${script} validate -c /etc/lvsd\n`);
  });

  it('--exec, --config and --http change the command lines', async () => {
    const unit = await unitFrom(['--exec', '/opt/lvsd', '-c', '/srv/lvsd conf', '--http', ':9381']);
    expect(unit).toContain(
      'ExecStart=/opt/lvsd run -c "/srv/lvsd conf" --state-dir /run/lvsd --http :9381\n',
    );
    expect(unit).toContain('ExecStartPre=/opt/lvsd validate -c "/srv/lvsd conf"\n');
  });
});

describe('systemd accepts the unit', () => {
  const skip = missing('systemd-analyze');

  it.skipIf(skip)(`systemd-analyze verify passes on the unit lvsd prints ${skip}`, async () => {
    // --man=no: this checkout's lvsd(8) is not installed where man looks (the package test
    // verifies the installed unit with its man page).
    const verified = await run('systemd-analyze', [
      'verify',
      '--man=no',
      await unitFile(await unitFrom([])),
    ]);
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
  });

  it.skipIf(skip)(
    `the sandbox keeps CAP_NET_ADMIN and CAP_NET_RAW and rates OK or better ${skip}`,
    async () => {
      const analysed = await run('systemd-analyze', [
        'security',
        '--offline=yes',
        await unitFile(packagedUnit()),
      ]);
      expect(analysed.code).toBe(0);
      const score = /Overall exposure level for lvsd\.service: (\d+\.\d) (\w+)/.exec(
        analysed.stdout,
      );
      expect(score, analysed.stdout).not.toBeNull();
      console.log(
        `systemd-analyze security: lvsd.service ${score![1]} ${score![2]} (was 6.4 MEDIUM)`,
      );
      expect(['PERFECT', 'SAFE', 'OK']).toContain(score![2]);
      const kept = (cap: string) =>
        analysed.stdout.split('\n').find((line) => line.includes(`CapabilityBoundingSet=~${cap} `));
      expect(kept('CAP_NET_ADMIN')).toMatch(/^✗/);
      expect(kept('CAP_NET_(BIND_SERVICE|BROADCAST|RAW)')).toMatch(/^✗/);
      for (const dropped of [
        'CAP_SYS_ADMIN',
        'CAP_SYS_MODULE',
        'CAP_(DAC_*|FOWNER|IPC_OWNER)',
        'CAP_SYS_PTRACE',
      ])
        expect(kept(dropped), dropped).toMatch(/^✓/);
    },
  );
});
