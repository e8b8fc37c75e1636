/**
 * The `vrrp:` section: VRRP instances that fail the director's VIPs over between two (or
 * more) directors, as keepalived's vrrp_instance / vrrp_sync_group do, and the rules that
 * refuse configs that cannot work. Joined to the root schema in schema.ts; resolved here
 * into ResolvedVrrp (what src/vrrp runs). Pure except for `interfaceNetworks`, which the
 * caller passes (this machine's interfaces, or none).
 */
import { networkInterfaces } from 'node:os';
import { z } from 'zod';
import type { Family } from '../ipvs/model.js';
import { addressToBytes, familyOf } from '../netlink/inet.js';
import { parsePrefixed } from './parse-address.js';
import type { DataPath } from './diagnostics.js';
import { Duration, formatDuration } from './duration.js';
import type { Finding } from './issues.js';
import type { ResolvedConfig } from './resolved.js';

const strict = z.strictObject;

const Weight = z
  .number()
  .int()
  .min(-253)
  .max(253)
  .describe(
    'Priority change while a tracked object fails (-60 lowers by 60). Absent: the instance goes to FAULT.',
  );

export const VrrpTrack = strict({
  interfaces: z
    .array(z.string().min(1))
    .optional()
    .describe('Interfaces that must be up (keepalived track_interface).'),
  services: z
    .array(z.string().min(1))
    .optional()
    .describe('Services of this config that must have quorum (their sorry server not in use).'),
  exec: strict({
    command: z
      .array(z.string())
      .min(1)
      .describe('argv, run without a shell; exit 0 = good (keepalived track_script).'),
    interval: Duration.default(2000).describe('Time between runs. Default 2s.'),
    timeout: Duration.default(1000).describe('A run that takes longer fails. Default 1s.'),
    fall: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(1)
      .describe('Failures in a row before it counts. Default 1.'),
    rise: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(1)
      .describe('Successes in a row before it counts again. Default 1.'),
  })
    .optional()
    .describe('A command checked every interval.'),
  weight: Weight.optional(),
}).describe(
  'What this instance depends on: any failing object lowers the priority by weight, or forces FAULT.',
);

const instanceFields = {
  interface: z
    .string()
    .min(1)
    .describe('Interface the adverts are sent and received on (keepalived interface).'),
  vrid: z
    .number()
    .int()
    .min(1)
    .max(255)
    .describe('Virtual router id 1..255, the same on every director of the pair.'),
  version: z
    .union([z.literal(2), z.literal(3)])
    .describe(
      'VRRP version 2 or 3, explicit: keepalived defaults IPv4 to 2, and v2 against v3 leaves both masters.',
    ),
  priority: z
    .number()
    .int()
    .min(1)
    .max(255)
    .describe('1..254, highest wins; 255 = the owner of the addresses (master at once).'),
  advert_interval: Duration.default(1000).describe(
    'Advertisement interval (keepalived advert_int). v2: whole seconds 1s..255s; v3: 10ms..40.95s. Default 1s.',
  ),
  preempt: z
    .boolean()
    .default(true)
    .describe(
      'A higher priority takes over from a lower master (false = keepalived nopreempt). Default true.',
    ),
  preempt_delay: Duration.default(0).describe(
    'After start, wait this long before preempting a lower master (keepalived preempt_delay). Default 0.',
  ),
  vips: z
    .array(z.string())
    .min(1)
    .describe(
      'Addresses held while MASTER, with prefix (192.0.2.100/24; keepalived virtual_ipaddress). The first one ' +
        'sets the family.',
    ),
  unicast: strict({
    source: z.string().describe('Source address of the adverts (keepalived unicast_src_ip).'),
    peers: z.array(z.string()).min(1).describe('The other directors (keepalived unicast_peer).'),
  })
    .optional()
    .describe('Send adverts to these peers instead of the multicast group.'),
  track: VrrpTrack.optional(),
  sync_daemon: z
    .boolean()
    .default(false)
    .describe(
      "The IPVS sync daemon follows this instance's role: master while MASTER, backup otherwise (keepalived " +
        'lvs_sync_daemon).',
    ),
  notify: z
    .array(z.string())
    .min(1)
    .optional()
    .describe(
      'argv run (no shell) on each role change, with instance, role and priority appended.',
    ),
};

export const VrrpInstance = strict(instanceFields).meta({
  id: 'VrrpInstance',
  description: 'One virtual router (keepalived vrrp_instance).',
});

export const VrrpConfig = strict({
  instances: z.record(z.string(), VrrpInstance).describe('VRRP instances by name.'),
  sync_groups: z
    .record(z.string(), z.array(z.string()).min(2))
    .optional()
    .describe('Instances that change role together (keepalived vrrp_sync_group).'),
}).meta({
  id: 'Vrrp',
  description:
    'VIP failover between directors over VRRP (v2 and v3), on the wire as keepalived speaks it.',
});

/** What a host entry may change (its priority, most often); the rest comes from the base file. */
export const VrrpOverride = strict({
  instances: z.record(z.string(), strict(instanceFields).partial()).optional(),
  sync_groups: z.record(z.string(), z.array(z.string()).min(2)).optional(),
}).describe("This host's changes to vrrp (mappings merge): typically each instance's priority.");

export type VrrpConfig = z.infer<typeof VrrpConfig>;
export type VrrpInstanceConfig = z.infer<typeof VrrpInstance>;

export interface ResolvedVrrpInstance {
  name: string;
  interface: string;
  vrid: number;
  version: 2 | 3;
  /** Family of the adverts: the first VIP's. */
  family: Family;
  priority: number;
  intervalCs: number;
  preempt: boolean;
  preemptDelayMs: number;
  /** Every address held while MASTER. */
  vips: Array<{ address: string; prefix: number }>;
  /** The VIPs of the instance's family, in order: the advert's address list. */
  advertised: string[];
  unicast: { source: string; peers: string[] } | null;
  track: {
    interfaces: string[];
    services: string[];
    exec: {
      command: string[];
      intervalMs: number;
      timeoutMs: number;
      fall: number;
      rise: number;
    } | null;
    /** null: a failure forces FAULT. */
    weight: number | null;
  };
  syncDaemon: boolean;
  notify: string[] | null;
}

export interface ResolvedVrrp {
  instances: ResolvedVrrpInstance[];
  syncGroups: Array<{ name: string; members: string[] }>;
}

/** An interface's networks on this machine: name -> [address/prefix]; absent names are not checked. */
export type InterfaceNetworks = ReadonlyMap<
  string,
  ReadonlyArray<{ address: string; prefix: number }>
>;

export interface VrrpContext {
  /** Services of the config (names) and which of them can lose quorum. */
  services: ReadonlyMap<string, { canFail: boolean }>;
  /** Addresses other parts of the config hold (services' vip:, top-level vips:). */
  heldElsewhere: ReadonlyArray<{ address: string; interface: string; where: string }>;
  /** Whether kernel.sync is configured (the daemon a sync_daemon instance steers). */
  kernelSync: boolean;
  interfaceNetworks: InterfaceNetworks;
}

class Out {
  readonly list: Finding[] = [];
  error(path: DataPath, message: string, at: 'key' | 'value' = 'value'): void {
    this.list.push({ severity: 'error', path, message, at });
  }
  warning(path: DataPath, message: string, at: 'key' | 'value' = 'value'): void {
    this.list.push({ severity: 'warning', path, message, at });
  }
}

export function resolveVrrp(
  vrrp: VrrpConfig,
  context: VrrpContext,
): { vrrp: ResolvedVrrp; findings: Finding[] } {
  const out = new Out();
  const instances: ResolvedVrrpInstance[] = [];
  for (const [name, instance] of Object.entries(vrrp.instances)) {
    const resolved = resolveInstance(name, instance, context, out);
    if (resolved) instances.push(resolved);
  }
  crossInstanceRules(instances, out);
  const syncGroups = resolveSyncGroups(vrrp.sync_groups ?? {}, instances, out);
  return { vrrp: { instances, syncGroups }, findings: out.list };
}

function intervalCs(path: DataPath, version: 2 | 3, ms: number, out: Out): number {
  const at = [...path, 'advert_interval'];
  if (version === 2) {
    if (ms % 1000 !== 0 || ms < 1000 || ms > 255_000)
      out.error(
        at,
        `${formatDuration(ms)}: VRRPv2 carries the interval in whole seconds, 1s..255s; sub-second intervals need ` +
          `version: 3`,
      );
    return Math.max(100, Math.min(25_500, Math.round(ms / 1000) * 100));
  }
  if (ms % 10 !== 0 || ms < 10 || ms > 40_950)
    out.error(
      at,
      `${formatDuration(ms)}: VRRPv3 carries the interval in centiseconds, 10ms..40.95s`,
    );
  return Math.max(1, Math.min(4095, Math.round(ms / 10)));
}

function resolveVips(path: DataPath, instance: VrrpInstanceConfig, context: VrrpContext, out: Out) {
  const vips: Array<{ address: string; prefix: number; family: Family }> = [];
  instance.vips.forEach((text, i) => {
    const parsed = parsePrefixed(text);
    if ('error' in parsed) {
      out.error([...path, 'vips', i], parsed.error);
      return;
    }
    const max = parsed.family === 'ipv4' ? 32 : 128;
    if (parsed.prefix === null) {
      const networks = context.interfaceNetworks.get(instance.interface);
      if (networks && !networks.some((n) => inNetwork(parsed.address, n.address, n.prefix)))
        out.error(
          [...path, 'vips', i],
          `${text} is outside every network of ${instance.interface} (${listNetworks(networks)}) and has ` +
            `no prefix: neighbours would have no route to it; write it with its prefix (${text}/24)`,
        );
    }
    vips.push({ address: parsed.address, prefix: parsed.prefix ?? max, family: parsed.family });
    for (const other of context.heldElsewhere)
      if (other.address === parsed.address)
        out.error(
          [...path, 'vips', i],
          `${parsed.address} is also held by ${other.where}: a VRRP VIP comes and goes with the role, so nothing ` +
            `else may hold it`,
        );
  });
  return vips;
}

function resolveInstance(
  name: string,
  instance: VrrpInstanceConfig,
  context: VrrpContext,
  out: Out,
): ResolvedVrrpInstance | null {
  const path: DataPath = ['vrrp', 'instances', name];
  const vips = resolveVips(path, instance, context, out);
  const family = vips[0]?.family;
  if (!family) return null;
  if (instance.version === 2 && family === 'ipv6')
    out.error(
      [...path, 'version'],
      'VRRPv2 is IPv4 only (RFC 3768): an IPv6 instance needs version: 3',
    );
  const advertised = vips.filter((v) => v.family === family).map((v) => v.address);
  if (advertised.length !== vips.length)
    out.warning(
      [...path, 'vips'],
      `the ${family === 'ipv4' ? 'IPv6' : 'IPv4'} VIPs move with the role but are not in the adverts (an instance ` +
        `advertises one family, its first VIP's), as keepalived does`,
      'key',
    );
  if (family === 'ipv6' && !advertised[0]?.startsWith('fe80:'))
    out.warning(
      [...path, 'vips', 0],
      'the first IPv6 VIP should be link-local (fe80::/10): RFC 5798 puts it first, and some routers check it',
    );
  if (advertised.length > 255)
    out.error([...path, 'vips'], 'an advert carries at most 255 addresses', 'key');
  if (instance.priority === 255)
    out.warning(
      [...path, 'priority'],
      '255 means this director owns the VIPs (its own interface addresses): it is master at once and never yields',
    );
  if (instance.sync_daemon && !context.kernelSync)
    out.error(
      [...path, 'sync_daemon'],
      'sync_daemon: true steers the daemon of kernel.sync, and there is none: add kernel.sync { state: backup, ' +
        'interface: eth1, syncid: 51 } (its state then follows this role)',
    );
  const unicast = resolveUnicast(path, instance, family, out);
  const track = resolveTrack(path, instance, context, out);
  return {
    name,
    interface: instance.interface,
    vrid: instance.vrid,
    version: instance.version,
    family,
    priority: instance.priority,
    intervalCs: intervalCs(path, instance.version, instance.advert_interval, out),
    preempt: instance.preempt,
    preemptDelayMs: instance.preempt_delay,
    vips: vips.map(({ address, prefix }) => ({ address, prefix })),
    advertised,
    unicast,
    track,
    syncDaemon: instance.sync_daemon,
    notify: instance.notify ?? null,
  };
}

function resolveUnicast(path: DataPath, instance: VrrpInstanceConfig, family: Family, out: Out) {
  if (!instance.unicast) return null;
  const at = [...path, 'unicast'];
  const addresses = [instance.unicast.source, ...instance.unicast.peers].map((text, i) => {
    const where = i === 0 ? [...at, 'source'] : [...at, 'peers', i - 1];
    const parsed = parsePrefixed(text);
    if ('error' in parsed || parsed.prefix !== null) {
      out.error(where, `'${text}' is not an IP address`);
      return null;
    }
    if (parsed.family !== family)
      out.error(
        where,
        `${text} is ${parsed.family}, the instance is ${family} (its first VIP): adverts use one family`,
      );
    return parsed.address;
  });
  if (addresses.some((a) => a === null)) return null;
  const [source, ...peers] = addresses as string[];
  return { source: source as string, peers };
}

function resolveTrack(
  path: DataPath,
  instance: VrrpInstanceConfig,
  context: VrrpContext,
  out: Out,
): ResolvedVrrpInstance['track'] {
  const t = instance.track ?? {};
  const at = [...path, 'track'];
  (t.services ?? []).forEach((service, i) => {
    const known = context.services.get(service);
    if (!known)
      out.error(
        [...at, 'services', i],
        `no service named '${service}' in this config (services: ${[...context.services.keys()].join(', ') || 'none'})`,
      );
    else if (!known.canFail)
      out.warning(
        [...at, 'services', i],
        `service '${service}' has no checks and no quorum: it never fails, so tracking it changes nothing`,
      );
  });
  if (t.exec && t.exec.timeout >= t.exec.interval)
    out.error(
      [...at, 'exec', 'timeout'],
      'timeout must be shorter than interval: one run must end before the next',
    );
  if (t.weight !== undefined && !t.interfaces?.length && !t.services?.length && !t.exec)
    out.warning([...at, 'weight'], 'weight without anything to track changes nothing', 'key');
  return {
    interfaces: t.interfaces ?? [],
    services: t.services ?? [],
    exec: t.exec
      ? {
          command: t.exec.command,
          intervalMs: t.exec.interval,
          timeoutMs: t.exec.timeout,
          fall: t.exec.fall,
          rise: t.exec.rise,
        }
      : null,
    weight: t.weight ?? null,
  };
}

function crossInstanceRules(instances: readonly ResolvedVrrpInstance[], out: Out): void {
  const routers = new Map<string, string>();
  const vips = new Map<string, string>();
  const syncDaemons: string[] = [];
  for (const i of instances) {
    const path = ['vrrp', 'instances', i.name];
    const key = `${i.interface}/${i.family}/${i.vrid}`;
    const twin = routers.get(key);
    if (twin)
      out.error(
        [...path, 'vrid'],
        `instance '${twin}' already uses vrid ${i.vrid} for ${i.family} on ${i.interface}: the two would share ` +
          `one virtual MAC and fight`,
      );
    else routers.set(key, i.name);
    for (const vip of i.vips) {
      const owner = vips.get(vip.address);
      if (owner)
        out.error(
          [...path, 'vips'],
          `${vip.address} is also a VIP of instance '${owner}': one address, one owner`,
          'key',
        );
      else vips.set(vip.address, i.name);
    }
    if (i.syncDaemon) syncDaemons.push(i.name);
  }
  if (syncDaemons.length > 1)
    out.error(
      ['vrrp', 'instances', syncDaemons[1] as string, 'sync_daemon'],
      `only one instance can steer the IPVS sync daemon (also: ${syncDaemons[0]}): the kernel runs one master and ` +
        `one backup`,
    );
}

function resolveSyncGroups(
  groups: Record<string, string[]>,
  instances: readonly ResolvedVrrpInstance[],
  out: Out,
): ResolvedVrrp['syncGroups'] {
  const byName = new Map(instances.map((i) => [i.name, i]));
  const memberOf = new Map<string, string>();
  return Object.entries(groups).map(([name, members]) => {
    const at: DataPath = ['vrrp', 'sync_groups', name];
    members.forEach((member, i) => {
      const instance = byName.get(member);
      if (!instance)
        out.error(
          [...at, i],
          `no instance named '${member}' (instances: ${[...byName.keys()].join(', ')})`,
        );
      const other = memberOf.get(member);
      if (other)
        out.error(
          [...at, i],
          `'${member}' is already in sync group '${other}': an instance follows one group`,
        );
      memberOf.set(member, name);
    });
    const found = members
      .map((m) => byName.get(m))
      .filter((i): i is ResolvedVrrpInstance => i !== undefined);
    syncGroupRules(at, found, out);
    return { name, members };
  });
}

/** Members must be able to change role in the same moment: same timing, same preemption. */
function syncGroupRules(at: DataPath, members: readonly ResolvedVrrpInstance[], out: Out): void {
  const first = members[0];
  if (!first) return;
  for (const m of members.slice(1)) {
    if (m.intervalCs !== first.intervalCs || m.version !== first.version)
      out.error(
        at,
        `'${m.name}' (v${m.version}, ${m.intervalCs * 10} ms) and '${first.name}' (v${first.version}, ` +
          `${first.intervalCs * 10} ms) advertise differently: their master-down intervals differ, so on a failure ` +
          `one moves before the other and the group splits across directors`,
        'key',
      );
    if (m.preempt !== first.preempt || m.preemptDelayMs !== first.preemptDelayMs)
      out.error(
        at,
        `'${m.name}' and '${first.name}' preempt differently: one would take over and the other not, so the group ` +
          `could not fail over together`,
        'key',
      );
  }
}

function listNetworks(networks: ReadonlyArray<{ address: string; prefix: number }>): string {
  return networks.map((n) => `${n.address}/${n.prefix}`).join(', ') || 'none';
}

function inNetwork(address: string, network: string, prefix: number): boolean {
  const a = addressToBytes(address);
  const n = addressToBytes(network);
  if (familyOf(address) !== familyOf(network)) return false;
  for (let bit = 0; bit < prefix; bit++) {
    const mask = 0x80 >> (bit % 8);
    if (((a[bit >> 3] as number) & mask) !== ((n[bit >> 3] as number) & mask)) return false;
  }
  return true;
}

/** This machine's interface networks (no root needed); validating elsewhere finds none and checks nothing. */
export function localNetworks(): InterfaceNetworks {
  const out = new Map<string, Array<{ address: string; prefix: number }>>();
  for (const [name, list] of Object.entries(networkInterfaces()))
    out.set(
      name,
      (list ?? []).map((a) => ({
        address: a.address.split('%')[0] as string,
        prefix: Number(a.cidr?.split('/')[1] ?? 0),
      })),
    );
  return out;
}

/** resolveVrrp with its context taken from the rest of the resolved config. */
export function resolveVrrpSection(
  vrrp: VrrpConfig,
  config: Pick<ResolvedConfig, 'services' | 'vips'>,
  kernelSync: boolean,
  networks: InterfaceNetworks = localNetworks(),
): { vrrp: ResolvedVrrp; findings: Finding[] } {
  const services = new Map(
    config.services.map((s) => [
      s.name,
      { canFail: s.quorum !== null || s.check !== null || s.reals.some((r) => r.check !== null) },
    ]),
  );
  const heldElsewhere = [
    ...config.services.flatMap((s) =>
      s.vip
        ? [{ address: s.vip.address, interface: s.vip.interface, where: `services.${s.name}.vip` }]
        : [],
    ),
    ...config.vips.map((v, i) => ({
      address: v.address,
      interface: v.interface,
      where: `vips[${i}]`,
    })),
  ];
  return resolveVrrp(vrrp, { services, heldElsewhere, kernelSync, interfaceNetworks: networks });
}
