import { describe, expect, it } from 'vitest';
import { DaemonMetrics } from '../../src/daemon/metrics.js';

/**
 * The daemon's own families as prom-client 15.1.3 wrote them (captured from the build that
 * used it, blank lines between families left out): lvsd's writer must give the same lines,
 * so scrapers, dashboards and alerts see no change.
 */
const PROM_CLIENT_TEXT = [
  '# HELP lvsd_config_last_reload_successful Whether the last configuration reload attempt' +
    ' was successful (1) or not (0).',
  '# TYPE lvsd_config_last_reload_successful gauge',
  'lvsd_config_last_reload_successful 1',
  '# HELP lvsd_config_last_reload_success_timestamp_seconds Timestamp of the last successful configuration reload.',
  '# TYPE lvsd_config_last_reload_success_timestamp_seconds gauge',
  'lvsd_config_last_reload_success_timestamp_seconds 1700000000.123',
  '# HELP lvsd_config_info The configuration in force, by hash (always 1).',
  '# TYPE lvsd_config_info gauge',
  'lvsd_config_info{hash="ab\\"c\\\\d\\ne"} 1',
  '# HELP lvsd_reconcile_duration_seconds Duration of reconcile passes (read the table,' +
    ' plan, write), by what triggered them.',
  '# TYPE lvsd_reconcile_duration_seconds histogram',
  'lvsd_reconcile_duration_seconds_bucket{le="0.001",trigger="start"} 0',
  'lvsd_reconcile_duration_seconds_bucket{le="0.0025",trigger="start"} 0',
  'lvsd_reconcile_duration_seconds_bucket{le="0.005",trigger="start"} 1',
  'lvsd_reconcile_duration_seconds_bucket{le="0.01",trigger="start"} 2',
  'lvsd_reconcile_duration_seconds_bucket{le="0.025",trigger="start"} 2',
  'lvsd_reconcile_duration_seconds_bucket{le="0.05",trigger="start"} 2',
  'lvsd_reconcile_duration_seconds_bucket{le="0.1",trigger="start"} 2',
  'lvsd_reconcile_duration_seconds_bucket{le="0.25",trigger="start"} 2',
  'lvsd_reconcile_duration_seconds_bucket{le="0.5",trigger="start"} 2',
  'lvsd_reconcile_duration_seconds_bucket{le="1",trigger="start"} 2',
  'lvsd_reconcile_duration_seconds_bucket{le="2.5",trigger="start"} 2',
  'lvsd_reconcile_duration_seconds_bucket{le="5",trigger="start"} 2',
  'lvsd_reconcile_duration_seconds_bucket{le="10",trigger="start"} 2',
  'lvsd_reconcile_duration_seconds_bucket{le="+Inf",trigger="start"} 2',
  'lvsd_reconcile_duration_seconds_sum{trigger="start"} 0.013000000000000001',
  'lvsd_reconcile_duration_seconds_count{trigger="start"} 2',
  'lvsd_reconcile_duration_seconds_bucket{le="0.001",trigger="reload"} 0',
  'lvsd_reconcile_duration_seconds_bucket{le="0.0025",trigger="reload"} 0',
  'lvsd_reconcile_duration_seconds_bucket{le="0.005",trigger="reload"} 0',
  'lvsd_reconcile_duration_seconds_bucket{le="0.01",trigger="reload"} 0',
  'lvsd_reconcile_duration_seconds_bucket{le="0.025",trigger="reload"} 0',
  'lvsd_reconcile_duration_seconds_bucket{le="0.05",trigger="reload"} 0',
  'lvsd_reconcile_duration_seconds_bucket{le="0.1",trigger="reload"} 0',
  'lvsd_reconcile_duration_seconds_bucket{le="0.25",trigger="reload"} 0',
  'lvsd_reconcile_duration_seconds_bucket{le="0.5",trigger="reload"} 0',
  'lvsd_reconcile_duration_seconds_bucket{le="1",trigger="reload"} 0',
  'lvsd_reconcile_duration_seconds_bucket{le="2.5",trigger="reload"} 0',
  'lvsd_reconcile_duration_seconds_bucket{le="5",trigger="reload"} 0',
  'lvsd_reconcile_duration_seconds_bucket{le="10",trigger="reload"} 0',
  'lvsd_reconcile_duration_seconds_bucket{le="+Inf",trigger="reload"} 1',
  'lvsd_reconcile_duration_seconds_sum{trigger="reload"} 20',
  'lvsd_reconcile_duration_seconds_count{trigger="reload"} 1',
  '# HELP lvsd_reconcile_errors_total Reconcile passes that failed before completing (kernel' +
    ' unreachable, state unwritable).',
  '# TYPE lvsd_reconcile_errors_total counter',
  'lvsd_reconcile_errors_total 1',
  '# HELP lvsd_removal_refused_total Passes refused by the guard against mass removal' +
    ' (nothing written; the last good config stays).',
  '# TYPE lvsd_removal_refused_total counter',
  'lvsd_removal_refused_total 0',
  '# HELP lvsd_kernel_writes_total Kernel writes sent (IPVS operations and sysctls), by plan action.',
  '# TYPE lvsd_kernel_writes_total counter',
  'lvsd_kernel_writes_total{action="add"} 3',
  '# HELP lvsd_kernel_write_failures_total Kernel writes refused or failed.',
  '# TYPE lvsd_kernel_write_failures_total counter',
  'lvsd_kernel_write_failures_total 0',
  '# HELP lvsd_drift_repairs_total Changes made by others (ipvsadm, another tool) that lvsd put back, by plan action.',
  '# TYPE lvsd_drift_repairs_total counter',
  'lvsd_drift_repairs_total{action="add"} 1',
  '# HELP lvsd_health_transitions_total Real servers changing health state, by service and new state (up, down).',
  '# TYPE lvsd_health_transitions_total counter',
  'lvsd_health_transitions_total{service="web",to="down"} 2',
];

describe("the daemon's own metrics", () => {
  it('are written line for line as prom-client wrote them', async () => {
    const m = new DaemonMetrics({ processMetrics: false });
    m.recordReload(true, 'ab"c\\d\ne', 1_700_000_000_123);
    m.healthTransitions.inc({ service: 'web', to: 'down' });
    m.healthTransitions.inc({ service: 'web', to: 'down' });
    m.reconcileDuration.observe({ trigger: 'start' }, 0.01);
    m.reconcileDuration.observe({ trigger: 'start' }, 0.003);
    m.reconcileDuration.observe({ trigger: 'reload' }, 20);
    m.reconcileErrors.inc();
    m.kernelWrites.inc({ action: 'add' }, 3);
    m.kernelWriteFailures.inc(0);
    m.driftRepairs.inc({ action: 'add' });
    const text = await m.render();
    const own = text.slice(0, text.indexOf('# HELP lvsd_check_duration_seconds'));
    expect(own.split('\n').filter((l) => l !== '')).toEqual(PROM_CLIENT_TEXT);
    expect(m.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  });

  it('keep a reload failure and the config hash as prom-client did', async () => {
    const m = new DaemonMetrics({ processMetrics: false });
    m.recordReload(true, 'one', 1_000);
    m.recordReload(true, 'two', 2_000);
    m.recordReload(false, null, 3_000);
    const text = await m.render();
    expect(text).toContain('\nlvsd_config_last_reload_successful 0\n');
    expect(text).toContain('\nlvsd_config_last_reload_success_timestamp_seconds 2\n');
    expect(text).toContain('\nlvsd_config_info{hash="two"} 1\n');
    expect(text).not.toContain('hash="one"');
  });
});
