/**
 * buildServices' quorum figures, which /metrics exports as lvsd_service_quorum and
 * lvsd_service_healthy_weight for the "below quorum" alert: the healthy weight sums the
 * configured weights of reals that are up or unchecked, and leaves out the sorry server and
 * reals the config does not declare.
 */
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/index.js';
import { buildServices, type StatusInput } from '../../src/daemon/status.js';

const config = `
services:
  web:
    address: 10.0.0.1:80
    protocol: tcp
    quorum: 5
    sorry_server: 192.168.99.9:80
    check: { type: tcp, interval: 1s, timeout: 500ms }
    reals:
      - { address: 192.168.10.2:80, weight: 3 }
      - { address: 192.168.10.3:80, weight: 4 }
      - { address: 192.168.10.4:80, weight: 2 }
  plain:
    address: 10.0.0.2:53
    protocol: udp
    reals: [192.168.20.2:53, 192.168.20.3:53]
`;

function services(down: readonly string[]) {
  const loaded = loadConfigText(config);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const health: StatusInput['health'] = (_service, real) => ({
    state: down.includes(real) ? 'down' : 'up',
  });
  return buildServices({ config: loaded.config, table: { services: [] }, health, waiting: [] });
}

describe('quorum figures in the status', () => {
  it('sums the configured weights of the reals that are up', () => {
    const [web, plain] = services(['192.168.10.3:80']);
    expect(web).toMatchObject({ name: 'web', quorum: 5, healthyWeight: 5 });
    // Unchecked reals count, at their configured weight; a service without quorum says null.
    expect(plain).toMatchObject({ name: 'plain', quorum: null, healthyWeight: 2 });
  });

  it('drops to 0 when every checked real is down', () => {
    const [web] = services(['192.168.10.2:80', '192.168.10.3:80', '192.168.10.4:80']);
    expect(web?.healthyWeight).toBe(0);
  });
});
