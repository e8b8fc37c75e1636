/** src/sysctl: kernel sysctls, read and written through one SysctlAccess. */
export type { SysctlAccess } from './access.js';
export { MemorySysctls } from './memory.js';
export { procSysctls, readSysctls } from './procfs.js';
