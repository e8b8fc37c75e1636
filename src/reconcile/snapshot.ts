/**
 * The director's whole truth, saved: what `lvsd ls --json` writes and `lvsd plan --state`
 * reads. Besides the IPVS table (kept under `services`, where older readers of `ls --json`
 * look), it carries everything a pass reads before it plans: what lvsd owns and drains
 * (the state file), the kernel-wide settings lvsd may manage (timeouts, sync daemons,
 * sysctls), the addresses on the interfaces (VIPs) and the marks the firewall sets. So a
 * plan against a snapshot in CI is the plan `lvsd apply` makes on that director.
 *
 * Documented in docs/snapshot.md; schemas/lvsd-snapshot.schema.json is generated from
 * the schema below (`npm run schema`).
 */
import { z } from 'zod';
import type { AddressSnapshot } from '../director/vip-addresses.js';
import type { MarkScan } from '../director/fwmark-advice.js';
import { IpvsTable, LiveService, SyncDaemon, Timeouts } from '../ipvs/model.js';
import { ReconcileStateSchema, type ReconcileState } from './state.js';
import type { ActualState } from './types.js';

/** Bumped when a reader of the old format would misread the new one. */
export const SNAPSHOT_FORMAT = 1;

const HeldAddressSchema = z.object({
  address: z.string(),
  prefix: z.number().int().min(0).max(128),
  interface: z.string(),
});

const AddressSnapshotSchema = z.object({
  links: z.array(
    z.object({
      name: z.string(),
      index: z.number().int(),
      kind: z.string().nullable(),
      up: z.boolean(),
    }),
  ),
  addresses: z.array(HeldAddressSchema),
}) satisfies z.ZodType<AddressSnapshot>;

const MarkScanSchema = z.object({
  marks: z.array(z.number().int()),
  opaque: z.boolean(),
  unread: z.array(z.string()),
}) satisfies z.ZodType<MarkScan>;

export const DirectorSnapshot = z
  .object({
    lvsd: z
      .object({
        format: z.literal(SNAPSHOT_FORMAT),
        version: z.string().describe('The lvsd that took the snapshot.'),
        host: z.string().describe('The director it was taken on (its hostname).'),
        takenAt: z.string().describe('When, as an ISO 8601 time.'),
      })
      .describe('What took the snapshot, where and when.'),
    services: z.array(LiveService).describe('The IPVS table, as `lvsd ls --json` always wrote it.'),
    state: ReconcileStateSchema.nullable().describe(
      "lvsd's state file on that director (what it owns and drains, the VIPs it added); null: none.",
    ),
    timeouts: Timeouts,
    daemons: z.array(SyncDaemon),
    sysctls: z
      .record(z.string(), z.number().nullable())
      .describe('Every sysctl lvsd can set or advises on, by dotted name; null: absent.'),
    addresses: AddressSnapshotSchema.nullable().describe(
      'Links and addresses of the network namespace (VIPs); null: not read.',
    ),
    markRules: MarkScanSchema.nullable().describe(
      'The marks the firewall sets (fwmark advice); null: not read.',
    ),
  })
  .describe('An lvsd director snapshot: the IPVS table and everything lvsd plans against.')
  .meta({ id: 'DirectorSnapshot' });
export type DirectorSnapshot = z.infer<typeof DirectorSnapshot>;

export interface SnapshotRead {
  actual: ActualState;
  state: ReconcileState | null;
  /** The director the snapshot names; null for a table-only snapshot. */
  host: string | null;
  warnings: string[];
}

/** What a pass would have read on that director. */
export function actualOf(snapshot: DirectorSnapshot): ActualState {
  return {
    table: { services: snapshot.services },
    timeouts: snapshot.timeouts,
    daemons: snapshot.daemons,
    sysctls: snapshot.sysctls,
    ...(snapshot.addresses ? { addresses: snapshot.addresses } : {}),
    ...(snapshot.markRules ? { markRules: snapshot.markRules } : {}),
  };
}

/**
 * A snapshot from JSON: the current format, or a bare table from an older lvsd, which
 * plans the IPVS table alone and cannot know what lvsd owns (so shows no removals).
 */
export function parseSnapshot(json: unknown, source: string): SnapshotRead {
  const full = DirectorSnapshot.safeParse(json);
  if (full.success) {
    const warnings = full.data.state
      ? []
      : [
          `${source}: no lvsd state on that director: it owns nothing yet, so no removals are shown`,
        ];
    return {
      actual: actualOf(full.data),
      state: full.data.state,
      host: full.data.lvsd.host,
      warnings,
    };
  }
  const table = IpvsTable.safeParse(json);
  if (table.success && !(json as { lvsd?: unknown }).lvsd) {
    return {
      actual: { table: table.data as IpvsTable },
      state: null,
      host: null,
      warnings: [
        `${source} is a bare table from an older lvsd: it does not say what lvsd owns, ` +
          'so removals cannot be shown, nor sysctl, timeout, sync daemon or VIP changes. ' +
          'Take it again with this version: lvsd ls --json',
      ],
    };
  }
  const issue = full.error.issues[0];
  throw new Error(
    `${source} is not an lvsd snapshot (lvsd ls --json): ${issue?.path.join('.') || '(top)'}: ${issue?.message}`,
  );
}

export function renderSnapshotSchema(): string {
  return `${JSON.stringify(z.toJSONSchema(DirectorSnapshot, { io: 'input' }), null, 2)}\n`;
}
