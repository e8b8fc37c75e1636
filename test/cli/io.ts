/** A CommandIo for tests: output kept in strings, the kernel and the host's ports given. */
import type { CommandIo } from '../../src/cli/reconcile-command.js';
import type { AddressClient } from '../../src/director/vip-addresses.js';
import type { IpvsClient } from '../../src/ipvs/client.js';
import { plain } from '../../src/util/palette.js';
import { systemHostPorts, type HostPorts } from '../../src/reconcile/system-ports.js';
import { lent } from '../reconcile/pass.js';

export interface TestPorts extends Partial<Omit<HostPorts, 'openAddresses'>> {
  /** The address client VIPs go to; null: VIPs neither read nor changed; absent: rtnetlink. */
  addresses?: AddressClient | null;
}

export function testIo(
  openKernel: () => Promise<IpvsClient>,
  ports: TestPorts = {},
  stdin = '',
): CommandIo & { out: string; err: string } {
  const { addresses } = ports;
  const io = {
    out: '',
    err: '',
    write: (text: string) => {
      io.out += text;
    },
    writeError: (text: string) => {
      io.err += text;
    },
    palette: plain,
    errorPalette: plain,
    openKernel,
    readStdin: async () => stdin,
    hostPorts: {
      sysctls: ports.sysctls ?? systemHostPorts.sysctls,
      openAddresses:
        addresses === undefined
          ? systemHostPorts.openAddresses
          : addresses && (async () => lent(addresses)),
      markRules: ports.markRules === undefined ? systemHostPorts.markRules : ports.markRules,
    },
  };
  return io;
}
