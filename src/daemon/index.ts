/**
 * `lvsd run` wired together: the logger, the kernel client, the config loader, the health
 * manager, the daemon core, the HTTP listener and the signals. Exits 0 after a clean stop,
 * 1 when it cannot start (invalid config, no IPVS, the HTTP port taken).
 *
 * Signals: SIGHUP reloads at once (file changes wait for the debounce); SIGTERM and SIGINT stop the
 * checks and leave the kernel table in place, so traffic keeps flowing while lvsd restarts
 * (`--cleanup-on-exit` removes what lvsd owns instead).
 */
import { rm, writeFile } from 'node:fs/promises';
import { AnnounceService, drainMarkerPath, runPidPath } from '../announce/service.js';
import { renderAnnounceMetrics } from '../announce/status.js';
import type { IpvsClient } from '../ipvs/client.js';
import { openIpvs } from '../ipvs/index.js';
import { HealthManager } from '../health/manager.js';
import type { TcpPath } from '../health/worker-pool.js';
import { openAddresses } from '../director/index.js';
import { renderVrrpMetrics } from '../vrrp/metrics.js';
import { VrrpService } from '../vrrp/service.js';
import { createLogger, type Logger, type LogLevel } from '../util/log.js';
import { takeWriterLock, type WriterLock } from '../util/writer-lock.js';
import { ServiceMemo } from '../config/memo.js';
import { type ConfigLoader, loadConfigOutcome } from './config-loader.js';
import { ConfigRejectedError, Daemon } from './daemon.js';
import { StatusServer, type StatusSource, parseListenAddress } from './http.js';
import { type NotifyDeps, notifySystemd, type SystemdNotifier } from './systemd.js';

export interface RunDaemonOptions {
  config: string;
  /** The `hosts:` entry to apply; the loader's default (this machine's hostname) when absent. */
  host?: string;
  stateDir: string;
  /** Listen address, or false for no HTTP listener. */
  http: string | false;
  cleanupOnExit: boolean;
  logLevel: LogLevel;
  watch: boolean;
  reloadDebounceMs: number;
  /** Worker threads for the socket checks (HealthManager's `workers`; default 0: in process). */
  checkWorkers?: number;
  /** How the check workers make tcp checks (default epoll; see health/worker-pool.ts). */
  tcpChecks?: TcpPath;
  version: string;
  // Injected in tests.
  logger?: Logger;
  openClient?: () => Promise<IpvsClient>;
  load?: ConfigLoader;
  signals?: Pick<NodeJS.Process, 'on' | 'off'>;
  systemd?: NotifyDeps;
  /** The VRRP side; null: none (tests of the daemon alone). Default: raw sockets and rtnetlink. */
  vrrp?: VrrpService | null;
}

/** /status and /metrics with the BGP announcements added. */
export function withAnnounceStatus(source: StatusSource, announce: AnnounceService): StatusSource {
  return {
    metrics: source.metrics,
    healthy: () => source.healthy(),
    status: async () => {
      const status = await source.status();
      const mine = announce.status();
      return mine ? { ...status, announce: mine } : status;
    },
    renderMetrics: async () =>
      (await source.renderMetrics()) + renderAnnounceMetrics(announce.status()),
  };
}

/** Active connections of the named services, from the daemon's (fresh enough) table. */
async function activeConnsOf(daemon: Daemon, services: readonly string[]): Promise<number | null> {
  try {
    const status = await daemon.status();
    return status.services
      .filter((s) => s.name !== null && services.includes(s.name))
      .reduce((sum, s) => sum + s.dests.reduce((n, d) => n + d.activeConns, 0), 0);
  } catch {
    return null;
  }
}

/** /status and /metrics with the VRRP instances added. */
export function withVrrpStatus(daemon: Daemon, vrrp: VrrpService | null): StatusSource {
  if (!vrrp) return daemon;
  return {
    metrics: daemon.metrics,
    healthy: () => daemon.healthy(),
    status: async () => {
      const status = await daemon.status();
      const instances = vrrp.status();
      return instances.length ? { ...status, vrrp: instances } : status;
    },
    renderMetrics: async () => (await daemon.renderMetrics()) + renderVrrpMetrics(vrrp.status()),
  };
}

export async function runDaemon(options: RunDaemonOptions): Promise<number> {
  const log = options.logger ?? createLogger({ level: options.logLevel });
  const listen = listenAddress(options.http, log);
  if (listen === undefined) return 1;
  const kernel = await openKernel(options, log);
  if (!kernel) return 1;
  const { daemon, vrrp, announce } = wireSides(options, log, kernel.client);
  // Listen before touching the kernel: a taken port stops lvsd before it changes anything.
  const server = listen
    ? new StatusServer(withAnnounceStatus(withVrrpStatus(daemon, vrrp), announce), log)
    : null;
  if (server && listen && !(await listenOn(server, listen, options.http as string, log))) {
    await kernel.client.close();
    await kernel.lock.release();
    return 1;
  }
  const signals = handleSignals(options, log, daemon, announce);
  const { code, systemd } = await serve(daemon, log, options.systemd, signals.stopped);
  // First the routes: the routers move the VIPs' traffic to the other directors (after a
  // drain, with drain.on_stop) while this one still serves what reaches it.
  await announce
    .stop()
    .catch((err: unknown) =>
      log.error({ event: 'announce_stop_failed', err }, `announce: ${(err as Error).message}`),
    );
  // Then: a master sends priority 0 at once (the backup takes over after its skew time)
  // and lets its VIPs go, as keepalived does on SIGTERM.
  await vrrp
    ?.stop()
    .catch((err: unknown) =>
      log.error({ event: 'vrrp_stop_failed', err }, `vrrp: ${(err as Error).message}`),
    );
  systemd?.stop();
  await daemon.stop();
  await server?.close();
  await kernel.client.close();
  await kernel.lock.release();
  signals.detach();
  await rm(runPidPath(options.stateDir), { force: true });
  log.flush?.();
  return code;
}

/** The --http address: null for no listener, undefined when it cannot be read (logged). */
function listenAddress(
  http: string | false,
  log: Logger,
): { host: string; port: number } | null | undefined {
  if (http === false) return null;
  const listen = parseListenAddress(http);
  if (listen) return listen;
  log.fatal(
    { event: 'bad_option', http },
    `--http ${http}: expected HOST:PORT, [V6]:PORT or :PORT`,
  );
  return undefined;
}

/** The writer lock, then the kernel client; null when either cannot be had (logged). */
async function openKernel(
  options: RunDaemonOptions,
  log: Logger,
): Promise<{ lock: WriterLock; client: IpvsClient } | null> {
  // One writer at a time: a second `lvsd run`, or an `lvsd apply`, waits or fails.
  let lock: WriterLock;
  try {
    lock = await takeWriterLock(options.stateDir);
  } catch (err) {
    log.fatal({ event: 'lock_held', err }, (err as Error).message);
    return null;
  }
  // Which writer to signal for `lvsd drain` (an `lvsd apply` holding the lock is not it).
  await writeFile(runPidPath(options.stateDir), `${process.pid}\n`).catch(() => undefined);
  try {
    return { lock, client: await (options.openClient ?? openIpvs)() };
  } catch (err) {
    log.fatal({ event: 'ipvs_unavailable' }, (err as Error).message);
    await lock.release();
    return null;
  }
}

/** The health checks, the VRRP and BGP sides and the daemon core, wired to one another. */
function wireSides(
  options: RunDaemonOptions,
  log: Logger,
  client: IpvsClient,
): { daemon: Daemon; vrrp: VrrpService | null; announce: AnnounceService } {
  const manager = new HealthManager({
    logger: log.child({ component: 'health' }),
    workers: options.checkWorkers ?? 0,
    ...(options.tcpChecks ? { tcpPath: options.tcpChecks } : {}),
  });
  // The sync daemon's role reaches the kernel only through a reconcile pass (desired state).
  let requestPass: () => void = () => undefined;
  const vrrp =
    options.vrrp === undefined
      ? new VrrpService({
          log: log.child({ component: 'vrrp' }),
          openAddresses,
          serviceDown: (service) => manager.snapshot().sorryActive(service),
          onSyncRole: () => requestPass(),
        })
      : options.vrrp;
  // Announces a VIP only once its services are in the kernel with quorum (src/announce).
  let running: Daemon | null = null;
  const announce = new AnnounceService({
    log: log.child({ component: 'announce' }),
    serviceDown: (service) => manager.snapshot().sorryActive(service),
    converged: () => running?.converged() ?? false,
    activeConns: (services) => (running ? activeConnsOf(running, services) : Promise.resolve(null)),
    drainFile: drainMarkerPath(options.stateDir),
  });
  const memo = new ServiceMemo();
  const daemon = new Daemon({
    configPath: options.config,
    load: options.load ?? ((path) => loadConfigOutcome(path, options.host, memo)),
    client,
    health: manager,
    vrrp,
    announce,
    logger: log,
    stateDir: options.stateDir,
    watch: options.watch,
    reloadDebounceMs: options.reloadDebounceMs,
    cleanupOnExit: options.cleanupOnExit,
    version: options.version,
  });
  requestPass = () => void daemon.requestPass('vrrp');
  running = daemon;
  return { daemon, vrrp, announce };
}

/** Starts /metrics, /status and /healthz; false when the address cannot be had (logged). */
async function listenOn(
  server: StatusServer,
  listen: { host: string; port: number },
  http: string,
  log: Logger,
): Promise<boolean> {
  try {
    const address = await server.listen(listen.host, listen.port);
    log.info(
      { event: 'http_listening', address: address.address, port: address.port },
      `serving /metrics, /status and /healthz on ${http}`,
    );
    return true;
  } catch (err) {
    log.fatal({ event: 'http_failed', err }, `cannot listen on ${http}: ${(err as Error).message}`);
    return false;
  }
}

/**
 * SIGTERM and SIGINT stop (a second one exits at once when the signals are the process's),
 * SIGHUP reloads, SIGUSR1 reads the drain marker again. `stopped` resolves with the first
 * stop signal; detach() removes the handlers.
 */
function handleSignals(
  options: RunDaemonOptions,
  log: Logger,
  daemon: Daemon,
  announce: AnnounceService,
): { stopped: Promise<string>; detach(): void } {
  const signals = options.signals ?? process;
  let stopRequested: (signal: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => (stopRequested = resolve));
  let stopping = false;
  const onStop = (signal: string) => {
    if (stopping) {
      // A second Ctrl-C means "now": the kernel table stays as it is either way.
      log.warn({ event: 'signal', signal }, `${signal} again: exiting without waiting`);
      if (!options.signals) process.exit(1);
      return;
    }
    stopping = true;
    log.info({ event: 'signal', signal }, `${signal}: stopping`);
    stopRequested(signal);
  };
  const handlers: Record<string, () => void> = {
    SIGTERM: () => onStop('SIGTERM'),
    SIGINT: () => onStop('SIGINT'),
    SIGHUP: () => {
      log.info({ event: 'signal', signal: 'SIGHUP' }, 'SIGHUP: reloading the configuration');
      daemon.requestReload('signal');
    },
    // `lvsd drain` / `lvsd undrain` changed the drain marker.
    SIGUSR1: () => {
      log.info({ event: 'signal', signal: 'SIGUSR1' }, 'SIGUSR1: reading the drain marker');
      void announce.refreshDrain().catch(() => undefined);
    },
  };
  for (const [signal, handler] of Object.entries(handlers)) signals.on(signal, handler);
  return {
    stopped,
    detach: () => {
      for (const [signal, handler] of Object.entries(handlers)) signals.off(signal, handler);
    },
  };
}

/** Starts the daemon and runs until a stop signal; code 1 when it cannot start. */
async function serve(
  daemon: Daemon,
  log: Logger,
  systemdDeps: NotifyDeps | undefined,
  stopped: Promise<string>,
): Promise<{ code: number; systemd: SystemdNotifier | null }> {
  let systemd: SystemdNotifier | null = null;
  try {
    await daemon.start();
    systemd = notifySystemd(daemon, log, systemdDeps);
    await stopped;
    return { code: 0, systemd };
  } catch (err) {
    if (!(err instanceof ConfigRejectedError))
      log.fatal({ event: 'start_failed', err }, `cannot start: ${(err as Error).message}`);
    return { code: 1, systemd };
  }
}
