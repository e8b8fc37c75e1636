/**
 * Addresses as written in the config ("10.0.0.1:80", "[2001:db8::1]:80", "2001:db8::2",
 * "10.0.0.1/32"), parsed into canonical kernel-model spelling, or a message saying why not.
 */
import { canonicalAddress, familyOf } from '../netlink/inet.js';
import type { Family } from '../ipvs/model.js';

export interface HostPort {
  address: string;
  family: Family;
  /** null when the text has no port. */
  port: number | null;
}

const NOT_AN_ADDRESS =
  'IPVS balances IP addresses; write an IPv4 or IPv6 address (lvsd does not resolve names, so DNS cannot change the table)';

export function parseHostPort(text: string): HostPort | { error: string } {
  const trimmed = text.trim();
  let host = trimmed;
  let portText: string | null = null;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(trimmed);
  if (bracketed) {
    host = bracketed[1] as string;
    portText = bracketed[2] ?? null;
  } else if (trimmed.indexOf(':') !== -1 && trimmed.indexOf(':') === trimmed.lastIndexOf(':')) {
    const colon = trimmed.indexOf(':');
    host = trimmed.slice(0, colon);
    portText = trimmed.slice(colon + 1);
  }
  const family = familyOf(host);
  if (family === null) {
    if (
      /^[0-9a-fA-F:]+:\d+$/.test(trimmed) &&
      familyOf(trimmed.slice(0, trimmed.lastIndexOf(':'))) === 'ipv6'
    ) {
      return {
        error: `'${text}' is ambiguous: write an IPv6 address with a port in brackets, "[${trimmed.slice(0, trimmed.lastIndexOf(':'))}]:${trimmed.slice(trimmed.lastIndexOf(':') + 1)}"`,
      };
    }
    return { error: `'${text}' is not an IP address: ${NOT_AN_ADDRESS}` };
  }
  if (bracketed && family !== 'ipv6')
    return { error: `'${text}': brackets are for IPv6 addresses only` };
  let port: number | null = null;
  if (portText !== null) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535)
      return { error: `'${portText}' in '${text}' is not a port (0..65535)` };
    port = Number(portText);
  }
  return { address: canonical(host, family), family, port };
}

const ipv6Spellings = new Map<string, string>();

/**
 * Node's isIPv4 accepts only the canonical dotted quad (no leading zeros), so an IPv4
 * address is already canonical; IPv6 spellings are canonicalised once each (a farm names
 * the same reals under many services).
 */
function canonical(host: string, family: Family): string {
  if (family === 'ipv4') return host;
  let spelled = ipv6Spellings.get(host);
  if (spelled === undefined) {
    spelled = canonicalAddress(host) as string;
    if (ipv6Spellings.size < 100_000) ipv6Spellings.set(host, spelled);
  }
  return spelled;
}

export function parsePrefixed(
  text: string,
): { address: string; family: Family; prefix: number | null } | { error: string } {
  const [host = '', prefixText, extra] = text.trim().split('/');
  const family = familyOf(host);
  if (family === null || extra !== undefined)
    return {
      error: `'${text}' is not an address with an optional prefix (10.0.0.1/32, 2001:db8::1/128)`,
    };
  if (prefixText === undefined) return { address: canonical(host, family), family, prefix: null };
  const max = family === 'ipv4' ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max)
    return { error: `'/${prefixText}' is not a prefix length for ${family} (0..${max})` };
  return { address: canonical(host, family), family, prefix: Number(prefixText) };
}
