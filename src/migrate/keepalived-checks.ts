/**
 * The check of one keepalived real server. keepalived runs every checker a real server
 * has and takes it out when any fails; so does lvsd's all check with several parts, which
 * several checkers become.
 */
import type { CheckContext } from './keepalived-check-common.js';
import type { Statement } from './keepalived-lexer.js';
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
  FILE_CHECK:
    "the import does not carry track_file over; lvsd's type: file check reads a file too: write one by hand",
  BFD_CHECK: 'lvsd has no BFD',
};

/** Keys of a check that an all check has once for all its parts (the timing and the failure). */
const TIMING = ['interval', 'timeout', 'rise', 'fall', 'initial', 'on_failure'];

interface Mapped {
  type: string;
  stmt: Statement;
  check: CheckOut;
}

/** Whether the check connects to a port it does not name (an echo request and a command do not). */
function needsPort(check: CheckOut): boolean {
  const field = (name: string) => check.fields.find(([k]) => k === name)?.[1];
  return field('port') === undefined && field('type') !== 'exec' && field('type') !== 'icmp';
}

/**
 * Each checker lvsd can run, mapped; the others are warnings at their lines. On a real
 * without a port (a fwmark service's), a checker that connects needs connect_port.
 */
function mappedCheckers(ctx: CheckContext, portless: boolean): Mapped[] {
  const out: Mapped[] = [];
  for (const checker of ctx.rs.checkers) {
    const mapper = MAPPERS[checker.type];
    if (!mapper) {
      ctx.warn(
        checker.stmt.pos,
        `${checker.type} is not imported: ${NOT_MAPPED[checker.type] ?? 'unknown checker'}`,
      );
      continue;
    }
    try {
      const check = mapper(checker.stmt, ctx);
      if (check && portless && needsPort(check))
        ctx.warn(
          checker.stmt.pos,
          `${checker.type} of ${ctx.rs.addr.address} needs connect_port: ` +
            'the real server has no port here; not imported',
        );
      else if (check) out.push({ type: checker.type, stmt: checker.stmt, check });
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      ctx.warn(checker.stmt.pos, `${checker.type}: ${err.message}; not imported`);
    }
  }
  return out;
}

const timingOf = (check: CheckOut) => check.fields.filter(([k]) => TIMING.includes(k));
const weighs = (check: CheckOut) => check.fields.some(([k]) => k === 'dynamic_weight');

/**
 * Several checkers as one all check: keepalived takes the real server out when any fails,
 * lvsd's all check when any part fails. Its timing is the first checker's; a checker
 * timed otherwise is imported with it and says so, one that reports a weight after
 * another is a warning (lvsd reads one weight a real).
 */
function allCheck(mapped: Mapped[], ctx: CheckContext): CheckOut {
  const [first] = mapped as [Mapped, ...Mapped[]];
  const timing = timingOf(first.check);
  const parts: CheckOut[] = [];
  let weighed: Mapped | null = null;
  for (const m of mapped) {
    if (weighs(m.check) && weighed) {
      ctx.warn(
        m.stmt.pos,
        `${m.type} is not imported: it reports a weight (misc_dynamic) as ${weighed.type} above ` +
          'does, and lvsd reads one weight a real',
      );
      continue;
    }
    if (weighs(m.check)) weighed = m;
    const own = new Set(m.check.timingNotes ?? []);
    const notes = m.check.notes.filter((n) => !own.has(n));
    const theirs = new Map(timing);
    const differ = timingOf(m.check).filter(([k, v]) => theirs.get(k) !== v);
    if (differ.length > 0)
      notes.push(
        `${m.type}'s own timing is not imported (${differ.map(([k, v]) => `${k} ${v}`).join(', ')}): ` +
          `lvsd runs the parts of an all check together, timed as ${first.type}`,
      );
    parts.push({ fields: m.check.fields.filter(([k]) => !TIMING.includes(k)), notes });
  }
  if (parts.length === 1) return first.check;
  return {
    fields: [['type', 'all'], ...timing, ['checks', { parts }]],
    notes: [
      ...(first.check.timingNotes ?? []),
      'several checkers: keepalived takes the real server out when any fails, as lvsd when any part fails',
    ],
  };
}

/** The real server's check, or undefined when it has none lvsd can run. */
export function realServerCheck(ctx: CheckContext, portless: boolean): CheckOut | undefined {
  const mapped = mappedCheckers(ctx, portless);
  if (mapped.length === 0) return undefined;
  return mapped.length === 1 ? mapped[0]?.check : allCheck(mapped, ctx);
}
