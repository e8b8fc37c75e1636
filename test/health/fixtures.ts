/** ResolvedConfig builders for health and desiredState tests: state only what matters. */
import pino from 'pino';
import { CheckConfig } from '../../src/config/check.js';
import type { ResolvedConfig, ResolvedReal, ResolvedService } from '../../src/config/resolved.js';
import type { Dest } from '../../src/ipvs/model.js';
import { destId } from '../../src/ipvs/model.js';
import { dest, tcpService } from '../builders.js';

const source = { file: 'test.yaml', line: 1, column: 1 };

/** A check through the real schema, so defaults are the ones users get. */
export function check(input: Record<string, unknown>): CheckConfig {
  return CheckConfig.parse(input);
}

export function real(
  address: string,
  port: number,
  checkConfig: CheckConfig | null,
  extra: Partial<Dest> = {},
): ResolvedReal {
  const d = dest(address, port, extra);
  return { id: destId(d), dest: d, check: checkConfig, source };
}

export function service(
  name: string,
  vip: string,
  port: number,
  reals: ResolvedReal[],
  extra: Partial<ResolvedService> = {},
): ResolvedService {
  return {
    name,
    service: tcpService(vip, port, { scheduler: 'wrr' }),
    reals,
    check: null,
    quorum: null,
    sorry: null,
    alpha: false,
    vip: null,
    source,
    ...extra,
  };
}

export function config(
  services: ResolvedService[],
  extra: Partial<ResolvedConfig> = {},
): ResolvedConfig {
  return {
    files: ['test.yaml'],
    hash: 'test',
    host: null,
    services,
    kernel: { sysctls: {} },
    vips: [],
    reconcile: {
      drainTimeoutMs: 0,
      prune: 'managed',
      driftIntervalMs: 60_000,
      maxRemoval: 0.5,
      allowMassRemoval: false,
    },
    ...extra,
  };
}

/** A pino logger that keeps its lines for assertions. */
export function memoryLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, lines };
}

export { dest };
