/**
 * UDP: send one datagram, wait for a reply. Up when a reply arrives (matching `expect`,
 * when set); an ICMP port unreachable is a clear "down" at once (see udpExchange).
 */
import { compilePattern } from '../../config/pattern.js';
import type { Checker } from '../types.js';
import { PortUnreachable, routeOf, udpExchange } from './connect.js';

export const udpChecker: Checker<'udp'> = {
  type: 'udp',
  prepare(config, target) {
    const payload =
      config.payload_hex !== undefined
        ? Buffer.from(config.payload_hex, 'hex')
        : Buffer.from(config.payload, 'utf8');
    const expect = config.expect === undefined ? undefined : compilePattern(config.expect, config);
    const route = routeOf(config, target);
    return async (signal) => {
      let reply: Buffer;
      try {
        reply = await udpExchange(route, payload, signal);
      } catch (err) {
        if (err instanceof PortUnreachable) return { ok: false, message: err.message };
        throw err;
      }
      if (!expect || expect.test(reply.toString('latin1')))
        return { ok: true, message: `reply of ${reply.length} bytes` };
      return { ok: false, message: `reply does not match /${config.expect}/` };
    };
  },
};
