/**
 * keepalived's VRRP blocks read with keepalived's keywords (vrrp_parser.c, keepalived
 * 2.2.7): vrrp_instance, vrrp_script and vrrp_sync_group, and the sync daemon settings
 * (global lvs_sync_daemon, an instance's lvs_sync_daemon_interface). Values are kept as
 * written (undefined = not written), so keepalived's defaults and corrections can be
 * applied afterwards, as vrrp_complete_instance() does (keepalived-vrrp-map.ts). What lvsd
 * has no counterpart for is a warning at its line, in keepalived's words.
 */
import { canonicalAddress, familyOf } from '../netlink/inet.js';
import type { Family } from '../ipvs/model.js';
import type { Statement } from './keepalived-lexer.js';
import { quotedEscapedWords } from './keepalived-misc.js';
import { unsigned, ValueError, word } from './keepalived-values.js';
import type { SourcePos } from './types.js';

export interface Vip {
  pos: SourcePos;
  address: string;
  family: Family;
  /** null: none written (keepalived: a host address, /32 or /128). */
  prefix: number | null;
  /** `dev X`, when written. */
  dev?: string;
}

export interface TrackedRef {
  pos: SourcePos;
  name: string;
  /** undefined: not written on the reference (a script's own weight applies; an interface's is 0). */
  weight?: number;
  reverse: boolean;
  keyword: 'track_interface' | 'track_script';
}

export interface NotifyScript {
  pos: SourcePos;
  argv: string[];
  /** Words after the script: keepalived's user and group to run it as. */
  user: string[];
}

export type NotifyKind =
  | 'notify'
  | 'notify_master'
  | 'notify_backup'
  | 'notify_fault'
  | 'notify_stop';

export interface ParsedInstance {
  name: string;
  pos: SourcePos;
  origin: string;
  comments: string[];
  state?: { value: 'MASTER' | 'BACKUP'; pos: SourcePos };
  interface?: string;
  vrid?: number;
  priority?: number;
  advertMs?: number;
  advertPos?: SourcePos;
  version?: 2 | 3;
  nopreempt: boolean;
  preemptDelayMs?: number;
  vips: Vip[];
  excluded: Vip[];
  source?: { address: string; family: Family; pos: SourcePos; keyword: string };
  peers: Array<{ address: string; family: Family; pos: SourcePos }>;
  tracked: TrackedRef[];
  notify: Partial<Record<NotifyKind, NotifyScript>>;
  /** Warnings about this instance: repeated above it in the output. */
  warnings: Array<{ pos: SourcePos; message: string }>;
}

export interface ParsedScript {
  name: string;
  pos: SourcePos;
  argv?: string[];
  intervalMs: number;
  /** undefined: keepalived waits the interval. */
  timeoutMs?: number;
  weight: number;
  reverse: boolean;
  rise: number;
  fall: number;
  used: boolean;
}

export interface ParsedSyncGroup {
  name: string;
  pos: SourcePos;
  members: Array<{ name: string; pos: SourcePos }>;
  trackingWeight: boolean;
}

export interface ParsedSyncDaemon {
  pos: SourcePos;
  keyword: 'lvs_sync_daemon' | 'lvs_sync_daemon_interface';
  interface: string;
  instance?: string;
  syncid?: number;
  maxlen?: number;
  port?: number;
  ttl?: number;
  group?: string;
}

export interface ParsedVrrp {
  instances: ParsedInstance[];
  scripts: Map<string, ParsedScript>;
  syncGroups: ParsedSyncGroup[];
  /** global_defs vrrp_version. */
  version?: 2 | 3;
  syncDaemon?: ParsedSyncDaemon;
}

export function emptyVrrp(): ParsedVrrp {
  return { instances: [], scripts: new Map(), syncGroups: [] };
}

/** What the parser hands each reader: where warnings go. */
export interface VrrpSink {
  warn(pos: SourcePos, message: string): void;
  error(pos: SourcePos, message: string): void;
}

/** keepalived's read_decimal_unsigned_strvec() in seconds: up to 6 decimals, milliseconds out. */
export function secondsMs(text: string, what: string): number {
  if (!/^\d+(\.\d{1,6})?$/.test(text))
    throw new ValueError(`${what} '${text}' is not a time in seconds`);
  return Math.round(Number(text) * 1000);
}

function signedInt(text: string, min: number, max: number, what: string): number {
  if (!/^[-+]?\d+$/.test(text) || Number(text) < min || Number(text) > max)
    throw new ValueError(`${what} '${text}' must be a whole number from ${min} to ${max}`);
  return Number(text);
}

function ip(text: string, what: string): { address: string; family: Family } {
  const family = familyOf(text);
  if (!family) throw new ValueError(`${what} '${text}' is not an IP address`);
  return { address: canonicalAddress(text) as string, family };
}

/** One line of virtual_ipaddress: ADDR[/PREFIX] [dev X] [brd ..] [scope ..] [label ..] ... */
export function readVip(stmt: Statement, sink: VrrpSink): Vip | null {
  const [first = ''] = stmt.words;
  const [host = '', prefixText] = first.split('/');
  const { address, family } = ip(host, 'virtual_ipaddress');
  let prefix: number | null = null;
  if (prefixText !== undefined)
    prefix = unsigned(prefixText, 0, family === 'ipv4' ? 32 : 128, 'prefix');
  const vip: Vip = { pos: stmt.pos, address, family, prefix };
  const dropped: string[] = [];
  for (let i = 1; i < stmt.words.length; i++) {
    const option = stmt.words[i] as string;
    if (option === 'dev') vip.dev = word(stmt.words, ++i, 'an interface');
    else if (
      ['brd', 'broadcast', 'scope', 'label', 'peer', 'track_group', 'metric'].includes(option)
    )
      dropped.push(`${option} ${stmt.words[++i] ?? ''}`.trim());
    else dropped.push(option);
  }
  if (dropped.length > 0)
    sink.warn(
      stmt.pos,
      `'${dropped.join(' ')}' of virtual_ipaddress ${first} is not imported: lvsd adds a VIP with its ` +
        'prefix only (scope global, the broadcast the kernel derives, no label)',
    );
  return vip;
}

/** keepalived's weight option on a tracked object: `NAME [weight N [reverse]]`. */
function trackedRef(
  stmt: Statement,
  keyword: TrackedRef['keyword'],
  sink: VrrpSink,
): TrackedRef | null {
  const [name = '', option, , extra] = stmt.words;
  const ref: TrackedRef = { pos: stmt.pos, name, reverse: false, keyword };
  if (option === undefined) return ref;
  if (option !== 'weight') {
    sink.warn(
      stmt.pos,
      `${keyword} ${name}: unknown option '${option}' (keepalived ignores it too)`,
    );
    return ref;
  }
  ref.weight = signedInt(word(stmt.words, 2, 'a weight'), -254, 254, `${keyword} ${name} weight`);
  // keepalived: +-254 cannot be reached, it uses +-253.
  if (Math.abs(ref.weight) === 254) ref.weight = Math.sign(ref.weight) * 253;
  if (extra === 'reverse') ref.reverse = true;
  else if (extra !== undefined)
    sink.warn(
      stmt.pos,
      `${keyword} ${name}: unknown weight option '${extra}' (keepalived ignores it too)`,
    );
  return ref;
}

function notifyScript(stmt: Statement): NotifyScript {
  // notify_script_init(): the line re-read with quotes and escapes; its second word split again.
  const words = quotedEscapedWords(stmt.text);
  const argv = quotedEscapedWords(words[1] ?? word(stmt.words, 1, 'a script'));
  if (argv.length === 0) throw new ValueError(`${stmt.words[0]} needs a script`);
  return { pos: stmt.pos, argv, user: words.slice(2) };
}

/** Keywords of vrrp_instance with a value read here; the rest go to `other`. */
type InstanceReader = (i: ParsedInstance, stmt: Statement, sink: VrrpSink) => void;

const arg = (stmt: Statement) => word(stmt.words, 1, 'a value');

const INSTANCE: Record<string, InstanceReader> = {
  state: (i, stmt, sink) => {
    const value = arg(stmt);
    if (value === 'MASTER') i.state = { value, pos: stmt.pos };
    else if (value === 'BACKUP') {
      if (i.state?.value === 'MASTER')
        sink.warn(stmt.pos, 'state previously set as MASTER - ignoring BACKUP (as keepalived)');
      else i.state = { value, pos: stmt.pos };
    } else {
      sink.warn(stmt.pos, `unknown state '${value}': keepalived defaults to BACKUP`);
      i.state = { value: 'BACKUP', pos: stmt.pos };
    }
  },
  interface: (i, stmt) => {
    i.interface = arg(stmt);
  },
  virtual_router_id: (i, stmt) => {
    i.vrid = unsigned(arg(stmt), 1, 255, 'virtual_router_id');
  },
  priority: (i, stmt, sink) => {
    try {
      i.priority = unsigned(arg(stmt), 1, 255, 'priority');
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      sink.warn(stmt.pos, `${err.message}: keepalived uses the default 100`);
      i.priority = 100;
    }
  },
  advert_int: (i, stmt) => {
    const ms = secondsMs(arg(stmt), 'advert_int');
    if (ms <= 0)
      throw new ValueError(`advert_int '${arg(stmt)}' must be > 0; keepalived ignores it`);
    i.advertMs = ms;
    i.advertPos = stmt.pos;
  },
  version: (i, stmt) => {
    i.version = unsigned(arg(stmt), 2, 3, 'version') as 2 | 3;
  },
  nopreempt: (i) => {
    i.nopreempt = true;
  },
  preempt: (i) => {
    i.nopreempt = false;
  },
  preempt_delay: (i, stmt) => {
    i.preemptDelayMs = secondsMs(arg(stmt), 'preempt_delay');
  },
  unicast_src_ip: (i, stmt) => {
    i.source = { ...ip(arg(stmt), 'unicast_src_ip'), pos: stmt.pos, keyword: 'unicast_src_ip' };
  },
  mcast_src_ip: (i, stmt) => {
    i.source = { ...ip(arg(stmt), 'mcast_src_ip'), pos: stmt.pos, keyword: 'mcast_src_ip' };
  },
};

/** Instance keywords lvsd has no counterpart for, and why (in keepalived's terms). */
const INSTANCE_UNSUPPORTED: Record<string, string> = {
  authentication:
    'lvsd offers no VRRPv2 authentication (RFC 5798 removed it; the password travels in clear): remove it on ' +
    'the keepalived side too, or lvsd drops its adverts and both become MASTER',
  use_vmac:
    'lvsd has no virtual MAC: the VIPs answer with the interface MAC (gratuitous ARP moves them)',
  use_vmac_addr: 'lvsd has no virtual MAC',
  vmac_xmit_base: 'lvsd has no virtual MAC',
  use_ipvlan: 'lvsd has no ipvlan interfaces',
  vrf: 'lvsd runs in the VRF it is started in',
  native_ipv6: 'lvsd takes the family from the first VIP',
  dont_track_primary: 'lvsd always tracks the instance interface (down: FAULT)',
  track_file: 'lvsd has no track files (track: interfaces, services, exec)',
  track_process: 'lvsd tracks no processes (track.exec can run pidof)',
  track_bfd: 'lvsd has no BFD',
  mcast_dst_ip:
    'lvsd sends to 224.0.0.18 / ff02::12: the pair no longer hears each other unless keepalived uses those too',
  track_src_ip: 'lvsd sends from unicast.source or the interface address',
  unicast_ttl: 'lvsd sends adverts with TTL 255 and accepts only TTL 255',
  unicast_fault_no_peer: 'lvsd needs at least one unicast peer',
  check_unicast_src: 'lvsd accepts unicast adverts from any source on the interface',
  old_unicast_checksum: 'lvsd computes the checksum as RFC 5798 says',
  promote_secondaries: 'lvsd leaves the interface addresses as they are',
  linkbeat_use_polling: 'lvsd watches links over netlink',
  virtual_routes: 'lvsd does not manage routes',
  virtual_rules: 'lvsd does not manage routing rules',
  accept:
    'lvsd adds no firewall rules: a MASTER accepts traffic to its VIPs as to any local address',
  no_accept:
    'lvsd adds no firewall rules: a MASTER accepts traffic to its VIPs as to any local address',
  skip_check_adv_addr: 'lvsd does not compare the addresses of adverts with its own',
  strict_mode: 'lvsd has no strict mode',
  debug: 'lvsd logs with --log-level',
  notify_deleted: 'lvsd runs notify with STOP when an instance stops',
  notify_master_rx_lower_pri:
    'lvsd answers a lower-priority master with an advert and runs no script',
  smtp_alert: 'lvsd sends no mail (transitions are logged and counted in /metrics)',
  notify_priority_changes:
    'lvsd shows the priority (lvsd status, lvsd_vrrp_priority in /metrics) and runs no script for it',
  garp_master_delay: 'lvsd sends gratuitous ARP at once and a second later',
  garp_master_refresh: 'lvsd sends gratuitous ARP at once and a second later, no refresh',
  garp_master_repeat: 'lvsd sends gratuitous ARP at once and a second later',
  garp_master_refresh_repeat: 'lvsd sends gratuitous ARP at once and a second later',
  garp_lower_prio_delay: 'lvsd sends gratuitous ARP at once and a second later',
  garp_lower_prio_repeat: 'lvsd sends gratuitous ARP at once and a second later',
  garp_extra_if: 'lvsd announces on the instance interface only',
  vmac_garp_intvl: 'lvsd announces on the instance interface only',
  down_timer_adverts: 'lvsd waits 3 adverts + skew, as RFC 5798 says',
  lower_prio_no_advert: 'lvsd answers a lower-priority advert with its own',
  higher_prio_send_advert: 'lvsd yields to a higher priority at once',
  kernel_rx_buf_size: 'lvsd sizes its socket buffers itself',
};

function valueBlock<T>(stmt: Statement, read: (inner: Statement) => T | null, sink: VrrpSink): T[] {
  const out: T[] = [];
  for (const inner of stmt.block ?? [])
    try {
      const value = read(inner);
      if (value !== null) out.push(value);
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      sink.warn(inner.pos, `${err.message}: keepalived skips it, and so does the import`);
    }
  return out;
}

function instanceBlock(i: ParsedInstance, stmt: Statement, vrrp: ParsedVrrp, sink: VrrpSink): void {
  const [keyword = ''] = stmt.words;
  if (INSTANCE[keyword]) INSTANCE[keyword](i, stmt, sink);
  else if (keyword === 'virtual_ipaddress')
    i.vips.push(...valueBlock(stmt, (s) => readVip(s, sink), sink));
  else if (keyword === 'virtual_ipaddress_excluded')
    i.excluded.push(...valueBlock(stmt, (s) => readVip(s, sink), sink));
  else if (keyword === 'unicast_peer') {
    for (const peer of valueBlock(
      stmt,
      (s) => ({ ...ip(s.words[0] ?? '', 'unicast_peer'), stmt: s }),
      sink,
    )) {
      if (peer.stmt.words.length > 1)
        sink.warn(
          peer.stmt.pos,
          `'${peer.stmt.words.slice(1).join(' ')}' of unicast_peer ${peer.address} is not imported: lvsd ` +
            'accepts adverts with TTL 255 only',
        );
      i.peers.push({ address: peer.address, family: peer.family, pos: peer.stmt.pos });
    }
  } else if (keyword === 'track_interface' || keyword === 'track_script')
    i.tracked.push(...valueBlock(stmt, (s) => trackedRef(s, keyword, sink), sink));
  else if (
    keyword in { notify: 1, notify_master: 1, notify_backup: 1, notify_fault: 1, notify_stop: 1 }
  ) {
    const kind = keyword as NotifyKind;
    if (i.notify[kind])
      sink.warn(stmt.pos, `${kind} script already specified - ignoring (as keepalived)`);
    else i.notify[kind] = notifyScript(stmt);
  } else if (keyword === 'lvs_sync_daemon_interface') syncInterface(i, stmt, vrrp, sink);
  else if (INSTANCE_UNSUPPORTED[keyword])
    sink.warn(
      stmt.pos,
      `${stmt.words.join(' ')} is not imported: ${INSTANCE_UNSUPPORTED[keyword]}`,
    );
  else
    sink.warn(
      stmt.pos,
      `unknown vrrp_instance keyword ${keyword} (keepalived reports it too); not imported`,
    );
}

/** lvs_sync_daemon_interface IF inside an instance (deprecated; the global lvs_sync_daemon wins if first). */
function syncInterface(i: ParsedInstance, stmt: Statement, vrrp: ParsedVrrp, sink: VrrpSink): void {
  if (vrrp.syncDaemon) {
    sink.warn(
      stmt.pos,
      `lvs_sync_daemon_interface has already been specified as ${vrrp.syncDaemon.interface} - ignoring (as keepalived)`,
    );
    return;
  }
  vrrp.syncDaemon = {
    pos: stmt.pos,
    keyword: 'lvs_sync_daemon_interface',
    interface: arg(stmt),
    instance: i.name,
  };
}

export function readInstance(stmt: Statement, vrrp: ParsedVrrp, sink: VrrpSink): void {
  const name = word(stmt.words, 1, 'a name');
  const instance: ParsedInstance = {
    name,
    pos: stmt.pos,
    origin: stmt.words.join(' '),
    comments: stmt.comments,
    nopreempt: false,
    vips: [],
    excluded: [],
    peers: [],
    tracked: [],
    notify: {},
    warnings: [],
  };
  const own: VrrpSink = {
    warn: (pos, message) => {
      sink.warn(pos, message);
      instance.warnings.push({ pos, message });
    },
    error: sink.error,
  };
  vrrp.instances.push(instance);
  for (const inner of stmt.block ?? [])
    try {
      instanceBlock(instance, inner, vrrp, own);
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      own.warn(inner.pos, `${err.message}: keepalived ignores it, and so does the import`);
    }
}

const SCRIPT: Record<string, (s: ParsedScript, stmt: Statement, sink: VrrpSink) => void> = {
  script: (s, stmt, sink) => {
    const words = quotedEscapedWords(stmt.text);
    s.argv = quotedEscapedWords(words[1] ?? word(stmt.words, 1, 'a script'));
    if (words.length > 2)
      sink.warn(
        stmt.pos,
        `script takes one word: keepalived runs '${words[1]}' and drops the rest; quote the command line`,
      );
  },
  interval: (s, stmt) => {
    s.intervalMs = Math.max(1, unsigned(arg(stmt), 0, 2 ** 31, 'interval')) * 1000;
  },
  timeout: (s, stmt) => {
    s.timeoutMs = Math.max(1, unsigned(arg(stmt), 0, 2 ** 31, 'timeout')) * 1000;
  },
  weight: (s, stmt, sink) => {
    s.weight = signedInt(arg(stmt), -253, 253, `vrrp_script ${s.name} weight`);
    if (stmt.words[2] === 'reverse') s.reverse = true;
    else if (stmt.words[2] !== undefined)
      sink.warn(
        stmt.pos,
        `vrrp_script ${s.name}: unknown weight option ${stmt.words[2]} (keepalived ignores it)`,
      );
  },
  rise: (s, stmt) => {
    s.rise = unsigned(arg(stmt), 1, 2 ** 31, 'rise');
  },
  fall: (s, stmt) => {
    s.fall = unsigned(arg(stmt), 1, 2 ** 31, 'fall');
  },
  user: (s, stmt, sink) =>
    sink.warn(
      stmt.pos,
      `user ${stmt.words.slice(1).join(' ')} of vrrp_script ${s.name} is not imported: lvsd runs it as its own user`,
    ),
  init_fail: (s, stmt, sink) =>
    sink.warn(
      stmt.pos,
      `init_fail of vrrp_script ${s.name} is not imported: lvsd counts a script good until it fails`,
    ),
};

export function readScript(stmt: Statement, vrrp: ParsedVrrp, sink: VrrpSink): void {
  const name = word(stmt.words, 1, 'a name');
  const script: ParsedScript = {
    name,
    pos: stmt.pos,
    intervalMs: 1000,
    weight: 0,
    reverse: false,
    rise: 1,
    fall: 1,
    used: false,
  };
  for (const inner of stmt.block ?? []) {
    const reader = SCRIPT[inner.words[0] as string];
    try {
      if (reader) reader(script, inner, sink);
      else
        sink.warn(
          inner.pos,
          `unknown vrrp_script keyword ${inner.words[0]} (keepalived reports it too); not imported`,
        );
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      sink.warn(inner.pos, `${err.message}: keepalived ignores it, and so does the import`);
    }
  }
  if (!script.argv?.length)
    sink.warn(
      stmt.pos,
      `No script set for vrrp_script ${name}: keepalived removes it, and so does the import`,
    );
  else vrrp.scripts.set(name, script);
}

const GROUP_UNSUPPORTED =
  'lvsd has no sync group settings: track and notify on each member instance (docs/ha.md)';

export function readSyncGroup(stmt: Statement, vrrp: ParsedVrrp, sink: VrrpSink): void {
  const group: ParsedSyncGroup = {
    name: word(stmt.words, 1, 'a name'),
    pos: stmt.pos,
    members: [],
    trackingWeight: false,
  };
  for (const inner of stmt.block ?? []) {
    const [keyword = ''] = inner.words;
    if (keyword === 'group')
      for (const line of inner.block ?? [])
        for (const name of line.words) group.members.push({ name, pos: line.pos });
    else if (keyword === 'sync_group_tracking_weight' || keyword === 'global_tracking')
      group.trackingWeight = true;
    else
      sink.warn(
        inner.pos,
        `${inner.words.join(' ')} of vrrp_sync_group ${group.name} is not imported: ${GROUP_UNSUPPORTED}`,
      );
  }
  vrrp.syncGroups.push(group);
}

/** global_defs lvs_sync_daemon IF [inst] [NAME] [id N] [maxlen N] [port N] [ttl N] [group ADDR] (lvs_syncd_handler). */
export function readSyncDaemon(stmt: Statement, vrrp: ParsedVrrp, sink: VrrpSink): void {
  if (vrrp.syncDaemon) {
    sink.warn(
      stmt.pos,
      `lvs_sync_daemon has already been specified as ${vrrp.syncDaemon.interface} - ignoring (as keepalived)`,
    );
    return;
  }
  const daemon: ParsedSyncDaemon = {
    pos: stmt.pos,
    keyword: 'lvs_sync_daemon',
    interface: word(stmt.words, 1, 'an interface'),
  };
  const w = stmt.words;
  const value = (i: number, min: number, max: number) =>
    unsigned(word(w, i + 1, `a value for ${w[i]}`), min, max, `lvs_sync_daemon ${w[i]}`);
  for (let i = 2; i < w.length; i++) {
    const option = w[i] as string;
    if (option === 'inst') daemon.instance = word(w, ++i, 'an instance');
    else if (option === 'id') daemon.syncid = value(i++, 0, 255);
    else if (option === 'maxlen') daemon.maxlen = value(i++, 1, 65535 - 28);
    else if (option === 'port') daemon.port = value(i++, 1, 65535);
    else if (option === 'ttl') daemon.ttl = value(i++, 1, 255);
    else if (option === 'group')
      daemon.group = ip(word(w, ++i, 'an address'), 'lvs_sync_daemon group').address;
    else if (i === 2) daemon.instance = option;
    else if (i === 3) daemon.syncid = unsigned(option, 0, 255, 'lvs_sync_daemon syncid');
    else
      sink.warn(
        stmt.pos,
        `Unknown option ${option} specified for lvs_sync_daemon (keepalived ignores it too)`,
      );
  }
  vrrp.syncDaemon = daemon;
}
