/**
 * The steps planService writes for a real (add-dest, edit-dest), written out field by field
 * since they were spread from a shared base (a kilobyte of garbage per dest): the same
 * fields, values and key order (JSON output and logs show them in that order).
 */
import { describe, expect, it } from 'vitest';
import { plan } from '../../src/reconcile/plan.js';
import { serviceKeyOf } from '../../src/ipvs/model.js';
import { dest, desired, live, liveService, tcpService } from './fixtures.js';

const context = {
  now: 0,
  owned: new Set<string>(),
  draining: {},
  drainTimeoutMs: 0,
  prune: 'managed' as const,
};
const web = tcpService('10.0.0.1', 80);
const key = serviceKeyOf(web);

describe('plan: dest steps', () => {
  it('adds a missing real and edits a changed one, with the same fields in the same order', () => {
    const rs1 = dest('192.168.10.2', 80, { weight: 3 });
    const rs2 = dest('192.168.10.3', 80);
    const rs3 = dest('192.168.10.4', 80);
    const table = { services: [liveService(web, [live(dest('192.168.10.2', 80)), live(rs3)])] };
    const result = plan({ services: [desired('web', web, [rs1, rs2, rs3])] }, { table }, context);
    expect(result.steps).toEqual([
      {
        changes: [{ field: 'weight', from: '1', to: '3' }],
        service: 'TCP 10.0.0.1:80',
        serviceName: 'web',
        dest: '192.168.10.2:80',
        action: 'change',
        op: { op: 'edit-dest', service: key, dest: rs1 },
      },
      {
        changes: [],
        service: 'TCP 10.0.0.1:80',
        serviceName: 'web',
        dest: '192.168.10.3:80',
        action: 'add',
        op: { op: 'add-dest', service: key, dest: rs2 },
      },
    ]);
    for (const step of result.steps)
      expect(Object.keys(step)).toEqual([
        'changes',
        'service',
        'serviceName',
        'dest',
        'action',
        'op',
      ]);
    expect(Object.keys(result.steps[0]!.op)).toEqual(['op', 'service', 'dest']);
  });
});
