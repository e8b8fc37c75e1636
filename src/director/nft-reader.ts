/**
 * Reads, never writes, which marks the firewall sets: one NFT_MSG_GETRULE dump over
 * NETLINK_NETFILTER (every family, every table), decoded by fwmark-rules.ts. iptables-legacy
 * keeps its rules in x_tables, which has no netlink interface (only getsockopt on a raw
 * socket), so a legacy mangle table is reported as unread instead of guessed at.
 */
import { readFile } from 'node:fs/promises';
import { FlagsGet, Protocol } from 'netlink/dist/constants.js';
// Not through the package's index: that loads nl80211 and wireguard too (5 MiB resident).
import { createNetlink, type NetlinkSocket } from 'netlink/dist/netlink.js';
import { marksOfRule, mergeRuleMarks, type RuleMarks } from './fwmark-rules.js';
import type { MarkScan } from './fwmark-advice.js';

const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_GETRULE = 7;
const NFT_MSG_NEWRULE = 6;
/** struct nfgenmsg: family (NFPROTO_UNSPEC = every family), version (NFNETLINK_V0), res_id. */
const NFGENMSG_ALL_FAMILIES = Buffer.from([0, 0, 0, 0]);

async function legacyMangleTables(): Promise<string[]> {
  const found: string[] = [];
  for (const [file, label] of [
    ['/proc/net/ip_tables_names', 'iptables-legacy mangle table'],
    ['/proc/net/ip6_tables_names', 'ip6tables-legacy mangle table'],
  ] as const) {
    const names = await readFile(file, 'utf8').catch(() => '');
    if (names.split('\n').includes('mangle')) found.push(label);
  }
  return found;
}

async function dumpRules(socket: NetlinkSocket): Promise<RuleMarks[]> {
  const type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETRULE;
  const [messages] = await socket.request(type, NFGENMSG_ALL_FAMILIES, {
    flags: FlagsGet.DUMP,
    timeout: 5000,
  });
  return messages
    .filter((m) => (m.type & 0xff) === NFT_MSG_NEWRULE)
    .map((m) => marksOfRule(m.data.subarray(NFGENMSG_ALL_FAMILIES.length)));
}

/** The marks the firewall sets; null when nftables cannot be read at all (no nf_tables, no permission). */
export async function readMarkRules(): Promise<MarkScan | null> {
  const unread = await legacyMangleTables();
  let socket: NetlinkSocket | undefined;
  try {
    socket = createNetlink(Protocol.NETFILTER);
    return mergeRuleMarks(await dumpRules(socket), unread);
  } catch {
    // nf_tables absent (or not permitted): nothing in nftables can set a mark, but
    // iptables-legacy might; only the legacy side is then unknown.
    return unread.length ? mergeRuleMarks([], unread) : null;
  } finally {
    socket?.socket.close();
  }
}
