/**
 * The kernel client's transport against the host kernel, where IPVS may be missing: the
 * socket opens, nlctrl answers, and a missing "IPVS" family becomes advice, not a stack trace.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IpvsUnavailableError } from '../../src/ipvs/errors.js';
import { openIpvs } from '../../src/ipvs/index.js';

const linux = process.platform === 'linux';
const hasIpvs = existsSync('/proc/net/ip_vs');

describe.runIf(linux)('kernel client on the host kernel', () => {
  it(hasIpvs ? 'opens (IPVS present)' : 'explains that IPVS is missing', async () => {
    try {
      const client = await openIpvs();
      await client.close();
      expect(hasIpvs).toBe(true);
    } catch (err) {
      if (!(err instanceof IpvsUnavailableError)) throw err;
      expect(['no-ipvs', 'permission']).toContain(err.kind);
      if (err.kind === 'no-ipvs') expect(err.message).toMatch(/modprobe ip_vs/);
    }
  });
});
