/**
 * The reconciler's vocabulary, shared by the planner (plan.ts, sysctl-plan.ts, vip-plan.ts),
 * the applier, the state store and the daemon: what the kernel should hold (DesiredState),
 * what it holds (ActualState), what lvsd remembers between passes (PlanContext, Drains) and
 * the plan that joins them. Types only, so every file of the folder can import it.
 */
import type { MarkScan } from '../director/fwmark-advice.js';
import type { AddressSnapshot, HeldAddress } from '../director/vip-addresses.js';
import type { IpvsOp } from '../ipvs/client.js';
import type { Dest, IpvsTable, Service, SyncDaemon, Timeouts } from '../ipvs/model.js';
import type { FieldChange } from './diff.js';
import type { VipStep } from './vip-plan.js';

/**
 * Reals being drained and when each drain began (ms since the epoch), by serviceId, then
 * destId: a scoped pass replaces its services' entries whole, with no key to parse.
 */
export type Drains = Record<string, Record<string, number>>;

/** How a pass treats what leaves the config (the config's `reconcile:` section). */
export interface ReconcilePolicy {
  /** 'all' removes services lvsd does not manage; 'managed' (default) only reports them. */
  prune: 'managed' | 'all';
  /** How long a removed real keeps its connections at weight 0 before it is deleted; 0 deletes at once. */
  drainTimeoutMs: number;
  /** The largest share (0..1) of the managed services one pass may start removing (guard.ts). */
  maxRemoval: number;
  /** The operator's word that a mass removal is meant: the guard lets it through. */
  allowMassRemoval: boolean;
}

export interface SysctlChange {
  name: string;
  from: number | null;
  to: number;
}

export interface DesiredService {
  /** The name the config gives the service; shown in plans. */
  name: string;
  service: Service;
  dests: Dest[];
}

export interface DesiredState {
  services: DesiredService[];
  /** Only the timeouts the config sets; absent = lvsd leaves timeouts alone. */
  timeouts?: Partial<Timeouts>;
  /** Absent = lvsd leaves sync daemons alone; [] = lvsd stops any that run. */
  daemons?: SyncDaemon[];
  /** Sysctls the config sets, by dotted name ("net.ipv4.vs.conn_reuse_mode"). */
  sysctls?: Record<string, number>;
  /** Addresses lvsd holds (services' `vip:` and top-level `vips:`); absent = none. */
  vips?: HeldAddress[];
}

export interface ActualState {
  table: IpvsTable;
  timeouts?: Timeouts;
  daemons?: SyncDaemon[];
  /** Current values of the sysctls the config sets or that advice looks at; null = absent. */
  sysctls?: Record<string, number | null>;
  /** Links and addresses of the namespace; absent (a snapshot plan) = VIPs are not planned. */
  addresses?: AddressSnapshot;
  /** Marks the firewall sets, for fwmark advice; absent = not checked. */
  markRules?: MarkScan;
}

/** What the planner knows besides desired and actual state: the policy and lvsd's memory. */
export interface PlanContext extends Pick<ReconcilePolicy, 'prune' | 'drainTimeoutMs'> {
  /** Milliseconds since the epoch; drains are timed against it. */
  now: number;
  /** Services lvsd created or managed before (from the state file), by serviceId. */
  owned: ReadonlySet<string>;
  /** Dests being drained, with the time their drain began. */
  draining: Readonly<Drains>;
  /** Addresses lvsd added before (heldAddressId, from the state file): only these are ever removed. */
  ownedVips?: ReadonlySet<string>;
}

export type StepAction = 'add' | 'change' | 'drain' | 'remove';

export interface PlanStep {
  action: StepAction;
  op: IpvsOp;
  /** serviceId of the service concerned ("TCP 10.0.0.1:80"). */
  service: string;
  /** Config name of the service, when it has one. */
  serviceName?: string;
  /** destId when the step concerns a real server. */
  dest?: string;
  /** For 'change' and 'drain': what changes, old -> new. */
  changes: FieldChange[];
}

export interface WaitingDrain {
  service: string;
  dest: string;
  activeConns: number;
  inactiveConns: number;
  /** Milliseconds left before the drain timeout forces the delete. */
  remainingMs: number;
}

export interface Plan {
  steps: PlanStep[];
  /** Reals at weight 0 waiting for their connections to end; no operation until then. */
  waiting: WaitingDrain[];
  /** Live services lvsd does not manage and leaves alone. */
  foreign: string[];
  /** Live services whose removal this plan starts or carries on (serviceIds). */
  removing: string[];
  /** Live services lvsd manages: desired, or owned and being removed. */
  managedLive: number;
  /** Sysctl writes (not IPVS operations, so kept apart from steps). */
  sysctls: SysctlChange[];
  /** Warnings about kernel settings the config leaves alone. */
  advice: string[];
  /** Interface and address changes for VIPs (rtnetlink, not IPVS: kept apart from steps). */
  vips: VipStep[];
  /** What the state file should record once the plan is applied. */
  next: { owned: string[]; draining: Drains; vips?: string[] };
}
