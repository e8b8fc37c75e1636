/**
 * What the daemon does with health, in a few lines, for tests and benchmarks: on every
 * 'changes' batch, one reconcile of desiredState(config, snapshot). Reconciles never
 * overlap; changes arriving during one are folded into the next.
 */
import type { ResolvedConfig } from '../../src/config/resolved.js';
import type { HealthManager } from '../../src/health/manager.js';
import type { IpvsClient } from '../../src/ipvs/client.js';
import { desiredState } from '../../src/reconcile/desired.js';
import { reconcile } from '../reconcile/pass.js';
import { MemorySysctls } from '../../src/sysctl/memory.js';
import type { SysctlAccess } from '../../src/sysctl/access.js';

export const noSysctls = new MemorySysctls();

export interface Follower {
  /** Reconciles done since start. */
  readonly passes: number;
  /** Resolves once no reconcile is running or pending. */
  idle(): Promise<void>;
  /** Reconciles now (as after a reload). */
  now(): Promise<void>;
  /** Called after each pass with the time the batch that caused it was emitted (performance.now()). */
  onPass?: (batchAt: number[], doneAt: number) => void;
}

export function follow(
  manager: HealthManager,
  config: ResolvedConfig,
  client: IpvsClient,
  options: { drainTimeoutMs?: number; sysctls?: SysctlAccess } = {},
): Follower {
  let running: Promise<void> | undefined;
  let pending: number[] = [];
  const follower: Follower & { passes: number } = {
    passes: 0,
    idle: async () => {
      while (running) await running;
    },
    now: async () => {
      pending.push(performance.now());
      kick();
      await follower.idle();
    },
  };
  const pass = async () => {
    while (pending.length > 0) {
      const batchAt = pending;
      pending = [];
      await reconcile(client, {
        desired: desiredState(config, manager.snapshot()),
        stateDir: null,
        prune: 'managed',
        drainTimeoutMs: options.drainTimeoutMs ?? 0,
        dryRun: false,
        sysctls: options.sysctls ?? noSysctls,
      });
      follower.passes++;
      follower.onPass?.(batchAt, performance.now());
    }
  };
  const kick = () => {
    if (running) return;
    running = pass().finally(() => {
      running = undefined;
    });
  };
  manager.on('changes', () => {
    pending.push(performance.now());
    kick();
  });
  return follower;
}
