/**
 * `lvsd validate` and `lvsd plan --state` must run where the native modules (the netlink binding, koffi) cannot
 * load (macOS laptops, CI runners): the CLI is run from dist/ with `netlink` and `koffi` made
 * unresolvable, and must still do its work.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const blocker = join(root, 'test/fixtures/block-netlink.mjs');

function lvsd(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', blocker, join(root, 'bin/lvsd.js'), ...args],
      { cwd: root },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('commands that need no kernel run without the netlink binding', () => {
  it('the blocker really blocks netlink', async () => {
    const result = await lvsd(['ls']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/netlink/);
  });

  it('lvsd validate', async () => {
    const result = await lvsd(['validate', '-c', 'examples/nat-web.yaml']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('lvsd plan --state', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lvsd-nonl-'));
    const snapshot = join(dir, 'table.json');
    await writeFile(snapshot, JSON.stringify({ services: [] }));
    const result = await lvsd([
      'plan',
      '-c',
      'examples/nat-web.yaml',
      '--state',
      snapshot,
      '--state-dir',
      dir,
    ]);
    expect(result.stdout).toContain('Plan: 3 to add');
    expect(result.code).toBe(2);
  });
});
