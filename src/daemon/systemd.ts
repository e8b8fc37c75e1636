/**
 * Telling systemd how `lvsd run` is doing, for a Type=notify unit (sd_notify(3)): READY=1
 * once the first reconcile pass has converged the table, WATCHDOG=1 while the event loop
 * runs, STATUS= for `systemctl status`. Only when systemd asks for it (NOTIFY_SOCKET set).
 *
 * Node.js has no unix datagram socket, so each message runs `systemd-notify` (by argv, no
 * shell); the unit says NotifyAccess=all, since the sender is that child. systemd-notify
 * waits until systemd has read the message (sd_notify_barrier), so a child that exits at
 * once does not make systemd drop it for want of a sender it can place in the unit.
 */
import { spawn } from 'node:child_process';
import type { Logger } from '../util/log.js';

/** What readiness is judged by: Daemon.healthy(). */
export interface Readiness {
  healthy(): { ok: boolean; reason: string };
}

export interface NotifyDeps {
  env: NodeJS.ProcessEnv;
  pid: number;
  /** Runs systemd-notify with these arguments; rejects with the reason it failed. */
  send: (args: readonly string[]) => Promise<void>;
  /** How often readiness is looked at again while the first pass has not converged. */
  pollMs: number;
}

export interface SystemdNotifier {
  /** Resolves once READY=1 has been sent (never, while lvsd is not ready). */
  readonly ready: Promise<void>;
  stop(): void;
}

/** Runs `systemd-notify ARGS`; a child that hangs is killed after 10 s. */
export function runSystemdNotify(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('systemd-notify', args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(stderr.trim() || `exited with ${signal ?? `status ${code}`}`));
    });
  });
}

const READY_STATUS = 'converged; reconciling on change, health and drift';

const defaultDeps = (): NotifyDeps => ({
  env: process.env,
  pid: process.pid,
  send: (args) => runSystemdNotify(args),
  pollMs: 1000,
});

/** The watchdog period in ms when systemd set one for this process, else null. */
export function watchdogPeriod(env: NodeJS.ProcessEnv, pid: number): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID !== undefined && Number(env.WATCHDOG_PID) !== pid) return null;
  // A third of the timeout: a ping is a process start, and a busy director may be slow.
  return Math.max(1, Math.floor(usec / 3000));
}

/** Starts notifying systemd, or returns null when lvsd does not run under Type=notify. */
export function notifySystemd(
  daemon: Readiness,
  log: Logger,
  deps: NotifyDeps = defaultDeps(),
): SystemdNotifier | null {
  if (!deps.env.NOTIFY_SOCKET) return null;
  const warned = new Set<string>();
  let inFlight = 0;
  const send = async (what: string, args: readonly string[]): Promise<boolean> => {
    inFlight++;
    try {
      await deps.send(args);
      return true;
    } catch (err) {
      // Once per kind: a missing systemd-notify would otherwise warn every second.
      const message = (err as Error).message;
      if (!warned.has(what))
        log.warn(
          { event: 'systemd_notify_failed', what, error: message },
          `systemd-notify (${what}) failed: ${message}`,
        );
      warned.add(what);
      return false;
    } finally {
      inFlight--;
    }
  };

  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  let poll: NodeJS.Timeout | undefined;
  let waitingFor: string | null = null;
  let stopped = false;
  const check = async (): Promise<void> => {
    const health = daemon.healthy();
    if (health.ok && (await send('ready', ['--ready', `--status=${READY_STATUS}`]))) {
      log.info({ event: 'systemd_ready' }, 'told systemd that lvsd is ready');
      markReady();
      return;
    }
    if (!health.ok && waitingFor !== health.reason) {
      waitingFor = health.reason;
      await send('status', [`--status=not ready: ${health.reason}`]);
    }
    if (!stopped) poll = setTimeout(() => void check(), deps.pollMs).unref();
  };
  void check();

  const period = watchdogPeriod(deps.env, deps.pid);
  const watchdog =
    period === null
      ? undefined
      : setInterval(() => {
          // A ping still running means systemd-notify is slow, not that lvsd is stuck.
          if (inFlight === 0) void send('watchdog', ['WATCHDOG=1']);
        }, period).unref();

  return {
    ready,
    stop: () => {
      stopped = true;
      clearTimeout(poll);
      clearInterval(watchdog);
    },
  };
}
