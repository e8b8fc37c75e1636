/**
 * The statement tree of keepalived.conf (keepalived-lexer.ts) read with keepalived's
 * keywords (check_parser.c: init_check_keywords): virtual servers, real servers and their
 * checkers, virtual server groups, the SSL block and the IPVS settings of global_defs.
 * The VRRP blocks are read by keepalived-vrrp-parser.ts. What keepalived reads but lvsd
 * cannot express (BFD, checker notify scripts, SNMP, SMTP alerts) is a warning with its
 * file and line, never dropped in silence. Defaults and corrections are applied later
 * (keepalived-map.ts), as keepalived applies them after parsing.
 */
import type { Statement } from './keepalived-lexer.js';
import type {
  CheckerDefaults,
  Group,
  GroupEntry,
  KeepalivedConfig,
  RealServer,
  VirtualServer,
} from './keepalived-model.js';
import { expandRange } from './keepalived-ranges.js';
import {
  emptyVrrp,
  readInstance,
  readScript,
  readSyncDaemon,
  readSyncGroup,
  type VrrpSink,
} from './keepalived-vrrp-parser.js';
import {
  address,
  forwarding,
  granularity,
  onOff,
  timerMs,
  unsigned,
  ValueError,
  word,
} from './keepalived-values.js';
import { type Findings, SCHED_FLAG_BITS, type SourcePos } from './types.js';

export const CHECKER_KEYWORDS = [
  'TCP_CHECK',
  'HTTP_GET',
  'SSL_GET',
  'SMTP_CHECK',
  'DNS_CHECK',
  'MISC_CHECK',
  'UDP_CHECK',
  'PING_CHECK',
  'FILE_CHECK',
  'BFD_CHECK',
];

/** Top-level blocks lvsd has no counterpart for, and why. */
const NOT_IMPORTED: Record<string, string> = {
  vrrp_track_process: 'lvsd tracks no processes (an instance track.exec can run pidof)',
  vrrp_track_file: 'lvsd has no track files (track: interfaces, services, exec)',
  track_file: 'lvsd has no track files (FILE_CHECK weights)',
  garp_group:
    'lvsd sends gratuitous ARP at once and a second later after becoming MASTER, no other timing',
  track_group: 'lvsd has no VIP track groups',
  static_ipaddress: 'lvsd holds addresses only as service vips; add them there if lvsd should',
  static_routes: 'lvsd does not manage routes',
  static_rules: 'lvsd does not manage routing rules',
  linkbeat_interfaces: 'lvsd does not watch links',
  bfd_instance: 'lvsd has no BFD',
  net_namespace: 'lvsd runs in the network namespace it is started in',
  net_namespace_ipvs: 'lvsd runs in the network namespace it is started in',
  instance: 'lvsd has no instances',
  use_pid_dir: 'lvsd has no pid files',
};

/** global_defs keywords of keepalived's VRRP process lvsd has no setting for, and why. */
const GLOBAL_VRRP: Record<string, string> = {
  vrrp_mcast_group4:
    'lvsd sends IPv4 adverts to 224.0.0.18: the pair no longer hears each other unless keepalived uses it too',
  vrrp_mcast_group6:
    'lvsd sends IPv6 adverts to ff02::12: the pair no longer hears each other unless keepalived uses it too',
  vrrp_strict:
    'lvsd has no strict mode (keepalived then also adds firewall rules that drop traffic to the VIPs)',
  vrrp_skip_check_adv_addr: 'lvsd does not compare the addresses of adverts with its own',
  vrrp_check_unicast_src: 'lvsd accepts unicast adverts from any source on the interface',
  vrrp_iptables: 'lvsd adds no firewall rules',
  vrrp_ipsets: 'lvsd adds no firewall rules',
  vrrp_garp_interval: 'lvsd sends gratuitous ARP at once and a second later',
  vrrp_gna_interval: 'lvsd sends neighbour advertisements at once and a second later',
  vrrp_notify_fifo: 'lvsd has no notify FIFOs (each instance has notify)',
  vrrp_notify_fifo_script: 'lvsd has no notify FIFOs (each instance has notify)',
  vrrp_priority: 'lvsd runs at normal priority',
  vrrp_no_swap: 'lvsd does not lock its memory',
};

export class Parser {
  readonly config: KeepalivedConfig = { virtualServers: [], groups: new Map(), vrrp: emptyVrrp() };
  constructor(readonly findings: Findings) {}

  private readonly sink: VrrpSink = {
    warn: (pos, message) => this.findings.warning(pos, message),
    error: (pos, message) => this.findings.error(pos, message),
  };

  /** Runs a handler, turning a ValueError into an error at the statement. */
  guard(stmt: Statement, handler: () => void): void {
    try {
      handler();
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      this.findings.error(stmt.pos, err.message);
    }
  }

  warn(target: VirtualServer | null, pos: SourcePos, message: string): void {
    this.findings.warning(pos, message);
    target?.warnings.push({ pos, message });
  }

  top(statements: readonly Statement[]): void {
    for (const stmt of statements) {
      const keyword = stmt.words[0] as string;
      if (keyword === 'virtual_server') this.guard(stmt, () => this.virtualServer(stmt));
      else if (keyword === 'virtual_server_group') this.guard(stmt, () => this.group(stmt));
      else if (keyword === 'global_defs') this.globalDefs(stmt);
      else if (keyword === 'SSL') this.guard(stmt, () => this.ssl(stmt));
      else if (keyword === 'vrrp_instance')
        this.guard(stmt, () => readInstance(stmt, this.config.vrrp, this.sink));
      else if (keyword === 'vrrp_script')
        this.guard(stmt, () => readScript(stmt, this.config.vrrp, this.sink));
      else if (keyword === 'vrrp_sync_group')
        this.guard(stmt, () => readSyncGroup(stmt, this.config.vrrp, this.sink));
      else if (NOT_IMPORTED[keyword])
        this.warn(
          null,
          stmt.pos,
          `${stmt.words.slice(0, 2).join(' ')} is not imported: ${NOT_IMPORTED[keyword]}`,
        );
      else
        this.warn(
          null,
          stmt.pos,
          `unknown keyword ${keyword} (keepalived reports it too); not imported`,
        );
    }
  }

  private globalDefs(block: Statement): void {
    for (const stmt of block.block ?? []) {
      const keyword = stmt.words[0] as string;
      if (keyword === 'lvs_timeouts') this.guard(stmt, () => this.lvsTimeouts(stmt));
      else if (keyword === 'lvs_sync_daemon')
        this.guard(stmt, () => readSyncDaemon(stmt, this.config.vrrp, this.sink));
      else if (keyword === 'vrrp_version')
        this.guard(stmt, () => {
          this.config.vrrp.version = unsigned(word(stmt.words, 1, '2 or 3'), 2, 3, keyword) as
            | 2
            | 3;
        });
      else if (GLOBAL_VRRP[keyword] || keyword.startsWith('vrrp_'))
        this.warn(
          null,
          stmt.pos,
          `global_defs ${stmt.words.join(' ')} is not imported: ` +
            (GLOBAL_VRRP[keyword] ??
              "lvsd's VRRP has no such setting (docs/ha.md lists what it has)"),
        );
      else if (keyword === 'lvs_flush' || keyword === 'lvs_flush_onstop')
        this.warn(
          null,
          stmt.pos,
          `${keyword} is not imported: lvsd never flushes the table; it changes only ` +
            `its own services (reconcile.prune: all also removes the others)`,
        );
      else
        this.warn(
          null,
          stmt.pos,
          `global_defs ${keyword} is not imported: it concerns keepalived itself ` +
            `(notifications, scripts, its processes), not the IPVS table or VRRP`,
        );
    }
  }

  private lvsTimeouts(stmt: Statement): void {
    const timeouts: NonNullable<KeepalivedConfig['timeouts']> = { pos: stmt.pos };
    for (let i = 1; i < stmt.words.length; i += 2) {
      const name = stmt.words[i] as string;
      if (name !== 'tcp' && name !== 'tcpfin' && name !== 'udp')
        throw new ValueError(`unknown option ${name} specified for lvs_timeouts`);
      timeouts[name] = unsigned(
        word(stmt.words, i + 1, `a value for ${name}`),
        0,
        86400 * 31,
        `lvs_timeouts ${name}`,
      );
    }
    this.config.timeouts = timeouts;
  }

  private ssl(stmt: Statement): void {
    const ssl: NonNullable<KeepalivedConfig['ssl']> = { pos: stmt.pos };
    const keys: Record<string, 'ca' | 'certificate' | 'key' | 'password'> = {
      ca: 'ca',
      certificate: 'certificate',
      key: 'key',
      password: 'password',
    };
    for (const inner of stmt.block ?? []) {
      const key = keys[inner.words[0] as string];
      if (!key) this.warn(null, inner.pos, `unknown SSL keyword ${inner.words[0]}; not imported`);
      else this.guard(inner, () => (ssl[key] = word(inner.words, 1, 'a file')));
    }
    this.config.ssl = ssl;
  }

  private group(stmt: Statement): void {
    const name = word(stmt.words, 1, 'a name');
    const group: Group = { name, pos: stmt.pos, comments: stmt.comments, entries: [] };
    for (const inner of stmt.block ?? [])
      this.guard(inner, () => group.entries.push(this.groupEntry(inner)));
    if (group.entries.length === 0)
      this.warn(
        null,
        stmt.pos,
        `virtual server group ${name} has no entries: keepalived removes it`,
      );
    else this.config.groups.set(name, group);
  }

  private groupEntry(stmt: Statement): GroupEntry {
    const [first = '', second, third] = stmt.words;
    if (first === 'fwmark') {
      const fwmark = unsigned(word(stmt.words, 1, 'a mark'), 1, 2 ** 32 - 1, 'fwmark');
      if (third !== undefined && third !== 'inet' && third !== 'inet6')
        throw new ValueError(`fwmark ${fwmark} family ${third} unknown: inet or inet6`);
      const family = third === undefined ? undefined : third === 'inet' ? 'ipv4' : 'ipv6';
      return { kind: 'fwmark', pos: stmt.pos, fwmark, ...(family ? { family } : {}) };
    }
    const port =
      second === undefined || /^0+$/.test(second) ? 0 : unsigned(second, 1, 65535, 'port');
    const range = expandRange(first);
    return { kind: 'range', pos: stmt.pos, family: range.family, addresses: range.addresses, port };
  }

  private virtualServer(stmt: Statement): void {
    const [, first = '', second] = stmt.words;
    const vs: VirtualServer = {
      pos: stmt.pos,
      origin: stmt.words.join(' '),
      comments: stmt.comments,
      id:
        first === 'group'
          ? { kind: 'group', name: word(stmt.words, 2, 'a group name') }
          : first === 'fwmark'
            ? {
                kind: 'fwmark',
                fwmark: unsigned(word(stmt.words, 2, 'a mark'), 1, 2 ** 32 - 1, 'fwmark'),
              }
            : {
                kind: 'address',
                addr: address(word(stmt.words, 1, 'an address'), second, 'virtual server'),
              },
      flags: { ops: false, sched1: false, sched2: false, sched3: false },
      inhibit: false,
      quorum: 1,
      hysteresis: 0,
      weight: 1,
      reals: [],
      warnings: [],
      notes: [],
    };
    this.config.virtualServers.push(vs);
    for (const inner of stmt.block ?? [])
      this.guard(inner, () => virtualServerKeyword(this, vs, inner));
  }

  realServer(vs: VirtualServer, stmt: Statement): void {
    const rs: RealServer = {
      pos: stmt.pos,
      origin: stmt.words.join(' '),
      addr: address(word(stmt.words, 1, 'an address'), stmt.words[2], 'real server'),
      uthreshold: 0,
      lthreshold: 0,
      checkers: [],
    };
    vs.reals.push(rs);
    for (const inner of stmt.block ?? [])
      this.guard(inner, () => realServerKeyword(this, vs, rs, inner));
  }
}

/** How many words keepalived reads of a line that starts with the keyword (the keyword included). */
const WORDS_READ: Record<string, number> = {
  ...Object.fromEntries(
    ['ops', 'hashed', 'alpha', 'omega', 'ha_suspend', 'sorry_server_inhibit'].map((k) => [k, 1]),
  ),
  ...Object.fromEntries(
    ['flag-1', 'flag-2', 'flag-3', 'sh-port', 'sh-fallback', 'mh-port', 'mh-fallback'].map((k) => [
      k,
      1,
    ]),
  ),
  ...Object.fromEntries(
    [
      'delay_loop',
      'connect_timeout',
      'retry',
      'delay_before_retry',
      'warmup',
      'lb_algo',
      'lvs_sched',
      'protocol',
      'persistence_engine',
      'persistence_granularity',
      'persistence_timeout',
      'ip_family',
      'quorum',
      'hysteresis',
      'weight',
      'uthreshold',
      'lthreshold',
      'inhibit_on_failure',
      'smtp_alert',
    ].map((k) => [k, 2]),
  ),
  sorry_server: 3,
  real_server: 3,
};

/**
 * keepalived reads one keyword a line and ignores what follows its values: warned, since a
 * line like `weight 2 uthreshold 100` looks like it sets a threshold and does not.
 */
function extraWords(
  p: Parser,
  vs: VirtualServer,
  stmt: Statement,
  level: 'virtual' | 'real',
): void {
  const [keyword = ''] = stmt.words;
  // A virtual server's inhibit_on_failure takes no value; a real server's takes on/off.
  const max = keyword === 'inhibit_on_failure' && level === 'virtual' ? 1 : WORDS_READ[keyword];
  if (max === undefined || stmt.words.length <= max) return;
  p.warn(
    vs,
    stmt.pos,
    `'${stmt.words.slice(max).join(' ')}' after ${stmt.words.slice(0, max).join(' ')} ` +
      `is ignored: keepalived reads one keyword a line`,
  );
}

/** Keywords a virtual server, a real server (and a checker) share: the checkers' defaults. */
function checkerDefault(target: CheckerDefaults, stmt: Statement): boolean {
  const [keyword = '', value] = stmt.words;
  const arg = () => word(stmt.words, 1, 'a value');
  switch (keyword) {
    case 'delay_loop':
      target.delayLoopMs = timerMs(arg(), keyword, 0.000001);
      return true;
    case 'connect_timeout':
      target.connectTimeoutMs = timerMs(arg(), keyword, 0.000001);
      return true;
    case 'retry':
      target.retry = unsigned(arg(), 0, 2 ** 32 - 1, keyword);
      return true;
    case 'delay_before_retry':
      target.delayBeforeRetryMs = timerMs(arg(), keyword);
      return true;
    case 'warmup':
      target.warmupMs = timerMs(arg(), keyword);
      return true;
    case 'virtualhost':
      target.virtualhost = value ?? arg();
      return true;
    default:
      return false;
  }
}

const SCHEDULERS = [
  'rr',
  'wrr',
  'lc',
  'wlc',
  'lblc',
  'sh',
  'mh',
  'dh',
  'fo',
  'ovf',
  'lblcr',
  'sed',
  'nq',
  'twos',
];

function schedulerFlag(p: Parser, vs: VirtualServer, stmt: Statement): void {
  const name = stmt.words[0] as string;
  const flag = SCHED_FLAG_BITS[name] as (typeof SCHED_FLAG_BITS)[string];
  // keepalived reads sh-/mh- flags against the scheduler set so far (lbflags_handler).
  if (flag.scheduler && flag.scheduler !== vs.scheduler)
    p.warn(
      vs,
      stmt.pos,
      `${name} only applies to the ${flag.scheduler} scheduler (set lb_algo first): keepalived ignores it`,
    );
  else vs.flags[flag.bit] = true;
}

/** Keywords of keepalived's virtual_server block that only report what is not imported. */
const VS_UNSUPPORTED: Record<string, string> = {
  ha_suspend: 'lvsd checks whether or not the address is up',
  snmp_name: 'lvsd has no SNMP (its metrics are on /metrics)',
  quorum_up: 'lvsd runs no notify scripts (quorum changes are logged as health.quorum events)',
  quorum_down: 'lvsd runs no notify scripts (quorum changes are logged as health.quorum events)',
  omega:
    'omega only decides whether quorum_down / notify_down scripts run on shutdown, and lvsd runs none',
  smtp_alert: 'lvsd sends no mail (transitions are logged and counted in /metrics)',
};

function virtualServerKeyword(p: Parser, vs: VirtualServer, stmt: Statement): void {
  const [keyword = ''] = stmt.words;
  extraWords(p, vs, stmt, 'virtual');
  if (checkerDefault(vs, stmt)) return;
  const arg = () => word(stmt.words, 1, 'a value');
  if (keyword in SCHED_FLAG_BITS) schedulerFlag(p, vs, stmt);
  else if (keyword === 'real_server') p.realServer(vs, stmt);
  else if (keyword === 'lb_algo' || keyword === 'lvs_sched') {
    if (!SCHEDULERS.includes(arg())) throw new ValueError(`invalid lvs_scheduler '${arg()}'`);
    vs.scheduler = arg();
  } else if (keyword === 'lb_kind' || keyword === 'lvs_method')
    vs.forwarding = forwarding(stmt.words);
  else if (keyword === 'ops') vs.flags.ops = true;
  else if (keyword === 'hashed')
    vs.notes.push('hashed: the kernel hashes every service; nothing to set');
  else if (keyword === 'protocol') vs.protocol = protocol(arg());
  else if (keyword === 'persistence_timeout')
    vs.persistenceTimeout =
      stmt.words[1] === undefined ? 360 : unsigned(arg(), 1, 86400 * 31, keyword);
  else if (keyword === 'persistence_granularity') {
    vs.granularity = granularity(arg(), vs.id.kind === 'address' ? vs.id.addr.family : vs.ipFamily);
    vs.persistenceTimeout ??= 360;
  } else if (keyword === 'persistence_engine') vs.persistenceEngine = arg();
  else if (keyword === 'ip_family') {
    if (arg() !== 'inet' && arg() !== 'inet6')
      throw new ValueError(`unknown address family ${arg()}`);
    vs.ipFamily = arg() === 'inet' ? 'ipv4' : 'ipv6';
  } else if (keyword === 'inhibit_on_failure') vs.inhibit = true;
  else if (keyword === 'alpha') vs.alpha = true;
  else if (keyword === 'quorum') vs.quorum = unsigned(arg(), 1, 2 ** 32 - 1, keyword);
  else if (keyword === 'hysteresis') vs.hysteresis = unsigned(arg(), 0, 2 ** 32 - 1, keyword);
  else if (keyword === 'weight') vs.weight = unsigned(arg(), 1, 65535, 'virtual server weight');
  else sorryOrUnsupported(p, vs, stmt);
}

function protocol(text: string): 'tcp' | 'udp' | 'sctp' {
  const lower = text.toLowerCase();
  if (lower !== 'tcp' && lower !== 'udp' && lower !== 'sctp')
    throw new ValueError(`unknown protocol ${text}`);
  return lower;
}

function sorryOrUnsupported(p: Parser, vs: VirtualServer, stmt: Statement): void {
  const [keyword = ''] = stmt.words;
  if (keyword === 'sorry_server') {
    const addr = address(word(stmt.words, 1, 'an address'), stmt.words[2], 'sorry server');
    vs.sorry = { pos: stmt.pos, addr, inhibit: false };
  } else if (keyword === 'sorry_server_inhibit' || keyword === 'sorry_server_lvs_method') {
    if (!vs.sorry) throw new ValueError(`${keyword} used before or without sorry_server`);
    if (keyword === 'sorry_server_inhibit') vs.sorry.inhibit = true;
    else vs.sorry.forwarding = forwarding(stmt.words);
  } else if (keyword === 'smtp_alert' && !onOff(stmt.words, 1)) return;
  else if (VS_UNSUPPORTED[keyword])
    p.warn(vs, stmt.pos, `${stmt.words.join(' ')} is not imported: ${VS_UNSUPPORTED[keyword]}`);
  else
    p.warn(
      vs,
      stmt.pos,
      `unknown virtual_server keyword ${keyword} (keepalived reports it too); not imported`,
    );
}

const RS_UNSUPPORTED: Record<string, string> = {
  notify_up: 'lvsd runs no notify scripts (transitions are logged as health.transition events)',
  notify_down: 'lvsd runs no notify scripts (transitions are logged as health.transition events)',
  snmp_name: 'lvsd has no SNMP (its metrics are on /metrics)',
  smtp_alert: 'lvsd sends no mail (transitions are logged and counted in /metrics)',
};

function realServerKeyword(p: Parser, vs: VirtualServer, rs: RealServer, stmt: Statement): void {
  const [keyword = ''] = stmt.words;
  extraWords(p, vs, stmt, 'real');
  if (checkerDefault(rs, stmt)) return;
  const arg = () => word(stmt.words, 1, 'a value');
  if (CHECKER_KEYWORDS.includes(keyword)) rs.checkers.push({ type: keyword, stmt });
  else if (keyword === 'weight') rs.weight = unsigned(arg(), 0, 65535, 'real server weight');
  else if (keyword === 'lvs_method') rs.forwarding = forwarding(stmt.words);
  else if (keyword === 'uthreshold') rs.uthreshold = unsigned(arg(), 0, 2 ** 32 - 1, keyword);
  else if (keyword === 'lthreshold') rs.lthreshold = unsigned(arg(), 0, 2 ** 32 - 1, keyword);
  else if (keyword === 'inhibit_on_failure') rs.inhibit = onOff(stmt.words, 1);
  else if (keyword === 'alpha') rs.alpha = onOff(stmt.words, 1);
  else if (keyword === 'smtp_alert' && !onOff(stmt.words, 1)) return;
  else if (RS_UNSUPPORTED[keyword])
    p.warn(vs, stmt.pos, `${stmt.words.join(' ')} is not imported: ${RS_UNSUPPORTED[keyword]}`);
  else
    p.warn(
      vs,
      stmt.pos,
      `unknown real_server keyword ${keyword} (keepalived reports it too); not imported`,
    );
}

/** Parses the statement tree; the findings hold what could not be read. */
export function parseKeepalived(
  statements: readonly Statement[],
  findings: Findings,
): KeepalivedConfig {
  const parser = new Parser(findings);
  parser.top(statements);
  return parser.config;
}
