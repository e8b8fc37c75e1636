/**
 * `lvsd drain` / `lvsd undrain`: take this director out of (or back into) the fleet that
 * announces the VIPs over BGP (`announce:`). The drain is a marker file in the state
 * directory, then SIGUSR1 to the running `lvsd run` (the holder of the state directory's
 * writer lock, named in its run.pid), which reads it again.
 *
 * Why a file and a signal rather than the HTTP listener: /status and /metrics are read-only
 * and unauthenticated by design (they may listen on every address for scrapes), while a
 * signal needs the daemon's own user, as the file does. The file also makes the drain
 * outlive a restart: a director drained for maintenance does not announce again because
 * lvsd was restarted, and a drain asked while lvsd is stopped holds from its next start.
 */
import type { Command } from 'commander';
import { readFile, rm } from 'node:fs/promises';
import { drainMarkerPath, runPidPath } from '../../announce/service.js';
import { DEFAULT_STATE_DIR } from '../../reconcile/state.js';
import { writeJsonFile } from '../../util/json-file.js';
import { lockPath } from '../../util/writer-lock.js';
import type { CommandModule } from '../command.js';
import { reportError } from '../errors.js';

interface DrainOptions {
  stateDir: string;
  reason?: string;
  json?: boolean;
}

/**
 * The pid of the `lvsd run` holding the writer lock, or null (none, or an `lvsd apply`):
 * the lock's holder and run.pid agree and it is alive. A signal to any other process could
 * end it (SIGUSR1's default action).
 */
async function runningDaemon(stateDir: string): Promise<number | null> {
  const pidIn = async (path: string) =>
    Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
  const pid = await pidIn(lockPath(stateDir));
  if (!Number.isInteger(pid) || pid <= 0 || pid !== (await pidIn(runPidPath(stateDir))))
    return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

export async function runDrain(
  drain: boolean,
  options: DrainOptions,
  write: (text: string) => void = (t) => process.stdout.write(t),
  writeError: (text: string) => void = (t) => process.stderr.write(t),
): Promise<number> {
  const command = drain ? 'drain' : 'undrain';
  const marker = drainMarkerPath(options.stateDir);
  const reason = options.reason ?? `lvsd drain at ${new Date().toISOString()}`;
  try {
    if (drain) await writeJsonFile(marker, { at: new Date().toISOString(), reason });
    else await rm(marker, { force: true });
  } catch (err) {
    reportError(
      { json: options.json, write, writeError },
      command,
      `${marker}: ${(err as Error).message}`,
    );
    return 1;
  }
  const pid = await runningDaemon(options.stateDir);
  if (pid !== null) {
    try {
      process.kill(pid, 'SIGUSR1');
    } catch (err) {
      reportError(
        { json: options.json, write, writeError },
        command,
        `signal to pid ${pid}: ${(err as Error).message}`,
      );
      return 1;
    }
  }
  if (options.json) {
    write(`${JSON.stringify({ drained: drain, marker, signalled: pid }, null, 2)}\n`);
    return 0;
  }
  const what = drain
    ? `drained (${reason}): announced VIPs go to graceful shutdown, then are withdrawn`
    : 'undrained: VIPs are announced again once their services have quorum';
  write(
    pid !== null
      ? `lvsd run (pid ${pid}) ${what}; \`lvsd status\` shows each VIP\n`
      : `${marker} ${drain ? 'written' : 'removed'}; no lvsd run holds ${options.stateDir}: ` +
          `${what} from its next start\n`,
  );
  return 0;
}

function register(drain: boolean) {
  return (program: Command, setExitCode: (code: number) => void) => {
    const command = program
      .command(drain ? 'drain' : 'undrain')
      .description(
        drain
          ? 'take this director out of the BGP fleet (announce:): graceful shutdown, then withdraw; ' +
              'holds across restarts until `lvsd undrain`'
          : 'put this director back: VIPs are announced again once their services have quorum',
      )
      .option(
        '--state-dir <dir>',
        'the state directory of the `lvsd run` to tell',
        DEFAULT_STATE_DIR,
      )
      .option('--json', 'the outcome as JSON');
    if (drain) command.option('--reason <text>', 'why, shown by `lvsd status` and in the logs');
    command.action(async (options: DrainOptions) => setExitCode(await runDrain(drain, options)));
  };
}

export const drainCommand: CommandModule = { register: register(true) };
export const undrainCommand: CommandModule = { register: register(false) };
