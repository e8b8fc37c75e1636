/**
 * One reconcile pass in one call, for tests that drive the Reconciler pass by pass: builds
 * it with its ports from the options (a fake address client, a memory sysctl map...) and
 * runs pass(). Ports left out are this host's, as in `lvsd apply`.
 */
import type { AddressClient } from '../../src/director/vip-addresses.js';
import type { MarkScan } from '../../src/director/fwmark-advice.js';
import type { IpvsClient } from '../../src/ipvs/client.js';
import { Reconciler, type ReconcileResult } from '../../src/reconcile/reconciler.js';
import { StateStore } from '../../src/reconcile/state.js';
import { systemHostPorts } from '../../src/reconcile/system-ports.js';
import type { DesiredState, ReconcilePolicy } from '../../src/reconcile/types.js';
import type { SysctlAccess } from '../../src/sysctl/access.js';
import type { PhaseTimer } from '../../src/util/timings.js';

export interface PassSettings extends Omit<ReconcilePolicy, 'maxRemoval' | 'allowMassRemoval'> {
  /** The guard's settings; the product's defaults (50%, not allowed) when absent. */
  maxRemoval?: number;
  allowMassRemoval?: boolean;
  desired: DesiredState;
  /** Where the state file lives; null = no state. */
  stateDir: string | null;
  dryRun: boolean;
  timer?: PhaseTimer;
  now?: number;
  sysctls?: SysctlAccess;
  /** An address client to use; null: VIPs neither read nor changed; absent: rtnetlink. */
  addresses?: AddressClient | null;
  /** null: fwmark rules not checked; absent: nftables. */
  markRules?: (() => Promise<MarkScan | null>) | null;
  readStats?: boolean;
  scope?: ReadonlySet<string>;
}

/** A client the test lends to passes: the Reconciler closes what it opens, so this close does nothing. */
export function lent(client: AddressClient): AddressClient {
  return {
    read: () => client.read(),
    createLink: (name, kind) => client.createLink(name, kind),
    setUp: (name) => client.setUp(name),
    addAddress: (address) => client.addAddress(address),
    deleteAddress: (address) => client.deleteAddress(address),
    close: async () => undefined,
  };
}

export function reconcilerOf(
  client: IpvsClient,
  settings: Omit<PassSettings, 'desired' | 'dryRun' | 'prune' | 'drainTimeoutMs'>,
): Reconciler {
  const { addresses, markRules } = settings;
  return new Reconciler({
    ipvs: client,
    state: new StateStore(settings.stateDir),
    sysctls: settings.sysctls ?? systemHostPorts.sysctls,
    openAddresses:
      addresses === undefined
        ? systemHostPorts.openAddresses
        : addresses && (async () => lent(addresses)),
    markRules: markRules === undefined ? systemHostPorts.markRules : markRules,
  });
}

export function reconcile(client: IpvsClient, settings: PassSettings): Promise<ReconcileResult> {
  return reconcilerOf(client, settings).pass(settings.desired, {
    policy: {
      prune: settings.prune,
      drainTimeoutMs: settings.drainTimeoutMs,
      maxRemoval: settings.maxRemoval ?? 0.5,
      allowMassRemoval: settings.allowMassRemoval ?? false,
    },
    dryRun: settings.dryRun,
    ...(settings.timer ? { timer: settings.timer } : {}),
    ...(settings.now !== undefined ? { now: settings.now } : {}),
    ...(settings.readStats !== undefined ? { readStats: settings.readStats } : {}),
    ...(settings.scope ? { scope: settings.scope } : {}),
  });
}
