/**
 * BIRD reads the route files lvsd writes for it (announce:) as its own user: Debian runs
 * `bird -u bird -g bird`, which drops root before reading bird.conf and its includes. Under
 * the modes of lvsd's packaged unit (RuntimeDirectoryMode=, UMask=) it can, while a file
 * lvsd writes without a mode of its own (state.json) stays closed to other users. BIRD itself
 * judges (`bird -p`: parse, as `bird`, and exit), on files written by lvsd's own writer in a
 * process with the unit's umask; a runtime directory closed to others is the control case.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
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

/**
 * lvsd's announcer writes the routes into a runtime directory with these modes (BIRD's socket
 * is absent: the files stay, as when BIRD is not up yet), and state.json beside them with the
 * ordinary writer; BIRD parses its config, and state.json's mode is returned.
 */
async function birdParses(modes: Modes) {
  const base = await mkdtemp(join(tmpdir(), 'lvsd-bird-include-'));
  await chmod(base, 0o755);
  const runtime = join(base, 'lvsd');
  await mkdir(runtime);
  await chmod(runtime, Number.parseInt(modes.directory, 8));
  const routes = join(runtime, 'bird-vips.conf');
  const state = join(runtime, 'state.json');
  const options = {
    socket: join(base, 'no-bird.ctl'),
    include: routes,
    include6: join(runtime, 'bird-vips6.conf'),
  };
  // A child process: a worker thread may not change the umask.
  const wrote = await run(process.execPath, [
    '--input-type=module',
    '-e',
    `process.umask(0o${modes.umask});
     const { writeJsonFile } = await import(${JSON.stringify(`${root}dist/util/json-file.js`)});
     const { BirdDaemon } = await import(${JSON.stringify(`${root}dist/announce/bird.js`)});
     const bird = new BirdDaemon(${JSON.stringify(options)});
     await bird.announce([{ prefix: '192.0.2.10/32', gracefulShutdown: false }]);
     await writeJsonFile(${JSON.stringify(state)}, { version: 2 });`,
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
  const parsed = await run('bird', ['-p', '-c', conf, '-u', 'bird', '-g', 'bird']);
  return { ...parsed, stateMode: (await stat(state)).mode & 0o777 };
}

const skip = cannotRun();
describe.skipIf(skip)(`BIRD, as the user bird, and lvsd's route files ${skip}`, () => {
  it('reads them under the modes of the packaged unit, and state.json stays closed to others', async () => {
    const parsed = await birdParses(modesIn(packagedUnit()));
    expect(parsed.stderr).toBe('');
    expect(parsed.code).toBe(0);
    expect(parsed.stateMode & 0o007).toBe(0);
  });

  it('cannot read them when the runtime directory is closed to others (the control case)', async () => {
    const parsed = await birdParses({ directory: '0750', umask: '0027' });
    expect(parsed.stderr).toMatch(/Unable to open included file .*: Permission denied/);
    expect(parsed.code).not.toBe(0);
  });
});
