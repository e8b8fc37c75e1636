/**
 * Plan advice about fwmark services that no firewall rule feeds. Pure and free of netlink:
 * the planner imports it, and the planner must load where the native binding cannot
 * (`lvsd validate`, `lvsd plan --state` on a laptop or CI runner). Reading the rules is
 * fwmark-rules.ts and nft-reader.ts.
 */

export interface MarkScan {
  /** Marks some rule sets to a known value. */
  marks: number[];
  /** Some rule sets a mark lvsd cannot compute (ct mark, maps, bitwise, CONNMARK...). */
  opaque: boolean;
  /** Rule sources lvsd could not read, e.g. the iptables-legacy mangle table. */
  unread: string[];
}

export interface FwmarkService {
  name: string;
  fwmark: number;
  family: string;
}

/** Plan advice: fwmark services whose mark no rule sets. */
export function fwmarkAdvice(services: FwmarkService[], scan: MarkScan | undefined): string[] {
  if (!scan || services.length === 0) return [];
  const missing = services.filter((s) => !scan.marks.includes(s.fwmark));
  if (missing.length === 0 || scan.opaque) return [];
  const marks = [...new Set(missing.map((s) => s.fwmark))].sort((a, b) => a - b);
  if (scan.unread.length) {
    return [
      `cannot tell whether firewall rules set mark ${marks.join(', ')}: lvsd reads nftables (and iptables-nft) ` +
        `rules only, not ${scan.unread.join(', ')}`,
    ];
  }
  return missing.map(
    (s) =>
      `fwmark ${s.fwmark} (${s.name}): no nftables or iptables rule sets mark ${s.fwmark}, so no packet ` +
      `reaches this service; ` +
      `add one, e.g. iptables -t mangle -A PREROUTING -d <VIP> -p tcp -m multiport --dports 80,443 -j MARK ` +
      `--set-mark ${s.fwmark} (docs/forwarding.md)`,
  );
}
