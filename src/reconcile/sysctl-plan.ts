/**
 * Sysctls in the plan: the ones the config sets are reconciled like any other setting;
 * the ones it does not set are checked against the traps LVS users keep falling into
 * (kubernetes/kubernetes#71809, #81775, #84322) and reported as advice.
 */
import { SYSCTL_NAMES } from '../config/schema.js';
import type { DesiredState, SysctlChange } from './types.js';

export const ADVISED_SYSCTLS = [
  'net.ipv4.vs.expire_quiescent_template',
  'net.ipv4.vs.conn_reuse_mode',
  'net.ipv4.ip_forward',
  'net.ipv6.conf.all.forwarding',
] as const;

/** Every sysctl a config can set or advice looks at: what a director snapshot records. */
export const KNOWN_SYSCTLS: readonly string[] = [
  ...new Set([...ADVISED_SYSCTLS, ...Object.values(SYSCTL_NAMES)]),
];

export function planSysctls(
  desired: Record<string, number> | undefined,
  actual: Record<string, number | null>,
): SysctlChange[] {
  return Object.entries(desired ?? {})
    .filter(([name, value]) => actual[name] !== value)
    .map(([name, to]) => ({ name, from: actual[name] ?? null, to }));
}

/** Advice about sysctls the config leaves alone; `actual` holds what the kernel has now. */
export function sysctlAdvice(
  desired: DesiredState,
  actual: Record<string, number | null>,
  drainTimeoutMs: number,
): string[] {
  const managed = desired.sysctls ?? {};
  const value = (name: string) => managed[name] ?? actual[name];
  const advice: string[] = [];
  const services = desired.services.map((s) => s.service);
  if (
    drainTimeoutMs > 0 &&
    services.some((s) => s.flags.persistent) &&
    value('net.ipv4.vs.expire_quiescent_template') === 0
  ) {
    advice.push(
      'net.ipv4.vs.expire_quiescent_template is 0: with persistence, clients that have a template keep going to ' +
        'a real at weight 0, so draining and inhibited reals still get new connections; set ' +
        'kernel.sysctl.expire_quiescent_template: true',
    );
  }
  if (drainTimeoutMs > 0 && value('net.ipv4.vs.conn_reuse_mode') === 0) {
    advice.push(
      'net.ipv4.vs.conn_reuse_mode is 0: a client reusing a source port is sent to the real it had before, even ' +
        'at weight 0; set kernel.sysctl.conn_reuse_mode: 1 for drains to take effect',
    );
  }
  const nat = (family: string) =>
    desired.services.some(
      (s) => s.service.family === family && s.dests.some((d) => d.forwarding === 'nat'),
    );
  if (nat('ipv4') && value('net.ipv4.ip_forward') === 0) {
    advice.push(
      'net.ipv4.ip_forward is 0: NAT (masquerading) services cannot forward packets; set ' +
        'kernel.sysctl.ip_forward: true',
    );
  }
  if (nat('ipv6') && value('net.ipv6.conf.all.forwarding') === 0) {
    advice.push(
      'net.ipv6.conf.all.forwarding is 0: IPv6 NAT services cannot forward packets; set ' +
        'kernel.sysctl.ipv6_forwarding: true',
    );
  }
  return advice;
}
