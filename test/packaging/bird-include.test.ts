/**
 * BIRD reads the route files lvsd writes for it (announce:) as its own user: Debian runs
 * `bird -u bird -g bird`, which drops root before reading bird.conf and its includes. Under
 * the modes of lvsd's unit (RuntimeDirectoryMode=, UMask=) BIRD cannot read them; under the
 * drop-in docs/fleet.md gives, it can. BIRD itself judges (`bird -p`: parse, as `bird`, and
 * exit), on files written by lvsd's own writer in a process with the unit's umask.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packagedUnit } from '../../src/cli/packaging.js';
import { missing, root, run } from './helpers.js';

/** Why the test cannot run here: no bird, no `bird` user, or not root (it switches users). */
function cannotRun(): string {
  const absent = missing('bird');
  if (absent) return absent;
  if (process.getuid?.() !== 0) return 'needs root (bird -u bird)';
  try {
    execFileSync('getent', ['passwd', 'bird'], { stdio: 'ignore' });
    return '';
  } catch {
    return 'needs the user bird (the bird2 package makes it)';
  }
}

interface Modes {
  directory: string;
  umask: string;
}

/** RuntimeDirectoryMode= and UMask= as a unit or a drop-in sets them. */
function modesIn(text: string): Modes {
  const value = (key: string) => new RegExp(`^${key}=(0[0-7]{3})$`, 'm').exec(text)?.[1];
  const directory = value('RuntimeDirectoryMode');
  const umask = value('UMask');
  expect(directory, text).toBeDefined();
  expect(umask, text).toBeDefined();
  return { directory: directory!, umask: umask! };
}

/** lvsd writes the IPv4 routes into a runtime directory with these modes; BIRD parses. */
async function birdParses(modes: Modes) {
  const base = await mkdtemp(join(tmpdir(), 'lvsd-bird-include-'));
  await chmod(base, 0o755);
  const runtime = join(base, 'lvsd');
  await mkdir(runtime);
  await chmod(runtime, Number.parseInt(modes.directory, 8));
  const routes = join(runtime, 'bird-vips.conf');
  // A child process: a worker thread may not change the umask.
  const wrote = await run(process.execPath, [
    '--input-type=module',
    '-e',
    `process.umask(0o${modes.umask});
     const { writeFileAtomically } = await import(${JSON.stringify(`${root}dist/util/json-file.js`)});
     const { renderRoutes } = await import(${JSON.stringify(`${root}dist/announce/bird.js`)});
     await writeFileAtomically(${JSON.stringify(routes)},
       renderRoutes([{ prefix: '192.0.2.10/32', gracefulShutdown: false }]));`,
  ]);
  expect(wrote.stderr).toBe('');
  expect(wrote.code).toBe(0);
  expect(await readFile(routes, 'utf8')).toContain('192.0.2.10/32');
  const conf = join(base, 'bird.conf');
  await writeFile(
    conf,
    `router id 10.0.0.11;\nprotocol device {}\nprotocol static lvsd4 {\n  ipv4;\n  include "${routes}";\n}\n`,
  );
  await chmod(conf, 0o644);
  return run('bird', ['-p', '-c', conf, '-u', 'bird', '-g', 'bird']);
}

const skip = cannotRun();
describe.skipIf(skip)(`BIRD, as the user bird, and lvsd's route files ${skip}`, () => {
  it('cannot read them under the modes of the packaged unit', async () => {
    const parsed = await birdParses(modesIn(packagedUnit()));
    expect(parsed.stderr).toMatch(/Unable to open included file .*: Permission denied/);
    expect(parsed.code).not.toBe(0);
  });

  it('reads them under the drop-in docs/fleet.md gives', async () => {
    const fleet = await readFile(join(root, 'docs/fleet.md'), 'utf8');
    const dropIn = /```\n# systemctl edit lvsd[^\n]*\n([\s\S]*?)```/.exec(fleet)?.[1];
    expect(dropIn).toBeDefined();
    const parsed = await birdParses(modesIn(dropIn!));
    expect(parsed.stderr).toBe('');
    expect(parsed.code).toBe(0);
  });
});
