/**
 * The applier: the only caller of IpvsClient's write path. It sends a plan's operations
 * as one ordered batch (the kernel runs them in order, acknowledging each), so a refused
 * change is reported against its own step while the independent rest still applies.
 */
import type { IpvsClient, IpvsError } from '../ipvs/client.js';
import type { Plan, PlanStep } from './plan.js';

export interface StepOutcome {
  step: PlanStep;
  error?: IpvsError;
  /** Set when the step failed only because an earlier step of the same service failed. */
  causedBy?: PlanStep;
}

export interface ApplyReport {
  outcomes: StepOutcome[];
  /** Operations sent to the kernel. */
  writes: number;
  failed: number;
}

export async function applyPlan(client: IpvsClient, plan: Plan): Promise<ApplyReport> {
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
