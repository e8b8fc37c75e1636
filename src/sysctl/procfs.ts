/**
 * Sysctls through /proc/sys: IPVS's settings for draining reals and forwarded packets, the
 * forwarding switches, and the ARP and reverse-path settings of a real server. They have no
 * netlink interface: /proc/sys is the kernel's only door to them, so this is the one place
 * lvsd reads or writes files for kernel state. Network-namespace aware like the rest:
 * /proc/sys/net shows the namespace of the process.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SysctlAccess } from './access.js';

export function sysctlPath(name: string, procRoot = '/proc/sys'): string {
  return join(procRoot, ...name.split('.'));
}

/** The value as an integer, or null where the sysctl does not exist (ip_vs not loaded, no IPv6). */
export async function readSysctl(name: string, procRoot?: string): Promise<number | null> {
  try {
    const text = await readFile(sysctlPath(name, procRoot), 'utf8');
    const value = Number.parseInt(text.trim(), 10);
    return Number.isNaN(value) ? null : value;
  } catch {
    return null;
  }
}

export async function writeSysctl(name: string, value: number, procRoot?: string): Promise<void> {
  await writeFile(sysctlPath(name, procRoot), `${value}\n`);
}

export async function readSysctls(
  names: readonly string[],
  procRoot?: string,
): Promise<Record<string, number | null>> {
  const values = await Promise.all(names.map((name) => readSysctl(name, procRoot)));
  return Object.fromEntries(names.map((name, i) => [name, values[i] ?? null]));
}

/** The SysctlAccess lvsd uses outside tests: this process's /proc/sys. */
export const procSysctls: SysctlAccess = {
  read: (names) => readSysctls(names),
  write: (name, value) => writeSysctl(name, value),
};
