import { describe, expect, it } from 'vitest';
import {
  Counter,
  EXPOSITION_CONTENT_TYPE,
  Gauge,
  Histogram,
  labelValue,
  Registry,
  sampleValue,
} from '../../src/util/prometheus.js';

const lines = (text: string) => text.split('\n').filter((l) => l !== '');

describe('the text-format writer', () => {
  it('escapes backslash, double quote and newline in label values, backslash and newline in help', () => {
    expect(labelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    const registry = new Registry();
    const g = new Gauge({ name: 'g', help: 'one\\two\nthree "q"', labelNames: ['x'], registry });
    g.set({ x: 'we"b\\1\n' }, 2);
    expect(registry.render()).toBe(
      '# HELP g one\\\\two\\nthree "q"\n# TYPE g gauge\ng{x="we\\"b\\\\1\\n"} 2\n',
    );
  });

  it('writes a label set once, whatever the order of its object, names in the declared order', () => {
    const registry = new Registry();
    const c = new Counter({ name: 'c_total', help: 'h', labelNames: ['service', 'to'], registry });
    c.inc({ service: 'web', to: 'down' });
    c.inc({ to: 'down', service: 'web' }, 2);
    c.inc({ service: 'web', to: 'up' });
    expect(lines(registry.render()).slice(2)).toEqual([
      'c_total{service="web",to="down"} 3',
      'c_total{service="web",to="up"} 1',
    ]);
    expect(c.get({ to: 'down', service: 'web' })).toBe(3);
  });

  it('refuses a label the metric was not declared with', () => {
    const registry = new Registry();
    const c = new Counter({ name: 'c_total', help: 'h', labelNames: ['action'], registry });
    expect(() => c.inc({ action: 'add', other: 'x' } as never)).toThrow(
      /c_total has no label other/,
    );
  });

  it('lets a counter only grow', () => {
    const registry = new Registry();
    const c = new Counter({ name: 'c_total', help: 'h', registry });
    c.inc();
    c.inc(2.5);
    c.inc(0);
    expect(() => c.inc(-1)).toThrow(/cannot change by -1/);
    expect(() => c.inc(Number.NaN)).toThrow(/cannot change/);
    expect(c.get()).toBe(3.5);
    expect(registry.render()).toContain('\nc_total 3.5\n');
  });

  it('shows a metric without labels at 0 before its first change, and a labelled one not at all', () => {
    const registry = new Registry();
    new Counter({ name: 'plain_total', help: 'h', registry });
    new Counter({ name: 'by_total', help: 'h', labelNames: ['action'], registry });
    new Histogram({ name: 'd_seconds', help: 'h', buckets: [1], registry });
    expect(registry.render()).toBe(
      '# HELP plain_total h\n# TYPE plain_total counter\nplain_total 0\n' +
        '# HELP by_total h\n# TYPE by_total counter\n' +
        '# HELP d_seconds h\n# TYPE d_seconds histogram\n' +
        'd_seconds_bucket{le="1"} 0\nd_seconds_bucket{le="+Inf"} 0\nd_seconds_sum 0\nd_seconds_count 0\n',
    );
  });

  it('gauges go both ways; reset forgets labelled series and puts an unlabelled one back to 0', () => {
    const registry = new Registry();
    const g = new Gauge({ name: 'info', help: 'h', labelNames: ['hash'], registry });
    const u = new Gauge({ name: 'u', help: 'h', registry });
    g.set({ hash: 'a' }, 1);
    u.set(5);
    u.set(-2);
    expect(registry.render()).toContain('info{hash="a"} 1\n');
    expect(registry.render()).toContain('\nu -2\n');
    g.reset();
    u.reset();
    g.set({ hash: 'b' }, 1);
    expect(registry.render()).not.toContain('hash="a"');
    expect(registry.render()).toContain('info{hash="b"} 1\n');
    expect(registry.render()).toContain('\nu 0\n');
  });

  it('writes histogram buckets cumulative, le first, up to +Inf, then _sum and _count', () => {
    const registry = new Registry();
    const h = new Histogram({
      name: 'lvsd_reconcile_duration_seconds',
      help: 'Duration.',
      labelNames: ['trigger'],
      buckets: [0.01, 0.001, 1], // sorted by the histogram
      registry,
    });
    h.observe({ trigger: 'start' }, 0.0005);
    h.observe({ trigger: 'start' }, 0.001); // on a bound: in that bucket (le is <=)
    h.observe({ trigger: 'start' }, 0.5);
    h.observe({ trigger: 'start' }, 20);
    h.observe({ trigger: 'drift' }, 0.002);
    expect(lines(registry.render())).toEqual([
      '# HELP lvsd_reconcile_duration_seconds Duration.',
      '# TYPE lvsd_reconcile_duration_seconds histogram',
      'lvsd_reconcile_duration_seconds_bucket{le="0.001",trigger="start"} 2',
      'lvsd_reconcile_duration_seconds_bucket{le="0.01",trigger="start"} 2',
      'lvsd_reconcile_duration_seconds_bucket{le="1",trigger="start"} 3',
      'lvsd_reconcile_duration_seconds_bucket{le="+Inf",trigger="start"} 4',
      'lvsd_reconcile_duration_seconds_sum{trigger="start"} 20.5015',
      'lvsd_reconcile_duration_seconds_count{trigger="start"} 4',
      'lvsd_reconcile_duration_seconds_bucket{le="0.001",trigger="drift"} 0',
      'lvsd_reconcile_duration_seconds_bucket{le="0.01",trigger="drift"} 1',
      'lvsd_reconcile_duration_seconds_bucket{le="1",trigger="drift"} 1',
      'lvsd_reconcile_duration_seconds_bucket{le="+Inf",trigger="drift"} 1',
      'lvsd_reconcile_duration_seconds_sum{trigger="drift"} 0.002',
      'lvsd_reconcile_duration_seconds_count{trigger="drift"} 1',
    ]);
    expect(() => h.observe({ trigger: 'start' }, Number.NaN)).toThrow(/NaN/);
  });

  it('refuses a metric registered twice in one registry, and bad names', () => {
    const registry = new Registry();
    new Gauge({ name: 'x', help: 'h', registry });
    expect(() => new Gauge({ name: 'x', help: 'h', registry })).toThrow(/registered twice/);
    expect(() => new Gauge({ name: 'a-b', help: 'h', registry })).toThrow(/invalid metric name/);
    new Gauge({ name: 'x', help: 'h', registry: new Registry() });
  });

  it('spells values as Prometheus reads them, and keeps the content type /metrics sent', () => {
    expect(
      [1, 0.25, 1e21, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN].map(
        sampleValue,
      ),
    ).toEqual(['1', '0.25', '1e+21', '+Inf', '-Inf', 'NaN']);
    expect(EXPOSITION_CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8');
  });
});
