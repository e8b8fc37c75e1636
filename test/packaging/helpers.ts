/**
 * Running programs from the packaging tests: the repository root, a promise around
 * execFile that never rejects, and whether a command the test needs is installed
 * (test/host-packages.sh installs them; a test without one skips and says which).
 */
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  file: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<Ran> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { cwd: options.cwd ?? root, env: options.env ?? process.env, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Whether `command` is on PATH. */
export function has(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The reason a test skips: the commands it needs that are missing. */
export function missing(...commands: string[]): string {
  const absent = commands.filter((c) => !has(c));
  return absent.length ? `needs ${absent.join(', ')} (bash test/host-packages.sh)` : '';
}

/** Runs node with lvsd's CLI from this checkout's dist/ (npm run build). */
export function lvsd(args: readonly string[], options: Parameters<typeof run>[2] = {}) {
  return run(process.execPath, [`${root}bin/lvsd.js`, ...args], options);
}
