/**
 * `lvsd run` wired together: the logger, the kernel client, the config loader, the health
 * manager, the daemon core, the HTTP listener and the signals. Exits 0 after a clean stop,
 * 1 when it cannot start (invalid config, no IPVS, the HTTP port taken).
 *
 * Signals: SIGHUP reloads (debounced, like a file change); SIGTERM and SIGINT stop the
 * checks and leave the kernel table in place, so traffic keeps flowing while lvsd restarts
 * (`--cleanup-on-exit` removes what lvsd owns instead).
 */
import type { IpvsClient } from '../ipvs/client.js';
import { openIpvs } from '../ipvs/index.js';
import { HealthManager, liveWeightsFrom, realKey, type HealthSnapshot } from '../health/index.js';
import { openAddresses } from '../director/index.js';
import { desiredState } from '../reconcile/desired.js';
import { withSyncRole } from '../reconcile/sync-role.js';
import { renderVrrpMetrics } from '../vrrp/metrics.js';
import { VrrpService } from '../vrrp/service.js';
import { createLogger, type Logger, type LogLevel } from '../util/log.js';
import { loadConfigOutcome } from './config-loader.js';
import { ConfigRejectedError, Daemon } from './daemon.js';
import { StatusServer, type StatusSource, parseListenAddress } from './http.js';
import type { ConfigLoader, HealthSource, HealthView } from './ports.js';

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
  version: string;
  // Injected in tests.
  logger?: Logger;
  openClient?: () => Promise<IpvsClient>;
  load?: ConfigLoader;
  signals?: Pick<NodeJS.Process, 'on' | 'off'>;
  /** The VRRP side; null: none (tests of the daemon alone). Default: raw sockets and rtnetlink. */
  vrrp?: VrrpService | null;
}

/**
 * The health source, also handing each config the daemon adopts to the VRRP side: both
 * follow the config the same way (start, reload), before the pass that config triggers.
 */
export function withVrrpConfig<S>(
  source: HealthSource<S>,
  vrrp: VrrpService | null,
  log: Logger,
): HealthSource<S> {
  if (!vrrp) return source;
  let started = false;
  return {
    ...source,
    update: async (config, options) => {
      // The checks first and at once: the daemon relies on them changing with the config,
      // with no await between (a pass must not pair the new config with the old checks).
      const checks = source.update(config, options);
      try {
        await vrrp.update(config.vrrp);
      } catch (err) {
        // At start lvsd stops with the reason (no CAP_NET_RAW, no such interface); after a
        // reload the checks and the table carry on, and the reason is logged.
        if (!started) {
          void Promise.resolve(checks).catch(() => undefined);
          throw err;
        }
        log.error({ event: 'vrrp_update_failed', err }, `vrrp: ${(err as Error).message}`);
      }
      started = true;
      await checks;
    },
  };
}

/** /status and /metrics with the VRRP instances added. */
export function withVrrpStatus(
  daemon: Daemon<HealthSnapshot>,
  vrrp: VrrpService | null,
): StatusSource {
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

/** The health manager as the daemon sees it: the live table becomes liveWeights. */
export function healthSource(manager: HealthManager): HealthSource<HealthSnapshot> {
  return {
    update: (config, { table }) => {
      manager.update(config, table ? { liveWeights: liveWeightsFrom(config, table) } : {});
    },
    snapshot: () => manager.snapshot(),
    on: (event, listener) => manager.on(event, listener),
    stop: () => manager.stop(),
  };
}

export function healthView(manager: HealthManager): HealthView<HealthSnapshot> {
  return (snapshot) => {
    const detail = new Map(manager.status().map((s) => [realKey(s.service, s.real), s]));
    return (service, real) => {
      const health = snapshot.real(service, real);
      if (!health) return undefined;
      const last = detail.get(realKey(service, real))?.last;
      return { state: health.up ? 'up' : 'down', ...(last ? { message: last } : {}) };
    };
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

  let client: IpvsClient;
  try {
    client = await (options.openClient ?? openIpvs)();
  } catch (err) {
    log.fatal({ event: 'ipvs_unavailable' }, (err as Error).message);
    return 1;
  }
  const manager = new HealthManager({ logger: log.child({ component: 'health' }) });
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
  const daemon = new Daemon({
    configPath: options.config,
    load: options.load ?? ((path) => loadConfigOutcome(path, options.host)),
    client,
    health: withVrrpConfig(healthSource(manager), vrrp, log),
    desired: (config, health) =>
      withSyncRole(desiredState(config, health), vrrp?.syncRole() ?? null),
    healthView: healthView(manager),
    logger: log,
    stateDir: options.stateDir,
    watch: options.watch,
    reloadDebounceMs: options.reloadDebounceMs,
    cleanupOnExit: options.cleanupOnExit,
    version: options.version,
  });

  requestPass = () => void daemon.requestPass('vrrp');

  // Listen before touching the kernel: a taken port stops lvsd before it changes anything.
  const server = listen ? new StatusServer(withVrrpStatus(daemon, vrrp), log) : null;
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
  signals.on('SIGTERM', onTerm);
  signals.on('SIGINT', onInt);
  signals.on('SIGHUP', onHup);

  let code = 0;
  try {
    await daemon.start();
    await stopSignal;
  } catch (err) {
    code = 1;
    if (!(err instanceof ConfigRejectedError))
      log.fatal({ event: 'start_failed', err }, `cannot start: ${(err as Error).message}`);
  } finally {
    // First: a master sends priority 0 at once (the backup takes over after its skew time)
    // and lets its VIPs go, as keepalived does on SIGTERM.
    await vrrp
      ?.stop()
      .catch((err: unknown) =>
        log.error({ event: 'vrrp_stop_failed', err }, `vrrp: ${(err as Error).message}`),
      );
    await daemon.stop();
    await server?.close();
    await client.close();
    signals.off('SIGTERM', onTerm);
    signals.off('SIGINT', onInt);
    signals.off('SIGHUP', onHup);
    log.flush?.();
  }
  return code;
}
