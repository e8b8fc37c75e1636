/** `lvsd run` refuses a bad --check-workers before it touches anything. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

function lvsd(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, 'bin/lvsd.js'), ...args],
      { cwd: root },
      (err, _out, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
    );
  });
}

describe('lvsd run --check-workers', () => {
  it.each(['x', '-1', '1.5', '65'])('refuses %s with exit status 2', async (value) => {
    const result = await lvsd([
      'run',
      '--check-workers',
      value,
      '-c',
      'examples/nat-web.yaml',
      '--no-http',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `lvsd run: --check-workers ${value}: expected a whole number from 0 to 64\n`,
    );
  });
});
