/** Kernel sysctls as the reconciler and `lvsd realserver` reach them: /proc/sys by default. */
import { readSysctls, writeSysctl } from '../ipvs/sysctl.js';

export interface SysctlAccess {
  read(names: readonly string[]): Promise<Record<string, number | null>>;
  write(name: string, value: number): Promise<void>;
}

export const procSysctls: SysctlAccess = {
  read: (names) => readSysctls(names),
  write: (name, value) => writeSysctl(name, value),
};
