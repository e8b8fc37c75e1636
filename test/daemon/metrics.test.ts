import { describe, expect, it } from 'vitest';
import { DaemonMetrics, renderKernelSeries } from '../../src/daemon/metrics.js';
import type { StatusService } from '../../src/daemon/status.js';
import { emptyStats } from '../../src/ipvs/model.js';
import { dest, tcpService } from '../reconcile/fixtures.js';
import { CheckTallies, countResult } from '../../src/health/tally.js';

/** A Prometheus text-format sample: name, optional {labels}, value. */
const LABELS = '(?:\\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\]|\\\\.)*",?)*\\})?';
const SAMPLE_LINE = new RegExp(
  `^([a-zA-Z_:][a-zA-Z0-9_:]*${LABELS}) (-?[0-9.e+-]+|NaN|Nan|\\+Inf|-Inf)$`,
);

const stats = {
  ...emptyStats(),
  conns: 5,
  inPackets: 10,
  outPackets: 9,
  inBytes: 1000,
  outBytes: 900,
};

function service(name: string | null, managed = true): StatusService {
  const d = dest('192.168.10.2', 80, { weight: 3 });
  return {
    ...tcpService('10.0.0.1', 80),
    id: 'TCP 10.0.0.1:80',
    name,
    managed,
    inKernel: true,
    stats,
    dests: [
      {
        ...d,
        activeConns: 2,
        inactiveConns: 1,
        persistConns: 0,
        stats,
        id: '192.168.10.2:80',
        health: 'up',
        check: 'tcp',
        configuredWeight: 3,
        inKernel: true,
        since: null,
        message: null,
      },
    ],
    quorum: 2,
    healthyWeight: 3,
  };
}

/** A minimal reader of the text format: every sample line is `name{labels} value`, every family declared once. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const declared = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary)$/.exec(line);
    if (type) declared.set(type[1]!, (declared.get(type[1]!) ?? 0) + 1);
    if (line.startsWith('#')) continue;
    const sample = SAMPLE_LINE.exec(line);
    if (!sample) throw new Error(`not a sample line: ${line}`);
    samples.set(sample[1]!, Number(sample[2]));
  }
  for (const [name, count] of declared)
    if (count !== 1) throw new Error(`${name} declared ${count} times`);
  return samples;
}

// The labels of web's series: lvsd's own and node_exporter's ipvs collector's.
const IPVS = 'local_address="10.0.0.1",local_port="80",proto="TCP",local_mark=""';
const WEB = `service="web",${IPVS}`;
const REAL = 'real="192.168.10.2:80",remote_address="192.168.10.2",remote_port="80"';

describe('kernel series', () => {
  it('writes valid exposition text with every family declared once', () => {
    const samples = parse(renderKernelSeries([service('web'), service(null, false)]));
    expect(samples.get(`lvsd_real_active_connections{${WEB},${REAL}}`)).toBe(2);
    expect(samples.get(`lvsd_real_bytes_total{${WEB},${REAL},direction="out"}`)).toBe(900);
    expect(samples.get(`lvsd_service_packets_total{${WEB},direction="in"}`)).toBe(10);
    expect(samples.get(`lvsd_service_healthy_weight{${WEB}}`)).toBe(3);
    expect(samples.get(`lvsd_service_quorum{${WEB}}`)).toBe(2);
    expect(samples.get('lvsd_foreign_services')).toBe(1);
  });

  it("labels fwmark and IPv6 services as node_exporter's ipvs collector does", () => {
    const {
      address: _a,
      port: _p,
      protocol: _t,
      ...base
    } = service('mail') as StatusService & {
      address: string;
      port: number;
      protocol: string;
    };
    const fwm = { ...base, fwmark: 100, id: 'FWM 100' } as StatusService;
    const v6 = { ...service('v6'), ...tcpService('2001:db8::1', 443), dests: [] } as StatusService;
    const text = renderKernelSeries([fwm, v6]);
    expect(text).toContain(
      'lvsd_real_up{service="mail",local_address="",local_port="0",proto="FWM",local_mark="00000064",' +
        `${REAL}} 1`,
    );
    expect(text).toContain(
      'lvsd_service_info{service="v6",local_address="2001:db8::1",local_port="443",proto="TCP",' +
        'local_mark="",id="TCP 10.0.0.1:80",scheduler="wlc"} 1',
    );
    parse(text);
  });

  it('escapes label values', () => {
    const text = renderKernelSeries([service('we"b\\1')]);
    expect(text).toContain(`lvsd_real_weight{service="we\\"b\\\\1",${IPVS},${REAL}} 3`);
    parse(text);
  });

  it('joins the daemon`s own metrics without a name declared twice', async () => {
    const metrics = new DaemonMetrics();
    metrics.recordReload(true, 'abc', 1_700_000_000_000);
    metrics.update([service('web')]);
    const samples = parse(await metrics.render());
    expect(samples.get('lvsd_config_last_reload_successful')).toBe(1);
    expect(samples.get('lvsd_config_last_reload_success_timestamp_seconds')).toBe(1_700_000_000);
    expect(samples.get('lvsd_config_info{hash="abc"}')).toBe(1);
    expect(samples.get(`lvsd_real_up{${WEB},${REAL}}`)).toBe(1);
  });

  it('counts checks and their durations as a histogram by service and type', async () => {
    const metrics = new DaemonMetrics({ processMetrics: false });
    const tallies = new CheckTallies();
    const run = (ok: boolean, durationMs: number) => ({
      ok,
      durationMs,
      timedOut: false,
      message: '',
    });
    const web = tallies.join('web', 'tcp');
    countResult(web, run(true, 0.4));
    countResult(web, run(true, 3));
    metrics.recordTallies(tallies.take());
    // Counts taken again add to the series.
    countResult(web, run(false, 500));
    countResult(tallies.join('we"b', 'http'), run(true, 12_000));
    metrics.recordTallies(tallies.take());
    const text = await metrics.render();
    const samples = parse(text);
    const l = 'service="web",type="tcp"';
    expect(samples.get(`lvsd_check_duration_seconds_bucket{le="0.001",${l}}`)).toBe(1);
    expect(samples.get(`lvsd_check_duration_seconds_bucket{le="0.005",${l}}`)).toBe(2);
    expect(samples.get(`lvsd_check_duration_seconds_bucket{le="0.25",${l}}`)).toBe(2);
    expect(samples.get(`lvsd_check_duration_seconds_bucket{le="0.5",${l}}`)).toBe(3);
    expect(samples.get(`lvsd_check_duration_seconds_bucket{le="+Inf",${l}}`)).toBe(3);
    expect(samples.get(`lvsd_check_duration_seconds_count{${l}}`)).toBe(3);
    expect(samples.get(`lvsd_check_duration_seconds_sum{${l}}`)).toBeCloseTo(0.5034, 6);
    expect(samples.get(`lvsd_checks_total{${l},result="ok"}`)).toBe(2);
    expect(samples.get(`lvsd_checks_total{${l},result="failed"}`)).toBe(1);
    expect(
      samples.get('lvsd_check_duration_seconds_bucket{le="10",service="we\\"b",type="http"}'),
    ).toBe(0);
    expect(
      samples.get('lvsd_check_duration_seconds_bucket{le="+Inf",service="we\\"b",type="http"}'),
    ).toBe(1);
    expect(text).toContain('# TYPE lvsd_check_duration_seconds histogram');
  });
});
