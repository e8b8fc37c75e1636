/**
 * The addresses a config asks the director to hold: each service's `vip:` and the top-level
 * `vips:`, without repeats (several services on one VIP share one address).
 */
import type { ResolvedConfig } from '../config/resolved.js';
import { sameHeldAddress, type HeldAddress } from './vip-addresses.js';

export function desiredVips(config: Pick<ResolvedConfig, 'services' | 'vips'>): HeldAddress[] {
  const out: HeldAddress[] = [];
  const wanted = [
    ...config.services.flatMap((s) => (s.vip ? [s.vip] : [])),
    ...(config.vips ?? []),
  ];
  for (const vip of wanted) {
    const held = { address: vip.address, prefix: vip.prefix, interface: vip.interface };
    if (!out.some((a) => sameHeldAddress(a, held))) out.push(held);
  }
  return out;
}
