/**
 * Addresses as written in the config ("10.0.0.1:80", "[2001:db8::1]:80", "2001:db8::2",
 * "10.0.0.1/32"), parsed into canonical kernel-model spelling, or a message saying why not.
 */
import { canonicalAddress, familyOf } from '../netlink/inet.js';
import type { Family } from '../ipvs/model.js';
import { excerpt } from './excerpt.js';

export interface HostPort {
  address: string;
  family: Family;
  /** null when the text has no port. */
  port: number | null;
}

const NOT_AN_ADDRESS =
  'IPVS balances IP addresses; write an IPv4 or IPv6 address ' +
  '(lvsd does not resolve names, so DNS cannot change the table)';

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
    const split = portSplit(trimmed);
    if (split !== null)
      return {
        error:
          `'${excerpt(text)}' is not an IP address; an IPv6 address with a port is written ` +
          `in brackets: "${excerpt(`[${split.host}]:${split.port}`)}"`,
      };
    return { error: `'${excerpt(text)}' is not an IP address: ${NOT_AN_ADDRESS}` };
  }
  if (bracketed && family !== 'ipv6')
    return { error: `'${excerpt(text)}': brackets are for IPv6 addresses only` };
  let port: number | null = null;
  if (portText !== null) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535)
      return { error: `'${excerpt(portText)}' in '${excerpt(text)}' is not a port (0..65535)` };
    port = Number(portText);
  }
  return { address: canonical(host, family), family, port };
}

/**
 * An address that may carry a port: a service's, a real's, the sorry server's. As
 * parseHostPort, but "2001:db8::1:80" is refused: it is a valid IPv6 address, and also,
 * to anyone used to IPv4, address 2001:db8::1 with port 80. Read as the address, a real
 * would silently get traffic meant for another host; brackets say which was meant.
 */
export function parseEndpoint(text: string): HostPort | { error: string } {
  const parsed = parseHostPort(text);
  const trimmed = text.trim();
  if ('error' in parsed || parsed.family !== 'ipv6' || trimmed.startsWith('[')) return parsed;
  const split = portSplit(trimmed);
  if (split === null) return parsed;
  return {
    error:
      `'${excerpt(text)}' is ambiguous: write "${excerpt(`[${split.host}]:${split.port}`)}" ` +
      `for port ${split.port} of ${excerpt(split.host)}, or "${excerpt(`[${trimmed}]`)}" ` +
      'for this address without a port (quoted: unquoted, [ starts a YAML list)',
  };
}

/**
 * 2001:db8::1 and 80 for "2001:db8::1:80": the IPv6 address and the port that the text
 * also reads as, or null when it does not.
 */
function portSplit(text: string): { host: string; port: string } | null {
  const colon = text.lastIndexOf(':');
  const host = text.slice(0, colon);
  const port = text.slice(colon + 1);
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535 || familyOf(host) !== 'ipv6') return null;
  return { host, port };
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
      error:
        `'${excerpt(text)}' is not an address with an optional prefix ` +
        '(10.0.0.1/32, 2001:db8::1/128)',
    };
  if (prefixText === undefined) return { address: canonical(host, family), family, prefix: null };
  const max = family === 'ipv4' ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max)
    return {
      error: `'/${excerpt(prefixText)}' is not a prefix length for ${family} (0..${max})`,
    };
  return { address: canonical(host, family), family, prefix: Number(prefixText) };
}
