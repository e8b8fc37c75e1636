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
  // Built on the first question: only a check that starts asks, and a reload of a config
  // without new checks asks nothing (the index of 10,000 dests was most of its cost).
  let byName: Map<string, Map<string, number> | undefined> | null = null;
  const build = () => {
    const byServiceId = new Map(
      table.services.map((svc) => [
        serviceId(svc),
        new Map(svc.dests.map((d) => [destId(d), d.weight])),
      ]),
    );
    return new Map(
      config.services.map((svc) => [svc.name, byServiceId.get(serviceId(svc.service))]),
    );
  };
  return (service, realId) => {
    byName ??= build();
    return byName.get(service)?.get(realId);
  };
}
