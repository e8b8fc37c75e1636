/**
 * The `announce:` section: VIP prefixes this director announces to its routers through a
 * routing daemon (BIRD), each gated by the quorum of the services behind it, and the rules
 * that refuse an announcement that cannot be served. Joined to the root schema in
 * schema.ts; resolved here into ResolvedAnnounce (what src/announce runs).
 *
 * BIRD's own timers (hold time, BFD) live in BIRD's config, which lvsd does not read: they
 * are checked at run time from the session lvsd reads over BIRD's socket, not here.
 */
import { z } from 'zod';
import { addressToBytes } from '../netlink/inet.js';
import type { Family } from '../ipvs/model.js';
import type { DataPath } from './diagnostics.js';
import { Duration } from './duration.js';
import type { Finding } from './issues.js';
import { parsePrefixed } from './parse-address.js';
import type { ResolvedConfig, ResolvedService } from './resolved.js';
import { closest } from './suggest.js';

const strict = z.strictObject;

const Count = (what: string, byDefault: number) =>
  z.number().int().min(1).max(100).default(byDefault).describe(`${what} Default ${byDefault}.`);

export const AnnounceVip = strict({
  prefix: z
    .string()
    .min(1)
    .describe('The prefix announced, 192.0.2.10/32 (a bare address means /32 or /128).'),
  services: z
    .array(z.string().min(1))
    .min(1)
    .describe('Services of this config; the prefix is announced only while every one has quorum.'),
  rise: Count('Good evaluations in a row before announcing.', 3),
  fall: Count('Bad evaluations in a row before withdrawing.', 2),
  hold_down: Duration.default(10_000).describe(
    'After a withdrawal for health the prefix is not announced again before this long: a flapping ' +
      'service does not flap the route (each change moves flows between directors). Default 10s.',
  ),
}).describe('One announced prefix and the services that must serve it.');

const BirdConfig = strict({
  socket: z
    .string()
    .startsWith('/')
    .default('/run/bird/bird.ctl')
    .describe("BIRD's control socket. Default /run/bird/bird.ctl."),
  include: z
    .string()
    .startsWith('/')
    .default('/run/lvsd/bird-vips.conf')
    .describe(
      'The IPv4 static routes lvsd writes, included by bird.conf inside an ipv4 static protocol. ' +
        'Default /run/lvsd/bird-vips.conf (under /run: gone after a reboot).',
    ),
  include6: z
    .string()
    .startsWith('/')
    .default('/run/lvsd/bird-vips6.conf')
    .describe(
      'The IPv6 routes, for an ipv6 static protocol (a BIRD static protocol has one channel). ' +
        'Default /run/lvsd/bird-vips6.conf.',
    ),
}).describe('Where lvsd reaches BIRD.');

const DrainConfig = strict({
  method: z
    .enum(['graceful-shutdown', 'withdraw'])
    .default('graceful-shutdown')
    .describe(
      'graceful-shutdown: keep announcing with community (65535,0) so routers prefer the ' +
        'other directors, then withdraw; withdraw: withdraw at once. Default graceful-shutdown.',
    ),
  wait: Duration.default(30_000).describe(
    'How long a drain keeps the route before withdrawing, unless active connections reach 0 first. Default 30s.',
  ),
  on_stop: z
    .boolean()
    .default(false)
    .describe(
      'SIGTERM drains first (wait included) instead of withdrawing at once. Default false.',
    ),
}).describe('What `lvsd drain` does.');

export const AnnounceConfig = strict({
  daemon: z.enum(['bird']).describe('The routing daemon that speaks BGP for lvsd: bird (BIRD 2).'),
  bird: BirdConfig.default({
    socket: '/run/bird/bird.ctl',
    include: '/run/lvsd/bird-vips.conf',
    include6: '/run/lvsd/bird-vips6.conf',
  }),
  interval: Duration.default(1000).describe(
    'Time between evaluations of the services (rise and fall count these). Default 1s.',
  ),
  vips: z.array(AnnounceVip).min(1).describe('The prefixes announced, each with its services.'),
  drain: DrainConfig.default({ method: 'graceful-shutdown', wait: 30_000, on_stop: false }),
}).describe(
  'Announce VIPs over BGP through a routing daemon, gated by health (director fleets behind ECMP).',
);

export type AnnounceConfig = z.infer<typeof AnnounceConfig>;

export interface ResolvedAnnounceVip {
  /** Canonical "192.0.2.10/32": the key everywhere (status, metrics, the include file). */
  prefix: string;
  family: Family;
  services: string[];
  rise: number;
  fall: number;
  /** A prefix withdrawn for health stays withdrawn at least this long. */
  holdDownMs: number;
}

export interface ResolvedAnnounce {
  daemon: 'bird';
  bird: { socket: string; include: string; include6: string };
  intervalMs: number;
  vips: ResolvedAnnounceVip[];
  drain: { method: 'graceful-shutdown' | 'withdraw'; waitMs: number; onStop: boolean };
}

type Context = Pick<ResolvedConfig, 'services' | 'vips' | 'kernel'>;

class Out {
  readonly list: Finding[] = [];
  error(path: DataPath, message: string): void {
    this.list.push({ severity: 'error', path, message });
  }
  warning(path: DataPath, message: string): void {
    this.list.push({ severity: 'warning', path, message });
  }
}

export function resolveAnnounce(
  announce: AnnounceConfig,
  config: Context,
): { announce: ResolvedAnnounce; findings: Finding[] } {
  const out = new Out();
  const seen = new Map<string, number>();
  const vips: ResolvedAnnounceVip[] = [];
  announce.vips.forEach((vip, i) => {
    const path: DataPath = ['announce', 'vips', i];
    const resolved = resolveVip(vip, path, config, out);
    if (!resolved) return;
    const before = seen.get(resolved.prefix);
    if (before !== undefined)
      out.error(
        [...path, 'prefix'],
        `${resolved.prefix} is announced twice (also vips[${before}])`,
      );
    seen.set(resolved.prefix, i);
    vips.push(resolved);
  });
  adviseEcmp(vips, config, out);
  return {
    announce: {
      daemon: announce.daemon,
      bird: announce.bird,
      intervalMs: announce.interval,
      vips,
      drain: {
        method: announce.drain.method,
        waitMs: announce.drain.wait,
        onStop: announce.drain.on_stop,
      },
    },
    findings: out.list,
  };
}

function resolveVip(
  vip: AnnounceConfig['vips'][number],
  path: DataPath,
  config: Context,
  out: Out,
): ResolvedAnnounceVip | null {
  const parsed = parsePrefixed(vip.prefix);
  if ('error' in parsed) {
    out.error([...path, 'prefix'], parsed.error);
    return null;
  }
  const length = parsed.prefix ?? (parsed.family === 'ipv4' ? 32 : 128);
  if (!hostBitsZero(parsed.address, length)) {
    out.error(
      [...path, 'prefix'],
      `${parsed.address}/${length} has host bits set: routers refuse it (write the network address)`,
    );
    return null;
  }
  const prefix = `${parsed.address}/${length}`;
  const byName = new Map(config.services.map((s) => [s.name, s]));
  let backed = false;
  vip.services.forEach((name, j) => {
    const service = byName.get(name);
    const at: DataPath = [...path, 'services', j];
    if (!service) {
      const hint = closest(name, [...byName.keys()]);
      out.error(
        at,
        `no service named '${name}' in this config` +
          (hint
            ? ` (did you mean '${hint}'?)`
            : ` (services: ${[...byName.keys()].join(', ') || 'none'})`),
      );
      return;
    }
    const inside = serviceInside(service, parsed.address, length, parsed.family);
    if (inside) backed = true;
    else
      out.warning(
        at,
        `${name} (${describe(service)}) is outside ${prefix}: its quorum gates the announcement, ` +
          'but the prefix brings it no traffic',
      );
  });
  if (!backed && vip.services.every((n) => byName.has(n)))
    out.error(
      [...path, 'services'],
      `no listed service is at an address inside ${prefix}: announcing it would attract traffic ` +
        'no service here can take',
    );
  for (const service of config.services)
    if (
      !vip.services.includes(service.name) &&
      serviceInside(service, parsed.address, length, parsed.family)
    )
      out.warning(
        [...path, 'services'],
        `${service.name} (${describe(service)}) is inside ${prefix} but not listed: ` +
          'the prefix stays announced while it has no quorum',
      );
  return {
    prefix,
    family: parsed.family,
    services: vip.services,
    rise: vip.rise,
    fall: vip.fall,
    holdDownMs: vip.hold_down,
  };
}

/**
 * Behind ECMP a router spreads one VIP's flows over the directors and moves some of them
 * when one joins or leaves: each director must pick the same real for a flow without
 * connection sync (mh, Maglev hashing) and take a flow it has not seen from its start
 * (sloppy_tcp). Advice, not a refusal: a single director announcing works without them.
 */
function adviseEcmp(vips: readonly ResolvedAnnounceVip[], config: Context, out: Out): void {
  const byName = new Map(config.services.map((s) => [s.name, s]));
  let tcp = false;
  for (const [i, vip] of vips.entries())
    for (const [j, name] of vip.services.entries()) {
      const service = byName.get(name);
      if (!service) continue;
      const at: DataPath = ['announce', 'vips', i, 'services', j];
      if (!('protocol' in service.service) || service.service.protocol === 'tcp') tcp = true;
      if (service.service.scheduler !== 'mh')
        out.warning(
          at,
          `${name} uses scheduler ${service.service.scheduler}: behind ECMP a flow moved to another ` +
            'director must reach the same real without sync; use scheduler: mh (Maglev hashing)',
        );
      if (service.vip === null && !heldAddress(service, config))
        out.warning(
          at,
          `${name}: its address is not held by lvsd (no vip:); IPVS takes only packets for a local ` +
            'address, so it must be on lo (vip: { interface: lo }) or set up by other means',
        );
    }
  if (tcp && config.kernel.sysctls['net.ipv4.vs.sloppy_tcp'] !== 1)
    out.warning(
      ['announce'],
      'announced TCP services: set kernel.sysctl.sloppy_tcp: true, so a director takes a flow ECMP moves to ' +
        'it mid-connection (without it that flow is reset)',
    );
}

function heldAddress(service: ResolvedService, config: Context): boolean {
  const s = service.service;
  return 'address' in s && config.vips.some((v) => v.address === s.address);
}

function describe(service: ResolvedService): string {
  const s = service.service;
  return 'address' in s ? s.address : `fwmark ${s.fwmark}`;
}

/**
 * Whether traffic to the prefix can reach the service: its address is inside. A fwmark
 * service's addresses live in the firewall's rules, which the config does not show: it
 * counts as inside when it is of the prefix's family.
 */
function serviceInside(
  service: ResolvedService,
  network: string,
  length: number,
  family: Family,
): boolean {
  const s = service.service;
  if (s.family !== family) return false;
  if (!('address' in s)) return true;
  return inPrefix(s.address, network, length);
}

function inPrefix(address: string, network: string, length: number): boolean {
  const a = addressToBytes(address);
  const n = addressToBytes(network);
  if (a.length !== n.length) return false;
  for (let bit = 0; bit < length; bit++) {
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if (((a[byte] as number) & mask) !== ((n[byte] as number) & mask)) return false;
  }
  return true;
}

function hostBitsZero(address: string, length: number): boolean {
  const bytes = addressToBytes(address);
  for (let bit = length; bit < bytes.length * 8; bit++)
    if ((bytes[bit >> 3] as number) & (0x80 >> (bit & 7))) return false;
  return true;
}
