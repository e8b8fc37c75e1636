/**
 * keepalived's virtual servers as lvsd services: the services keepalived programs (one
 * per virtual server, one per address and fwmark of a virtual_server_group), with the
 * defaults and corrections of validate_check_config() and ipvswrapper.c applied, and
 * warned about where keepalived itself warns. Output: an ImportResult for yaml-out.ts.
 */
import type { Family, Service } from '../ipvs/model.js';
import type { Group, KeepalivedConfig, VirtualServer } from './keepalived-model.js';
import {
  importedReal,
  keptReals,
  lvsdScheduler,
  NAT,
  sorryServer,
  type VsContext,
} from './keepalived-reals.js';
import { mapVrrp } from './keepalived-vrrp-map.js';
import { NamePool, nameFromComment, nameFromService } from './names.js';
import { completeImport, warningNote } from './result.js';
import type {
  Findings,
  ImportedKernel,
  ImportedService,
  ImportResult,
  SourcePos,
} from './types.js';

/** One IPVS service a virtual server stands for, before its settings. */
type Identity =
  | {
      kind: 'address';
      family: Family;
      address: string;
      port: number;
      pos: SourcePos;
      grouped: boolean;
    }
  | { kind: 'fwmark'; family: Family; fwmark: number; pos: SourcePos; grouped: boolean };

function identities(vs: VirtualServer, group: Group | undefined, fwmarkFamily: Family): Identity[] {
  const id = vs.id;
  if (id.kind === 'address') return [{ kind: 'address', ...id.addr, pos: vs.pos, grouped: false }];
  if (id.kind === 'fwmark')
    return [
      { kind: 'fwmark', family: fwmarkFamily, fwmark: id.fwmark, pos: vs.pos, grouped: false },
    ];
  return (group?.entries ?? []).flatMap((e): Identity[] =>
    e.kind === 'fwmark'
      ? [
          {
            kind: 'fwmark',
            family: e.family ?? fwmarkFamily,
            fwmark: e.fwmark,
            pos: e.pos,
            grouped: true,
          },
        ]
      : e.addresses.map((address) => ({
          kind: 'address',
          family: e.family,
          address,
          port: e.port,
          pos: e.pos,
          grouped: true,
        })),
  );
}

/** A fwmark service's family: ip_family, else its non-tunnelled servers', else IPv4 (vs_end_handler). */
function fwmarkFamily(vs: VirtualServer): Family {
  if (vs.ipFamily) return vs.ipFamily;
  const plain = vs.reals.find((rs) => (rs.forwarding ?? vs.forwarding ?? NAT).method !== 'tun');
  return plain?.addr.family ?? vs.sorry?.addr.family ?? vs.reals[0]?.addr.family ?? 'ipv4';
}

interface Settings {
  protocol: 'tcp' | 'udp' | 'sctp';
  timeout: number;
  ops: boolean;
  scheduler: string;
}

/** keepalived's corrections of protocol, one-packet scheduling and zero ports. */
function settings(ctx: VsContext, ids: Identity[]): Settings {
  const { vs } = ctx;
  const byAddress = ids.some((i) => i.kind === 'address');
  let protocol = vs.protocol ?? 'tcp';
  if (byAddress && !vs.protocol) {
    protocol = 'udp';
    ctx.warn(
      vs.pos,
      'no protocol set: keepalived 2.x defaults to UDP (and says so); add protocol TCP if TCP was meant',
    );
  }
  let ops = vs.flags.ops;
  if (ops && byAddress && protocol !== 'udp') {
    ops = false;
    ctx.warn(vs.pos, 'one packet scheduling requires UDP: keepalived resets ops');
  }
  let timeout = vs.persistenceTimeout ?? 0;
  if (timeout === 0 && ids.some((i) => i.kind === 'address' && i.port === 0)) {
    timeout = 360;
    ctx.warn(
      vs.pos,
      'zero port only valid for persistent services: keepalived sets persistence_timeout 360',
    );
  }
  if (!vs.scheduler) ctx.note('no lb_algo / lvs_sched: keepalived uses wlc');
  return { protocol, timeout, ops, scheduler: vs.scheduler ?? 'wlc' };
}

function serviceOf(ctx: VsContext, id: Identity, s: Settings): Service {
  const { vs } = ctx;
  const host = id.family === 'ipv4' ? 32 : 128;
  const key =
    id.kind === 'address'
      ? { family: id.family, protocol: s.protocol, address: id.address, port: id.port }
      : { family: id.family, fwmark: id.fwmark };
  const persistent = s.timeout > 0;
  const pe = persistent && vs.persistenceEngine === 'sip' ? 'sip' : null;
  return {
    ...key,
    scheduler: s.scheduler,
    flags: {
      persistent,
      onePacket: s.ops,
      sched1: vs.flags.sched1,
      sched2: vs.flags.sched2,
      sched3: vs.flags.sched3,
    },
    timeout: s.timeout,
    // keepalived sends the granularity for plain virtual servers only; group entries get a host mask.
    netmask: persistent && vs.granularity !== undefined && !id.grouped ? vs.granularity : host,
    pe,
  } as Service;
}

function persistenceWarnings(ctx: VsContext, grouped: boolean, persistent: boolean): void {
  const { vs } = ctx;
  if (grouped && persistent && vs.granularity !== undefined)
    ctx.warn(
      vs.pos,
      'persistence_granularity is not programmed for virtual_server_group entries ' +
        '(keepalived resets the mask per entry): imported as keepalived programs it, without a netmask',
    );
  if (vs.persistenceEngine && vs.persistenceEngine !== 'sip')
    ctx.warn(
      vs.pos,
      `persistence_engine ${vs.persistenceEngine} is not imported: the kernel and lvsd know sip only`,
    );
  if (vs.persistenceEngine === 'sip' && !persistent)
    ctx.warn(
      vs.pos,
      'persistence_engine sip without persistence_timeout: keepalived does not send it',
    );
}

function quorumOf(ctx: VsContext, svc: ImportedService): void {
  const { vs } = ctx;
  const total = svc.reals.reduce((sum, r) => sum + r.dest.weight, 0);
  let quorum = vs.quorum;
  if (quorum > total) {
    ctx.note(
      `quorum ${quorum} exceeds the total weight ${total}: keepalived reduces it to ${total}`,
    );
    quorum = total;
  }
  const hysteresis = Math.min(vs.hysteresis, Math.max(quorum - 1, 0));
  if (!svc.sorryServer) {
    if (vs.quorum !== 1)
      ctx.note(
        `quorum ${vs.quorum} without sorry_server only drives keepalived's quorum scripts; not imported`,
      );
    return;
  }
  if (quorum > 1) svc.quorum = quorum;
  if (quorum > 1 && hysteresis > 0) svc.hysteresis = hysteresis;
}

export interface MapContext {
  config: KeepalivedConfig;
  findings: Findings;
  names: NamePool;
}

/** A name from the comment just above (or the group's name); a comment too long for a name is the description. */
function baseName(
  vs: VirtualServer,
  group: Group | undefined,
): { name: string | null; description?: string } {
  const comment = vs.comments.at(-1) ?? group?.comments.at(-1);
  const fromComment = comment ? nameFromComment(comment) : null;
  const name = fromComment ?? (group ? nameFromComment(group.name.replace(/_/g, ' ')) : null);
  return comment && !fromComment ? { name, description: comment } : { name };
}

function vsContext(m: MapContext, vs: VirtualServer, notes: string[]): VsContext {
  return {
    vs,
    ssl: m.config.ssl,
    warn: (pos, message) => {
      m.findings.warning(pos, message);
      notes.push(warningNote({ ...pos, message }));
    },
    note: (message) => notes.push(`NOTE ${message}`),
  };
}

/** The services of one virtual server (none when keepalived would ignore it). */
export function mapVirtualServer(m: MapContext, vs: VirtualServer): ImportedService[] {
  const notes = [
    ...vs.warnings.map((w) => warningNote({ ...w.pos, message: w.message })),
    ...vs.notes.map((n) => `NOTE ${n}`),
  ];
  const ctx = vsContext(m, vs, notes);
  const group = vs.id.kind === 'group' ? m.config.groups.get(vs.id.name) : undefined;
  if (vs.id.kind === 'group' && !group) {
    m.findings.error(
      vs.pos,
      `virtual_server group ${vs.id.name}: no virtual_server_group ${vs.id.name} is defined`,
    );
    return [];
  }
  if (vs.reals.length === 0) {
    m.findings.warning(
      vs.pos,
      `${vs.origin} has no real servers: keepalived ignores it, and so does the import`,
    );
    return [];
  }
  const scheduler = vs.scheduler ?? 'wlc';
  if (!lvsdScheduler(scheduler)) {
    m.findings.warning(
      vs.pos,
      `${vs.origin} is not imported: lvsd does not know the ${scheduler} scheduler`,
    );
    return [];
  }
  const ids = identities(vs, group, fwmarkFamily(vs));
  const s = settings(ctx, ids);
  persistenceWarnings(
    ctx,
    ids.some((i) => i.grouped),
    s.timeout > 0,
  );
  const { name: base, description } = baseName(vs, group);
  const out: ImportedService[] = [];
  for (const id of ids) {
    const service = serviceOf(ctx, id, s);
    const reals = keptReals(ctx, new Set([id.family])).map((rs) =>
      importedReal(ctx, rs, service, id.grouped),
    );
    const name =
      base && ids.length === 1
        ? base
        : base
          ? `${base}-${nameFromService(service)}`
          : nameFromService(service);
    const svc: ImportedService = {
      name: m.names.claim(name),
      ...(description ? { description } : {}),
      source: vs.pos,
      origin: id.grouped ? `${vs.origin}, entry at ${id.pos.file}:${id.pos.line}` : vs.origin,
      service,
      reals,
      forwarding: (vs.forwarding ?? NAT).method,
      notes,
    };
    const sorry = sorryServer(ctx, service);
    if (sorry) svc.sorryServer = sorry;
    if (vs.alpha) svc.alpha = true;
    quorumOf(ctx, svc);
    out.push(svc);
  }
  return dedupeNotes(out);
}

/** Each service of a group repeats the group's notes; each note once per service. */
function dedupeNotes(services: ImportedService[]): ImportedService[] {
  return services.map((s) => ({ ...s, notes: [...new Set(s.notes)] }));
}

function kernelOf(config: KeepalivedConfig): ImportedKernel {
  const t = config.timeouts;
  if (!t) return {};
  const timeouts = {
    tcp: t.tcp || undefined,
    tcpfin: t.tcpfin || undefined,
    udp: t.udp || undefined,
  };
  return Object.values(timeouts).some((v) => v !== undefined) ? { timeouts } : {};
}

export function mapKeepalived(
  config: KeepalivedConfig,
  findings: Findings,
  files: string[],
): ImportResult {
  const m: MapContext = { config, findings, names: new NamePool() };
  const services = config.virtualServers.flatMap((vs) => mapVirtualServer(m, vs));
  const { vrrp, sync } = mapVrrp(config.vrrp, findings);
  return completeImport({
    from: 'keepalived',
    files,
    services,
    kernel: { ...kernelOf(config), ...(sync ? { sync } : {}) },
    ...(vrrp ? { vrrp } : {}),
    notes: [],
    diagnostics: findings.list,
  });
}
