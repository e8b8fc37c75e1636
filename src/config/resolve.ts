/**
 * From the validated file shape to ResolvedConfig: inheritance (real -> service ->
 * defaults -> built-in), canonical addresses, kernel-model Service and Dest objects, and
 * the rules that relate fields to each other. Each rule says why, in IPVS terms, so the
 * message teaches the fix. Pure: no I/O; positions, and whether a field was written or
 * filled in by a default, are asked of the `Origin`.
 */
import { ipv4MaskToPrefix } from '../netlink/inet.js';
import type { Dest, Family, Forwarding, Service, SyncDaemon, Timeouts } from '../ipvs/model.js';
import { destId, serviceId } from '../ipvs/model.js';
import { excerpt } from './excerpt.js';
import { type HostPort, parseEndpoint, parseHostPort, parsePrefixed } from './parse-address.js';
import { type CheckConfig, DEFAULT_TIMEOUT_MS, needsPort as checkNeedsPort } from './check.js';
import type { DataPath } from './diagnostics.js';
import { formatDuration } from './duration.js';
import { resolveAnnounce } from './announce.js';
import { resolveVrrpSection } from './vrrp.js';
import type { Finding } from './issues.js';
import type { MemoLoad } from './memo.js';
import type {
  ResolvedConfig,
  ResolvedReal,
  ResolvedService,
  ResolvedVip,
  SourceRef,
} from './resolved.js';
import {
  SYSCTL_NAMES,
  type ConfigFile,
  type CheckSetting,
  type DefaultsConfig,
  type KernelConfig,
  type RealObject,
  type ServiceConfig,
  type TunnelConfig,
} from './schema.js';

/** What resolving asks of the text the config was read from. */
export interface Origin {
  /** Where a path was written, for the objects built from it (messages, status). */
  ref(path: DataPath): SourceRef;
  /** Whether the config sets this path itself, rather than a schema default filling it in. */
  written(path: DataPath): boolean;
}

export const BUILTIN = {
  scheduler: 'wlc',
  forwarding: 'dr',
  weight: 1,
  persistenceTimeout: 360,
  drainTimeoutMs: 60_000,
  driftIntervalMs: 30_000,
  maxRemoval: 0.5,
} as const;

const FORWARDING_NAME: Record<string, string> = { nat: 'NAT', dr: 'DR', tun: 'TUN' };
const hostMax = (family: Family) => (family === 'ipv4' ? 32 : 128);

/** A value and where it was set (null: built in). */
interface Inherited<T> {
  value: T;
  path: DataPath | null;
}

class Findings {
  readonly list: Finding[] = [];
  error(path: DataPath, message: string, at: 'key' | 'value' = 'value'): void {
    this.list.push({ severity: 'error', path, message, at });
  }
  warning(path: DataPath, message: string, at: 'key' | 'value' = 'value'): void {
    this.list.push({ severity: 'warning', path, message, at });
  }
}

export type ResolvedBody = Omit<ResolvedConfig, 'files' | 'hash' | 'host' | 'declaresNoServices'>;

/** "50%" as 0.5; undefined when the config says nothing. */
function shareOf(percent: string | undefined): number | undefined {
  return percent === undefined ? undefined : Number(percent.slice(0, -1)) / 100;
}

const QUORUM_WITHOUT_SORRY = 'quorum without sorry_server changes nothing';

export function resolveConfig(
  file: ConfigFile,
  origin: Origin,
  memo?: MemoLoad,
): { config: ResolvedBody; findings: Finding[] } {
  const out = new Findings();
  const config: ResolvedBody = {
    services: resolveServices(file, origin, out, memo),
    kernel: resolveKernel(file.kernel ?? {}, out),
    vips: resolveVips(file.vips ?? [], out),
    reconcile: {
      drainTimeoutMs: file.reconcile?.drain_timeout ?? BUILTIN.drainTimeoutMs,
      prune: file.reconcile?.prune ?? 'managed',
      driftIntervalMs: file.reconcile?.drift_interval ?? BUILTIN.driftIntervalMs,
      maxRemoval: shareOf(file.reconcile?.max_removal) ?? BUILTIN.maxRemoval,
      allowMassRemoval: file.reconcile?.allow_mass_removal ?? false,
    },
  };
  const vrrp = file.vrrp && resolveVrrpSection(file.vrrp, config, file.kernel?.sync !== undefined);
  if (vrrp) config.vrrp = vrrp.vrrp;
  const announce = file.announce && resolveAnnounce(file.announce, config);
  if (announce) config.announce = announce.announce;
  // An announced service's quorum gates its VIP's announcement: without a sorry server it
  // still changes something, so the warning that it does not is left out.
  const gating = new Set(config.announce?.vips.flatMap((v) => v.services));
  const own = out.list.filter(
    (f) => !(f.message.startsWith(QUORUM_WITHOUT_SORRY) && gating.has(String(f.path[1]))),
  );
  return {
    config,
    findings: [...own, ...(vrrp?.findings ?? []), ...(announce?.findings ?? [])],
  };
}

/**
 * The enabled services, each once: two names for one IPVS service are an error. With a
 * memo, a service written as in the last good load is recalled (memo.ts), not resolved.
 */
function resolveServices(
  file: ConfigFile,
  origin: Origin,
  out: Findings,
  memo?: MemoLoad,
): ResolvedService[] {
  const services: ResolvedService[] = [];
  const seen = new Map<string, string>();
  for (const name of memo ? memo.names() : Object.keys(file.services ?? {})) {
    const resolved = memo
      ? recallOrResolve(name, file, origin, out, memo)
      : resolveEnabled(name, file, origin, out);
    if (!resolved) continue;
    const id = serviceId(resolved.service);
    const first = seen.get(id);
    if (first !== undefined) {
      const key = 'fwmark' in resolved.service ? 'mark and family' : 'protocol, address and port';
      out.error(
        ['services', name],
        `same virtual service as '${excerpt(first)}' (${id}): IPVS keeps one service per ${key}, ` +
          'so the two would fight over it',
        'key',
      );
      continue;
    }
    seen.set(id, name);
    services.push(resolved);
  }
  return services;
}

function resolveEnabled(
  name: string,
  file: ConfigFile,
  origin: Origin,
  out: Findings,
): ResolvedService | null {
  const svc = file.services?.[name];
  if (!svc || svc.enabled === false) return null;
  return resolveService(name, svc, file.defaults ?? {}, origin, out);
}

function recallOrResolve(
  name: string,
  file: ConfigFile,
  origin: Origin,
  out: Findings,
  memo: MemoLoad,
): ResolvedService | null {
  const recalled = memo.recall(name);
  if (recalled) {
    out.list.push(...recalled.findings);
    return recalled.service;
  }
  const mark = out.list.length;
  const resolved = resolveEnabled(name, file, origin, out);
  memo.keep(name, resolved, out.list.slice(mark));
  return resolved;
}

interface Identity {
  family: Family;
  key: { protocol: 'tcp' | 'udp' | 'sctp'; address: string; port: number } | { fwmark: number };
}

function resolveIdentity(path: DataPath, svc: ServiceConfig, out: Findings): Identity | null {
  if (svc.address !== undefined && svc.fwmark !== undefined) {
    out.error(
      [...path, 'fwmark'],
      'address and fwmark exclude each other: a service is selected either by address, ' +
        'protocol and port or by a firewall mark',
      'key',
    );
    return null;
  }
  if (svc.fwmark !== undefined) {
    if (svc.protocol !== undefined)
      out.error(
        [...path, 'protocol'],
        'a fwmark service has no protocol: the firewall rule that sets the mark selects the packets',
        'key',
      );
    return { family: svc.family ?? 'ipv4', key: { fwmark: svc.fwmark } };
  }
  if (svc.address === undefined) {
    out.error(
      path,
      'a service needs address (10.0.0.1:80, with protocol) or fwmark (with family)',
      'key',
    );
    return null;
  }
  const parsed = parseEndpoint(svc.address);
  if ('error' in parsed) {
    out.error([...path, 'address'], parsed.error);
    return null;
  }
  if (svc.family !== undefined && svc.family !== parsed.family) {
    out.error(
      [...path, 'family'],
      `family ${svc.family} contradicts the address ${excerpt(svc.address)}, which is ${parsed.family}; ` +
        'family is only for fwmark services',
    );
  }
  return {
    family: parsed.family,
    key: { protocol: svc.protocol ?? 'tcp', address: parsed.address, port: parsed.port ?? 0 },
  };
}

/** What the rules about one service's parts (reals, sorry server) need to know of it. */
interface ServiceScope {
  path: DataPath;
  svc: ServiceConfig;
  defaults: DefaultsConfig;
  family: Family;
  /** The service's port (0: all ports); null for a fwmark service. */
  servicePort: number | null;
  origin: Origin;
  out: Findings;
}

function resolveService(
  name: string,
  svc: ServiceConfig,
  defaults: DefaultsConfig,
  origin: Origin,
  out: Findings,
): ResolvedService | null {
  const path: DataPath = ['services', name];
  const identity = resolveIdentity(path, svc, out);
  if (!identity) return null;
  const { family, key } = identity;
  const scope: ServiceScope = {
    path,
    svc,
    defaults,
    family,
    servicePort: 'fwmark' in key ? null : key.port,
    origin,
    out,
  };
  const scheduler = svc.scheduler ?? defaults.scheduler ?? BUILTIN.scheduler;
  const { sched1, sched2, sched3 } = schedulerFlags(path, svc, scheduler, out);
  const ops = onePacket(path, svc, key, out);
  const persistence = servicePersistence(scope, key);
  const service = {
    family,
    ...key,
    scheduler,
    flags: { persistent: persistence !== null, onePacket: ops, sched1, sched2, sched3 },
    timeout: persistence?.timeout ?? 0,
    netmask: persistence?.netmask ?? hostMax(family),
    pe: persistence?.engine ?? null,
  } as Service;

  const own = checkAt(svc.check, [...path, 'check'], scope);
  const serviceCheck =
    own !== undefined ? own : (checkAt(defaults.check, ['defaults', 'check'], scope) ?? null);
  const reals = resolveReals(scope, serviceCheck);
  serviceWarnings(path, svc, reals, out);
  const sorry = resolveSorry(scope);
  return {
    name,
    service,
    reals,
    check: serviceCheck,
    quorum: resolveQuorum(path, svc, reals, sorry !== null, out),
    sorry,
    alpha: svc.alpha ?? false,
    vip: resolveServiceVip(path, svc, identity, out),
    source: origin.ref(path),
  };
}

/** sched1..3 from scheduler_flags; a flag of another scheduler is an error. */
function schedulerFlags(
  path: DataPath,
  svc: ServiceConfig,
  scheduler: string,
  out: Findings,
): Pick<Service['flags'], 'sched1' | 'sched2' | 'sched3'> {
  const flags = { sched1: false, sched2: false, sched3: false };
  for (const flag of svc.scheduler_flags ?? []) {
    const [owner, what] = flag.split('-') as [string, string];
    if (owner !== scheduler) {
      out.error(
        [...path, 'scheduler_flags'],
        `${flag} is a flag of the ${owner} scheduler; this service uses ${scheduler}, ` +
          'which ignores it',
      );
      continue;
    }
    if (what === 'fallback') flags.sched1 = true;
    else flags.sched2 = true;
  }
  return flags;
}

/** The ops flag; one-packet scheduling is for UDP. */
function onePacket(
  path: DataPath,
  svc: ServiceConfig,
  key: Identity['key'],
  out: Findings,
): boolean {
  if (svc.ops && !('fwmark' in key) && key.protocol !== 'udp') {
    out.error(
      [...path, 'ops'],
      'one-packet scheduling (ops) is for UDP services only, as in ipvsadm: ' +
        `${key.protocol.toUpperCase()} packets belong to connections and must stay on one real`,
    );
  }
  return svc.ops === true;
}

/** Persistence, and the rules that tie it to the service's protocol and port. */
function servicePersistence(scope: ServiceScope, key: Identity['key']) {
  const { path, svc, family, out } = scope;
  const persistence = resolvePersistence([...path, 'persistence'], svc, family, out);
  if ('fwmark' in key) return persistence;
  if (persistence?.engine === 'sip' && key.protocol !== 'udp') {
    out.warning(
      [...path, 'persistence', 'engine'],
      `the sip engine reads Call-IDs from SIP over UDP; on a ${key.protocol.toUpperCase()} ` +
        'service it never finds one and persistence falls back to the client address',
    );
  }
  if (key.port === 0 && !persistence) {
    out.error(
      [...path, 'address'],
      `${excerpt(svc.address ?? '')} has no port (port 0: all ports), which IPVS accepts only for a ` +
        'persistent service (ipvsadm: "Zero port specified for non-persistent service"), ' +
        "so one client's connections to all ports reach the same real; " +
        'add a port or persistence: true',
    );
  }
  return persistence;
}

/**
 * The reals of a service: each resolved, checked against its siblings (no twins, one port
 * for all on a fwmark service), with the check it inherits.
 */
function resolveReals(scope: ServiceScope, serviceCheck: CheckConfig | null): ResolvedReal[] {
  const { path, svc, out } = scope;
  const reals: ResolvedReal[] = [];
  const byId = new Map<string, number>();
  let fwmarkPort: { port: number; index: number } | null = null;
  const portless: string[] = [];
  for (const [index, entry] of (svc.reals ?? []).entries()) {
    // concat, not [...path, ...]: a spread array keeps spare capacity (about 130 bytes), and
    // each real's source ref keeps its path for the daemon's life (1.4 MiB at 10,000 reals).
    const realPath = path.concat('reals', index);
    const real: RealObject = typeof entry === 'string' ? { address: entry } : entry;
    const addressPath = typeof entry === 'string' ? realPath : realPath.concat('address');
    const dest = resolveDest(scope, { real, realPath, addressPath });
    if (!dest) continue;
    if (scope.servicePort === null) {
      if (fwmarkPort === null) fwmarkPort = { port: dest.port, index };
      else if (fwmarkPort.port !== dest.port)
        out.error(addressPath, fwmarkPortMismatch(fwmarkPort, dest.port));
    }
    const id = destId(dest);
    const twin = byId.get(id);
    if (twin !== undefined) {
      out.error(
        addressPath,
        `${id} is listed twice (reals[${twin}] and reals[${index}]): ` +
          'IPVS keys reals by address and port',
      );
      continue;
    }
    byId.set(id, index);
    const own = checkAt(real.check, realPath.concat('check'), scope);
    const check = own === undefined ? serviceCheck : own;
    if (check && needsPort(check, dest)) {
      if (own)
        out.error(
          [...realPath, 'check'],
          `a ${check.type} check needs a port, and real ${dest.address} has none ` +
            '(fwmark or all-ports service): set check.port',
          'key',
        );
      else portless.push(dest.address);
    }
    reals.push({ id, dest, check, source: scope.origin.ref(realPath) });
  }
  if (portless.length > 0 && serviceCheck) portlessCheck(scope, serviceCheck, portless);
  return reals;
}

function fwmarkPortMismatch(first: { port: number; index: number }, port: number): string {
  const shown = (p: number) => (p === 0 ? 'none' : `port ${p}`);
  return (
    'the reals of a fwmark service carry no port or one port for all: ' +
    `reals[${first.index}] has ${shown(first.port)}, this one ${shown(port)}, ` +
    "so a client's ports would change with the real it lands on"
  );
}

/** One error for every real that inherits a port-needing check but has no port. */
function portlessCheck(scope: ServiceScope, check: CheckConfig, portless: string[]): void {
  const { path, svc, out } = scope;
  const where = svc.check !== undefined ? [...path, 'check'] : path;
  const from = svc.check !== undefined ? '' : ' (inherited from defaults)';
  const more = portless.length > 1 ? ` and ${portless.length - 1} more` : '';
  out.error(
    where,
    `a ${check.type} check${from} needs a port, and real ${portless[0]}${more} has none ` +
      '(fwmark or all-ports service): set check.port',
    'key',
  );
}

function resolvePersistence(
  path: DataPath,
  svc: ServiceConfig,
  family: Family,
  out: Findings,
): { timeout: number; netmask: number; engine: string | null } | null {
  const p = svc.persistence;
  if (p === undefined || p === false) return null;
  if (p === true)
    return { timeout: BUILTIN.persistenceTimeout, netmask: hostMax(family), engine: null };
  let netmask = hostMax(family);
  if (typeof p.netmask === 'string') {
    if (family === 'ipv6')
      out.error(
        [...path, 'netmask'],
        `an IPv6 service takes a prefix length (netmask: 64), not a mask like ${excerpt(p.netmask)}`,
      );
    else {
      const prefix = ipv4MaskToPrefix(p.netmask);
      if (prefix === null)
        out.error(
          [...path, 'netmask'],
          `${excerpt(p.netmask)} is not an IPv4 netmask: write contiguous ones like ` +
            '255.255.255.0, or a prefix length (24)',
        );
      else netmask = prefix;
    }
  } else if (typeof p.netmask === 'number') {
    if (p.netmask > hostMax(family))
      out.error(
        [...path, 'netmask'],
        `prefix length ${p.netmask} does not fit an ${family} service (0..${hostMax(family)})`,
      );
    else netmask = p.netmask;
  }
  return { timeout: p.timeout, netmask, engine: p.engine ?? null };
}

/**
 * The first of real, service, defaults that sets `field`. Paths by concat: a spread array
 * carries spare capacity, and this runs for every field of every real of a full load.
 */
function inherit<K extends keyof RealObject>(
  field: K,
  real: RealObject,
  realPath: DataPath,
  svc: ServiceConfig,
  path: DataPath,
  defaults: DefaultsConfig,
): Inherited<RealObject[K]> {
  if (real[field] !== undefined) return { value: real[field], path: realPath.concat(field) };
  const fromService = (svc as RealObject)[field];
  if (fromService !== undefined) return { value: fromService, path: path.concat(field) };
  const fromDefaults = (defaults as RealObject)[field];
  if (fromDefaults !== undefined) return { value: fromDefaults, path: ['defaults', field] };
  return { value: undefined as RealObject[K], path: null };
}

/** One real as written, and where. */
interface RealInput {
  real: RealObject;
  realPath: DataPath;
  /** The real's address text: the list item itself for the shorthand, else its address key. */
  addressPath: DataPath;
}

function resolveDest(scope: ServiceScope, input: RealInput): Dest | null {
  const { svc, defaults, path, family, servicePort, out } = scope;
  const { real, realPath, addressPath } = input;
  const inherited = <K extends keyof RealObject>(field: K) =>
    inherit(field, real, realPath, svc, path, defaults);
  const parsed = parseEndpoint(real.address);
  if ('error' in parsed) {
    out.error(addressPath, parsed.error);
    return null;
  }
  const forwarding = (inherited('forwarding').value ?? BUILTIN.forwarding) as Forwarding;
  const port = destPort(parsed, forwarding, servicePort, addressPath, real.address, out);
  if (parsed.family !== family && forwarding !== 'tun') {
    out.error(
      addressPath,
      `${excerpt(real.address)} is ${parsed.family} but the service is ${family}: IPVS reaches a real ` +
        'of the other family only through a tunnel (forwarding: tun); ' +
        `${FORWARDING_NAME[forwarding]} cannot cross families`,
    );
  }
  const { upper, lower } = thresholds(inherited('upper'), inherited('lower'), out);
  const tunnel = inherited('tunnel');
  if (tunnel.value && tunnel.path && forwarding !== 'tun' && tunnel.path[0] !== 'defaults') {
    out.error(
      tunnel.path,
      `tunnel settings apply to forwarding tun only; this real uses ${forwarding}`,
      'key',
    );
  }
  const tun = forwarding === 'tun' ? tunnelRules(tunnel, out) : null;
  return {
    address: parsed.address,
    port,
    family: parsed.family,
    forwarding,
    weight: inherited('weight').value ?? BUILTIN.weight,
    upperThreshold: upper,
    lowerThreshold: lower,
    tunnelType: tun?.type ?? 'ipip',
    tunnelPort: tun?.port ?? 0,
    tunnelFlags: tun?.checksum
      ? { csum: tun.checksum === 'csum', remcsum: tun.checksum === 'remcsum' }
      : NO_TUNNEL_FLAGS,
  };
}

/** Every real without tunnel checksums shares this (frozen) object: 32 bytes less per real. */
const NO_TUNNEL_FLAGS = Object.freeze({ csum: false, remcsum: false });

/** Connection thresholds (0 = no limit); the kernel refuses lower > upper. */
function thresholds(
  upper: Inherited<number | undefined>,
  lower: Inherited<number | undefined>,
  out: Findings,
): { upper: number; lower: number } {
  const upperValue = upper.value ?? 0;
  const lowerValue = lower.value ?? 0;
  if (lowerValue > upperValue && lower.path) {
    out.error(
      lower.path,
      upperValue === 0
        ? `lower threshold ${lowerValue} without an upper threshold: the kernel refuses ` +
            'lower > upper (0 = no limit), and a lower threshold only matters after the upper ' +
            'one was reached; set upper too'
        : `lower threshold ${lowerValue} is above upper threshold ${upperValue}: a real stopped ` +
            `at ${upperValue} connections resumes below ${lowerValue}, which it is already ` +
            'under; the kernel refuses it (ERANGE)',
    );
  }
  return { upper: upperValue, lower: lowerValue };
}

function destPort(
  parsed: HostPort,
  forwarding: Forwarding,
  servicePort: number | null,
  at: DataPath,
  text: string,
  out: Findings,
): number {
  const mapsPorts = forwarding === 'dr' || forwarding === 'tun';
  if (servicePort === null) {
    // fwmark service: no port keeps the packet's port; NAT may send every port to one.
    if (mapsPorts && parsed.port !== null && parsed.port !== 0) {
      out.error(
        at,
        `${FORWARDING_NAME[forwarding]} forwarding cannot map ports: the real receives the ` +
          `packet's own destination port, so ${excerpt(text)} cannot be honoured; ` +
          'drop the port or use nat',
      );
      return 0;
    }
    return parsed.port ?? 0;
  }
  if (parsed.port === null) return servicePort;
  if (mapsPorts && parsed.port !== servicePort) {
    const served = servicePort === 0 ? 'every port of the service' : `port ${servicePort}`;
    out.error(
      at,
      `${FORWARDING_NAME[forwarding]} forwarding cannot map ports: the real keeps the ` +
        `destination port of the packet, so ${excerpt(text)} cannot serve ${served}; ` +
        'drop the port or use nat',
    );
    return servicePort;
  }
  return parsed.port;
}

function tunnelRules(
  tunnel: Inherited<TunnelConfig | undefined>,
  out: Findings,
): TunnelConfig | null {
  const t = tunnel.value;
  if (!t || !tunnel.path) return null;
  const at = (field: string) => [...(tunnel.path as DataPath), field];
  if (t.type === 'gue' && t.port === undefined)
    out.error(
      tunnel.path,
      'a gue tunnel needs port: the UDP port the real decapsulates GUE on',
      'key',
    );
  if (t.type !== 'gue' && t.port !== undefined)
    out.error(at('port'), `port is for gue tunnels; ${t.type} has no port`, 'key');
  if (t.checksum === 'remcsum' && t.type !== 'gue')
    out.error(
      at('checksum'),
      `remcsum (remote checksum offload) exists for gue only, not ${t.type}`,
    );
  if (t.checksum === 'csum' && t.type === 'ipip')
    out.error(at('checksum'), 'ipip has no checksum option; csum is for gue and gre');
  return t;
}

/**
 * A check setting written at `at`, its rules applied: undefined when there is none (the
 * owner inherits), null for `check: false` (switched off), else the check in force.
 */
function checkAt(
  setting: CheckSetting | undefined,
  at: DataPath,
  scope: ServiceScope,
): CheckConfig | null | undefined {
  if (setting === undefined || setting === false) return setting === false ? null : undefined;
  const { out } = scope;
  if (setting.address !== undefined && 'error' in parseHostPort(setting.address)) {
    out.error([...at, 'address'], `'${excerpt(setting.address)}' is not an IP address to check`);
  }
  return capTimeout(setting, at, scope);
}

/**
 * Checks of a real start one interval apart, so one may take at most the interval. People
 * used to keepalived write connect_timeout equal to delay_loop (keepalived starts the next
 * check only after the last one ends): such a timeout is taken, capped at the interval,
 * with a warning. A timeout left out is already at most the interval (check.ts).
 */
function capTimeout(check: CheckConfig, at: DataPath, scope: ServiceScope): CheckConfig {
  const timeoutPath = [...at, 'timeout'];
  if (check.timeout < check.interval || !scope.origin.written(timeoutPath)) return check;
  const interval = formatDuration(check.interval);
  scope.out.warning(
    timeoutPath,
    `timeout ${formatDuration(check.timeout)} is not shorter than interval ${interval}: ` +
      `a check must end before the next one starts, so lvsd caps it at ${interval}; ` +
      `leave timeout out to get ${formatDuration(DEFAULT_TIMEOUT_MS)} or the interval, ` +
      'whichever is shorter',
  );
  return { ...check, timeout: check.interval };
}

/** Checks that connect somewhere need a port: the check's own, else the real's. */
function needsPort(check: CheckConfig, dest: Dest): boolean {
  return checkNeedsPort(check) && dest.port === 0;
}

function resolveSorry(scope: ServiceScope): Dest | null {
  const { path, svc, defaults, family, servicePort, out } = scope;
  if (svc.sorry_server === undefined) return null;
  const at = [...path, 'sorry_server'];
  const parsed = parseEndpoint(svc.sorry_server);
  if ('error' in parsed) {
    out.error(at, parsed.error);
    return null;
  }
  const forwarding = (svc.forwarding ?? defaults.forwarding ?? BUILTIN.forwarding) as Forwarding;
  const port = destPort(parsed, forwarding, servicePort, at, svc.sorry_server, out);
  if (parsed.family !== family && forwarding !== 'tun')
    out.error(
      at,
      `the sorry server ${excerpt(svc.sorry_server)} is ${parsed.family} but the service is ${family}; ` +
        `${FORWARDING_NAME[forwarding]} cannot cross families`,
    );
  const tunnel = forwarding === 'tun' ? (svc.tunnel ?? defaults.tunnel) : undefined;
  return {
    address: parsed.address,
    port,
    family: parsed.family,
    forwarding,
    weight: 1,
    upperThreshold: 0,
    lowerThreshold: 0,
    tunnelType: tunnel?.type ?? 'ipip',
    tunnelPort: tunnel?.port ?? 0,
    tunnelFlags: { csum: tunnel?.checksum === 'csum', remcsum: tunnel?.checksum === 'remcsum' },
  };
}

function resolveQuorum(
  path: DataPath,
  svc: ServiceConfig,
  reals: ResolvedReal[],
  hasSorry: boolean,
  out: Findings,
): ResolvedService['quorum'] {
  if (svc.quorum === undefined) {
    if (svc.quorum_hysteresis !== undefined)
      out.warning(
        [...path, 'quorum_hysteresis'],
        'quorum_hysteresis has no effect without quorum',
        'key',
      );
    return null;
  }
  const hysteresis = svc.quorum_hysteresis ?? 0;
  const total = reals.reduce((sum, r) => sum + r.dest.weight, 0);
  if (svc.quorum > total)
    out.warning(
      [...path, 'quorum'],
      `quorum ${svc.quorum} is above the sum of all weights (${total}): it can never be met, ` +
        'so the service always counts as below quorum',
    );
  if (hysteresis >= svc.quorum)
    out.warning(
      [...path, 'quorum_hysteresis'],
      `hysteresis ${hysteresis} is not below quorum ${svc.quorum}: quorum is then lost only when no real is healthy`,
    );
  if (!hasSorry)
    out.warning(
      [...path, 'quorum'],
      `${QUORUM_WITHOUT_SORRY}: losing quorum puts the sorry server in`,
      'key',
    );
  return { min: svc.quorum, hysteresis };
}

function resolveServiceVip(
  path: DataPath,
  svc: ServiceConfig,
  identity: Identity,
  out: Findings,
): ResolvedVip | null {
  if (svc.vip === undefined) return null;
  if ('fwmark' in identity.key) {
    out.error(
      [...path, 'vip'],
      'a fwmark service has no address to hold: hold addresses with the top-level vips list instead',
      'key',
    );
    return null;
  }
  const spec = typeof svc.vip === 'string' ? { interface: svc.vip, prefix: undefined } : svc.vip;
  const max = hostMax(identity.family);
  if (spec.prefix !== undefined && spec.prefix > max) {
    out.error(
      [...path, 'vip', 'prefix'],
      `prefix ${spec.prefix} does not fit an ${identity.family} address (0..${max})`,
    );
  }
  return {
    address: identity.key.address,
    prefix: Math.min(spec.prefix ?? max, max),
    interface: spec.interface,
  };
}

function serviceWarnings(
  path: DataPath,
  svc: ServiceConfig,
  reals: ResolvedReal[],
  out: Findings,
): void {
  if ((svc.reals ?? []).length === 0 && svc.sorry_server === undefined) {
    out.warning(
      path,
      'no reals and no sorry_server: IPVS has nowhere to send new connections and refuses them',
      'key',
    );
  } else if (reals.length > 0 && reals.every((r) => r.dest.weight === 0)) {
    out.warning(
      [...path, 'reals'],
      'every real has weight 0: the service accepts no new connections',
      'key',
    );
  }
}

function resolveKernel(kernel: KernelConfig, out: Findings): ResolvedBody['kernel'] {
  const result: ResolvedBody['kernel'] = { sysctls: {} };
  if (kernel.timeouts) {
    const t: Partial<Timeouts> = {};
    if (kernel.timeouts.tcp !== undefined) t.tcp = kernel.timeouts.tcp;
    if (kernel.timeouts.tcpfin !== undefined) t.tcpFin = kernel.timeouts.tcpfin;
    if (kernel.timeouts.udp !== undefined) t.udp = kernel.timeouts.udp;
    result.timeouts = t;
  }
  if (kernel.sync !== undefined) result.daemons = resolveSync(kernel.sync, out);
  for (const [name, value] of Object.entries(kernel.sysctl ?? {})) {
    if (value === undefined) continue;
    result.sysctls[SYSCTL_NAMES[name as keyof typeof SYSCTL_NAMES]] =
      typeof value === 'boolean' ? (value ? 1 : 0) : value;
  }
  return result;
}

function resolveSync(sync: NonNullable<KernelConfig['sync']>, out: Findings): SyncDaemon[] {
  if (sync === 'none') return [];
  const list = Array.isArray(sync) ? sync : [sync];
  const states = new Map<string, number>();
  return list.flatMap((d, i) => {
    const at: DataPath = Array.isArray(sync) ? ['kernel', 'sync', i] : ['kernel', 'sync'];
    const twin = states.get(d.state);
    if (twin !== undefined) {
      out.error(
        [...at, 'state'],
        `a second ${d.state} daemon (the first is kernel.sync[${twin}]): ` +
          'the kernel runs at most one master and one backup',
      );
      return [];
    }
    states.set(d.state, i);
    const daemon: SyncDaemon = { state: d.state, interface: d.interface, syncId: d.syncid };
    if (d.syncmaxlen !== undefined) daemon.syncMaxLen = d.syncmaxlen;
    if (d.mcast_group !== undefined) {
      const group = parseHostPort(d.mcast_group);
      if ('error' in group || group.port !== null)
        out.error(
          [...at, 'mcast_group'],
          `'${excerpt(d.mcast_group)}' is not a multicast group address (224.0.0.81, ff02::1:2)`,
        );
      else if (!isMulticast(group.address, group.family))
        out.error(
          [...at, 'mcast_group'],
          `${excerpt(d.mcast_group)} is not a multicast address (224.0.0.0/4 or ff00::/8): ` +
            'sync messages are multicast',
        );
      else daemon.mcastGroup = group.address;
    }
    if (d.mcast_port !== undefined) daemon.mcastPort = d.mcast_port;
    if (d.mcast_ttl !== undefined) daemon.mcastTtl = d.mcast_ttl;
    return [daemon];
  });
}

function isMulticast(address: string, family: Family): boolean {
  if (family === 'ipv4') {
    const first = Number(address.split('.')[0]);
    return first >= 224 && first <= 239;
  }
  return address.toLowerCase().startsWith('ff');
}

function resolveVips(vips: NonNullable<ConfigFile['vips']>, out: Findings): ResolvedVip[] {
  const seen = new Map<string, number>();
  return vips.flatMap((vip, i) => {
    const parsed = parsePrefixed(vip.address);
    if ('error' in parsed) {
      out.error(['vips', i, 'address'], parsed.error);
      return [];
    }
    const key = `${parsed.address}%${vip.interface}`;
    const twin = seen.get(key);
    if (twin !== undefined) {
      out.error(
        ['vips', i],
        `${excerpt(parsed.address)} on ${excerpt(vip.interface)} is listed twice ` +
          `(vips[${twin}] and vips[${i}])`,
      );
      return [];
    }
    seen.set(key, i);
    return [
      {
        address: parsed.address,
        prefix: parsed.prefix ?? hostMax(parsed.family),
        interface: vip.interface,
      },
    ];
  });
}
