/**
 * The process and Node.js series prom-client's collectDefaultMetrics gave (same names, help
 * and values, read where it read them: /proc/self, process.cpuUsage(), process.memoryUsage(),
 * V8's heap spaces, an event-loop delay histogram, a performance observer of collections),
 * written at each scrape. Left out: the counts of active handles, requests and resources
 * (the handle count only through a private API).
 *
 * The GC observer is also what let V8's memory reducer shrink the heap once a burst of
 * reloads was over: without it the daemon settled 9-10 MiB higher after reloads at 1000 x 10
 * (bench/results/2026-12-07-metrics-rss.md), with it as low as before.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { familyHeader, Histogram, labelValue, Registry, sampleValue } from './prometheus.js';

/** Whole seconds, as prom-client rounded it. */
const START_SECONDS = Math.round(Date.now() / 1000 - process.uptime());
const [MAJOR, MINOR, PATCH] = process.version.slice(1).split('.');
/** The event-loop delay histogram's resolution, prom-client's default. */
const LAG_RESOLUTION_MS = 10;
const LAG_PERCENTILES = [50, 90, 99] as const;
const GC_BUCKETS = [0.001, 0.01, 0.1, 1, 2, 5];
const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** `/proc/self/status`' sizes in bytes: VmRSS, VmSize and VmData (null off Linux). */
export function procStatus(): { rss: number; size: number; data: number } | null {
  let text: string;
  try {
    text = readFileSync('/proc/self/status', 'utf8');
  } catch {
    return null;
  }
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s*(\\d+) kB$`, 'm').exec(text)?.[1]);
  return { rss: kib('VmRSS') * 1024, size: kib('VmSize') * 1024, data: kib('VmData') * 1024 };
}

/** The soft limit on open files, from /proc/self/limits (null off Linux). */
export function maxFds(): number | null {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(
      readFileSync('/proc/self/limits', 'utf8'),
    );
    return line && line[1] !== 'unlimited' ? Number(line[1]) : null;
  } catch {
    return null;
  }
}

function openFds(): number | null {
  try {
    return readdirSync('/proc/self/fd').length - 1; // less the one readdir used
  } catch {
    return null;
  }
}

type Sample = readonly [
  name: string,
  type: 'counter' | 'gauge',
  help: string,
  value: number | null,
];

function write(samples: readonly Sample[]): string {
  let out = '';
  for (const [name, type, help, value] of samples)
    if (value !== null) out += `${familyHeader(name, type, help)}${name} ${sampleValue(value)}\n`;
  return out;
}

/** One process's series; the event-loop histogram runs from construction. */
export class ProcessMetrics {
  private readonly lag = monitorEventLoopDelay({
    resolution: LAG_RESOLUTION_MS,
  });
  /** The delay of a setImmediate queued at the previous scrape (prom-client's lag gauge). */
  private immediateLag = 0;
  private readonly maxFds = maxFds();
  private readonly gcRegistry = new Registry();
  private readonly gc = new Histogram({
    name: 'nodejs_gc_duration_seconds',
    help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
    labelNames: ['kind'],
    buckets: GC_BUCKETS,
    registry: this.gcRegistry,
  });

  constructor() {
    this.lag.enable();
    // Every entry of a batch (prom-client counted only the first of each).
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const detail = (entry as { detail?: { kind?: number } }).detail;
        const kind = GC_KINDS[detail?.kind ?? -1];
        if (kind) this.gc.observe({ kind }, entry.duration / 1000);
      }
    }).observe({ entryTypes: ['gc'] });
  }

  render(): string {
    const cpu = process.cpuUsage();
    const status = procStatus();
    const memory = process.memoryUsage();
    return (
      write([
        [
          'process_cpu_user_seconds_total',
          'counter',
          'Total user CPU time spent in seconds.',
          cpu.user / 1e6,
        ],
        [
          'process_cpu_system_seconds_total',
          'counter',
          'Total system CPU time spent in seconds.',
          cpu.system / 1e6,
        ],
        [
          'process_cpu_seconds_total',
          'counter',
          'Total user and system CPU time spent in seconds.',
          (cpu.user + cpu.system) / 1e6,
        ],
        [
          'process_start_time_seconds',
          'gauge',
          'Start time of the process since unix epoch in seconds.',
          START_SECONDS,
        ],
        [
          'process_resident_memory_bytes',
          'gauge',
          'Resident memory size in bytes.',
          status?.rss ?? memory.rss,
        ],
        [
          'process_virtual_memory_bytes',
          'gauge',
          'Virtual memory size in bytes.',
          status?.size ?? null,
        ],
        ['process_heap_bytes', 'gauge', 'Process heap size in bytes.', status?.data ?? null],
        ['process_open_fds', 'gauge', 'Number of open file descriptors.', openFds()],
        ['process_max_fds', 'gauge', 'Maximum number of open file descriptors.', this.maxFds],
        ...this.eventLoop(),
        [
          'nodejs_heap_size_total_bytes',
          'gauge',
          'Process heap size from Node.js in bytes.',
          memory.heapTotal,
        ],
        [
          'nodejs_heap_size_used_bytes',
          'gauge',
          'Process heap size used from Node.js in bytes.',
          memory.heapUsed,
        ],
        [
          'nodejs_external_memory_bytes',
          'gauge',
          'Node.js external memory size in bytes.',
          memory.external,
        ],
      ]) +
      heapSpaces() +
      familyHeader('nodejs_version_info', 'gauge', 'Node.js version info.') +
      `nodejs_version_info{version="${labelValue(process.version)}",major="${MAJOR}",minor="${MINOR}",` +
      `patch="${PATCH}"} 1\n` +
      this.gcRegistry.render()
    );
  }

  /** The event-loop delay since the previous scrape, in seconds; the histogram starts again. */
  private eventLoop(): Sample[] {
    const h = this.lag;
    const start = process.hrtime.bigint();
    setImmediate(() => {
      this.immediateLag = Number(process.hrtime.bigint() - start) / 1e9;
    });
    const samples: Sample[] = [
      ['nodejs_eventloop_lag_seconds', 'gauge', 'Lag of event loop in seconds.', this.immediateLag],
      [
        'nodejs_eventloop_lag_min_seconds',
        'gauge',
        'The minimum recorded event loop delay.',
        h.min / 1e9,
      ],
      [
        'nodejs_eventloop_lag_max_seconds',
        'gauge',
        'The maximum recorded event loop delay.',
        h.max / 1e9,
      ],
      [
        'nodejs_eventloop_lag_mean_seconds',
        'gauge',
        'The mean of the recorded event loop delays.',
        h.mean / 1e9,
      ],
      [
        'nodejs_eventloop_lag_stddev_seconds',
        'gauge',
        'The standard deviation of the recorded event loop delays.',
        h.stddev / 1e9,
      ],
      ...LAG_PERCENTILES.map(
        (p): Sample => [
          `nodejs_eventloop_lag_p${p}_seconds`,
          'gauge',
          `The ${p}th percentile of the recorded event loop delays.`,
          h.percentile(p) / 1e9,
        ],
      ),
    ];
    h.reset();
    return samples;
  }
}

/** V8's heap spaces (new, old, code, ...), total, used and available, as prom-client named them. */
function heapSpaces(): string {
  const spaces = getHeapSpaceStatistics();
  const kinds = [
    ['total', 'space_size'],
    ['used', 'space_used_size'],
    ['available', 'space_available_size'],
  ] as const;
  return kinds
    .map(([kind, field]) => {
      const name = `nodejs_heap_space_size_${kind}_bytes`;
      let out = familyHeader(
        name,
        'gauge',
        `Process heap space size ${kind} from Node.js in bytes.`,
      );
      for (const s of spaces)
        out += `${name}{space="${labelValue(s.space_name.replace(/_space$/, ''))}"} ${s[field]}\n`;
      return out;
    })
    .join('');
}
