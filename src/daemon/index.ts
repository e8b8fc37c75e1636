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
import { openAddresses } from '../director/index.js';
import { renderVrrpMetrics } from '../vrrp/metrics.js';
import { VrrpService } from '../vrrp/service.js';
import { createLogger, type Logger, type LogLevel } from '../util/log.js';
import { takeWriterLock, type WriterLock } from '../util/writer-lock.js';
import { ServiceMemo } from '../config/memo.js';
import { type ConfigLoader, loadConfigOutcome } from './config-loader.js';
import { ConfigRejectedError, Daemon } from './daemon.js';
import { StatusServer, type StatusSource, parseListenAddress } from './http.js';
import { type NotifyDeps, notifySystemd } from './systemd.js';

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
  const signals = options.signals ?? process;
  const listen = options.http === false ? null : parseListenAddress(options.http);
  if (options.http !== false && !listen) {
    log.fatal(
      { event: 'bad_option', http: options.http },
      `--http ${options.http}: expected HOST:PORT, [V6]:PORT or :PORT`,
    );
    return 1;
  }

  // One writer at a time: a second `lvsd run`, or an `lvsd apply`, waits or fails.
  let lock: WriterLock;
  try {
    lock = await takeWriterLock(options.stateDir);
  } catch (err) {
    log.fatal({ event: 'lock_held', err }, (err as Error).message);
    return 1;
  }
  // Which writer to signal for `lvsd drain` (an `lvsd apply` holding the lock is not it).
  await writeFile(runPidPath(options.stateDir), `${process.pid}\n`).catch(() => undefined);
  let client: IpvsClient;
  try {
    client = await (options.openClient ?? openIpvs)();
  } catch (err) {
    log.fatal({ event: 'ipvs_unavailable' }, (err as Error).message);
    await lock.release();
    return 1;
  }
  const manager = new HealthManager({
    logger: log.child({ component: 'health' }),
    workers: options.checkWorkers ?? 0,
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

  // Listen before touching the kernel: a taken port stops lvsd before it changes anything.
  const server = listen
    ? new StatusServer(withAnnounceStatus(withVrrpStatus(daemon, vrrp), announce), log)
    : null;
  if (server && listen) {
    try {
      const address = await server.listen(listen.host, listen.port);
      log.info(
        { event: 'http_listening', address: address.address, port: address.port },
        `serving /metrics, /status and /healthz on ${options.http}`,
      );
    } catch (err) {
      log.fatal(
        { event: 'http_failed', err },
        `cannot listen on ${options.http}: ${(err as Error).message}`,
      );
      await client.close();
      await lock.release();
      return 1;
    }
  }

  let stopRequested: (signal: string) => void = () => undefined;
  const stopSignal = new Promise<string>((resolve) => (stopRequested = resolve));
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
  const onTerm = () => onStop('SIGTERM');
  const onInt = () => onStop('SIGINT');
  const onHup = () => {
    log.info({ event: 'signal', signal: 'SIGHUP' }, 'SIGHUP: reloading the configuration');
    daemon.requestReload('signal');
  };
  // `lvsd drain` / `lvsd undrain` changed the drain marker.
  const onUsr1 = () => {
    log.info({ event: 'signal', signal: 'SIGUSR1' }, 'SIGUSR1: reading the drain marker');
    void announce.refreshDrain().catch(() => undefined);
  };
  signals.on('SIGTERM', onTerm);
  signals.on('SIGINT', onInt);
  signals.on('SIGHUP', onHup);
  signals.on('SIGUSR1', onUsr1);

  let code = 0;
  let systemd: ReturnType<typeof notifySystemd> = null;
  try {
    await daemon.start();
    systemd = notifySystemd(daemon, log, options.systemd);
    await stopSignal;
  } catch (err) {
    code = 1;
    if (!(err instanceof ConfigRejectedError))
      log.fatal({ event: 'start_failed', err }, `cannot start: ${(err as Error).message}`);
  } finally {
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
    await client.close();
    await lock.release();
    signals.off('SIGTERM', onTerm);
    signals.off('SIGINT', onInt);
    signals.off('SIGHUP', onHup);
    signals.off('SIGUSR1', onUsr1);
    await rm(runPidPath(options.stateDir), { force: true });
    log.flush?.();
  }
  return code;
}
