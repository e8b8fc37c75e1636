/**
 * VRRP series for /metrics, written in the exposition format from the instances' status
 * at each scrape (like the kernel series in src/daemon/metrics.ts).
 */
import { labelValue as esc } from '../util/prometheus.js';
import type { InstanceStatus } from './instance.js';
import type { Role } from './machine.js';

const ROLES: readonly Role[] = ['INIT', 'BACKUP', 'MASTER', 'FAULT'];

export function renderVrrpMetrics(instances: readonly InstanceStatus[]): string {
  if (instances.length === 0) return '';
  const lines: string[] = [];
  const family = (name: string, type: string, help: string, rows: string[]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...rows);
  };
  const per = (fn: (i: InstanceStatus, label: string) => string[]) =>
    instances.flatMap((i) => fn(i, `instance="${esc(i.name)}"`));
  family(
    'lvsd_vrrp_state',
    'gauge',
    'VRRP role of each instance (1 for the current one).',
    per((i, l) => ROLES.map((r) => `lvsd_vrrp_state{${l},state="${r}"} ${i.role === r ? 1 : 0}`)),
  );
  family(
    'lvsd_vrrp_priority',
    'gauge',
    'Effective VRRP priority (configured, shifted by tracking).',
    per((i, l) => [`lvsd_vrrp_priority{${l}} ${i.priority}`]),
  );
  family(
    'lvsd_vrrp_master_info',
    'gauge',
    'The router believed to be master (always 1).',
    per((i, l) =>
      i.masterAddress ? [`lvsd_vrrp_master_info{${l},master="${esc(i.masterAddress)}"} 1`] : [],
    ),
  );
  family(
    'lvsd_vrrp_transitions_total',
    'counter',
    'Role changes, by the role entered.',
    per((i, l) =>
      ROLES.map((r) => `lvsd_vrrp_transitions_total{${l},to="${r}"} ${i.counters.transitions[r]}`),
    ),
  );
  family(
    'lvsd_vrrp_adverts_sent_total',
    'counter',
    'VRRP adverts sent.',
    per((i, l) => [`lvsd_vrrp_adverts_sent_total{${l}} ${i.counters.advertsSent}`]),
  );
  family(
    'lvsd_vrrp_adverts_received_total',
    'counter',
    'Valid VRRP adverts received.',
    per((i, l) => [`lvsd_vrrp_adverts_received_total{${l}} ${i.counters.advertsReceived}`]),
  );
  family(
    'lvsd_vrrp_adverts_bad_total',
    'counter',
    'Adverts dropped (TTL, checksum, version, interval).',
    per((i, l) => [`lvsd_vrrp_adverts_bad_total{${l}} ${i.counters.advertsBad}`]),
  );
  family(
    'lvsd_vrrp_rival_adverts_total',
    'counter',
    'Adverts of another master while this one is MASTER and stays.',
    per((i, l) => [`lvsd_vrrp_rival_adverts_total{${l}} ${i.counters.rivalAdverts}`]),
  );
  family(
    'lvsd_vrrp_split_brain_suspected',
    'gauge',
    '1 while another router keeps advertising as master alongside this one.',
    per((i, l) => [`lvsd_vrrp_split_brain_suspected{${l}} ${i.splitBrainSuspected ? 1 : 0}`]),
  );
  return `${lines.join('\n')}\n`;
}
