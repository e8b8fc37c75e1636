/** The registry: check type → checker. Adding a type means one file and one line here. */
import type { CheckConfig, CheckType } from '../../config/check.js';
import type { Checker, CheckTarget, PreparedCheck } from '../types.js';
import { dnsChecker } from './dns.js';
import { execChecker } from './exec.js';
import { httpChecker, httpsChecker } from './http.js';
import { smtpChecker } from './smtp.js';
import { tcpChecker } from './tcp.js';
import { udpChecker } from './udp.js';

export const CHECKERS: { [T in CheckType]: Checker<T> } = {
  tcp: tcpChecker,
  http: httpChecker,
  https: httpsChecker,
  udp: udpChecker,
  dns: dnsChecker,
  smtp: smtpChecker,
  exec: execChecker,
};

export function prepareCheck(config: CheckConfig, target: CheckTarget): PreparedCheck {
  const checker = CHECKERS[config.type] as Checker;
  return checker.prepare(config as never, target);
}
