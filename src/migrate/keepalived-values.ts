/**
 * keepalived's readers for keyword values (lib/parser.c, check_parser.c): unsigned
 * numbers in a range, timers in seconds with up to six decimals, on/off words, addresses
 * with a separate port word, and lvs_method with its tunnel options. Each throws a
 * ValueError naming what is wrong; the parser reports it at the keyword's line.
 */
import type { Family } from '../ipvs/model.js';
import { canonicalAddress, familyOf, ipv4MaskToPrefix } from '../netlink/inet.js';
import type { Address, LvsMethod } from './keepalived-model.js';

export class ValueError extends Error {}

export function word(words: readonly string[], i: number, what: string): string {
  const value = words[i];
  if (value === undefined) throw new ValueError(`${words[0]} needs ${what}`);
  return value;
}

export function unsigned(text: string, min: number, max: number, what: string): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max)
    throw new ValueError(`${what} '${text}' must be a whole number from ${min} to ${max}`);
  return Number(text);
}

/** read_timer(): seconds, up to 6 decimals; milliseconds out. */
export function timerMs(text: string, what: string, min = 0): number {
  if (!/^\d+(\.\d{1,6})?$/.test(text))
    throw new ValueError(`${what} '${text}' is not a time in seconds`);
  const ms = Math.round(Number(text) * 1000);
  if (Number(text) * 1e6 < min * 1e6)
    throw new ValueError(`${what} '${text}' must be at least ${min}s`);
  return ms;
}

/** check_true_false(): a missing word means on. */
export function onOff(words: readonly string[], i: number): boolean {
  const value = words[i];
  if (value === undefined) return true;
  if (['true', 'on', 'yes'].includes(value)) return true;
  if (['false', 'off', 'no'].includes(value)) return false;
  throw new ValueError(`${words[0]} '${value}' must be on/off, true/false or yes/no`);
}

/** inet_stosockaddr(ip, port): a numeric address (IPv6 with or without brackets), port 0 = none. */
export function address(ip: string, port: string | undefined, what: string): Address {
  const host = ip.replace(/^\[(.*)\]$/, '$1');
  const family = familyOf(host);
  if (!family)
    throw new ValueError(
      `${what} '${ip}' is not an IP address (keepalived takes numeric addresses)`,
    );
  const value =
    port === undefined || /^0+$/.test(port) ? 0 : unsigned(port, 1, 65535, `${what} port`);
  return { address: canonicalAddress(host) as string, family, port: value };
}

const TUNNEL_TYPES = ['ipip', 'gue', 'gre'] as const;

/** lvs_method NAT|DR|TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum] (svr_forwarding_handler). */
export function forwarding(words: readonly string[]): LvsMethod {
  const method = word(words, 1, 'NAT, DR or TUN');
  const out: LvsMethod = { method: 'nat', tunnelType: 'ipip', tunnelPort: 0, checksum: 'none' };
  if (method === 'NAT' || method === 'DR' || method === 'TUN')
    out.method = method === 'NAT' ? 'nat' : method === 'DR' ? 'dr' : 'tun';
  else throw new ValueError(`unknown [${method}] routing method: NAT, DR or TUN`);
  for (let i = 2; i < words.length; i++) {
    const option = words[i] as string;
    if (option === 'type') {
      const type = word(words, ++i, 'a tunnel type');
      if (!(TUNNEL_TYPES as readonly string[]).includes(type))
        throw new ValueError(`unknown tunnel type ${type}`);
      out.tunnelType = type as LvsMethod['tunnelType'];
    } else if (option === 'port')
      out.tunnelPort = unsigned(word(words, ++i, 'a port'), 1, 65535, 'gue tunnel port');
    else if (option === 'nocsum' || option === 'csum' || option === 'remcsum')
      out.checksum = option === 'nocsum' ? 'none' : option;
    else throw new ValueError(`invalid tunnel option ${option}`);
  }
  if ((out.tunnelType === 'gue') !== (out.tunnelPort !== 0))
    throw new ValueError('gue tunnels require port, otherwise cannot have port');
  if (out.tunnelType === 'ipip' && out.checksum !== 'none')
    throw new ValueError('ipip tunnels do not support checksum option');
  if (out.tunnelType === 'gre' && out.checksum === 'remcsum')
    throw new ValueError('gre tunnels do not support remote checksum option');
  return out;
}

/** persistence_granularity: an IPv4 netmask (contiguous, for lvsd) or an IPv6 prefix length. */
export function granularity(text: string, family: Family | undefined): number {
  const v4 = family === 'ipv4' || (family === undefined && text.includes('.'));
  if (!v4) return unsigned(text, 1, 128, 'IPv6 persistence_granularity');
  const prefix = ipv4MaskToPrefix(text);
  if (prefix === null)
    throw new ValueError(
      `persistence_granularity ${text} is not a contiguous IPv4 netmask: lvsd keeps masks as prefix lengths`,
    );
  return prefix;
}
