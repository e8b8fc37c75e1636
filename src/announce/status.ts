/**
 * How the announcer appears in /status, `lvsd status` and /metrics: the zod schema the CLI
 * checks the daemon's answer against (and the type the service reports), the text lines,
 * and the Prometheus series written from the same status at each scrape.
 */
import { z } from 'zod';
import { labelValue as esc } from '../util/prometheus.js';

const VipState = z.enum(['withdrawn', 'announced', 'draining']);
const STATES = VipState.options;

export const AnnounceVipStatus = z.object({
  prefix: z.string(),
  state: VipState,
  reason: z.string(),
  since: z.string(),
  services: z.array(z.string()),
  goodStreak: z.number(),
  badStreak: z.number(),
  holdDownUntil: z.number(),
  /** Transitions into each state since lvsd started. */
  transitions: z.object({ withdrawn: z.number(), announced: z.number(), draining: z.number() }),
});
export type AnnounceVipStatus = z.infer<typeof AnnounceVipStatus>;

export const PeerStatus = z.object({
  name: z.string(),
  state: z.string(),
  up: z.boolean(),
  bgpState: z.string().nullable(),
  neighbor: z.string().nullable(),
  neighborAs: z.number().nullable(),
  holdTime: z.number().nullable(),
  bfd: z.boolean(),
  lastError: z.string().nullable(),
  routesExported: z.number().nullable(),
});

export const AnnounceStatus = z.object({
  daemon: z.string(),
  /** Set while `lvsd drain` holds: when and why. */
  drained: z.object({ since: z.string(), reason: z.string() }).nullable(),
  vips: z.array(AnnounceVipStatus),
  peers: z.array(PeerStatus),
  /** The last change the routing daemon refused or could not take (null: the last one went in). */
  lastError: z.string().nullable(),
  /** What the routing daemon was last made to carry, and when. */
  applied: z.object({ at: z.string(), routes: z.array(z.string()) }).nullable(),
  /** Writes to the routing daemon that failed since lvsd started. */
  applyFailures: z.number(),
});
export type AnnounceStatus = z.infer<typeof AnnounceStatus>;

/** Lines under the config in `lvsd status`. */
export function renderAnnounceStatus(status: AnnounceStatus | undefined): string {
  if (!status) return '';
  const drained = status.drained;
  const lines = [
    `BGP (${status.daemon})${drained ? `: DRAINED since ${drained.since} (${drained.reason})` : ''}`,
  ];
  for (const v of status.vips)
    lines.push(
      `${v.prefix}: ${v.state} since ${v.since} (${v.reason}); services ${v.services.join(', ')}`,
    );
  for (const p of status.peers) {
    const hold = p.holdTime === null ? '' : `, hold ${p.holdTime} s`;
    const error = p.lastError ? `; last error: ${p.lastError}` : '';
    lines.push(
      `peer ${p.name} ${p.neighbor ?? '?'} AS${p.neighborAs ?? '?'}: ${p.bgpState ?? p.state}${hold}` +
        `${p.bfd ? ', BFD up' : ''}, ${p.routesExported ?? 0} exported${error}`,
    );
  }
  if (!status.peers.length) lines.push('no BGP session reported by the routing daemon');
  if (status.lastError) lines.push(`LAST CHANGE FAILED: ${status.lastError}`);
  return `${lines.join('\n')}\n`;
}

export function renderAnnounceMetrics(status: AnnounceStatus | null): string {
  if (!status) return '';
  const lines: string[] = [];
  const family = (name: string, type: string, help: string, rows: string[]) =>
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...rows);
  const vip = (v: AnnounceVipStatus) => `prefix="${esc(v.prefix)}"`;
  family(
    'lvsd_announce_state',
    'gauge',
    'Each announced prefix: 1 for its state (withdrawn, announced, draining).',
    status.vips.flatMap((v) =>
      STATES.map((s) => `lvsd_announce_state{${vip(v)},state="${s}"} ${v.state === s ? 1 : 0}`),
    ),
  );
  family(
    'lvsd_announce_transitions_total',
    'counter',
    'Changes of state of each prefix, by the state entered.',
    status.vips.flatMap((v) =>
      STATES.map((s) => `lvsd_announce_transitions_total{${vip(v)},to="${s}"} ${v.transitions[s]}`),
    ),
  );
  family('lvsd_announce_drained', 'gauge', '1 while `lvsd drain` holds.', [
    `lvsd_announce_drained ${status.drained ? 1 : 0}`,
  ]);
  family(
    'lvsd_announce_apply_failures_total',
    'counter',
    'Changes the routing daemon refused or could not take.',
    [`lvsd_announce_apply_failures_total ${status.applyFailures}`],
  );
  family(
    'lvsd_bgp_session_up',
    'gauge',
    'Each BGP session of the routing daemon: 1 while Established.',
    status.peers.map((p) => {
      const labels = `peer="${esc(p.name)}",neighbor="${esc(p.neighbor ?? '')}"`;
      return `lvsd_bgp_session_up{${labels}} ${p.bgpState === 'Established' ? 1 : 0}`;
    }),
  );
  return `${lines.join('\n')}\n`;
}
