/** Builders for the reconciler's inputs; the kernel-model builders are test/builders.ts's. */
import type { Dest, Service } from '../../src/ipvs/model.js';
import type { DesiredService } from '../../src/reconcile/types.js';

export { dest, live, liveService, tcpService } from '../builders.js';

export function desired(name: string, service: Service, dests: Dest[]): DesiredService {
  return { name, service, dests };
}
