/**
 * How a VRRP instance appears in /status and `lvsd status`: the zod schema the CLI checks
 * the daemon's answer against (and the type the instance reports), and the text lines.
 */
import { z } from 'zod';

const Role = z.enum(['INIT', 'BACKUP', 'MASTER', 'FAULT']);

export const VrrpInstanceStatus = z.object({
  name: z.string(),
  interface: z.string(),
  vrid: z.number(),
  version: z.union([z.literal(2), z.literal(3)]),
  role: Role,
  /** Effective priority: configured, shifted by failing tracked objects. */
  priority: z.number(),
  configuredPriority: z.number(),
  /** The router believed to be master; this director's own address while MASTER. */
  masterAddress: z.string().nullable(),
  /** When the current role began. */
  since: z.string(),
  lastReason: z.string(),
  splitBrainSuspected: z.boolean(),
  /** Tracked objects failing now ("interface eth1", "service web", "exec /usr/bin/check"). */
  failing: z.array(z.string()),
  counters: z.object({
    advertsSent: z.number(),
    advertsReceived: z.number(),
    advertsBad: z.number(),
    transitions: z.object({
      INIT: z.number(),
      BACKUP: z.number(),
      MASTER: z.number(),
      FAULT: z.number(),
    }),
    rivalAdverts: z.number(),
  }),
});
export type VrrpInstanceStatus = z.infer<typeof VrrpInstanceStatus>;

/** Lines under the config in `lvsd status`, in keepalived's words. */
export function renderVrrpStatus(instances: readonly VrrpInstanceStatus[] | undefined): string {
  if (!instances?.length) return '';
  const lines = ['VRRP'];
  for (const i of instances) {
    const priority =
      i.priority === i.configuredPriority
        ? `${i.priority}`
        : `${i.priority} (configured ${i.configuredPriority})`;
    const master = i.role === 'MASTER' ? '' : `, master ${i.masterAddress ?? 'unknown'}`;
    lines.push(
      `${i.name}: ${i.role} since ${i.since} (${i.lastReason}); ${i.interface} vrid ${i.vrid} v${i.version}, ` +
        `priority ${priority}${master}`,
    );
    const c = i.counters;
    lines.push(
      `adverts sent ${c.advertsSent}, received ${c.advertsReceived}, bad ${c.advertsBad}; transitions ` +
        `${c.transitions.MASTER} to MASTER, ${c.transitions.BACKUP} to BACKUP, ${c.transitions.FAULT} to FAULT`,
    );
    if (i.failing.length) lines.push(`    failing: ${i.failing.join(', ')}`);
    if (i.splitBrainSuspected)
      lines.push('    SPLIT BRAIN SUSPECTED: another router keeps advertising as master');
  }
  return `${lines.join('\n')}\n`;
}
