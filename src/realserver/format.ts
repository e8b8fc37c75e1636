/** `lvsd realserver` output: plan-like lines (+ add, ~ change, - remove) and a verdict. */
import { colours, plain, type Palette } from '../util/palette.js';
import type { RealServerStep } from './plan.js';
import { describeVips, type RealServerResult } from './run.js';

export { colours, plain };

function symbol(step: RealServerStep): string {
  if (step.kind === 'add-address' || step.kind === 'create-tunnel') return '+';
  if (step.kind === 'delete-address') return '-';
  return '~';
}

function paint(palette: Palette, step: RealServerStep, text: string): string {
  const s = symbol(step);
  return s === '+' ? palette.add(text) : s === '-' ? palette.remove(text) : palette.change(text);
}

export function formatRealServer(result: RealServerResult, palette: Palette = plain): string {
  const lines: string[] = [];
  for (const warning of result.warnings) lines.push(palette.change(`  ! ${warning}`));
  const head =
    result.action === 'check'
      ? 'Checked'
      : result.action === 'remove'
        ? 'Removing'
        : 'Real server for';
  lines.push(palette.bold(`${head} ${describeVips(result.vips)}`));
  if (result.action === 'check' || !result.results) {
    for (const step of result.steps)
      lines.push(paint(palette, step, `  ${symbol(step)} ${step.text}`));
    lines.push(
      palette.bold(
        result.steps.length === 0
          ? 'Ready: every VIP, ARP and tunnel setting is in place.'
          : `Not ready: ${result.steps.length} missing (run lvsd realserver without --check to set them).`,
      ),
    );
    return lines.join('\n');
  }
  for (const { step, error } of result.results) {
    lines.push(
      error
        ? palette.remove(`  ! ${step.text}: ${error}`)
        : paint(palette, step, `  ${symbol(step)} ${step.text}`),
    );
  }
  const failed = result.results.filter((r) => r.error).length;
  const done = result.results.length - failed;
  if (result.results.length === 0)
    lines.push(
      palette.bold(
        result.action === 'remove' ? 'Nothing to remove.' : 'Nothing to do: this host is ready.',
      ),
    );
  else if (failed)
    lines.push(
      palette.bold(`Applied ${done} of ${result.results.length} changes; ${failed} failed.`),
    );
  else lines.push(palette.bold(`Applied ${done} changes.`));
  return lines.join('\n');
}

export function realServerToJson(result: RealServerResult): object {
  return {
    action: result.action,
    vips: result.vips,
    ready: result.action === 'check' ? result.steps.length === 0 : undefined,
    steps: result.steps.map(({ text, ...rest }) => ({ ...rest, text })),
    results: result.results?.map((r) => ({
      text: r.step.text,
      ...(r.error ? { error: r.error } : {}),
    })),
    warnings: result.warnings,
  };
}
