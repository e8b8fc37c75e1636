/**
 * Real servers and the sorry server of one keepalived virtual server, as the kernel gets
 * them (validate_check_config and ipvswrapper.c): duplicates dropped, forwarding from the
 * virtual server (NAT when neither says), weight from the virtual server's `weight`
 * (1), and ports corrected as keepalived corrects them: a NAT real without a port takes
 * the virtual server's, DR and TUN reals always have it, reals of a fwmark service have
 * none unless NAT.
 */
import { SCHEDULERS } from '../config/schema.js';
import type { Dest, Family, Service } from '../ipvs/model.js';
import { isFwmarkKey } from '../ipvs/model.js';
import type { CheckContext } from './keepalived-check-common.js';
import { realServerCheck } from './keepalived-checks.js';
import type {
  Address,
  LvsMethod,
  RealServer,
  SslSettings,
  VirtualServer,
} from './keepalived-model.js';
import { realAddress } from './lvsd-fields.js';
import type { ImportedReal, SourcePos } from './types.js';

export const NAT: LvsMethod = {
  method: 'nat',
  tunnelType: 'ipip',
  tunnelPort: 0,
  checksum: 'none',
};

export interface VsContext {
  vs: VirtualServer;
  ssl: SslSettings | undefined;
  warn(pos: SourcePos, message: string): void;
  note(message: string): void;
}

export function lvsdScheduler(name: string): boolean {
  return (SCHEDULERS as readonly string[]).includes(name);
}

/**
 * The real servers keepalived keeps: one per address and port, of the service's family or
 * tunnelled, with thresholds the kernel takes.
 */
export function keptReals(ctx: VsContext, families: ReadonlySet<Family>): RealServer[] {
  const seen = new Set<string>();
  return ctx.vs.reals.filter((rs) => {
    const key = `${rs.addr.address}|${rs.addr.port}`;
    if (seen.has(key)) {
      ctx.warn(
        rs.pos,
        `real server ${rs.origin.slice(12)} is duplicated: keepalived removes the second, so does the import`,
      );
      return false;
    }
    seen.add(key);
    const method = (rs.forwarding ?? ctx.vs.forwarding ?? NAT).method;
    if (method !== 'tun' && !families.has(rs.addr.family)) {
      ctx.warn(
        rs.pos,
        `address family of virtual server and real server ${rs.addr.address} don't ` +
          `match: keepalived skips the real server`,
      );
      return false;
    }
    if (rs.lthreshold > rs.uthreshold) {
      ctx.warn(
        rs.pos,
        `real server ${rs.addr.address}: lthreshold ${rs.lthreshold} is above uthreshold ` +
          `${rs.uthreshold || '0 (none)'}: the kernel refuses it (ERANGE), so keepalived never adds it; ` +
          'not imported (set uthreshold above lthreshold)',
      );
      return false;
    }
    return true;
  });
}

/** The port keepalived programs for a real (or sorry) server of this service. */
export function destPort(addr: Address, forwarding: LvsMethod, service: Service): number {
  if (isFwmarkKey(service)) return forwarding.method === 'nat' ? addr.port : 0;
  if (forwarding.method !== 'nat') return service.port;
  return addr.port;
}

/** keepalived's port corrections, reported as keepalived reports them (plain virtual servers only). */
export function portWarnings(
  ctx: VsContext,
  rs: { addr: Address; pos: SourcePos },
  forwarding: LvsMethod,
  grouped: boolean,
) {
  const id = ctx.vs.id;
  if (forwarding.method === 'nat' || rs.addr.port === 0 || grouped) return;
  if (id.kind === 'fwmark')
    ctx.warn(
      rs.pos,
      `fwmark virtual server, server ${rs.addr.address} has port ${rs.addr.port} ` +
        `specified: keepalived clears it (${forwarding.method.toUpperCase()} keeps the packet's port)`,
    );
  else if (id.kind === 'address' && rs.addr.port !== id.addr.port)
    ctx.warn(
      rs.pos,
      `virtual server and server ${rs.addr.address} ports don't match: keepalived ` +
        `resets it to ${id.addr.port} (${forwarding.method.toUpperCase()} cannot change ports)`,
    );
}

export function destOf(
  addr: Address,
  forwarding: LvsMethod,
  service: Service,
  weight: number,
): Dest {
  const port =
    isFwmarkKey(service) || forwarding.method !== 'nat' || addr.port !== 0
      ? destPort(addr, forwarding, service)
      : service.port;
  return {
    address: addr.address,
    port,
    family: addr.family,
    forwarding: forwarding.method,
    weight: Math.min(weight, 65535),
    upperThreshold: 0,
    lowerThreshold: 0,
    tunnelType: forwarding.tunnelType,
    tunnelPort: forwarding.tunnelPort,
    tunnelFlags: {
      csum: forwarding.checksum === 'csum',
      remcsum: forwarding.checksum === 'remcsum',
    },
  };
}

/** One real server of one service: its dest and its check. */
export function importedReal(
  ctx: VsContext,
  rs: RealServer,
  service: Service,
  grouped: boolean,
): ImportedReal {
  const forwarding = rs.forwarding ?? ctx.vs.forwarding ?? NAT;
  portWarnings(ctx, rs, forwarding, grouped);
  let dest = destOf(rs.addr, forwarding, service, rs.weight ?? ctx.vs.weight);
  // A NAT real without a port gets the virtual server's, except in a group, where keepalived sends 0.
  if (grouped && forwarding.method === 'nat' && rs.addr.port === 0 && !isFwmarkKey(service))
    dest = { ...dest, port: 0 };
  dest.upperThreshold = rs.uthreshold;
  dest.lowerThreshold = rs.lthreshold;
  const checkCtx: CheckContext = {
    vs: ctx.vs,
    rs,
    ssl: ctx.ssl,
    warn: ctx.warn,
    note: ctx.note,
  };
  const check = realServerCheck(checkCtx, dest.port === 0);
  return { dest, source: rs.pos, origin: rs.origin, ...(check ? { check } : {}), notes: [] };
}

/** The sorry server as lvsd's sorry_server (forwarding and tunnel are the service's in lvsd). */
export function sorryServer(ctx: VsContext, service: Service): string | undefined {
  const sorry = ctx.vs.sorry;
  if (!sorry) return undefined;
  const forwarding = sorry.forwarding ?? ctx.vs.forwarding ?? NAT;
  const serviceForwarding = ctx.vs.forwarding ?? NAT;
  if (forwarding.method !== serviceForwarding.method)
    ctx.warn(
      sorry.pos,
      `sorry_server_lvs_method ${forwarding.method.toUpperCase()} is not imported: ` +
        `lvsd forwards to the sorry server as to the service's reals (${serviceForwarding.method.toUpperCase()})`,
    );
  if (sorry.inhibit)
    ctx.note(
      'sorry_server_inhibit: lvsd drains the sorry server (weight 0, then out) when quorum returns',
    );
  portWarnings(ctx, sorry, forwarding, false);
  const dest = destOf(sorry.addr, forwarding, service, 1);
  if (sorry.addr.port === 0 && forwarding.method === 'nat' && !isFwmarkKey(service)) dest.port = 0;
  return realAddress(dest, service);
}
