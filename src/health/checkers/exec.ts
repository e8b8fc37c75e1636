/**
 * exec: run a program (argv, never a shell); exit status 0 means up. It runs in its own
 * process group, and the whole group is killed (SIGKILL) when the check is aborted by its
 * timeout, and also once the program has exited, so a check never leaves helpers behind.
 *
 * Environment: the daemon's, plus LVSD_SERVICE, LVSD_VIP, LVSD_VPORT, LVSD_RIP, LVSD_RPORT
 * (the real's traffic address), LVSD_CHECK_ADDRESS, LVSD_CHECK_PORT (what to check, after
 * overrides), then the check's own `env`. The same names written as $NAME or ${NAME} in an
 * argument are replaced by their values, so one command serves every real of a service
 * without a shell (`[check_http, -I, $LVSD_CHECK_ADDRESS, -p, $LVSD_CHECK_PORT]`).
 *
 * Nagios plugins (monitoring-plugins): exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; the
 * first line of output is the summary, perfdata after a `|`. `warning` says how exit 1
 * counts; the reason shown is the summary without perfdata or usage text.
 *
 * Dynamic weight (`dynamic_weight`): `output` (or true) reads the last non-empty line of
 * standard output, an integer 0..65535; `exit_status` is keepalived's misc_dynamic: exit 0
 * up at the configured weight, 1 down, 2..255 up with weight status - 2 (so at most 253).
 */
import { execFileSync, spawn } from 'node:child_process';
import type { CheckConfig, CheckPart } from '../../config/check.js';
import type { Checker, CheckOutcome, CheckTarget } from '../types.js';
import { abortError } from '../types.js';

type ExecConfig = Extract<CheckConfig | CheckPart, { type: 'exec' }>;

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

/** The variables lvsd gives a check's program, by name. */
function checkVariables(target: CheckTarget): Record<string, string> {
  return {
    LVSD_SERVICE: target.service,
    LVSD_VIP: target.vip,
    LVSD_VPORT: String(target.vport),
    LVSD_RIP: target.realAddress,
    LVSD_RPORT: String(target.realPort),
    LVSD_CHECK_ADDRESS: target.address,
    LVSD_CHECK_PORT: String(target.port),
  };
}

/** $NAME and ${NAME} of lvsd's variables replaced; anything else (other $, quotes) left as written. */
export function substitute(arg: string, variables: Record<string, string>): string {
  return arg.replace(
    /\$\{(LVSD_[A-Z_]+)\}|\$(LVSD_[A-Z_]+)(?![A-Za-z0-9_])/g,
    (whole, braced, bare) => {
      const value = variables[(braced ?? bare) as string];
      return value === undefined ? whole : value;
    },
  );
}

/** A Nagios plugin's summary line: an optional upper-case service name, then its status. */
const NAGIOS_SUMMARY = /^([A-Z][A-Z0-9_ ]*\s)?(OK|WARNING|CRITICAL|UNKNOWN)\b/;

/**
 * The line that says why, from what the program printed: standard output's first line
 * when it is a Nagios summary ("HTTP CRITICAL - ..."), else the last line of standard
 * error, else of standard output; perfdata and a usage text left out, 200 characters at most.
 */
export function reasonOf(stdout: string, stderr: string): string {
  const lines = (text: string) => {
    const all = text.split('\n').map((l) => l.trim());
    const usage = all.findIndex((l) => /^usage:/i.test(l));
    return (usage >= 0 ? all.slice(0, usage) : all).filter((l) => l.length > 0);
  };
  const out = lines(stdout);
  const summary = out[0] !== undefined && NAGIOS_SUMMARY.test(out[0]) ? out[0] : undefined;
  const line = summary ?? lines(stderr).pop() ?? out.pop() ?? '';
  return line.replace(/\s*\|\s*'?[^'=|\s]+'?=\S*.*$/, '').slice(0, 200);
}

/** uid and gid of `user` (and `group`), looked up once when the check is prepared. */
function identity(
  config: ExecConfig,
): { uid: number; gid: number; name: string; home?: string } | undefined {
  if (config.user === undefined) return undefined;
  if (process.getuid?.() !== 0)
    throw new Error(`running the check as ${config.user} needs lvsd to run as root`);
  const entry = (database: string, key: string): string[] => {
    try {
      return execFileSync('getent', [database, key], { encoding: 'utf8' }).trim().split(':');
    } catch {
      throw new Error(`no ${database === 'passwd' ? 'user' : 'group'} ${key}`);
    }
  };
  const user = entry('passwd', config.user);
  const gid =
    config.group === undefined ? Number(user[3]) : Number(entry('group', config.group)[2]);
  // The name from the passwd entry: `user` may be a uid, and USER is a name.
  const name = user[0] as string;
  return { uid: Number(user[2]), gid, name, ...(user[5] ? { home: user[5] } : {}) };
}

/** The outcome of a finished program, by its exit status and what it printed. */
function judge(config: ExecConfig, code: number, stdout: string, said: string): CheckOutcome {
  const text = (how: string) => (said ? `${how}: ${said}` : how);
  if (config.dynamic_weight === 'exit_status' && code >= 2)
    return { ok: true, message: text(`exit ${code}, weight ${code - 2}`), weight: code - 2 };
  if (code === 1 && config.warning === 'up')
    return { ok: true, message: text('exit 1 (warning: up)') };
  if (code !== 0) return { ok: false, message: text(`exit ${code}`) };
  const weight =
    config.dynamic_weight === true || config.dynamic_weight === 'output'
      ? parseWeight(stdout)
      : undefined;
  if (weight === undefined) return { ok: true, message: 'exit 0' };
  return { ok: true, message: `exit 0, weight ${weight}`, weight };
}

export const execChecker: Checker<'exec'> = {
  type: 'exec',
  prepare(config, target) {
    const variables = checkVariables(target);
    const [file, ...args] = config.command.map((arg) => substitute(arg, variables)) as [
      string,
      ...string[],
    ];
    const as = identity(config);
    const env = {
      ...process.env,
      ...(as ? { USER: as.name, LOGNAME: as.name } : {}),
      ...(as?.home ? { HOME: as.home } : {}),
      ...variables,
      ...config.env,
    };
    const options = { env, detached: true, ...(as ? { uid: as.uid, gid: as.gid } : {}) };
    return (signal) =>
      new Promise((resolve, reject) => {
        if (signal.aborted) return reject(abortError(signal));
        const child = spawn(file, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
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
          const said = reasonOf(stdout, stderr);
          if (code === null)
            return resolve({
              ok: false,
              message: said ? `killed by ${killedBy}: ${said}` : `killed by ${killedBy}`,
            });
          resolve(judge(config, code, stdout, said));
        });
      });
  },
};
