/**
 * src/ipvs: the IPVS table, read and changed behind one IpvsClient (the generic netlink
 * below the kernel client is src/netlink; sysctls and VIP addresses are src/sysctl and
 * src/director).
 *
 * - `openIpvs()` loads the kernel client lazily (dynamic import), and the client loads koffi
 *   (src/ffi) only when it opens its socket, so commands that never touch the kernel run
 *   where koffi's prebuilt binary cannot load;
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
      `Cannot load the kernel client: ${(err as Error).message}`,
    );
  }
  return mod.KernelIpvsClient.open(options);
}
