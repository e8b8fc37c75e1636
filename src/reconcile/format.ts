/**
 * Plans and apply reports for people (terraform-plan style: + add, ~ change old -> new,
 * - remove, grouped by service) and for machines (--json).
 */
import type { IpvsOp } from '../ipvs/client.js';
import { forwardingLabel, type Dest, type Service } from '../ipvs/model.js';
import { totalWrites, type ApplyReport } from './apply.js';
import { countSteps, isEmptyPlan } from './plan.js';
import type { Plan, PlanStep, StepAction } from './types.js';
import type { VipStep } from './vip-plan.js';
import { plain, type Palette } from '../util/palette.js';

const symbols: Record<StepAction, string> = { add: '+', change: '~', drain: '~', remove: '-' };

function paint(palette: Palette, action: StepAction, text: string): string {
  if (action === 'add') return palette.add(text);
  if (action === 'remove') return palette.remove(text);
  return palette.change(text);
}

export function describeService(service: Service): string {
  const parts = [service.scheduler];
  if (service.flags.persistent) parts.push(`persistent ${service.timeout}`);
  const fullMask = service.family === 'ipv4' ? 32 : 128;
  if (service.flags.persistent && service.netmask !== fullMask)
    parts.push(`mask /${service.netmask}`);
  if (service.pe) parts.push(`pe ${service.pe}`);
  if (service.flags.onePacket) parts.push('ops');
  const schedFlags = (['sched1', 'sched2', 'sched3'] as const)
    .filter((f) => service.flags[f])
    .map((f) => `flag-${f.slice(-1)}`);
  if (schedFlags.length) parts.push(schedFlags.join(','));
  return parts.join(' ');
}

export function describeDest(dest: Dest): string {
  const parts = [forwardingLabel[dest.forwarding], `weight ${dest.weight}`];
  if (dest.upperThreshold || dest.lowerThreshold)
    parts.push(`thresholds ${dest.lowerThreshold}-${dest.upperThreshold}`);
  if (dest.forwarding === 'tun' && dest.tunnelType !== 'ipip')
    parts.push(`tunnel ${dest.tunnelType}`);
  return parts.join('  ');
}

function opDetail(op: IpvsOp): string {
  if (op.op === 'add-service') return `  ${describeService(op.service)}`;
  if (op.op === 'add-dest') return `  ${describeDest(op.dest)}`;
  if (op.op === 'add-daemon') return `  ${op.daemon.interface} syncid ${op.daemon.syncId}`;
  return '';
}

function groupByService(steps: PlanStep[]): Map<string, PlanStep[]> {
  const groups = new Map<string, PlanStep[]>();
  for (const step of steps) {
    const group = groups.get(step.service) ?? [];
    group.push(step);
    groups.set(step.service, group);
  }
  return groups;
}

function serviceLine(palette: Palette, service: string, steps: PlanStep[]): string[] {
  const own = steps.find((s) => !s.dest);
  const name = steps.find((s) => s.serviceName)?.serviceName;
  const label = name ? `${service} ${palette.dim(`(${name})`)}` : service;
  if (!own) return [`  ${palette.dim('=')} ${label}`];
  const lines = [
    paint(palette, own.action, `  ${symbols[own.action]} ${label}${opDetail(own.op)}`),
  ];
  for (const c of own.changes) lines.push(palette.change(`      ${c.field}: ${c.from} -> ${c.to}`));
  return lines;
}

function destLines(palette: Palette, step: PlanStep): string[] {
  const head = `      ${symbols[step.action]} -> ${step.dest}${opDetail(step.op)}`;
  const reason =
    step.action === 'drain' ? '  (draining: no new connections, existing ones finish)' : '';
  const changes = step.changes.map((c) => `${c.field}: ${c.from} -> ${c.to}`).join(', ');
  return [
    paint(palette, step.action, changes ? `${head}  ${changes}${reason}` : `${head}${reason}`),
  ];
}

export function formatPlan(plan: Plan, palette: Palette = plain): string {
  const lines: string[] = [];
  for (const [service, steps] of groupByService(plan.steps)) {
    lines.push(...serviceLine(palette, service, steps));
    for (const step of steps.filter((s) => s.dest)) lines.push(...destLines(palette, step));
    lines.push('');
  }
  for (const step of plan.vips)
    lines.push(paint(palette, step.action, `  ${symbols[step.action]} ${vipText(step)}`));
  if (plan.vips.length) lines.push('');
  for (const change of plan.sysctls) {
    lines.push(
      palette.change(`  ~ sysctl ${change.name}: ${change.from ?? 'absent'} -> ${change.to}`),
    );
  }
  if (plan.sysctls.length) lines.push('');
  for (const advice of plan.advice) lines.push(palette.change(`  ! ${advice}`));
  if (plan.advice.length) lines.push('');
  for (const wait of plan.waiting) {
    const secs = Math.max(0, Math.ceil(wait.remainingMs / 1000));
    lines.push(
      palette.dim(
        `  draining ${wait.service} -> ${wait.dest}: ${wait.activeConns} active, ${wait.inactiveConns} inactive ` +
          `connections; deleted when they end or in ${secs}s`,
      ),
    );
  }
  if (plan.foreign.length)
    lines.push(
      palette.dim(
        `  left alone (not managed by lvsd; prune: all removes them): ${plan.foreign.join(', ')}`,
      ),
    );
  if (plan.waiting.length || plan.foreign.length) lines.push('');
  lines.push(summaryLine(plan, palette));
  return lines.join('\n');
}

/** "vip 10.0.0.1/32 on lvsd0", "interface lvsd0 (dummy)". */
export function vipText(step: VipStep): string {
  return step.op.op === 'add-address' || step.op.op === 'delete-address'
    ? `vip ${step.object}`
    : step.object;
}

export function summaryLine(plan: Plan, palette: Palette = plain): string {
  if (isEmptyPlan(plan))
    return palette.bold('No changes. The kernel table matches the configuration.');
  const n = countSteps(plan);
  for (const step of plan.vips) n[step.action]++;
  const drain = n.drain ? `, ${n.drain} to drain` : '';
  return palette.bold(
    `Plan: ${n.add} to add, ${n.change + plan.sysctls.length} to change${drain}, ${n.remove} to remove.`,
  );
}

export function planToJson(plan: Plan): object {
  return {
    summary: countSteps(plan),
    steps: plan.steps.map((s) => ({ ...s, op: s.op.op, object: opObject(s.op) })),
    sysctls: plan.sysctls,
    vips: plan.vips.map((s) => ({ action: s.action, op: s.op.op, object: s.object })),
    advice: plan.advice,
    waiting: plan.waiting,
    foreign: plan.foreign,
  };
}

function opObject(op: IpvsOp): unknown {
  const { op: _name, ...rest } = op;
  return rest;
}

export function formatApplyReport(report: ApplyReport, palette: Palette = plain): string {
  const lines = report.sysctls.map(({ change, error }) =>
    error
      ? palette.remove(`  ! sysctl ${change.name}=${change.to}: ${error}`)
      : palette.change(`  ~ sysctl ${change.name}=${change.to}`),
  );
  lines.push(
    ...report.outcomes.map(({ step, error, causedBy }) => {
      const object = step.dest ? `${step.service} -> ${step.dest}` : step.service;
      if (!error)
        return paint(palette, step.action, `  ${symbols[step.action]} ${step.op.op} ${object}`);
      const why = causedBy
        ? `${error.reason} (because ${causedBy.op.op} ${causedBy.service} failed)`
        : error.reason;
      return palette.remove(`  ! ${step.op.op} ${object}: ${why}`);
    }),
  );
  lines.push(
    ...report.vips.map(({ step, error }) =>
      error
        ? palette.remove(`  ! ${vipText(step)}: ${error}`)
        : paint(palette, step.action, `  ${symbols[step.action]} ${vipText(step)}`),
    ),
  );
  const writes = totalWrites(report);
  const done = writes - report.failed;
  lines.push(
    '',
    palette.bold(
      report.failed
        ? `Applied ${done} of ${writes} changes; ${report.failed} failed.`
        : `Applied ${done} changes.`,
    ),
  );
  return lines.join('\n');
}
