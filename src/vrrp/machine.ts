/**
 * The VRRP state machine of one instance (RFC 5798 / RFC 9568 section 6.4 for v3, RFC 3768
 * for v2), pure: an event and the current state in, the next state and the effects out.
 * The glue (instance.ts) owns the clock, the timers and the sockets; every timing rule
 * (skew, master-down interval, priority 0 hand-over, preempt delay) is a unit test here.
 *
 * Roles are keepalived's: INIT, BACKUP, MASTER, FAULT (RFC 9568 says Initialize, Backup,
 * Active). Times are milliseconds; intervals on the wire are centiseconds.
 */
import { compareAddresses, type VrrpVersion } from './packet.js';

export type Role = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT';

export interface MachineConfig {
  version: VrrpVersion;
  /** Configured advertisement interval, centiseconds. */
  intervalCs: number;
  preempt: boolean;
  preemptDelayMs: number;
  /** This router's primary address on the link (compared on equal priority). */
  primaryAddress: string;
}

export interface MachineState {
  role: Role;
  /** Effective priority: configured, shifted by tracking; 255 = address owner. */
  priority: number;
  /** The master's interval as learnt from its adverts (v3), centiseconds. */
  masterIntervalCs: number;
  /** Address of the router believed to be master (ourselves when MASTER), null when unknown. */
  masterAddress: string | null;
  /** Until this time a backup does not preempt a lower-priority master (preempt_delay). */
  preemptAfter: number;
}

export type Timer = 'advert' | 'masterDown';

export type MachineEvent =
  | { type: 'startup'; now: number }
  | { type: 'shutdown'; now: number }
  | { type: 'timer'; timer: Timer; now: number }
  | { type: 'advert'; now: number; from: string; priority: number; intervalCs: number }
  | { type: 'fault'; now: number; reason: string }
  | { type: 'recover'; now: number; reason: string }
  | { type: 'priority'; now: number; priority: number; reason: string }
  /** A sync group moves its members together. */
  | { type: 'force'; now: number; to: 'MASTER' | 'BACKUP'; reason: string };

export type Effect =
  | { kind: 'send'; priority: number }
  | { kind: 'arm'; timer: Timer; ms: number }
  | { kind: 'cancel'; timer: Timer }
  | { kind: 'transition'; from: Role; to: Role; reason: string }
  /** Another router claims MASTER while we are, and we keep the role (split-brain suspicion if it persists). */
  | { kind: 'rival'; from: string; priority: number };

export interface Step {
  state: MachineState;
  effects: Effect[];
}

export function initialState(priority: number, config: MachineConfig): MachineState {
  return {
    role: 'INIT',
    priority,
    masterIntervalCs: config.intervalCs,
    masterAddress: null,
    preemptAfter: 0,
  };
}

/** Skew_Time: v3 ((256 - priority) x Master_Adver_Interval / 256), v2 ((256 - priority) / 256 s). */
export function skewMs(
  config: MachineConfig,
  state: Pick<MachineState, 'priority' | 'masterIntervalCs'>,
): number {
  const intervalMs = config.version === 2 ? 1000 : state.masterIntervalCs * 10;
  return ((256 - state.priority) * intervalMs) / 256;
}

/** Master_Down_Interval: 3 x Master_Adver_Interval + Skew_Time. */
export function masterDownMs(
  config: MachineConfig,
  state: Pick<MachineState, 'priority' | 'masterIntervalCs'>,
): number {
  const intervalMs = (config.version === 2 ? config.intervalCs : state.masterIntervalCs) * 10;
  return 3 * intervalMs + skewMs(config, state);
}

export function step(config: MachineConfig, state: MachineState, event: MachineEvent): Step {
  switch (state.role) {
    case 'INIT':
      return fromInit(config, state, event);
    case 'BACKUP':
      return fromBackup(config, state, event);
    case 'MASTER':
      return fromMaster(config, state, event);
    case 'FAULT':
      return fromFault(config, state, event);
  }
}

const unchanged = (state: MachineState): Step => ({ state, effects: [] });

function becomeMaster(config: MachineConfig, state: MachineState, reason: string): Step {
  return {
    state: { ...state, role: 'MASTER', masterAddress: config.primaryAddress },
    effects: [
      { kind: 'cancel', timer: 'masterDown' },
      { kind: 'transition', from: state.role, to: 'MASTER', reason },
      { kind: 'send', priority: state.priority },
      { kind: 'arm', timer: 'advert', ms: config.intervalCs * 10 },
    ],
  };
}

function becomeBackup(
  config: MachineConfig,
  state: MachineState,
  reason: string,
  changes: Partial<MachineState> = {},
): Step {
  const next: MachineState = { ...state, ...changes, role: 'BACKUP' };
  return {
    state: next,
    effects: [
      { kind: 'cancel', timer: 'advert' },
      { kind: 'transition', from: state.role, to: 'BACKUP', reason },
      { kind: 'arm', timer: 'masterDown', ms: masterDownMs(config, next) },
    ],
  };
}

function startUp(config: MachineConfig, state: MachineState, now: number, reason: string): Step {
  // The address owner (255) is master at once; everyone else listens first.
  if (state.priority === 255)
    return becomeMaster(config, state, `${reason}; priority 255 (address owner)`);
  return becomeBackup(config, state, reason, {
    masterIntervalCs: config.intervalCs,
    masterAddress: null,
    preemptAfter: now + config.preemptDelayMs,
  });
}

function fromInit(config: MachineConfig, state: MachineState, event: MachineEvent): Step {
  if (event.type === 'startup') return startUp(config, state, event.now, 'started');
  if (event.type === 'fault') return toFault(state, event.reason, []);
  if (event.type === 'priority') return unchanged({ ...state, priority: event.priority });
  return unchanged(state);
}

function fromFault(config: MachineConfig, state: MachineState, event: MachineEvent): Step {
  if (event.type === 'recover')
    return startUp(config, { ...state, role: 'FAULT' }, event.now, event.reason);
  if (event.type === 'priority') return unchanged({ ...state, priority: event.priority });
  if (event.type === 'shutdown') return { state: { ...state, role: 'INIT' }, effects: [] };
  return unchanged(state);
}

function toFault(state: MachineState, reason: string, before: Effect[]): Step {
  return {
    state: { ...state, role: 'FAULT', masterAddress: null },
    effects: [
      ...before,
      { kind: 'cancel', timer: 'advert' },
      { kind: 'cancel', timer: 'masterDown' },
      { kind: 'transition', from: state.role, to: 'FAULT', reason },
    ],
  };
}

function fromBackup(config: MachineConfig, state: MachineState, event: MachineEvent): Step {
  switch (event.type) {
    case 'shutdown':
      return {
        state: { ...state, role: 'INIT' },
        effects: [
          { kind: 'cancel', timer: 'masterDown' },
          { kind: 'transition', from: 'BACKUP', to: 'INIT', reason: 'shutdown' },
        ],
      };
    case 'timer':
      if (event.timer !== 'masterDown') return unchanged(state);
      return becomeMaster(config, state, masterGoneReason(config, state));
    case 'advert':
      return backupAdvert(config, state, event);
    case 'fault':
      return toFault(state, event.reason, []);
    case 'priority':
      return unchanged({ ...state, priority: event.priority });
    case 'force':
      return event.to === 'MASTER' ? becomeMaster(config, state, event.reason) : unchanged(state);
    default:
      return unchanged(state);
  }
}

function masterGoneReason(config: MachineConfig, state: MachineState): string {
  const ms = Math.round(masterDownMs(config, state));
  return state.masterAddress
    ? `no advert from master ${state.masterAddress} for ${ms} ms (master down interval)`
    : `no master heard for ${ms} ms (master down interval)`;
}

function backupAdvert(
  config: MachineConfig,
  state: MachineState,
  event: Extract<MachineEvent, { type: 'advert' }>,
): Step {
  if (event.priority === 0) {
    // The master is leaving: take over after Skew_Time only.
    return {
      state: { ...state, masterAddress: event.from },
      effects: [{ kind: 'arm', timer: 'masterDown', ms: skewMs(config, state) }],
    };
  }
  const delaying = config.preempt && event.now < state.preemptAfter;
  if (!config.preempt || delaying || event.priority >= state.priority) {
    // v3: a backup learns the master's interval; v2 keeps its own (RFC 3768 requires them equal).
    const masterIntervalCs = config.version === 3 ? event.intervalCs : state.masterIntervalCs;
    const next = { ...state, masterIntervalCs, masterAddress: event.from };
    return {
      state: next,
      effects: [{ kind: 'arm', timer: 'masterDown', ms: masterDownMs(config, next) }],
    };
  }
  // A lower-priority master and preemption on: let the master-down timer run out.
  return unchanged(state);
}

function fromMaster(config: MachineConfig, state: MachineState, event: MachineEvent): Step {
  switch (event.type) {
    case 'timer':
      if (event.timer !== 'advert') return unchanged(state);
      return {
        state,
        effects: [
          { kind: 'send', priority: state.priority },
          { kind: 'arm', timer: 'advert', ms: config.intervalCs * 10 },
        ],
      };
    case 'shutdown':
      return {
        state: { ...state, role: 'INIT', masterAddress: null },
        effects: [
          { kind: 'cancel', timer: 'advert' },
          { kind: 'send', priority: 0 },
          { kind: 'transition', from: 'MASTER', to: 'INIT', reason: 'shutdown (priority 0 sent)' },
        ],
      };
    case 'advert':
      return masterAdvert(config, state, event);
    case 'fault':
      // Tell the backups at once rather than let them wait for the master-down interval.
      return toFault(state, event.reason, [{ kind: 'send', priority: 0 }]);
    case 'priority':
      return unchanged({ ...state, priority: event.priority });
    case 'force':
      return event.to === 'BACKUP'
        ? becomeBackup(config, state, event.reason, { masterAddress: null })
        : unchanged(state);
    default:
      return unchanged(state);
  }
}

function masterAdvert(
  config: MachineConfig,
  state: MachineState,
  event: Extract<MachineEvent, { type: 'advert' }>,
): Step {
  if (event.priority === 0) {
    // A router leaving: answer at once so the backups do not take over.
    return {
      state,
      effects: [
        { kind: 'send', priority: state.priority },
        { kind: 'arm', timer: 'advert', ms: config.intervalCs * 10 },
      ],
    };
  }
  const higher =
    event.priority > state.priority ||
    (event.priority === state.priority && compareAddresses(event.from, config.primaryAddress) > 0);
  if (!higher)
    return { state, effects: [{ kind: 'rival', from: event.from, priority: event.priority }] };
  const why =
    event.priority > state.priority
      ? `advert from ${event.from} with higher priority ${event.priority} (ours ${state.priority})`
      : `advert from ${event.from} with equal priority ${event.priority} and a higher address`;
  const masterIntervalCs = config.version === 3 ? event.intervalCs : state.masterIntervalCs;
  return becomeBackup(config, state, why, { masterIntervalCs, masterAddress: event.from });
}
