/**
 * `lvsd run`: the daemon. Applies the config, runs the health checks, keeps the kernel
 * converged (reloads on file change and SIGHUP, repairs drift), serves /metrics, /status
 * and /healthz. See docs/daemon.md.
 */
import { Option, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { parseDuration } from '../../config/duration.js';
import { DEFAULT_CONFIG_PATH } from '../../config/index.js';
import { DEFAULT_HTTP_ADDRESS } from '../../daemon/http.js';
import { DEFAULT_STATE_DIR } from '../../reconcile/state.js';
import { LOG_LEVELS, type LogLevel } from '../../util/log.js';
import type { TcpPath } from '../../health/worker-pool.js';
import type { CommandModule } from '../command.js';

interface RunOptions {
  config: string;
  host?: string;
  stateDir: string;
  http: string | false;
  cleanupOnExit?: boolean;
  logLevel: LogLevel;
  watch: boolean;
  reloadDebounce: string;
  checkWorkers: string;
  tcpChecks: TcpPath;
}

function version(): string {
  try {
    return (
      JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
        version: string;
      }
    ).version;
  } catch {
    return '0.0.0';
  }
}

async function run(options: RunOptions): Promise<number> {
  const debounce = parseDuration(options.reloadDebounce);
  if (debounce === null) {
    process.stderr.write(
      `lvsd run: --reload-debounce ${options.reloadDebounce}: expected a duration such as 500ms or 2s\n`,
    );
    return 2;
  }
  const checkWorkers = Number(options.checkWorkers);
  if (!Number.isInteger(checkWorkers) || checkWorkers < 0 || checkWorkers > 64) {
    process.stderr.write(
      `lvsd run: --check-workers ${options.checkWorkers}: expected a whole number from 0 to 64\n`,
    );
    return 2;
  }
  // Loaded here, not at registration: `lvsd --help` should not load the daemon.
  const { runDaemon } = await import('../../daemon/index.js');
  const code = await runDaemon({
    config: options.config,
    ...(options.host ? { host: options.host } : {}),
    stateDir: options.stateDir,
    http: options.http,
    cleanupOnExit: Boolean(options.cleanupOnExit),
    logLevel: options.logLevel,
    watch: options.watch,
    reloadDebounceMs: debounce,
    checkWorkers,
    tcpChecks: options.tcpChecks,
    version: version(),
  });
  // Everything is closed by now; should a library still hold the event loop open, do not
  // let that turn a clean stop into systemd's SIGKILL after TimeoutStopSec.
  setTimeout(() => process.exit(code), 2000).unref();
  return code;
}

export const runCommand: CommandModule = {
  register(program: Command, setExitCode) {
    program
      .command('run')
      .description(
        'run the daemon: apply the config, run health checks, reload on change and SIGHUP, repair drift ' +
          '(needs CAP_NET_ADMIN)',
      )
      .option(
        '-c, --config <path>',
        'config file, or a directory of *.yaml / *.yml files',
        DEFAULT_CONFIG_PATH,
      )
      .option('--host <name>', "apply this entry of `hosts:` (default: this machine's hostname)")
      .option(
        '--state-dir <dir>',
        'where lvsd remembers what it owns and what is draining',
        DEFAULT_STATE_DIR,
      )
      .option(
        '--http <address>',
        'listen address for /metrics, /status and /healthz',
        DEFAULT_HTTP_ADDRESS,
      )
      .option('--no-http', 'no HTTP listener (`lvsd status` then has nothing to ask)')
      .option(
        '--cleanup-on-exit',
        'on SIGTERM / SIGINT remove what lvsd owns (default: leave the table, traffic keeps flowing)',
      )
      .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
      .option('--no-watch', 'do not watch the config files; reload on SIGHUP only')
      .option('--reload-debounce <duration>', 'quiet time after a change before reloading', '500ms')
      .option(
        '--check-workers <n>',
        'threads for the socket health checks (tcp, http, https, smtp, udp, dns), started with the ' +
          "first such check; 0: on the daemon's own event loop",
        '1',
      )
      .addOption(
        new Option(
          '--tcp-checks <path>',
          'how the check workers make tcp and http checks: epoll (non-blocking sockets through libc) ' +
            "or node (Node's net.Socket, as with --check-workers 0)",
        )
          .choices(['epoll', 'node'])
          .default('epoll'),
      )
      .action(async (options: RunOptions) => setExitCode(await run(options)));
  },
};
