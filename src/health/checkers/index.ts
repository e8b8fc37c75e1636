/** The registry: check type → checker. Adding a type means one file and one line here. */
import type { CheckConfig, CheckType } from '../../config/check.js';
import type { Checker, CheckTarget, PreparedCheck } from '../types.js';
import { dnsChecker } from './dns.js';
import { execChecker } from './exec.js';
import { httpChecker, httpsChecker } from './http.js';
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
};

/** The check `config` asks for, prepared by the registry's checker for its type. */
export function prepareCheck(
  config: CheckConfig,
  target: CheckTarget,
  checkers: CheckerRegistry = CHECKERS,
): PreparedCheck {
  const checker = checkers[config.type] as Checker;
  return checker.prepare(config as never, target);
}
