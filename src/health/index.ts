/**
 * src/health: decides which real servers deserve traffic. The daemon owns a HealthManager,
 * calls update(config) on every (re)load and reconciles desiredState(config, snapshot())
 * (src/reconcile/desired.ts) on each 'changes' batch.
 */
export {
  HealthManager,
  type CheckResultEvent,
  type CheckStatus,
  type HealthChanges,
  type HealthCounters,
  type HealthEvents,
  type HealthManagerOptions,
  type HealthSnapshot,
  type QuorumChange,
  type RealHealth,
  type Transition,
  type UpdateOptions,
  type WeightChange,
} from './manager.js';
export { liveWeightsFrom } from './live.js';
export { CHECKERS, prepareCheck, type CheckerRegistry } from './checkers/index.js';
export {
  Scheduler,
  realTimers,
  runCheck,
  CheckTimeout,
  type CheckRun,
  type Timers,
} from './scheduler.js';
export { initialHealth, step, type RiseFallState, type RiseFallStep } from './state.js';
export { sorryNeeded } from './quorum.js';
export type { Checker, CheckOutcome, CheckTarget, PreparedCheck } from './types.js';
