import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ProcessMetrics } from '../../src/util/process-metrics.js';

/** Sample name -> value, and the TYPE of each family (each declared once). */
function read(text: string): { samples: Map<string, number>; types: Map<string, string> } {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      expect(types.has(type[1]!), `${type[1]} declared twice`).toBe(false);
      types.set(type[1]!, type[2]!);
    }
    const sample = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (sample) samples.set(sample[1]!, Number(sample[2]));
  }
  return { samples, types };
}

const linux = process.platform === 'linux';

describe('process metrics', () => {
  it("writes the series operators had from prom-client's default metrics, with plausible values", () => {
    const before = process.memoryUsage();
    const { samples, types } = read(new ProcessMetrics().render());
    const after = process.memoryUsage();
    const v = (name: string) => samples.get(name) as number;
    for (const [name, type] of [
      ['process_cpu_user_seconds_total', 'counter'],
      ['process_cpu_system_seconds_total', 'counter'],
      ['process_cpu_seconds_total', 'counter'],
      ['process_start_time_seconds', 'gauge'],
      ['process_resident_memory_bytes', 'gauge'],
      ['nodejs_heap_size_used_bytes', 'gauge'],
      ['nodejs_heap_size_total_bytes', 'gauge'],
      ['nodejs_external_memory_bytes', 'gauge'],
      ['nodejs_eventloop_lag_seconds', 'gauge'],
      ['nodejs_eventloop_lag_p99_seconds', 'gauge'],
      ['nodejs_heap_space_size_used_bytes', 'gauge'],
      ['nodejs_version_info', 'gauge'],
      ...(linux
        ? [
            ['process_virtual_memory_bytes', 'gauge'],
            ['process_heap_bytes', 'gauge'],
            ['process_open_fds', 'gauge'],
            ['process_max_fds', 'gauge'],
          ]
        : []),
    ])
      expect(types.get(name!), name).toBe(type);

    expect(v('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(v('process_cpu_seconds_total')).toBeCloseTo(
      v('process_cpu_user_seconds_total') + v('process_cpu_system_seconds_total'),
      6,
    );
    const started = Date.now() / 1000 - process.uptime();
    expect(Math.abs(v('process_start_time_seconds') - started)).toBeLessThanOrEqual(1);
    const rss = v('process_resident_memory_bytes');
    expect(rss).toBeGreaterThan(Math.min(before.rss, after.rss) * 0.8);
    expect(rss).toBeLessThan(Math.max(before.rss, after.rss) * 1.2);
    expect(v('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(v('nodejs_heap_size_used_bytes')).toBeLessThanOrEqual(v('nodejs_heap_size_total_bytes'));
    expect(samples.get('nodejs_heap_space_size_used_bytes{space="old"}')).toBeGreaterThan(0);
    const [major, minor, patch] = process.versions.node.split('.');
    const version = `version="${process.version}",major="${major}",minor="${minor}",patch="${patch}"`;
    expect(samples.get(`nodejs_version_info{${version}}`)).toBe(1);
    if (linux) {
      expect(v('process_virtual_memory_bytes')).toBeGreaterThan(rss);
      expect(v('process_heap_bytes')).toBeGreaterThan(0);
      const fds = readdirSync('/proc/self/fd').length - 1;
      expect(Math.abs(v('process_open_fds') - fds)).toBeLessThanOrEqual(2);
      expect(v('process_max_fds')).toBeGreaterThanOrEqual(v('process_open_fds'));
    }
  });

  it('counts CPU time only upward, and shows an event loop held busy as lag', async () => {
    const metrics = new ProcessMetrics();
    const first = read(metrics.render()).samples;
    await new Promise((r) => setTimeout(r, 20));
    // The loop held busy until this process has used 100 ms of CPU (at least 100 ms of wall time).
    const start = process.cpuUsage();
    const used = () => {
      const { user, system } = process.cpuUsage(start);
      return user + system;
    };
    while (used() < 100_000);
    await new Promise((r) => setTimeout(r, 20));
    const second = read(metrics.render()).samples;
    expect(second.get('process_cpu_seconds_total')).toBeGreaterThanOrEqual(
      first.get('process_cpu_seconds_total')! + 0.1,
    );
    const blocked = second.get('nodejs_eventloop_lag_max_seconds')!;
    expect(blocked).toBeGreaterThan(0.05);
    // The histogram starts again at each scrape: the block is not in the next one's max.
    await new Promise((r) => setTimeout(r, 50));
    expect(read(metrics.render()).samples.get('nodejs_eventloop_lag_max_seconds')).toBeLessThan(
      blocked,
    );
  });

  it('times garbage collections by kind, every one of a batch', async () => {
    const metrics = new ProcessMetrics();
    let garbage: unknown[] | null = [];
    for (let i = 0; i < 1_000_000; i++) garbage.push({ i, s: `x${i}` });
    garbage = null;
    await new Promise((r) => setTimeout(r, 50)); // the observer is called after the collections
    const { samples, types } = read(metrics.render());
    expect(types.get('nodejs_gc_duration_seconds')).toBe('histogram');
    const minor = samples.get('nodejs_gc_duration_seconds_count{kind="minor"}')!;
    expect(minor).toBeGreaterThan(1);
    expect(samples.get('nodejs_gc_duration_seconds_bucket{le="+Inf",kind="minor"}')).toBe(minor);
    expect(samples.get('nodejs_gc_duration_seconds_sum{kind="minor"}')).toBeGreaterThan(0);
  });
});
