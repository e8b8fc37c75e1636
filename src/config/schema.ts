/**
 * The shape of an lvsd config file, as zod schemas. Structure only: what may appear where
 * and of which type. Rules that relate fields to each other (DR cannot map ports, lower <=
 * upper, ...) live in resolve.ts, where they can name the objects they concern.
 *
 * Service and real fields have no zod defaults on purpose: a field left out inherits from
 * the service, then from `defaults:`, then from the built-in default (resolve.ts), and a
 * host override must not carry defaults that would overwrite the base file's values.
 * schemas/lvsd.schema.json and docs/config-reference.md are generated from these schemas
 * (json-schema.ts); the descriptions here are the user documentation.
 */
import { z } from 'zod';
import { KNOWN_SCHEDULERS } from '../ipvs/constants.js';
import { CheckConfig } from './check.js';
import { Duration } from './duration.js';
import { AnnounceConfig } from './announce.js';
import { VrrpConfig, VrrpOverride } from './vrrp.js';

/** Every object is strict: a typo must not pass silently (issues.ts adds "did you mean"). */
const strict = z.strictObject;

/** The schedulers a stock kernel ships (src/ipvs/constants.ts). */
export const SCHEDULERS = KNOWN_SCHEDULERS;
export const SCHEDULER_FLAGS = ['sh-fallback', 'sh-port', 'mh-fallback', 'mh-port'] as const;

/** A duration that the kernel keeps in whole seconds; the parsed value is seconds. */
function seconds(min: number) {
  return Duration.transform((ms, ctx) => {
    if (ms % 1000 !== 0) {
      ctx.addIssue({
        code: 'custom',
        message: `${ms}ms is not a whole number of seconds: the kernel keeps this in seconds`,
      });
      return z.NEVER;
    }
    if (ms / 1000 < min) {
      ctx.addIssue({ code: 'custom', message: `must be at least ${min}s` });
      return z.NEVER;
    }
    return ms / 1000;
  });
}

const Weight = z
  .number()
  .int()
  .min(0)
  .max(65535)
  .describe('Weight 0..65535 (16 bits in the kernel); 0 takes no new connections. Default 1.');
const Threshold = z
  .number()
  .int()
  .min(0)
  .max(2 ** 32 - 1);
const Upper = Threshold.describe(
  'Upper connection threshold: no new connections above it (ipvsadm -x). 0 or absent = no limit.',
);
const Lower = Threshold.describe(
  'Lower connection threshold: new connections again below it (ipvsadm -y). Must not exceed upper.',
);

export const ForwardingMethod = z
  .enum(['nat', 'dr', 'tun'])
  .describe(
    'Forwarding method: nat (masquerading, ipvsadm -m), dr (direct routing, -g) ' +
      'or tun (IP tunnelling, -i). Default dr, as ipvsadm.',
  );

export const Tunnel = strict({
  type: z
    .enum(['ipip', 'gue', 'gre'])
    .default('ipip')
    .describe('Encapsulation: ipip (default), gue or gre.'),
  port: z
    .number()
    .int()
    .min(1)
    .max(65535)
    .optional()
    .describe('GUE destination port (required with gue; gue only).'),
  checksum: z
    .enum(['none', 'csum', 'remcsum'])
    .default('none')
    .describe('none (default), csum (gue, gre) or remcsum (remote checksum offload, gue only).'),
})
  .describe('Tunnel settings for tun forwarding (kernel >= 5.3 for gue and gre).')
  .meta({ id: 'Tunnel' });

/** `check: false` switches off a check inherited from the service or from defaults. */
export const CheckSetting = z
  .union([CheckConfig.meta({ id: 'Check' }), z.literal(false)])
  .describe('Health check (see the check types), or false to switch off an inherited check.');

/** Fields a real inherits from its service and the service from `defaults:`. */
const realDefaults = {
  forwarding: ForwardingMethod.optional(),
  weight: Weight.optional(),
  upper: Upper.optional(),
  lower: Lower.optional(),
  tunnel: Tunnel.optional(),
  check: CheckSetting.optional(),
};

export const RealObject = strict({
  address: z
    .string()
    .describe(
      'Address with optional port: 192.168.10.2:80, 192.168.10.2 (the service port), "[2001:db8::2]:80", 2001:db8::2.',
    ),
  ...realDefaults,
});

export const Real = z
  .union([z.string(), RealObject])
  .describe('A real server: an address (shorthand) or an object with its own settings.')
  .meta({ id: 'Real' });

export const Persistence = z
  .union([
    z.boolean(),
    strict({
      timeout: seconds(1)
        .default(360)
        .describe(
          'Seconds a client stays with its real after its last connection. Default 360 (ipvsadm).',
        ),
      netmask: z
        .union([z.string(), z.number().int().min(0).max(128)])
        .optional()
        .describe(
          'Group clients by network: an IPv4 mask (255.255.255.0) or a prefix length ' +
            '(24; IPv6: 64). Default: one address.',
        ),
      engine: z
        .enum(['sip'])
        .optional()
        .describe('Persistence engine: sip (Call-ID of SIP over UDP).'),
    }),
  ])
  .describe('Persistence (ipvsadm -p): true for 360 s, or { timeout, netmask, engine }.');

export const Vip = z
  .union([
    z.string().min(1),
    strict({
      interface: z.string().min(1).describe('Interface to hold the address on.'),
      prefix: z
        .number()
        .int()
        .min(0)
        .max(128)
        .optional()
        .describe('Prefix length; default 32 (IPv4) or 128 (IPv6).'),
    }),
  ])
  .describe(
    'lvsd holds the service address on this interface (a name, or { interface, prefix }). Not for fwmark services.',
  );

export const ServiceConfig = strict({
  description: z.string().optional().describe('Free text, shown in plans and status.'),
  enabled: z
    .boolean()
    .optional()
    .describe('false leaves the service out (useful in host overrides). Default true.'),
  address: z
    .string()
    .optional()
    .describe(
      'Virtual address and port: 10.0.0.1:80, "[2001:db8::1]:80". ' +
        'No port (or :0) = all ports, which needs persistence.',
    ),
  protocol: z
    .enum(['tcp', 'udp', 'sctp'])
    .optional()
    .describe('tcp (default), udp or sctp. With address only.'),
  fwmark: z
    .number()
    .int()
    .min(1)
    .max(2 ** 32 - 1)
    .optional()
    .describe(
      'Firewall mark (ipvsadm -f) instead of address + protocol: the firewall marks the packets to balance.',
    ),
  family: z
    .enum(['ipv4', 'ipv6'])
    .optional()
    .describe(
      'Family of a fwmark service: ipv4 (default) or ipv6. Address services take it from the address.',
    ),
  scheduler: z
    .enum(SCHEDULERS)
    .optional()
    .describe(
      'Scheduler: rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh. Default wlc (as ipvsadm).',
    ),
  scheduler_flags: z
    .array(z.enum(SCHEDULER_FLAGS))
    .optional()
    .describe('sh-fallback, sh-port (scheduler sh) or mh-fallback, mh-port (scheduler mh).'),
  ops: z
    .boolean()
    .optional()
    .describe('One-packet scheduling (UDP only): every datagram is scheduled on its own.'),
  persistence: Persistence.optional(),
  ...realDefaults,
  reals: z
    .array(Real)
    .optional()
    .describe(
      'Real servers. Each inherits forwarding, weight, upper, lower, tunnel and check from the service.',
    ),
  sorry_server: z
    .string()
    .optional()
    .describe(
      'Address[:port] put in when no real is healthy or quorum is lost; forwarding as the service.',
    ),
  quorum: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('Minimum sum of healthy weights; below it the sorry server goes in.'),
  quorum_hysteresis: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe('Quorum is lost below quorum - N and regained at quorum + N. Default 0.'),
  alpha: z
    .boolean()
    .optional()
    .describe('Alpha mode: every real starts down until its check passes. Default false.'),
  vip: Vip.optional(),
}).meta({
  id: 'Service',
  description:
    'A virtual service: address + protocol, or fwmark + family; its scheduler, persistence and reals.',
});

export const SyncDaemonConfig = strict({
  state: z
    .enum(['master', 'backup'])
    .describe('master sends connection state, backup receives it.'),
  interface: z.string().min(1).describe('Interface for the sync multicast.'),
  syncid: z
    .number()
    .int()
    .min(0)
    .max(255)
    .default(0)
    .describe('Sync ID 0..255 (0 = any on backup). Default 0.'),
  syncmaxlen: z
    .number()
    .int()
    .min(1)
    .max(65535)
    .optional()
    .describe('Maximum sync message length.'),
  mcast_group: z.string().optional().describe('Multicast group (default 224.0.0.81).'),
  mcast_port: z
    .number()
    .int()
    .min(1)
    .max(65535)
    .optional()
    .describe('Multicast port (default 8848).'),
  mcast_ttl: z.number().int().min(1).max(255).optional().describe('Multicast TTL (default 1).'),
}).meta({
  id: 'SyncDaemon',
  description: 'A connection synchronisation daemon (ipvsadm --start-daemon).',
});

export const SYSCTL_NAMES = {
  ip_forward: 'net.ipv4.ip_forward',
  ipv6_forwarding: 'net.ipv6.conf.all.forwarding',
  expire_quiescent_template: 'net.ipv4.vs.expire_quiescent_template',
  expire_nodest_conn: 'net.ipv4.vs.expire_nodest_conn',
  conn_reuse_mode: 'net.ipv4.vs.conn_reuse_mode',
  sloppy_tcp: 'net.ipv4.vs.sloppy_tcp',
  sloppy_sctp: 'net.ipv4.vs.sloppy_sctp',
  conntrack: 'net.ipv4.vs.conntrack',
  schedule_icmp: 'net.ipv4.vs.schedule_icmp',
  snat_reroute: 'net.ipv4.vs.snat_reroute',
} as const;

const Flag = (description: string) => z.boolean().optional().describe(description);

export const SysctlConfig = strict({
  ip_forward: Flag('net.ipv4.ip_forward: needed by NAT services.'),
  ipv6_forwarding: Flag('net.ipv6.conf.all.forwarding: needed by IPv6 NAT services.'),
  expire_quiescent_template: Flag(
    'net.ipv4.vs.expire_quiescent_template: persistent clients leave a real at weight 0.',
  ),
  expire_nodest_conn: Flag(
    'net.ipv4.vs.expire_nodest_conn: drop connections of deleted reals at once.',
  ),
  conn_reuse_mode: z
    .union([z.literal(0), z.literal(1), z.literal(2)])
    .optional()
    .describe(
      'net.ipv4.vs.conn_reuse_mode 0|1|2: 1 reschedules reused ports, so drains take effect.',
    ),
  sloppy_tcp: Flag(
    'net.ipv4.vs.sloppy_tcp: accept connections from any TCP state (for sync backups).',
  ),
  sloppy_sctp: Flag('net.ipv4.vs.sloppy_sctp: the same for SCTP.'),
  conntrack: Flag(
    'net.ipv4.vs.conntrack: keep conntrack entries for IPVS connections (needed with NAT + netfilter).',
  ),
  schedule_icmp: Flag('net.ipv4.vs.schedule_icmp: schedule ICMP packets.'),
  snat_reroute: Flag('net.ipv4.vs.snat_reroute: re-route NAT replies by source.'),
}).describe('Sysctls lvsd holds (booleans written as 0/1). Absent = left alone.');

export const KernelConfig = strict({
  timeouts: strict({
    tcp: seconds(1)
      .optional()
      .describe('TCP established timeout (ipvsadm --set). Default kernel 900s.'),
    tcpfin: seconds(1).optional().describe('TCP FIN_WAIT timeout. Kernel default 120s.'),
    udp: seconds(1).optional().describe('UDP timeout. Kernel default 300s.'),
  })
    .optional()
    .describe('Connection timeouts, as durations or seconds. Absent = left alone.'),
  sync: z
    .union([SyncDaemonConfig, z.array(SyncDaemonConfig), z.literal('none')])
    .optional()
    .describe(
      'Connection sync daemon(s): one, a list (master and backup), or none / [] (stop any). Absent = left alone.',
    ),
  sysctl: SysctlConfig.optional(),
}).meta({
  id: 'Kernel',
  description:
    'Kernel-wide IPVS settings: timeouts, sync daemons, sysctls. What is absent is left alone.',
});

export const ExtraVip = strict({
  address: z.string().describe('Address with optional prefix: 10.0.0.1/32, 2001:db8::1/128.'),
  interface: z.string().min(1).describe('Interface to hold it on.'),
}).meta({ id: 'ExtraVip', description: 'An address lvsd holds on an interface.' });

export const DefaultsConfig = strict({
  scheduler: z
    .enum(SCHEDULERS)
    .optional()
    .describe('Scheduler of services that name none. Default wlc.'),
  ...realDefaults,
})
  .describe(
    'Inherited by every service (and through it by every real) that does not set the field.',
  )
  .meta({ id: 'Defaults' });

export const ReconcileConfig = strict({
  drain_timeout: Duration.optional().describe(
    'A removed real keeps its connections at weight 0 this long before deletion; 0 deletes at once. Default 60s.',
  ),
  prune: z
    .enum(['managed', 'all'])
    .optional()
    .describe('managed (default): remove only services lvsd created; all: also foreign ones.'),
  drift_interval: Duration.optional().describe(
    'How often the daemon re-reads the kernel and repairs drift; 0 = never. Default 30s.',
  ),
  max_removal: z
    .string()
    .regex(/^(100|[1-9]?[0-9])%$/, 'a share from 0% to 100%, such as 50%')
    .optional()
    .describe(
      'The largest share of the managed services one change may remove; removing every one is refused ' +
        'too. Default 50%.',
    ),
  allow_mass_removal: z
    .boolean()
    .optional()
    .describe(
      'Let the daemon apply a change that removes more than max_removal, or every service (say so for one ' +
        'reload, then remove it).',
    ),
});

export const HostOverride = strict({
  defaults: DefaultsConfig.optional(),
  kernel: KernelConfig.optional(),
  services: z
    .record(z.string(), ServiceConfig)
    .optional()
    .describe(
      'Per-service fields for this host (merged over the base; lists replace); ' +
        'a new name adds a service; enabled: false drops one.',
    ),
  vips: z.array(ExtraVip).optional().describe('Replaces the top-level vips for this host.'),
  vrrp: VrrpOverride.optional(),
}).describe("A host's overrides, merged over the base config when lvsd runs on that host.");

export const ConfigFile = strict({
  defaults: DefaultsConfig.optional(),
  kernel: KernelConfig.optional(),
  services: z
    .record(z.string(), ServiceConfig)
    .optional()
    .describe('Virtual services by name, in the order they are applied.'),
  vips: z
    .array(ExtraVip)
    .optional()
    .describe("Extra addresses lvsd holds besides services' own vip."),
  reconcile: ReconcileConfig.optional(),
  vrrp: VrrpConfig.optional(),
  announce: AnnounceConfig.optional(),
  hosts: z
    .record(z.string(), HostOverride)
    .optional()
    .describe("Overrides per host name (the machine's hostname, or --host NAME)."),
}).describe(
  'lvsd configuration: virtual services, real servers, health checks and kernel settings.',
);

export type ConfigFile = z.infer<typeof ConfigFile>;
export type ServiceConfig = z.infer<typeof ServiceConfig>;
export type RealObject = z.infer<typeof RealObject>;
export type DefaultsConfig = z.infer<typeof DefaultsConfig>;
export type KernelConfig = z.infer<typeof KernelConfig>;
export type SyncDaemonConfig = z.infer<typeof SyncDaemonConfig>;
export type TunnelConfig = z.infer<typeof Tunnel>;
export type CheckSetting = z.infer<typeof CheckSetting>;
