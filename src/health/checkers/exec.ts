/**
 * exec: run a program (argv, never a shell); exit status 0 means up. It runs in its own
 * process group, and the whole group is killed (SIGKILL) when the check is aborted by its
 * timeout, and also once the program has exited, so a check never leaves helpers behind.
 *
 * Environment: the daemon's, plus LVSD_SERVICE, LVSD_VIP, LVSD_VPORT, LVSD_RIP, LVSD_RPORT
 * (the real's traffic address), LVSD_CHECK_ADDRESS, LVSD_CHECK_PORT (what to check, after
 * overrides), then the check's own `env`.
 *
 * dynamic_weight: the last non-empty line of standard output, when it is an integer from
 * 0 to 65535, becomes the real's weight while it is up. keepalived's MISC_DYNAMIC is the
 * model, but it encodes the weight in the exit status (2..255 = weight + 2), which caps
 * weights at 253 and makes "non-zero is down" ambiguous; a line of output has neither limit.
 */
import { spawn } from 'node:child_process';
import type { Checker } from '../types.js';
import { abortError } from '../types.js';

const MAX_OUTPUT_BYTES = 64 * 1024;

export function parseWeight(output: string): number | undefined {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const last = lines[lines.length - 1];
  if (last === undefined || !/^\d+$/.test(last)) return undefined;
  const weight = Number(last);
  return weight <= 65535 ? weight : undefined;
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group is already gone.
  }
}

export const execChecker: Checker<'exec'> = {
  type: 'exec',
  prepare(config, target) {
    const [file, ...args] = config.command as [string, ...string[]];
    const env = {
      ...process.env,
      LVSD_SERVICE: target.service,
      LVSD_VIP: target.vip,
      LVSD_VPORT: String(target.vport),
      LVSD_RIP: target.realAddress,
      LVSD_RPORT: String(target.realPort),
      LVSD_CHECK_ADDRESS: target.address,
      LVSD_CHECK_PORT: String(target.port),
      ...config.env,
    };
    return (signal) =>
      new Promise((resolve, reject) => {
        if (signal.aborted) return reject(abortError(signal));
        const child = spawn(file, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => {
          if (stdout.length < MAX_OUTPUT_BYTES) stdout += chunk.toString('utf8');
        });
        child.stderr.on('data', (chunk: Buffer) => {
          if (stderr.length < MAX_OUTPUT_BYTES) stderr += chunk.toString('utf8');
        });
        const onAbort = () => killGroup(child.pid);
        signal.addEventListener('abort', onAbort, { once: true });
        child.once('exit', () => killGroup(child.pid));
        child.once('error', (err) => {
          signal.removeEventListener('abort', onAbort);
          reject(new Error(`cannot run ${file}: ${err.message}`));
        });
        child.once('close', (code, killedBy) => {
          signal.removeEventListener('abort', onAbort);
          if (signal.aborted) return reject(abortError(signal));
          const said = (stderr.trim() || stdout.trim()).split('\n').pop()?.slice(0, 200) ?? '';
          if (code !== 0) {
            const how = killedBy ? `killed by ${killedBy}` : `exit ${code}`;
            return resolve({ ok: false, message: said ? `${how}: ${said}` : how });
          }
          const weight = config.dynamic_weight ? parseWeight(stdout) : undefined;
          resolve({
            ok: true,
            message: weight === undefined ? 'exit 0' : `exit 0, weight ${weight}`,
            ...(weight === undefined ? {} : { weight }),
          });
        });
      });
  },
};
