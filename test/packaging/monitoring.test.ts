/**
 * The Grafana dashboard and the Prometheus rules ask only for series lvsd exposes: every
 * metric name in their queries is in /metrics as DaemonMetrics renders it for a small table
 * (a checked service with a quorum, a fwmark service, reals with counters, every daemon
 * counter touched), and every label they select or group by is on one of the series they
 * query. promtool checks the rules and runs their unit tests (lvsd-rules.test.yml).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DaemonMetrics } from '../../src/daemon/metrics.js';
import type { StatusService } from '../../src/daemon/status.js';
import { emptyStats } from '../../src/ipvs/model.js';
import { dest, tcpService } from '../reconcile/fixtures.js';
import { missing, root, run } from './helpers.js';
import { CheckTallies, countResult } from '../../src/health/tally.js';

const stats = {
  ...emptyStats(),
  conns: 5,
  inPackets: 10,
  outPackets: 9,
  inBytes: 1000,
  outBytes: 900,
};

function realOf(address: string, health: 'up' | 'down') {
  return {
    ...dest(address, 80, { weight: 2 }),
    activeConns: 1,
    inactiveConns: 2,
    persistConns: 0,
    stats,
    id: `${address}:80`,
    health,
    check: 'http',
    configuredWeight: 2,
    inKernel: health === 'up',
    since: null,
    message: null,
  };
}

/** /metrics of a daemon that has seen a little of everything. */
async function exposition(): Promise<string> {
  const metrics = new DaemonMetrics();
  const {
    address: _a,
    port: _p,
    protocol: _t,
    ...fwmarkBase
  } = tcpService('10.0.0.1', 80) as ReturnType<typeof tcpService> & {
    address: string;
    port: number;
    protocol: string;
  };
  const services = [
    {
      ...tcpService('10.0.0.1', 80),
      id: 'TCP 10.0.0.1:80',
      name: 'web',
      managed: true,
      inKernel: true,
      stats,
      dests: [realOf('192.168.10.2', 'up'), realOf('192.168.10.3', 'down')],
      quorum: 4,
      healthyWeight: 2,
    },
    {
      ...fwmarkBase,
      fwmark: 100,
      id: 'FWM 100',
      name: 'mail',
      managed: true,
      inKernel: true,
      stats,
      dests: [realOf('192.168.20.2', 'up')],
      quorum: null,
      healthyWeight: 2,
    },
  ] as StatusService[];
  metrics.update(services);
  metrics.recordReload(true, 'abc', Date.now());
  const tallies = new CheckTallies();
  const web = tallies.join('web', 'http');
  countResult(web, { ok: false, durationMs: 20, timedOut: false, message: 'status 503' });
  countResult(web, { ok: true, durationMs: 10, timedOut: false, message: 'status 200' });
  metrics.recordTallies(tallies.take());
  metrics.healthTransitions.inc({ service: 'web', to: 'down' });
  metrics.reconcileDuration.observe({ trigger: 'start' }, 0.01);
  metrics.reconcileErrors.inc();
  metrics.kernelWrites.inc({ action: 'add' });
  metrics.kernelWriteFailures.inc();
  metrics.driftRepairs.inc({ action: 'add' });
  return metrics.render();
}

/** Sample name -> the label names its samples carry. */
function series(text: string): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$/.exec(line);
    if (!sample) continue;
    const labels = found.get(sample[1]!) ?? new Set<string>();
    for (const [, name] of (sample[2] ?? '').matchAll(
      /([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g,
    ))
      labels.add(name!);
    found.set(sample[1]!, labels);
  }
  return found;
}

/** What a PromQL expression asks for: metric names, labels per selector, labels grouped by. */
function readQuery(expr: string): {
  metrics: string[];
  selected: Array<[string, string]>;
  grouped: string[];
} {
  const text = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\[[^\]]*\]/g, '');
  const selected: Array<[string, string]> = [];
  for (const [, metric, matchers] of text.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g))
    for (const [, label] of matchers!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g))
      selected.push([metric!, label!]);
  const grouped = [...text.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g)].flatMap(
    ([, names]) =>
      names!
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean),
  );
  const bare = text
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const metrics = [...bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)]
    .filter(([name, , call]) => !call && !KEYWORDS.has(name!) && !/^\d/.test(name!))
    .map(([name]) => name!);
  return { metrics, selected, grouped };
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan', 'by', 'without']);
/** Labels Prometheus adds to every series it scrapes, and the one it makes itself. */
const TARGET_LABELS = new Set(['job', 'instance']);
const PROMETHEUS_SERIES = new Set(['up']);

function dashboardQueries(dashboard: {
  panels: Array<{ targets?: Array<{ expr: string }> }>;
  templating: { list: Array<{ type: string; query: unknown }> };
  annotations: { list: Array<{ expr?: string }> };
}): string[] {
  const variables = dashboard.templating.list
    .filter((v) => v.type === 'query')
    .map((v) => /^label_values\((.*),\s*([a-z_]+)\)$/.exec((v.query as { query: string }).query))
    .map((m) => `sum by (${m![2]}) (${m![1]})`);
  return [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ...variables,
    ...dashboard.annotations.list.flatMap((a) => (a.expr ? [a.expr] : [])),
  ];
}

let exposed: Map<string, Set<string>>;
let dashboard: Parameters<typeof dashboardQueries>[0];
let rules: { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
beforeAll(async () => {
  exposed = series(await exposition());
  dashboard = JSON.parse(await readFile(join(root, 'packaging/grafana/lvsd.json'), 'utf8'));
  rules = parse(await readFile(join(root, 'packaging/prometheus/lvsd-rules.yml'), 'utf8'));
});

function checkQuery(expr: string): string[] {
  const { metrics, selected, grouped } = readQuery(expr);
  const problems: string[] = [];
  if (!metrics.length) problems.push(`no metric in ${expr}`);
  const labelsOf = (metric: string) => exposed.get(metric) ?? new Set<string>();
  for (const metric of metrics)
    if (!exposed.has(metric) && !PROMETHEUS_SERIES.has(metric))
      problems.push(`${metric} is not in lvsd's /metrics (${expr})`);
  for (const [metric, label] of selected)
    if (!TARGET_LABELS.has(label) && !labelsOf(metric).has(label))
      problems.push(`${metric} has no label ${label} (${expr})`);
  for (const label of grouped)
    if (!TARGET_LABELS.has(label) && !metrics.some((m) => labelsOf(m).has(label)))
      problems.push(`no series in ${expr} has the label ${label}`);
  return problems;
}

describe('the query reader', () => {
  it('finds metrics, selected labels and grouping labels, and flags what is not exposed', () => {
    expect(
      readQuery(
        'histogram_quantile(0.99, sum by (le, x) (rate(a_bucket{job="l", y=~"$v"}[5m]))) > on (z) b',
      ),
    ).toEqual({
      metrics: ['a_bucket', 'b'],
      selected: [
        ['a_bucket', 'job'],
        ['a_bucket', 'y'],
      ],
      grouped: ['le', 'x', 'z'],
    });
    expect(checkQuery('rate(lvsd_real_conections_total[5m])')).toEqual([
      "lvsd_real_conections_total is not in lvsd's /metrics (rate(lvsd_real_conections_total[5m]))",
    ]);
    expect(checkQuery('lvsd_real_up{realserver="x"}')).toHaveLength(1);
    expect(checkQuery('sum by (vip) (lvsd_real_up)')).toHaveLength(1);
  });
});

describe('packaging/grafana/lvsd.json', () => {
  it('asks only for series and labels lvsd exposes', () => {
    const queries = dashboardQueries(dashboard);
    expect(queries.length).toBeGreaterThan(20);
    expect(queries.flatMap(checkQuery)).toEqual([]);
  });

  it('shows what operators look at first', () => {
    const asked = new Set(dashboardQueries(dashboard).flatMap((q) => readQuery(q).metrics));
    // Per service and per real: connections, packets, bytes, weight, health; then the daemon.
    for (const metric of [
      'lvsd_service_connections_total',
      'lvsd_service_packets_total',
      'lvsd_service_bytes_total',
      'lvsd_service_healthy_weight',
      'lvsd_real_active_connections',
      'lvsd_real_connections_total',
      'lvsd_real_packets_total',
      'lvsd_real_bytes_total',
      'lvsd_real_weight',
      'lvsd_real_up',
      'lvsd_reconcile_duration_seconds_count',
      'lvsd_kernel_writes_total',
      'lvsd_drift_repairs_total',
      'lvsd_config_last_reload_successful',
      'lvsd_check_duration_seconds_bucket',
    ])
      expect(asked, metric).toContain(metric);
  });

  it('is an importable dashboard: unique panel ids, a place on the grid, the data source variable', () => {
    const ids = dashboard.panels.map((p) => (p as { id: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels as Array<{
      gridPos: { w: number; x: number };
      datasource?: { uid: string };
    }>) {
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable, not JavaScript's
      if (p.datasource) expect(p.datasource.uid).toBe('${datasource}');
    }
  });
});

describe('packaging/prometheus/lvsd-rules.yml', () => {
  it('asks only for series and labels lvsd exposes', () => {
    const all = rules.groups.flatMap((g) => g.rules);
    expect(all.map((r) => r.alert)).toEqual([
      'LvsdDown',
      'LvsdConfigReloadFailed',
      'LvsdReconcileFailing',
      'LvsdKernelWritesFailing',
      'LvsdDriftRepairedRepeatedly',
      'LvsdServiceBelowQuorum',
      'LvsdServiceNoHealthyReal',
      'LvsdRealFlapping',
    ]);
    expect(all.flatMap((r) => checkQuery(r.expr))).toEqual([]);
  });

  const skip = missing('promtool');
  it.skipIf(skip)(`promtool checks the rules and passes their unit tests ${skip}`, async () => {
    const cwd = join(root, 'packaging/prometheus');
    const checked = await run('promtool', ['check', 'rules', 'lvsd-rules.yml'], { cwd });
    expect(checked.stdout + checked.stderr).toMatch(/SUCCESS: 8 rules found/);
    expect(checked.code).toBe(0);
    const tested = await run('promtool', ['test', 'rules', 'lvsd-rules.test.yml'], { cwd });
    expect(tested.stdout + tested.stderr).toMatch(/SUCCESS/);
    expect(tested.code, tested.stdout).toBe(0);
  });
});
