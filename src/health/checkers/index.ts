/** The registry: check type → checker. Adding a type means one file and one line here. */
import type { CheckConfig, CheckPart, CheckType } from '../../config/check.js';
import type { Checker, CheckTarget, PreparedCheck } from '../types.js';
import { allChecker } from './all.js';
import { dnsChecker } from './dns.js';
import { execChecker } from './exec.js';
import { fileChecker } from './file.js';
import { httpChecker, httpsChecker } from './http.js';
import { icmpChecker } from './icmp.js';
import { smtpChecker } from './smtp.js';
import { tcpChecker } from './tcp.js';
import { udpChecker } from './udp.js';

/** One checker per check type (HealthManager's `checkers` option; tests pass scripted ones). */
export type CheckerRegistry = { readonly [T in CheckType]: Checker<T> };

export const CHECKERS: CheckerRegistry = {
  tcp: tcpChecker,
  http: httpChecker,
  https: httpsChecker,
  udp: udpChecker,
  dns: dnsChecker,
  smtp: smtpChecker,
  exec: execChecker,
  icmp: icmpChecker,
  file: fileChecker,
  all: allChecker,
};

/** The check `config` asks for, prepared by the registry's checker for its type. */
export function prepareCheck(
  config: CheckConfig,
  target: CheckTarget,
  checkers: CheckerRegistry = CHECKERS,
): PreparedCheck {
  const checker = checkers[config.type] as Checker;
  return checker.prepare(config as never, target, (other, to) => prepareCheck(other, to, checkers));
}

function parts(config: CheckConfig): ReadonlyArray<CheckConfig | CheckPart> {
  return config.type === 'all' ? config.checks : [config];
}

/** The scheduler's pool of a check: exec checks (each one a process) have their own, smaller one. */
export function poolOf(config: CheckConfig): 'io' | 'exec' {
  return parts(config).some((part) => part.type === 'exec') ? 'exec' : 'io';
}

/**
 * Whether the check reports the real's weight (exec with dynamic_weight, file): then a
 * success without a weight means the configured weight again.
 */
export function reportsWeight(config: CheckConfig): boolean {
  return parts(config).some(
    (part) => part.type === 'file' || (part.type === 'exec' && part.dynamic_weight !== false),
  );
}
