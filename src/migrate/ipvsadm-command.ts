/**
 * One parsed ipvsadm command turned into what it asks of the kernel, with ipvsadm's own
 * defaults and refusals (ipvsadm.c's process_options): scheduler wlc, forwarding -g,
 * weight 1, persistence 360 s, the real's port taken from the service, DR and TUN reals
 * forced to the service's port, one-packet scheduling for UDP only, port 0 only when
 * persistent. Throws with ipvsadm's wording when ipvsadm itself would refuse the line.
 */
import { canonicalAddress, familyOf, ipv4MaskToPrefix } from '../netlink/inet.js';
import type { IpvsOp } from '../ipvs/client.js';
import type {
  Dest,
  Family,
  Protocol,
  Service,
  ServiceKey,
  SyncDaemon,
  Timeouts,
} from '../ipvs/model.js';
import type { ParsedArgs } from './ipvsadm-options.js';
import { SCHED_FLAG_BITS } from './types.js';

/** Looks up a port name ("http") for a protocol; null when unknown. */
export type PortNames = (name: string, protocol: Protocol) => number | null;

export type KernelAsk =
  | { kind: 'op'; op: IpvsOp }
  | { kind: 'timeouts'; timeouts: Partial<Timeouts> }
  | { kind: 'start-daemon'; daemon: SyncDaemon }
  | { kind: 'stop-daemon'; state: 'master' | 'backup' }
  | { kind: 'nothing'; why: string };

/** ipvsadm's MAX_TIMEOUT: 31 days. */
const MAX_TIMEOUT = 86400 * 31;
const INT_MAX = 2 ** 31 - 1;

const ALLOWED: Record<string, readonly string[]> = {
  service: ['tcp-service', 'udp-service', 'sctp-service', 'fwmark-service', 'ipv6'],
  'add-service': ['scheduler', 'persistent', 'netmask', 'ops', 'pe', 'sched-flags'],
  'add-server': [
    'real-server',
    'masquerading',
    'ipip',
    'gatewaying',
    'weight',
    'u-threshold',
    'l-threshold',
    'tun-type',
    'tun-port',
    'tun-nocsum',
    'tun-csum',
    'tun-remcsum',
  ],
  'delete-server': ['real-server'],
  'start-daemon': [
    'mcast-interface',
    'syncid',
    'mcast-group',
    'mcast-port',
    'mcast-ttl',
    'sync-maxlen',
  ],
  'stop-daemon': ['syncid'],
};

function allowedFor(command: string): ReadonlySet<string> {
  const service = ALLOWED.service as readonly string[];
  const table: Record<string, readonly string[]> = {
    'add-service': [...service, ...(ALLOWED['add-service'] as string[])],
    'edit-service': [...service, ...(ALLOWED['add-service'] as string[])],
    'delete-service': service,
    'add-server': [...service, ...(ALLOWED['add-server'] as string[])],
    'edit-server': [...service, ...(ALLOWED['add-server'] as string[])],
    'delete-server': [...service, ...(ALLOWED['delete-server'] as string[])],
    'start-daemon': ALLOWED['start-daemon'] as string[],
    'stop-daemon': ALLOWED['stop-daemon'] as string[],
  };
  return new Set(table[command] ?? []);
}

function number(text: string, min: number, max: number, what: string): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max)
    throw new Error(`illegal ${what} specified: ${text} (${min}..${max})`);
  return Number(text);
}

interface HostPort {
  address: string;
  family: Family;
  port: number | null;
}

/** ipvsadm's parse_service: [v6]:port, a bare IPv6 address, or v4[:port]; numeric hosts only. */
export function parseAddress(text: string, protocol: Protocol, portNames?: PortNames): HostPort {
  let host = text;
  let port: string | null = null;
  const bracketed = /^\[([^\]]*)\]:(.*)$/.exec(text);
  if (bracketed) [, host = '', port = ''] = bracketed;
  else if (familyOf(text) !== 'ipv6' && text.includes(':')) {
    host = text.slice(0, text.lastIndexOf(':'));
    port = text.slice(text.lastIndexOf(':') + 1);
  }
  if (!bracketed && /^\[[^\]]*\]$/.test(text))
    throw new Error(
      `'${text}': ipvsadm takes a bracketed IPv6 address only with a port ([v6]:port); write ${text.slice(1, -1)}`,
    );
  const family = familyOf(host);
  if (!family || (bracketed && family !== 'ipv6'))
    throw new Error(
      `'${text}' is not a numeric address[:port]: lvsd does not resolve host names (save with ipvsadm -Sn)`,
    );
  return {
    address: canonicalAddress(host) as string,
    family,
    port: port === null ? null : portOf(port, protocol, text, portNames),
  };
}

function portOf(text: string, protocol: Protocol, whole: string, portNames?: PortNames): number {
  if (/^\d+$/.test(text)) return number(text, 0, 65535, 'port');
  const named = portNames?.(text, protocol) ?? null;
  if (named === null)
    throw new Error(`unknown port name '${text}' in '${whole}' (save with ipvsadm -Sn)`);
  return named;
}

const PROTOCOL_OF: Record<string, Protocol> = {
  'tcp-service': 'tcp',
  'udp-service': 'udp',
  'sctp-service': 'sctp',
};

/** The service the command names: by address (-t, -u, --sctp-service) or by mark (-f [-6]). */
function serviceKeyOf(args: ParsedArgs, portNames?: PortNames): ServiceKey {
  const given = [...args.options.keys()].filter((k) => k in PROTOCOL_OF || k === 'fwmark-service');
  if (given.length === 0) throw new Error('no service: give -t, -u, --sctp-service or -f');
  if (given.length > 1) throw new Error(`two services in one line: --${given.join(' and --')}`);
  const option = given[0] as string;
  const value = args.options.get(option) as string;
  if (option === 'fwmark-service') {
    const family = args.options.has('ipv6') ? 'ipv6' : 'ipv4';
    return { family, fwmark: number(value, 1, 2 ** 32 - 1, 'fwmark') };
  }
  if (args.options.has('ipv6'))
    throw new Error('-6 used before -f: it is for fwmark services only');
  const protocol = PROTOCOL_OF[option] as Protocol;
  const parsed = parseAddress(value, protocol, portNames);
  return { family: parsed.family, protocol, address: parsed.address, port: parsed.port ?? 0 };
}

function netmaskOf(args: ParsedArgs, family: Family): number {
  const text = args.options.get('netmask');
  if (text === undefined || text === true) return family === 'ipv4' ? 32 : 128;
  if (family === 'ipv6') return number(text, 1, 128, 'ipv6 netmask');
  const prefix = ipv4MaskToPrefix(text);
  if (prefix === null)
    throw new Error(
      `illegal virtual server persistent mask specified: ${text} (lvsd takes contiguous masks such as 255.255.255.0)`,
    );
  return prefix;
}

function schedFlags(text: string | undefined, scheduler: string): Service['flags'] {
  const flags = {
    persistent: false,
    onePacket: false,
    sched1: false,
    sched2: false,
    sched3: false,
  };
  for (const name of text ? text.split(',') : []) {
    const flag = SCHED_FLAG_BITS[name];
    if (!flag) throw new Error(`invalid scheduler flag '${name}'`);
    if (flag.scheduler && flag.scheduler !== scheduler)
      throw new Error(`incompatible scheduler flag '${name}' for scheduler ${scheduler}`);
    flags[flag.bit] = true;
  }
  return flags;
}

/** -A / -E: the whole service, ipvsadm's defaults filling what the line leaves out. */
export function serviceOf(args: ParsedArgs, portNames?: PortNames): Service {
  const key = serviceKeyOf(args, portNames);
  const scheduler = (args.options.get('scheduler') as string | undefined) ?? 'wlc';
  const flags = schedFlags(args.options.get('sched-flags') as string | undefined, scheduler);
  const p = args.options.get('persistent');
  flags.persistent = p !== undefined;
  flags.onePacket = args.options.has('ops');
  const isFwmark = 'fwmark' in key;
  if (!isFwmark && key.port === 0 && !flags.persistent)
    throw new Error('Zero port specified for non-persistent service');
  if (flags.onePacket && !isFwmark && key.protocol !== 'udp')
    throw new Error('One-Packet Scheduling is only for UDP virtual services');
  const pe = args.options.get('pe');
  return {
    ...key,
    scheduler,
    flags,
    timeout: p === undefined ? 0 : p === true ? 360 : number(p, 1, MAX_TIMEOUT, 'timeout'),
    netmask: netmaskOf(args, key.family),
    pe: typeof pe === 'string' ? pe : null,
  } as Service;
}

function forwardingOf(args: ParsedArgs): Dest['forwarding'] {
  let forwarding: Dest['forwarding'] = 'dr';
  for (const key of args.options.keys()) {
    if (key === 'masquerading') forwarding = 'nat';
    else if (key === 'ipip') forwarding = 'tun';
    else if (key === 'gatewaying') forwarding = 'dr';
  }
  return forwarding;
}

function tunnelOf(args: ParsedArgs, forwarding: Dest['forwarding']) {
  const o = args.options;
  const given = ['tun-type', 'tun-port', 'tun-nocsum', 'tun-csum', 'tun-remcsum'].filter((k) =>
    o.has(k),
  );
  const none = {
    tunnelType: 'ipip' as const,
    tunnelPort: 0,
    tunnelFlags: { csum: false, remcsum: false },
  };
  if (given.length === 0) return none;
  if (forwarding !== 'tun') throw new Error('Tunnel options conflict with forward method');
  const type = (o.get('tun-type') as string | undefined) ?? 'ipip';
  if (type !== 'ipip' && type !== 'gue' && type !== 'gre')
    throw new Error(`illegal tunnel type specified: ${type}`);
  const csums = given.filter((k) => k.endsWith('csum'));
  if (csums.length > 1)
    throw new Error(`The option '${csums[1]}' conflicts with the '${csums[0]}' option`);
  const illegal =
    type === 'ipip'
      ? given.find((k) => k !== 'tun-type')
      : type === 'gre'
        ? given.find((k) => k === 'tun-port' || k === 'tun-remcsum')
        : undefined;
  if (illegal) throw new Error(`Illegal '${illegal}' option with the '${type}' tunnel type`);
  if (type === 'gue' && !o.has('tun-port'))
    throw new Error("You need to supply the 'tun-port' option for the 'gue' tunnel type");
  const port = o.get('tun-port');
  return {
    tunnelType: type,
    tunnelPort: typeof port === 'string' ? number(port, 1, 65535, 'tunnel port') : 0,
    tunnelFlags: { csum: o.has('tun-csum'), remcsum: o.has('tun-remcsum') },
  };
}

/** -a / -e: the whole real, ipvsadm's defaults filling what the line leaves out. */
export function destOf(args: ParsedArgs, key: ServiceKey, portNames?: PortNames): Dest {
  const text = args.options.get('real-server');
  if (typeof text !== 'string') throw new Error('no real server: give -r address[:port]');
  const protocol = 'fwmark' in key ? 'tcp' : key.protocol;
  const parsed = parseAddress(text, protocol, portNames);
  const forwarding = forwardingOf(args);
  const servicePort = 'fwmark' in key ? 0 : key.port;
  let port = parsed.port ?? servicePort;
  if (!('fwmark' in key) && (forwarding === 'dr' || forwarding === 'tun')) port = servicePort;
  if (parsed.family !== key.family && forwarding !== 'tun')
    throw new Error('Different address family is allowed only for tunneling servers');
  const o = args.options;
  const read = (name: string, max: number, fallback: number) =>
    o.has(name) ? number(o.get(name) as string, 0, max, name) : fallback;
  return {
    address: parsed.address,
    port,
    family: parsed.family,
    forwarding,
    weight: read('weight', 65535, 1),
    upperThreshold: read('u-threshold', INT_MAX, 0),
    lowerThreshold: read('l-threshold', INT_MAX, 0),
    ...tunnelOf(args, forwarding),
  } as Dest;
}

/** -d: the real's address and port; no forwarding is given, so no port is forced. */
function destKeyOf(
  args: ParsedArgs,
  key: ServiceKey,
  portNames?: PortNames,
): { address: string; port: number } {
  const text = args.options.get('real-server');
  if (typeof text !== 'string') throw new Error('no real server: give -r address[:port]');
  const parsed = parseAddress(text, 'fwmark' in key ? 'tcp' : key.protocol, portNames);
  return { address: parsed.address, port: parsed.port ?? ('fwmark' in key ? 0 : key.port) };
}

function daemonOf(args: ParsedArgs): SyncDaemon {
  const state = args.options.get('start-daemon');
  if (state !== 'master' && state !== 'backup')
    throw new Error('illegal start-daemon parameter specified');
  const o = args.options;
  const text = (name: string) => o.get(name) as string | undefined;
  const daemon: SyncDaemon = {
    state,
    interface: text('mcast-interface') ?? 'eth0',
    syncId: o.has('syncid') ? number(text('syncid') as string, 0, 255, 'syncid') : 0,
  };
  if (o.has('sync-maxlen'))
    daemon.syncMaxLen = number(text('sync-maxlen') as string, 1, 65507, 'sync-maxlen');
  if (o.has('mcast-group'))
    daemon.mcastGroup =
      canonicalAddress(text('mcast-group') as string) ?? (text('mcast-group') as string);
  if (o.has('mcast-port'))
    daemon.mcastPort = number(text('mcast-port') as string, 1, 65535, 'mcast-port');
  if (o.has('mcast-ttl'))
    daemon.mcastTtl = number(text('mcast-ttl') as string, 1, 255, 'mcast-ttl');
  return daemon;
}

function timeoutsOf(args: ParsedArgs): Partial<Timeouts> {
  const [tcp, tcpFin, udp] = args.positional;
  if (udp === undefined || args.positional.length > 3)
    throw new Error('--set option requires 3 timeout values');
  const out: Partial<Timeouts> = {};
  const values = { tcp, tcpFin, udp } as Record<keyof Timeouts, string>;
  for (const [k, v] of Object.entries(values) as Array<[keyof Timeouts, string]>) {
    const seconds = number(v, 0, MAX_TIMEOUT, 'timeout');
    if (seconds !== 0) out[k] = seconds;
  }
  return out;
}

function checkOptions(args: ParsedArgs): void {
  const allowed = allowedFor(args.command);
  for (const key of args.options.keys()) {
    if (key === args.command || key === 'numeric') continue;
    if (!allowed.has(key))
      throw new Error(`Illegal '--${key}' option with the '--${args.command}' command`);
  }
  const extra = args.command === 'set' ? args.positional.slice(3) : args.positional;
  if (extra.length > 0) throw new Error(`unexpected argument ${extra[0]}`);
}

/** What one command asks of the kernel. */
export function kernelAsk(args: ParsedArgs, portNames?: PortNames): KernelAsk {
  if (['list', 'save', 'zero', 'help', 'version', 'restore'].includes(args.command))
    return { kind: 'nothing', why: `ipvsadm --${args.command} changes no rule` };
  checkOptions(args);
  switch (args.command) {
    case 'add-service':
      return { kind: 'op', op: { op: 'add-service', service: serviceOf(args, portNames) } };
    case 'edit-service':
      return { kind: 'op', op: { op: 'edit-service', service: serviceOf(args, portNames) } };
    case 'delete-service':
      return { kind: 'op', op: { op: 'delete-service', service: serviceKeyOf(args, portNames) } };
    case 'add-server':
    case 'edit-server': {
      const service = serviceKeyOf(args, portNames);
      const op = args.command === 'add-server' ? 'add-dest' : 'edit-dest';
      return { kind: 'op', op: { op, service, dest: destOf(args, service, portNames) } };
    }
    case 'delete-server': {
      const service = serviceKeyOf(args, portNames);
      return {
        kind: 'op',
        op: { op: 'delete-dest', service, dest: destKeyOf(args, service, portNames) },
      };
    }
    case 'clear':
      return { kind: 'op', op: { op: 'flush' } };
    case 'set':
      return { kind: 'timeouts', timeouts: timeoutsOf(args) };
    case 'start-daemon':
      return { kind: 'start-daemon', daemon: daemonOf(args) };
    default: {
      const state = args.options.get('stop-daemon');
      if (state !== 'master' && state !== 'backup')
        throw new Error('illegal stop-daemon parameter specified');
      return { kind: 'stop-daemon', state };
    }
  }
}
