/**
 * What every keepalived checker shares, as lvsd check settings. The timing keywords come
 * from the checker, else its real server, else its virtual server, else keepalived's
 * defaults (delay_loop 60 s, connect_timeout 5 s, retry 1, 0 for MISC_CHECK and 3 for
 * DNS_CHECK), as validate_check_config() resolves them. Then:
 *
 * - interval = delay_loop; timeout = connect_timeout (misc_timeout for MISC_CHECK), kept
 *   below the interval, which lvsd requires and keepalived does not;
 * - rise = 1 (keepalived has no rise: one success brings a real server back);
 * - fall = retry + 1 (the first failure and its retries);
 * - initial = down with alpha, else up (keepalived counts a real server up until a check fails);
 * - on_failure = inhibit with inhibit_on_failure, else remove.
 *
 * Each difference of meaning becomes a note above the check, in keepalived's terms.
 */
import { formatDuration } from '../config/duration.js';
import type { Statement } from './keepalived-lexer.js';
import type {
  CheckerDefaults,
  RealServer,
  SslSettings,
  VirtualServer,
} from './keepalived-model.js';
import { address, onOff, timerMs, unsigned, ValueError, word } from './keepalived-values.js';
import type { CheckOut, FieldValue, SourcePos } from './types.js';

export interface CheckContext {
  vs: VirtualServer;
  rs: RealServer;
  ssl: SslSettings | undefined;
  warn(pos: SourcePos, message: string): void;
  /** A comment above the service: a keyword that changes nothing lvsd does. */
  note(message: string): void;
}

export interface Common extends CheckerDefaults {
  connectIp?: string;
  connectPort?: number;
  bindto?: string;
  bindPort?: number;
  bindIf?: string;
}

const DEFAULT_RETRY: Record<string, number> = { MISC_CHECK: 0, DNS_CHECK: 3 };
/** delay_before_retry when no level sets it; 0 means delay_loop (DNS_CHECK). */
const DEFAULT_PAUSE: Record<string, number> = { HTTP_GET: 3000, SSL_GET: 3000, DNS_CHECK: 0 };

export class Builder {
  readonly fields: Array<[string, FieldValue]> = [];
  /** Notes on the timing (timing() writes them), then the checker's own. */
  readonly timingNotes: string[] = [];
  readonly notes: string[] = [];
  set(key: string, value: FieldValue | undefined): void {
    if (value !== undefined) this.fields.push([key, value]);
  }
  out(): CheckOut {
    return {
      fields: this.fields,
      notes: [...this.timingNotes, ...this.notes],
      timingNotes: this.timingNotes,
    };
  }
}

/** The connection and timing keywords every checker shares (install_checker_common_keywords). */
const CONNECTION = [
  'connect_ip',
  'connect_port',
  'bindto',
  'bind_port',
  'bind_if',
  'connect_timeout',
  'fwmark',
];

function commonKeyword(
  common: Common,
  stmt: Statement,
  ctx: CheckContext,
  connection: boolean,
): boolean {
  const [keyword = ''] = stmt.words;
  const arg = () => word(stmt.words, 1, 'a value');
  if (!connection && CONNECTION.includes(keyword)) return false;
  switch (keyword) {
    case 'connect_ip':
      common.connectIp = address(arg(), undefined, 'connect_ip').address;
      return true;
    case 'connect_port':
      common.connectPort = unsigned(arg(), 1, 65535, keyword);
      return true;
    case 'bindto':
      common.bindto = address(arg(), undefined, 'bindto').address;
      return true;
    case 'connect_timeout':
    case 'delay_loop':
      common[keyword === 'delay_loop' ? 'delayLoopMs' : 'connectTimeoutMs'] = timerMs(
        arg(),
        keyword,
        0.000001,
      );
      return true;
    case 'retry':
    case 'nb_get_retry':
      common.retry = unsigned(arg(), 0, 2 ** 32 - 1, keyword);
      return true;
    case 'delay_before_retry':
      common.delayBeforeRetryMs = timerMs(arg(), keyword);
      return true;
    case 'warmup':
      common.warmupMs = timerMs(arg(), keyword);
      return true;
    case 'alpha':
      common.alpha = onOff(stmt.words, 1);
      return true;
    case 'log_all_failures':
      ctx.note(
        'log_all_failures: lvsd logs every transition, one event a line, and counts results in /metrics',
      );
      return true;
    case 'bind_port':
      common.bindPort = unsigned(arg(), 1, 65535, keyword);
      return true;
    case 'bind_if':
      if (arg().length > 15)
        throw new ValueError(`bind_if '${arg()}' is longer than 15 characters`);
      common.bindIf = arg();
      return true;
    case 'fwmark':
      ctx.warn(
        stmt.pos,
        `${stmt.words.join(' ')} is not imported: lvsd's checks do not mark their packets`,
      );
      return true;
    default:
      return false;
  }
}

export function duration(ms: number): string {
  return formatDuration(ms);
}

/** interval, timeout, rise, fall, initial, address, port, source, on_failure, with their notes. */
export function timing(
  b: Builder,
  type: string,
  common: Common,
  ctx: CheckContext,
  timeoutMs?: number,
  timeoutName = 'connect_timeout',
): { intervalMs: number; timeoutMs: number } {
  const { vs, rs } = ctx;
  const interval = common.delayLoopMs ?? rs.delayLoopMs ?? vs.delayLoopMs ?? 60_000;
  let timeout =
    timeoutMs ?? common.connectTimeoutMs ?? rs.connectTimeoutMs ?? vs.connectTimeoutMs ?? 5000;
  const retry = common.retry ?? rs.retry ?? vs.retry ?? DEFAULT_RETRY[type] ?? 1;
  const alpha = common.alpha ?? rs.alpha ?? vs.alpha ?? false;
  if (timeout >= interval) {
    const capped = interval >= 2000 ? interval - 1000 : Math.floor(interval / 2);
    b.timingNotes.push(
      `keepalived waits up to ${duration(timeout)} (${timeoutName}) ` +
        `every delay_loop ${duration(interval)}; lvsd needs timeout < interval: ${duration(capped)}`,
    );
    timeout = capped;
  }
  b.timingNotes.push('keepalived has no rise: one success brings a real server back (rise: 1)');
  if ((common.warmupMs ?? rs.warmupMs ?? vs.warmupMs) !== undefined)
    b.timingNotes.push(
      'warmup: lvsd starts each check after a random part of its interval, whatever warmup says',
    );
  const pause =
    common.delayBeforeRetryMs ??
    rs.delayBeforeRetryMs ??
    vs.delayBeforeRetryMs ??
    DEFAULT_PAUSE[type] ??
    1000;
  const fall = Math.min(retry + 1, 100);
  if (retry > 0)
    b.timingNotes.push(
      `retry ${retry}: keepalived retries ${duration(pause || interval)} apart ` +
        `(delay_before_retry); lvsd counts fall: ${fall} failures, interval apart` +
        (fall < retry + 1 ? ' (at most 100)' : ''),
    );
  b.set('interval', duration(interval));
  b.set('timeout', duration(timeout));
  b.set('rise', 1);
  b.set('fall', fall);
  b.set('initial', alpha ? 'down' : 'up');
  if (common.connectPort !== undefined) b.set('port', common.connectPort);
  if (common.connectIp !== undefined) b.set('address', common.connectIp);
  if (common.bindto !== undefined) b.set('source', common.bindto);
  b.set('source_port', common.bindPort);
  b.set('interface', common.bindIf);
  b.set('on_failure', (rs.inhibit ?? vs.inhibit) ? 'inhibit' : 'remove');
  return { intervalMs: interval, timeoutMs: timeout };
}

/** Reads the checker's block: common keywords into `common`, the rest to `own`. */
export function readBlock(
  stmt: Statement,
  ctx: CheckContext,
  own: (inner: Statement) => boolean,
  common: Common,
  connection = true,
): void {
  for (const inner of stmt.block ?? []) {
    try {
      if (commonKeyword(common, inner, ctx, connection) || own(inner)) continue;
      ctx.warn(
        inner.pos,
        `unknown ${stmt.words[0]} keyword ${inner.words[0]} (keepalived reports it too); not imported`,
      );
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      ctx.warn(inner.pos, `${err.message}: keepalived ignores it, and so does the import`);
    }
  }
}
