/**
 * The daemon's Prometheus metrics (prom-client, one registry per daemon so tests and
 * several daemons in one process do not share counters).
 *
 * Two kinds:
 * - the daemon's own activity, counted as it happens: reloads (named as Prometheus names
 *   its own: lvsd_config_last_reload_successful, ..._success_timestamp_seconds), reconcile
 *   durations, kernel writes, drift repairs, check durations;
 * - the kernel's view per service and real (connections, packets and bytes from the
 *   kernel's stats64 counters, active / inactive connections, weight, health). These are
 *   set from a status snapshot just before each scrape is rendered (see update()), so a
 *   service or real that disappears disappears from the output too.
 *
 * The kernel's counters are exported as Prometheus counters (…_total): they only grow
 * while the service exists; a service deleted and re-created starts again at zero, which
 * Prometheus' rate() treats as a counter reset.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Stats } from '../ipvs/model.js';
import type { StatusService } from './status.js';

const realLabels = ['service', 'real'] as const;

export class DaemonMetrics {
  readonly registry = new Registry();

  readonly reloadSuccessful = this.gauge('lvsd_config_last_reload_successful', 'Whether the last configuration reload attempt was successful (1) or not (0).');
  readonly reloadSuccessTimestamp = this.gauge(
    'lvsd_config_last_reload_success_timestamp_seconds',
    'Timestamp of the last successful configuration reload.',
  );
  readonly configInfo = this.gauge('lvsd_config_info', 'The configuration in force, by hash (always 1).', ['hash']);

  readonly reconcileDuration = new Histogram({
    name: 'lvsd_reconcile_duration_seconds',
    help: 'Duration of reconcile passes (read the table, plan, write), by what triggered them.',
    labelNames: ['trigger'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly reconcileErrors = this.counter('lvsd_reconcile_errors_total', 'Reconcile passes that failed before completing (kernel unreachable, state unwritable).');
  readonly kernelWrites = this.counter('lvsd_kernel_writes_total', 'Kernel writes sent (IPVS operations and sysctls), by plan action.', ['action']);
  readonly kernelWriteFailures = this.counter('lvsd_kernel_write_failures_total', 'Kernel writes refused or failed.');
  readonly driftRepairs = this.counter(
    'lvsd_drift_repairs_total',
    'Changes made by others (ipvsadm, another tool) that lvsd put back, by plan action.',
    ['action'],
  );
  readonly checkDuration = new Histogram({
    name: 'lvsd_check_duration_seconds',
    help: 'Duration of health checks, by service and check type.',
    labelNames: ['service', 'type'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly healthTransitions = this.counter('lvsd_health_transitions_total', 'Real servers changing health state, by service and new state (up, down).', ['service', 'to']);
  readonly checks = this.counter('lvsd_checks_total', 'Health checks run, by service, check type and result.', ['service', 'type', 'result']);

  // From the kernel, per service and real: set by update() before each scrape.
  private readonly serviceInfo = this.gauge('lvsd_service_info', 'Managed services: config name, kernel identity and scheduler (always 1).', [
    'service',
    'id',
    'scheduler',
  ]);
  private readonly serviceConnections = this.counter('lvsd_service_connections_total', 'Connections scheduled by the service (kernel stats).', ['service']);
  private readonly servicePackets = this.counter('lvsd_service_packets_total', 'Packets through the service (kernel stats), by direction.', ['service', 'direction']);
  private readonly serviceBytes = this.counter('lvsd_service_bytes_total', 'Bytes through the service (kernel stats), by direction.', ['service', 'direction']);
  private readonly realActive = this.gauge('lvsd_real_active_connections', 'Active connections of the real server.', realLabels);
  private readonly realInactive = this.gauge('lvsd_real_inactive_connections', 'Inactive connections of the real server.', realLabels);
  private readonly realConnections = this.counter('lvsd_real_connections_total', 'Connections scheduled to the real server (kernel stats).', realLabels);
  private readonly realPackets = this.counter('lvsd_real_packets_total', 'Packets to and from the real server (kernel stats), by direction.', [...realLabels, 'direction']);
  private readonly realBytes = this.counter('lvsd_real_bytes_total', 'Bytes to and from the real server (kernel stats), by direction.', [...realLabels, 'direction']);
  private readonly realWeight = this.gauge('lvsd_real_weight', 'Weight of the real server in the kernel (0 while down with inhibit, draining, or absent).', realLabels);
  private readonly realConfiguredWeight = this.gauge('lvsd_real_configured_weight', 'Weight the config gives the real server.', realLabels);
  private readonly realUp = this.gauge('lvsd_real_up', 'Health of the real server: 1 up (or not checked), 0 down.', realLabels);
  private readonly realInKernel = this.gauge('lvsd_real_in_kernel', 'Whether the real server is in the kernel table (1) or taken out (0).', realLabels);
  private readonly drainingReals = this.gauge('lvsd_draining_reals', 'Real servers at weight 0 waiting for their connections to end.');
  private readonly foreignServices = this.gauge('lvsd_foreign_services', 'Services in the kernel that lvsd does not manage and leaves alone.');

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.reloadSuccessful.set(0);
    this.reloadSuccessTimestamp.set(0);
  }

  recordReload(ok: boolean, hash: string | null, at: number): void {
    this.reloadSuccessful.set(ok ? 1 : 0);
    if (!ok) return;
    this.reloadSuccessTimestamp.set(at / 1000);
    this.configInfo.reset();
    if (hash) this.configInfo.set({ hash }, 1);
  }

  /** Sets the per-service and per-real series from a status snapshot. */
  update(services: readonly StatusService[]): void {
    for (const metric of [
      this.serviceInfo,
      this.serviceConnections,
      this.servicePackets,
      this.serviceBytes,
      this.realActive,
      this.realInactive,
      this.realConnections,
      this.realPackets,
      this.realBytes,
      this.realWeight,
      this.realConfiguredWeight,
      this.realUp,
      this.realInKernel,
    ]) {
      metric.reset();
    }
    let draining = 0;
    let foreign = 0;
    for (const svc of services) {
      if (!svc.name) {
        if (!svc.managed) foreign++;
        draining += svc.dests.filter((d) => d.health === 'draining').length;
        continue;
      }
      const service = svc.name;
      this.serviceInfo.set({ service, id: svc.id, scheduler: svc.scheduler }, 1);
      if (svc.stats) this.setTraffic(svc.stats, { service }, this.serviceConnections, this.servicePackets, this.serviceBytes);
      for (const d of svc.dests) {
        const labels = { service, real: d.id };
        if (d.health === 'draining') draining++;
        this.realActive.set(labels, d.activeConns);
        this.realInactive.set(labels, d.inactiveConns);
        this.realWeight.set(labels, d.inKernel ? d.weight : 0);
        if (d.configuredWeight !== null) this.realConfiguredWeight.set(labels, d.configuredWeight);
        this.realUp.set(labels, d.health === 'down' ? 0 : 1);
        this.realInKernel.set(labels, d.inKernel ? 1 : 0);
        if (d.stats) this.setTraffic(d.stats, labels, this.realConnections, this.realPackets, this.realBytes);
      }
    }
    this.drainingReals.set(draining);
    this.foreignServices.set(foreign);
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private setTraffic<L extends string>(
    stats: Stats,
    labels: Record<L, string>,
    conns: Counter<string>,
    packets: Counter<string>,
    bytes: Counter<string>,
  ): void {
    conns.inc(labels, stats.conns);
    packets.inc({ ...labels, direction: 'in' }, stats.inPackets);
    packets.inc({ ...labels, direction: 'out' }, stats.outPackets);
    bytes.inc({ ...labels, direction: 'in' }, stats.inBytes);
    bytes.inc({ ...labels, direction: 'out' }, stats.outBytes);
  }

  private gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }
}
