/**
 * The weights the kernel has now, for HealthManager.update's liveWeights at daemon start:
 * maps (service name, real id) to the weight of that dest in the table just read.
 */
import type { ResolvedConfig } from '../config/resolved.js';
import type { IpvsTable } from '../ipvs/model.js';
import { destId, serviceId } from '../ipvs/model.js';

export function liveWeightsFrom(
  config: ResolvedConfig,
  table: IpvsTable,
): (service: string, realId: string) => number | undefined {
  const byServiceId = new Map(
    table.services.map((svc) => [
      serviceId(svc),
      new Map(svc.dests.map((d) => [destId(d), d.weight])),
    ]),
  );
  const byName = new Map(
    config.services.map((svc) => [svc.name, byServiceId.get(serviceId(svc.service))]),
  );
  return (service, realId) => byName.get(service)?.get(realId);
}
