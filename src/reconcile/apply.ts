/**
 * The applier: the only caller of IpvsClient's write path. It sends a plan's operations
 * as one ordered batch (the kernel runs them in order, acknowledging each), so a refused
 * change is reported against its own step while the independent rest still applies.
 */
import type { IpvsClient, IpvsError } from '../ipvs/client.js';
import type { Plan, PlanStep } from './plan.js';
import type { SysctlChange } from './sysctl-plan.js';

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

export interface ApplyReport {
  outcomes: StepOutcome[];
  sysctls: SysctlOutcome[];
  /** Operations sent to the kernel. */
  writes: number;
  failed: number;
}

/** Sysctls first (ip_forward before the NAT services that need it), then one IPVS batch. */
export async function applyPlan(client: IpvsClient, plan: Plan, writeSysctl?: SysctlWriter): Promise<ApplyReport> {
  const sysctls = await applySysctls(plan.sysctls, writeSysctl);
  const sysctlFailures = sysctls.filter((o) => o.error).length;
  if (plan.steps.length === 0) return { outcomes: [], sysctls, writes: 0, failed: sysctlFailures };
  const results = await client.execute(plan.steps.map((step) => step.op));
  const failedServiceAdds = new Map<string, PlanStep>();
  const outcomes = plan.steps.map((step, i): StepOutcome => {
    const result = results[i];
    if (!result || result.ok) return { step };
    if (step.op.op === 'add-service') failedServiceAdds.set(step.service, step);
    const cause = step.dest ? failedServiceAdds.get(step.service) : undefined;
    return cause ? { step, error: result.error, causedBy: cause } : { step, error: result.error };
  });
  return { outcomes, sysctls, writes: plan.steps.length, failed: outcomes.filter((o) => o.error).length + sysctlFailures };
}

async function applySysctls(changes: SysctlChange[], write: SysctlWriter | undefined): Promise<SysctlOutcome[]> {
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
