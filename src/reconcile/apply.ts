/**
 * The applier: the only caller of IpvsClient's write path. It sends a plan's operations
 * as one ordered batch (the kernel runs them in order and answers every refusal with the
 * refused message's sequence number), so a refused change is reported against its own step
 * while the independent rest still applies.
 */
import type { IpvsClient, IpvsError } from '../ipvs/client.js';
import type { Plan, PlanStep } from './types.js';
import type { SysctlChange } from './types.js';
import type { AddressClient } from '../director/vip-addresses.js';
import type { VipStep } from './vip-plan.js';

export interface StepOutcome {
  step: PlanStep;
  error?: IpvsError;
  /** Set when the step failed only because an earlier step of the same service failed. */
  causedBy?: PlanStep;
}

export interface SysctlOutcome {
  change: SysctlChange;
  error?: string;
}

export type SysctlWriter = (name: string, value: number) => Promise<void>;

export interface VipOutcome {
  step: VipStep;
  error?: string;
}

/** Every change made: IPVS operations, sysctls and interface addresses. */
export function totalWrites(report: ApplyReport): number {
  return report.writes + report.sysctls.length + report.vips.length;
}

export interface ApplyReport {
  outcomes: StepOutcome[];
  sysctls: SysctlOutcome[];
  /** VIP changes: removals ran before the IPVS batch, additions after it. */
  vips: VipOutcome[];
  /** Operations sent to the kernel. */
  writes: number;
  failed: number;
}

/**
 * Sysctls first (ip_forward before the NAT services that need it), then VIPs leaving, one
 * IPVS batch, and VIPs arriving: an address is held only while its service exists.
 */
export async function applyPlan(
  client: IpvsClient,
  plan: Plan,
  writeSysctl?: SysctlWriter,
  addresses?: AddressClient,
): Promise<ApplyReport> {
  const sysctls = await applySysctls(plan.sysctls, writeSysctl);
  const vipsBefore = await applyVips(
    plan.vips.filter((s) => s.action === 'remove'),
    addresses,
  );
  const ipvs = await applyIpvs(client, plan);
  const vips = [
    ...vipsBefore,
    ...(await applyVips(
      plan.vips.filter((s) => s.action !== 'remove'),
      addresses,
    )),
  ];
  const failed = ipvs.failed + [...sysctls, ...vips].filter((o) => o.error).length;
  return { outcomes: ipvs.outcomes, sysctls, vips, writes: ipvs.writes, failed };
}

async function applyIpvs(
  client: IpvsClient,
  plan: Plan,
): Promise<{ outcomes: StepOutcome[]; writes: number; failed: number }> {
  if (plan.steps.length === 0) return { outcomes: [], writes: 0, failed: 0 };
  const results = await client.execute(plan.steps.map((step) => step.op));
  const failedServiceAdds = new Map<string, PlanStep>();
  const outcomes = plan.steps.map((step, i): StepOutcome => {
    const result = results[i];
    if (!result || result.ok) return { step };
    if (step.op.op === 'add-service') failedServiceAdds.set(step.service, step);
    const cause = step.dest ? failedServiceAdds.get(step.service) : undefined;
    return cause ? { step, error: result.error, causedBy: cause } : { step, error: result.error };
  });
  return { outcomes, writes: plan.steps.length, failed: outcomes.filter((o) => o.error).length };
}

/** In order; a step on an interface whose creation failed reports that cause instead of ENODEV. */
async function applyVips(
  steps: VipStep[],
  addresses: AddressClient | undefined,
): Promise<VipOutcome[]> {
  const outcomes: VipOutcome[] = [];
  const failedLinks = new Map<string, string>();
  for (const step of steps) {
    const op = step.op;
    const link =
      op.op === 'add-address' || op.op === 'delete-address' ? op.address.interface : op.interface;
    const cause = failedLinks.get(link);
    if (!addresses) {
      outcomes.push({ step, error: 'no rtnetlink client available' });
    } else if (cause) {
      outcomes.push({ step, error: `not done: ${cause}` });
    } else {
      try {
        if (op.op === 'create-dummy') await addresses.createLink(op.interface, 'dummy');
        else if (op.op === 'link-up') await addresses.setUp(op.interface);
        else if (op.op === 'add-address') await addresses.addAddress(op.address);
        else await addresses.deleteAddress(op.address);
        outcomes.push({ step });
      } catch (err) {
        const message = (err as Error).message;
        if (op.op === 'create-dummy') failedLinks.set(link, message);
        outcomes.push({ step, error: message });
      }
    }
  }
  return outcomes;
}

async function applySysctls(
  changes: SysctlChange[],
  write: SysctlWriter | undefined,
): Promise<SysctlOutcome[]> {
  const outcomes: SysctlOutcome[] = [];
  for (const change of changes) {
    if (!write) {
      outcomes.push({ change, error: 'no sysctl writer available' });
      continue;
    }
    try {
      await write(change.name, change.to);
      outcomes.push({ change });
    } catch (err) {
      outcomes.push({ change, error: (err as Error).message });
    }
  }
  return outcomes;
}
