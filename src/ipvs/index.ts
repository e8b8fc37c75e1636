/**
 * src/ipvs: the IPVS table, read and changed behind one IpvsClient (the generic netlink
 * below the kernel client is src/netlink; sysctls and VIP addresses are src/sysctl and
 * src/director).
 *
 * - `openIpvs()` loads the netlink client lazily (dynamic import), so commands that never
 *   touch the kernel run where the native netlink binding cannot load;
 * - the in-memory kernel for tests is FakeIpvs (fake.ts).
 *
 * Like every index.ts of src/, it holds the folder's entry code and re-exports nothing:
 * importers name the file that defines what they use.
 */
import type { IpvsClient } from './client.js';
import { IpvsUnavailableError } from './errors.js';
import type { KernelIpvsOptions } from './kernel-client.js';

/** Opens the kernel client (generic netlink). Throws IpvsUnavailableError with advice. */
export async function openIpvs(options: KernelIpvsOptions = {}): Promise<IpvsClient> {
  let mod: typeof import('./kernel-client.js');
  try {
    mod = await import('./kernel-client.js');
  } catch (err) {
    throw new IpvsUnavailableError(
      'netlink',
      'Cannot load the netlink binding (Linux only; reinstall with `npm ci` to get its prebuild): ' +
        (err as Error).message,
    );
  }
  return mod.KernelIpvsClient.open(options);
}
