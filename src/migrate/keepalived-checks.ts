/**
 * The check of one keepalived real server. keepalived runs every checker a real server
 * has and takes it out when any fails; lvsd runs one check per real, so the first checker
 * lvsd can run is imported and the others are warnings at their lines.
 */
import type { CheckContext } from './keepalived-check-common.js';
import {
  type CheckerMapper,
  dnsCheck,
  httpCheck,
  pingCheck,
  smtpCheck,
  tcpCheck,
  udpCheck,
} from './keepalived-check-types.js';
import { miscCheck } from './keepalived-misc.js';
import { ValueError } from './keepalived-values.js';
import type { CheckOut } from './types.js';

const MAPPERS: Record<string, CheckerMapper> = {
  TCP_CHECK: tcpCheck,
  HTTP_GET: httpCheck,
  SSL_GET: httpCheck,
  SMTP_CHECK: smtpCheck,
  DNS_CHECK: dnsCheck,
  UDP_CHECK: udpCheck,
  MISC_CHECK: miscCheck,
  PING_CHECK: pingCheck,
};

const NOT_MAPPED: Record<string, string> = {
  FILE_CHECK: 'lvsd has no track files',
  BFD_CHECK: 'lvsd has no BFD',
};

/** The real server's check, or undefined when it has none lvsd can run. */
export function realServerCheck(ctx: CheckContext): CheckOut | undefined {
  let chosen: { type: string; check: CheckOut } | null = null;
  for (const checker of ctx.rs.checkers) {
    const mapper = MAPPERS[checker.type];
    if (!mapper) {
      ctx.warn(
        checker.stmt.pos,
        `${checker.type} is not imported: ${NOT_MAPPED[checker.type] ?? 'unknown checker'}`,
      );
      continue;
    }
    if (chosen) {
      ctx.warn(
        checker.stmt.pos,
        `${checker.type} is not imported: lvsd runs one check per real server ` +
          `(${chosen.type} above); keepalived takes the real server out when any of its checkers fails`,
      );
      continue;
    }
    let check: CheckOut | undefined;
    try {
      check = mapper(checker.stmt, ctx);
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      ctx.warn(checker.stmt.pos, `${checker.type}: ${err.message}; not imported`);
    }
    if (check) chosen = { type: checker.type, check };
  }
  return chosen?.check;
}
