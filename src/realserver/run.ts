/**
 * `lvsd realserver`: read (addresses over rtnetlink, sysctls from /proc/sys), plan
 * (plan.ts), and unless --check, apply and record. --check reads only.
 */
import { heldAddressId, type AddressClient } from '../director/vip-addresses.js';
import type { SysctlAccess } from '../sysctl/access.js';
import {
  heldVip,
  planRealServer,
  planRemoval,
  recordAfterApply,
  sysctlNeeds,
  vipInterface,
  type RealServerActual,
  type RealServerRecord,
  type RealServerStep,
  type RealServerVip,
} from './plan.js';
import { loadRecord, saveRecord } from './record.js';

export type RealServerAction = 'apply' | 'check' | 'remove';

export interface RealServerOptions {
  vips: RealServerVip[];
  action: RealServerAction;
  /** Where the record of changes lives; null = none (--remove then leaves sysctls alone). */
  stateDir: string | null;
}

export interface RealServerIo {
  addresses: AddressClient;
  sysctls: SysctlAccess;
}

export interface StepResult {
  step: RealServerStep;
  error?: string;
}

export interface RealServerResult {
  action: RealServerAction;
  vips: RealServerVip[];
  /** What is missing (apply, check) or what --remove undoes. */
  steps: RealServerStep[];
  /** Absent for --check. */
  results?: StepResult[];
  warnings: string[];
}

async function readActual(
  io: RealServerIo,
  vips: RealServerVip[],
  record: RealServerRecord,
): Promise<RealServerActual> {
  const names = [
    ...new Set([...sysctlNeeds(vips).map((n) => n.name), ...Object.keys(record.sysctls)]),
  ];
  const [addresses, sysctls] = await Promise.all([io.addresses.read(), io.sysctls.read(names)]);
  return { addresses, sysctls };
}

export async function runRealServer(
  options: RealServerOptions,
  io: RealServerIo,
): Promise<RealServerResult> {
  const warnings: string[] = [];
  const loaded = options.stateDir ? await loadRecord(options.stateDir) : undefined;
  if (loaded?.warning) warnings.push(loaded.warning);
  const record = loaded?.record ?? { version: 1 as const, vips: [], sysctls: {} };
  const actual = await readActual(io, options.vips, record);
  if (options.action === 'check')
    return {
      action: 'check',
      vips: options.vips,
      steps: planRealServer(options.vips, actual),
      warnings,
    };
  if (options.action === 'remove') {
    const removal = planRemoval(options.vips, actual, record);
    if (!options.stateDir)
      warnings.push('no record of earlier changes: sysctls are left as they are');
    const deletions = await execute(
      removal.steps.filter((s) => s.kind === 'delete-address'),
      io,
    );
    const stuck = deletions.filter((r) => r.error);
    // A VIP still there still needs its ARP settings: restore sysctls only once all are gone.
    const restores = removal.steps.filter((s) => s.kind === 'sysctl');
    const results = [
      ...deletions,
      ...(stuck.length
        ? restores.map((step) => ({ step, error: 'not done: a VIP could not be removed' }))
        : await execute(restores, io)),
    ];
    if (options.stateDir) {
      const stillHeld = stuck.flatMap((r) =>
        r.step.kind === 'delete-address' ? [heldAddressId(r.step.address)] : [],
      );
      // Sysctls were not restored: keep their old values on record with the VIPs still there.
      await saveRecord(
        options.stateDir,
        stuck.length
          ? { ...record, vips: [...new Set([...removal.record.vips, ...stillHeld])] }
          : removal.record,
      );
    }
    return { action: 'remove', vips: options.vips, steps: removal.steps, results, warnings };
  }
  const steps = planRealServer(options.vips, actual);
  const results = await execute(steps, io);
  if (options.stateDir && steps.length > 0) {
    const succeeded = options.vips.filter(
      (vip) =>
        !results.some(
          (r) => r.error && r.step.kind === 'add-address' && r.step.address.address === vip.address,
        ),
    );
    await saveRecord(
      options.stateDir,
      recordAfterApply(
        record,
        steps.filter((s) => !results.find((r) => r.step === s)?.error),
        succeeded,
      ),
    );
  }
  return { action: 'apply', vips: options.vips, steps, results, warnings };
}

/** The interface a step depends on, so a tunnel that could not be made explains the steps after it. */
function stepInterface(step: RealServerStep): string | undefined {
  if (step.kind === 'add-address' || step.kind === 'delete-address') return step.address.interface;
  if (step.kind === 'sysctl') return /^net\.ipv[46]\.conf\.([^.]+)\./.exec(step.name)?.[1];
  return step.interface;
}

async function execute(steps: RealServerStep[], io: RealServerIo): Promise<StepResult[]> {
  const results: StepResult[] = [];
  const missing = new Set<string>();
  for (const step of steps) {
    const link = stepInterface(step);
    if (link && missing.has(link)) {
      results.push({ step, error: `not done: interface ${link} could not be created` });
      continue;
    }
    try {
      await executeStep(step, io);
      results.push({ step });
    } catch (err) {
      if (step.kind === 'create-tunnel') missing.add(step.interface);
      results.push({ step, error: (err as Error).message });
    }
  }
  return results;
}

async function executeStep(step: RealServerStep, io: RealServerIo): Promise<void> {
  switch (step.kind) {
    case 'create-tunnel':
      try {
        await io.addresses.createLink(step.interface, step.tunnelKind);
      } catch (err) {
        // Loading the module creates the fallback device itself, so asking for it by name
        // ends in EEXIST: that is success as long as the device is there now.
        const links = (await io.addresses.read()).links;
        if (!links.some((l) => l.name === step.interface)) throw err;
      }
      return;
    case 'link-up':
      return io.addresses.setUp(step.interface);
    case 'add-address':
      return io.addresses.addAddress(step.address);
    case 'delete-address':
      return io.addresses.deleteAddress(step.address);
    case 'sysctl':
      return io.sysctls.write(step.name, step.to);
  }
}

export function describeVips(vips: readonly RealServerVip[]): string {
  return vips
    .map((v) => `${v.address} (${v.mode.toUpperCase()}, on ${vipInterface(v)})`)
    .join(', ');
}

export { heldVip };
