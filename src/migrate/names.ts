/**
 * Service names for imported configs: from a comment the author put just before the
 * service, else from what the service is ("tcp-10-0-0-1-80", "fwm-1", "fwm-20-ipv6").
 * Names are stable (the same input gives the same names) and unique within one import.
 */
import type { Service } from '../ipvs/model.js';
import { isFwmarkKey } from '../ipvs/model.js';

/** "tcp-10-0-0-1-80", "udp-2001-db8--1-53", "fwm-1", "fwm-20-ipv6". */
export function nameFromService(s: Service): string {
  if (isFwmarkKey(s)) return s.family === 'ipv6' ? `fwm-${s.fwmark}-ipv6` : `fwm-${s.fwmark}`;
  return `${s.protocol}-${s.address.replace(/[.:]/g, '-')}-${s.port}`;
}

const MAX_NAME = 40;

/**
 * A name from a comment: lower case words joined by "-". Only short comments make names
 * ("# web farm" -> web-farm); a sentence stays a description.
 */
export function nameFromComment(comment: string): string | null {
  const words = comment
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, ' ')
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '');
  if (words.length === 0 || words.length > 4) return null;
  const name = words.join('-').replace(/^[-.]+|[-.]+$/g, '');
  return name !== '' && name.length <= MAX_NAME && /[a-z]/.test(name) ? name : null;
}

/** Hands out names, adding -2, -3, ... when one is taken. */
export class NamePool {
  private readonly taken = new Set<string>();
  claim(wanted: string): string {
    let name = wanted;
    for (let n = 2; this.taken.has(name); n++) name = `${wanted}-${n}`;
    this.taken.add(name);
    return name;
  }
}
