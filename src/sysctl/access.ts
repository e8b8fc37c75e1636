/**
 * The one way lvsd reads and writes kernel sysctls, so that the reconciler, the daemon and
 * `lvsd realserver` act on /proc/sys in use (procfs.ts) and on memory in tests (memory.ts).
 */
export interface SysctlAccess {
  /** Current values by dotted name ("net.ipv4.ip_forward"); null where the sysctl is absent. */
  read(names: readonly string[]): Promise<Record<string, number | null>>;
  write(name: string, value: number): Promise<void>;
}
