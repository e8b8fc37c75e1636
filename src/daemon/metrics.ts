/**
 * The daemon's Prometheus metrics (src/util/prometheus.ts writes the text format; one
 * registry per daemon so tests and several daemons in one process do not share counters).
 *
 * Two kinds:
 * - the daemon's own activity, counted as it happens: reloads (named as Prometheus names
 *   its own: lvsd_config_last_reload_successful, ..._success_timestamp_seconds), reconcile
 *   durations, kernel writes, drift repairs, check durations;
 * - the kernel's view per service and real (connections, packets and bytes from the
 *   kernel's stats64 counters, active / inactive connections, weight, health), rendered
 *   from a status snapshot taken just before each scrape (update()), so a service or real
 *   that disappears disappears from the output too. These are written in the exposition
 *   format straight from the snapshot, one pass over it: prom-client, which lvsd used before,
 *   kept every labelled series in a hashed map and took 3.8 s (1000 services x 10 reals,
 *   about 130k series) to 17 s (5000 x 10) per scrape here.
 *
 * Per-service and per-real series carry lvsd's names (service = the config's name, real =
 * address:port) and the labels node_exporter's ipvs collector puts on its backend series
 * (local_address, local_port, remote_address, remote_port, proto, local_mark), with the
 * same values, so queries and dashboards written for node_exporter carry over
 * (docs/daemon.md maps the metric names).
 *
 * The kernel's counters are exported as Prometheus counters (…_total): they only grow
 * while the service exists; a service deleted and re-created starts again at zero, which
 * Prometheus' rate() treats as a counter reset.
 */
import { ProcessMetrics } from '../util/process-metrics.js';
import {
  Counter,
  EXPOSITION_CONTENT_TYPE,
  familyHeader,
  Gauge,
  Histogram,
  labelValue as label,
  type MetricType,
  Registry,
} from '../util/prometheus.js';
import type { StatusDest, StatusService } from './status.js';
import { type CheckTally, DURATION_BUCKETS_S } from '../health/tally.js';

export class DaemonMetrics {
  readonly registry = new Registry();

  readonly reloadSuccessful = this.gauge(
    'lvsd_config_last_reload_successful',
    'Whether the last configuration reload attempt was successful (1) or not (0).',
  );
  readonly reloadSuccessTimestamp = this.gauge(
    'lvsd_config_last_reload_success_timestamp_seconds',
    'Timestamp of the last successful configuration reload.',
  );
  readonly configInfo = this.gauge(
    'lvsd_config_info',
    'The configuration in force, by hash (always 1).',
    ['hash'],
  );

  readonly reconcileDuration = new Histogram({
    name: 'lvsd_reconcile_duration_seconds',
    help: 'Duration of reconcile passes (read the table, plan, write), by what triggered them.',
    labelNames: ['trigger'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registry: this.registry,
  });
  readonly reconcileErrors = this.counter(
    'lvsd_reconcile_errors_total',
    'Reconcile passes that failed before completing (kernel unreachable, state unwritable).',
  );
  readonly removalRefusals = this.counter(
    'lvsd_removal_refused_total',
    'Passes refused by the guard against mass removal (nothing written; the last good config stays).',
  );
  readonly kernelWrites = this.counter(
    'lvsd_kernel_writes_total',
    'Kernel writes sent (IPVS operations and sysctls), by plan action.',
    ['action'],
  );
  readonly kernelWriteFailures = this.counter(
    'lvsd_kernel_write_failures_total',
    'Kernel writes refused or failed.',
  );
  readonly driftRepairs = this.counter(
    'lvsd_drift_repairs_total',
    'Changes made by others (ipvsadm, another tool) that lvsd put back, by plan action.',
    ['action'],
  );
  /** lvsd_check_duration_seconds and lvsd_checks_total: see CheckSeries. */
  private readonly checkSeries = new CheckSeries();
  readonly healthTransitions = this.counter(
    'lvsd_health_transitions_total',
    'Real servers changing health state, by service and new state (up, down).',
    ['service', 'to'],
  );

  /** The kernel's view, rendered by hand at each scrape (see renderKernelSeries). */
  private services: readonly StatusService[] = [];
  /** process_* and nodejs_* (what prom-client's collectDefaultMetrics gave). */
  private readonly process: ProcessMetrics | null;

  constructor(options: { processMetrics?: boolean } = {}) {
    this.process = (options.processMetrics ?? true) ? new ProcessMetrics() : null;
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

  /** Checks run, counted by the health side (health/tally.ts) and taken once a turn or a second. */
  recordTallies(tallies: readonly CheckTally[]): void {
    for (const tally of tallies) this.checkSeries.add(tally);
  }

  /** Sets the per-service and per-real series from a status snapshot. */
  update(services: readonly StatusService[]): void {
    this.services = services;
  }

  async render(): Promise<string> {
    return (
      this.registry.render() +
      (this.process?.render() ?? '') +
      this.checkSeries.render() +
      renderKernelSeries(this.services)
    );
  }

  get contentType(): string {
    return EXPOSITION_CONTENT_TYPE;
  }

  private gauge<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
  ): Gauge<L> {
    return new Gauge({ name, help, labelNames, registry: this.registry });
  }

  private counter<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
  ): Counter<L> {
    return new Counter({ name, help, labelNames, registry: this.registry });
  }
}

interface CheckStat {
  /** Per bucket (not cumulative); the last slot is +Inf. */
  buckets: Float64Array;
  sum: number;
  ok: number;
  failed: number;
}

/**
 * Check counts and durations by service and check type, kept in plain numbers and written
 * in the exposition format at scrape time, as the kernel series are. prom-client hashed the
 * label object on every observe() and inc(): two calls per check were about 5 us of each
 * check at ten thousand checks a second; here each tally (health/tally.ts: the counts of a
 * service's checks of one type since the last) costs two map lookups and a few adds.
 * Series stay once seen, as the registry's do.
 */
class CheckSeries {
  private readonly byService = new Map<string, Map<string, CheckStat>>();

  add(tally: CheckTally): void {
    const stat = this.stat(tally.service, tally.type);
    for (const [slot, count] of tally.buckets.entries()) stat.buckets[slot]! += count;
    stat.sum += tally.seconds;
    stat.ok += tally.ok;
    stat.failed += tally.failed;
  }

  private stat(service: string, type: string): CheckStat {
    let types = this.byService.get(service);
    if (!types) this.byService.set(service, (types = new Map()));
    let stat = types.get(type);
    if (!stat) {
      const buckets = new Float64Array(DURATION_BUCKETS_S.length + 1);
      types.set(type, (stat = { buckets, sum: 0, ok: 0, failed: 0 }));
    }
    return stat;
  }

  render(): string {
    const duration = family(
      'lvsd_check_duration_seconds',
      'histogram',
      'Duration of health checks, by service and check type.',
    );
    const checks = family(
      'lvsd_checks_total',
      'counter',
      'Health checks run, by service, check type and result.',
    );
    for (const [service, types] of this.byService) {
      for (const [type, stat] of types) {
        const l = `service="${label(service)}",type="${label(type)}"`;
        let cumulative = 0;
        DURATION_BUCKETS_S.forEach((le, i) => {
          cumulative += stat.buckets[i]!;
          duration.lines.push(`lvsd_check_duration_seconds_bucket{le="${le}",${l}} ${cumulative}`);
        });
        const count = stat.ok + stat.failed;
        duration.lines.push(
          `lvsd_check_duration_seconds_bucket{le="+Inf",${l}} ${count}`,
          `lvsd_check_duration_seconds_sum{${l}} ${stat.sum}`,
          `lvsd_check_duration_seconds_count{${l}} ${count}`,
        );
        if (stat.ok) checks.lines.push(`lvsd_checks_total{${l},result="ok"} ${stat.ok}`);
        if (stat.failed)
          checks.lines.push(`lvsd_checks_total{${l},result="failed"} ${stat.failed}`);
      }
    }
    return [duration, checks]
      .map(
        (fam) =>
          familyHeader(fam.name, fam.type, fam.help) +
          fam.lines.map((line) => `${line}\n`).join(''),
      )
      .join('');
  }
}

interface Family {
  name: string;
  help: string;
  type: MetricType;
  lines: string[];
}

function family(name: string, type: Family['type'], help: string): Family {
  return { name, help, type, lines: [] };
}

/**
 * node_exporter's labels for a service, with its values: a fwmark service has proto "FWM",
 * no address, port 0 and the mark as /proc/net/ip_vs prints it (%08X).
 */
export function ipvsLabels(svc: StatusService): string {
  if ('fwmark' in svc) {
    const mark = svc.fwmark.toString(16).toUpperCase().padStart(8, '0');
    return `local_address="",local_port="0",proto="FWM",local_mark="${mark}"`;
  }
  const proto = svc.protocol.toUpperCase();
  return `local_address="${label(svc.address)}",local_port="${svc.port}",proto="${proto}",local_mark=""`;
}

function remoteLabels(d: StatusDest): string {
  return `remote_address="${label(d.address)}",remote_port="${d.port}"`;
}

/** The kernel-table families: name, type and help, in the order they are rendered. */
const KERNEL_FAMILIES = {
  serviceInfo: [
    'lvsd_service_info',
    'gauge',
    'Managed services: config name, kernel identity and scheduler (always 1).',
  ],
  serviceConns: [
    'lvsd_service_connections_total',
    'counter',
    'Connections scheduled by the service (kernel stats).',
  ],
  servicePackets: [
    'lvsd_service_packets_total',
    'counter',
    'Packets through the service (kernel stats), by direction.',
  ],
  serviceBytes: [
    'lvsd_service_bytes_total',
    'counter',
    'Bytes through the service (kernel stats), by direction.',
  ],
  active: ['lvsd_real_active_connections', 'gauge', 'Active connections of the real server.'],
  inactive: ['lvsd_real_inactive_connections', 'gauge', 'Inactive connections of the real server.'],
  conns: [
    'lvsd_real_connections_total',
    'counter',
    'Connections scheduled to the real server (kernel stats).',
  ],
  packets: [
    'lvsd_real_packets_total',
    'counter',
    'Packets to and from the real server (kernel stats), by direction.',
  ],
  bytes: [
    'lvsd_real_bytes_total',
    'counter',
    'Bytes to and from the real server (kernel stats), by direction.',
  ],
  weight: [
    'lvsd_real_weight',
    'gauge',
    'Weight of the real server in the kernel (0 while down with inhibit, draining, or absent).',
  ],
  configured: ['lvsd_real_configured_weight', 'gauge', 'Weight the config gives the real server.'],
  up: ['lvsd_real_up', 'gauge', 'Health of the real server: 1 up (or not checked), 0 down.'],
  inKernel: [
    'lvsd_real_in_kernel',
    'gauge',
    'Whether the real server is in the kernel table (1) or taken out (0).',
  ],
  quorum: [
    'lvsd_service_quorum',
    'gauge',
    "The service's quorum: the least healthy weight it wants (services with a quorum).",
  ],
  healthyWeight: [
    'lvsd_service_healthy_weight',
    'gauge',
    'Configured weights of the real servers that are up or not checked.',
  ],
  draining: [
    'lvsd_draining_reals',
    'gauge',
    'Real servers at weight 0 waiting for their connections to end.',
  ],
  foreign: [
    'lvsd_foreign_services',
    'gauge',
    'Services in the kernel that lvsd does not manage and leaves alone.',
  ],
} as const satisfies Record<string, readonly [string, Family['type'], string]>;

type KernelFamilies = Record<keyof typeof KERNEL_FAMILIES, Family>;

/** One family in the text format; its lines joined, not spread (100k lines would overflow the stack). */
function renderFamily(fam: Family): string {
  return `${familyHeader(fam.name, fam.type, fam.help)}${fam.lines.join('\n')}\n`;
}

/** The series of one managed service (`s`: its labels). */
function serviceSeries(f: KernelFamilies, s: string, svc: StatusService): void {
  if (svc.quorum != null) f.quorum.lines.push(`lvsd_service_quorum{${s}} ${svc.quorum}`);
  if (svc.healthyWeight !== undefined)
    f.healthyWeight.lines.push(`lvsd_service_healthy_weight{${s}} ${svc.healthyWeight}`);
  f.serviceInfo.lines.push(
    `lvsd_service_info{${s},id="${label(svc.id)}",scheduler="${label(svc.scheduler)}"} 1`,
  );
  const st = svc.stats;
  if (!st) return;
  f.serviceConns.lines.push(`lvsd_service_connections_total{${s}} ${st.conns}`);
  f.servicePackets.lines.push(
    `lvsd_service_packets_total{${s},direction="in"} ${st.inPackets}`,
    `lvsd_service_packets_total{${s},direction="out"} ${st.outPackets}`,
  );
  f.serviceBytes.lines.push(
    `lvsd_service_bytes_total{${s},direction="in"} ${st.inBytes}`,
    `lvsd_service_bytes_total{${s},direction="out"} ${st.outBytes}`,
  );
}

/** The series of one real of a managed service (`l`: its labels). */
function realSeries(f: KernelFamilies, l: string, d: StatusDest): void {
  f.active.lines.push(`lvsd_real_active_connections{${l}} ${d.activeConns}`);
  f.inactive.lines.push(`lvsd_real_inactive_connections{${l}} ${d.inactiveConns}`);
  f.weight.lines.push(`lvsd_real_weight{${l}} ${d.inKernel ? d.weight : 0}`);
  if (d.configuredWeight !== null)
    f.configured.lines.push(`lvsd_real_configured_weight{${l}} ${d.configuredWeight}`);
  f.up.lines.push(`lvsd_real_up{${l}} ${d.health === 'down' ? 0 : 1}`);
  f.inKernel.lines.push(`lvsd_real_in_kernel{${l}} ${d.inKernel ? 1 : 0}`);
  const st = d.stats;
  if (!st) return;
  f.conns.lines.push(`lvsd_real_connections_total{${l}} ${st.conns}`);
  f.packets.lines.push(
    `lvsd_real_packets_total{${l},direction="in"} ${st.inPackets}`,
    `lvsd_real_packets_total{${l},direction="out"} ${st.outPackets}`,
  );
  f.bytes.lines.push(
    `lvsd_real_bytes_total{${l},direction="in"} ${st.inBytes}`,
    `lvsd_real_bytes_total{${l},direction="out"} ${st.outBytes}`,
  );
}

/** Per-service and per-real series from the kernel's table joined with config and health. */
export function renderKernelSeries(services: readonly StatusService[]): string {
  const f = Object.fromEntries(
    Object.entries(KERNEL_FAMILIES).map(([key, [name, type, help]]) => [
      key,
      family(name, type, help),
    ]),
  ) as KernelFamilies;
  let draining = 0;
  let foreign = 0;
  for (const svc of services) {
    draining += svc.dests.filter((d) => d.health === 'draining').length;
    if (!svc.name) {
      if (!svc.managed) foreign++;
      continue;
    }
    const s = `service="${label(svc.name)}",${ipvsLabels(svc)}`;
    serviceSeries(f, s, svc);
    for (const d of svc.dests) realSeries(f, `${s},real="${label(d.id)}",${remoteLabels(d)}`, d);
  }
  f.draining.lines.push(`lvsd_draining_reals ${draining}`);
  f.foreign.lines.push(`lvsd_foreign_services ${foreign}`);
  return Object.values(f).map(renderFamily).join('');
}
