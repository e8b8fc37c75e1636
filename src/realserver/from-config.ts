/**
 * The VIPs a real server needs, read from the director's own config: every DR or TUN
 * service that lists one of this host's addresses as a real (or every DR / TUN service
 * with --all). fwmark services have no address of their own, so their VIPs must be given
 * with --vip; they are reported, not guessed.
 */
import type { ResolvedConfig } from '../config/resolved.js';
import { isFwmarkKey } from '../ipvs/model.js';
import type { RealServerMode, RealServerVip } from './plan.js';

export interface VipsFromConfig {
  vips: RealServerVip[];
  /** Why something was left out, for the user. */
  notes: string[];
}

export function realServerVips(
  config: Pick<ResolvedConfig, 'services'>,
  localAddresses: ReadonlySet<string>,
  all = false,
): VipsFromConfig {
  const vips: RealServerVip[] = [];
  const notes: string[] = [];
  for (const service of config.services) {
    const mine = service.reals.filter(
      (r) =>
        (r.dest.forwarding === 'dr' || r.dest.forwarding === 'tun') &&
        (all || localAddresses.has(r.dest.address)),
    );
    const first = mine[0];
    if (!first) continue;
    const mode = first.dest.forwarding as RealServerMode;
    for (const real of mine.filter(
      (r) => r.dest.forwarding === 'tun' && r.dest.tunnelType !== 'ipip',
    )) {
      const how =
        real.dest.tunnelType === 'gue'
          ? `ip fou add port ${real.dest.tunnelPort} gue`
          : 'a gre / gretap receiver';
      notes.push(
        `${service.name}: real ${real.dest.address} receives ${real.dest.tunnelType.toUpperCase()}, not plain ` +
          `IPIP; lvsd realserver sets up tunl0, add the decapsulation yourself (${how})`,
      );
    }
    if (mine.some((r) => r.dest.forwarding !== mode))
      notes.push(
        `${service.name}: this host is a real both by DR and by TUN; using ${mode.toUpperCase()}`,
      );
    if (isFwmarkKey(service.service)) {
      notes.push(
        `${service.name}: fwmark ${service.service.fwmark} has no address of its own; give its VIPs with ` +
          `--vip ... --mode ${mode}`,
      );
      continue;
    }
    const address = service.service.address;
    const existing = vips.find((v) => v.address === address);
    if (existing && existing.mode !== mode)
      notes.push(`${address}: wanted by DR and TUN services; using ${existing.mode.toUpperCase()}`);
    if (!existing) vips.push({ address, mode });
  }
  return { vips, notes };
}
