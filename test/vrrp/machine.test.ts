/**
 * The VRRP state machine against the rules of RFC 5798 / RFC 9568 section 6.4 (v3) and
 * RFC 3768 (v2), event by event, with the timer lengths it asks for checked to the
 * microsecond: skew, master-down interval, priority 0 hand-over, preemption and its delay,
 * the equal-priority tie on the primary address, and v3 learning the master's interval.
 */
import { describe, expect, it } from 'vitest';
import {
  type Effect,
  initialState,
  type MachineConfig,
  type MachineEvent,
  type MachineState,
  masterDownMs,
  skewMs,
  step,
} from '../../src/vrrp/machine.js';

const v3: MachineConfig = {
  version: 3,
  intervalCs: 100,
  preempt: true,
  preemptDelayMs: 0,
  primaryAddress: '192.0.2.2',
};

function run(config: MachineConfig, priority: number, events: MachineEvent[]) {
  let state: MachineState = initialState(priority, config);
  const log: Effect[][] = [];
  for (const event of events) {
    const next = step(config, state, event);
    state = next.state;
    log.push(next.effects);
  }
  return { state, log, last: log.at(-1) ?? [] };
}

const start = { type: 'startup', now: 0 } as const;
const advert = (
  priority: number,
  from = '192.0.2.1',
  intervalCs = 100,
  now = 10,
): MachineEvent => ({
  type: 'advert',
  now,
  from,
  priority,
  intervalCs,
});
const masterDown = { type: 'timer', timer: 'masterDown', now: 4000 } as const;

describe('timers', () => {
  it('skew and master-down interval as the RFCs define them', () => {
    // priority 100, 1 s: skew (256 - 100) / 256 s = 609.375 ms; 3 x 1000 + skew.
    expect(skewMs(v3, { priority: 100, masterIntervalCs: 100 })).toBe(609.375);
    expect(masterDownMs(v3, { priority: 100, masterIntervalCs: 100 })).toBe(3609.375);
    // v3 scales the skew with the master's interval; v2 keeps whole seconds.
    expect(skewMs(v3, { priority: 200, masterIntervalCs: 50 })).toBe(109.375);
    const v2 = { ...v3, version: 2 as const };
    expect(skewMs(v2, { priority: 200, masterIntervalCs: 50 })).toBe(218.75);
    expect(masterDownMs(v2, { priority: 200, masterIntervalCs: 50 })).toBe(3218.75);
  });
});

describe('Initialize', () => {
  it('a router that is not the address owner starts as backup and arms Master_Down_Timer', () => {
    const { state, last } = run(v3, 100, [start]);
    expect(state.role).toBe('BACKUP');
    expect(last).toContainEqual({ kind: 'arm', timer: 'masterDown', ms: 3609.375 });
    expect(last).not.toContainEqual(expect.objectContaining({ kind: 'send' }));
  });

  it('the address owner (255) is master at once and advertises', () => {
    const { state, last } = run(v3, 255, [start]);
    expect(state.role).toBe('MASTER');
    expect(last).toContainEqual({ kind: 'send', priority: 255 });
    expect(last).toContainEqual({ kind: 'arm', timer: 'advert', ms: 1000 });
  });
});

describe('Backup', () => {
  it('Master_Down_Timer firing makes it master: advert sent, advert timer armed', () => {
    const { state, last } = run(v3, 100, [start, masterDown]);
    expect(state.role).toBe('MASTER');
    expect(last).toEqual([
      { kind: 'cancel', timer: 'masterDown' },
      expect.objectContaining({ kind: 'transition', from: 'BACKUP', to: 'MASTER' }),
      { kind: 'send', priority: 100 },
      { kind: 'arm', timer: 'advert', ms: 1000 },
    ]);
  });

  it('an advert of higher priority resets Master_Down_Timer and names the master', () => {
    const { state, last } = run(v3, 100, [start, advert(150)]);
    expect(state).toMatchObject({ role: 'BACKUP', masterAddress: '192.0.2.1' });
    expect(last).toEqual([{ kind: 'arm', timer: 'masterDown', ms: 3609.375 }]);
  });

  it('priority 0 from the master: takeover after Skew_Time only', () => {
    const { last } = run(v3, 100, [start, advert(150), advert(0)]);
    expect(last).toEqual([{ kind: 'arm', timer: 'masterDown', ms: 609.375 }]);
  });

  it('v3 learns the master interval; v2 keeps its own', () => {
    const learnt = run(v3, 100, [start, advert(150, '192.0.2.1', 50)]);
    expect(learnt.state.masterIntervalCs).toBe(50);
    expect(learnt.last).toEqual([{ kind: 'arm', timer: 'masterDown', ms: 1500 + 304.6875 }]);
    const v2 = run({ ...v3, version: 2 }, 100, [start, advert(150, '192.0.2.1', 200)]);
    expect(v2.last).toEqual([{ kind: 'arm', timer: 'masterDown', ms: 3609.375 }]);
  });

  it('preempt: an advert of lower priority is ignored, so the timer runs out and it takes over', () => {
    const { state, log } = run(v3, 150, [start, advert(100), masterDown]);
    expect(log[1]).toEqual([]);
    expect(state.role).toBe('MASTER');
  });

  it('equal priority does not preempt from backup', () => {
    const { last } = run(v3, 100, [start, advert(100, '192.0.2.1')]);
    expect(last).toContainEqual(expect.objectContaining({ kind: 'arm', timer: 'masterDown' }));
  });

  it('nopreempt: a lower-priority master keeps its role', () => {
    const { last } = run({ ...v3, preempt: false }, 150, [start, advert(100)]);
    expect(last).toEqual([
      {
        kind: 'arm',
        timer: 'masterDown',
        ms: masterDownMs(v3, { priority: 150, masterIntervalCs: 100 }),
      },
    ]);
  });

  it('preempt_delay: no preemption before the delay has passed since start, then as usual', () => {
    const config = { ...v3, preemptDelayMs: 30_000 };
    const early = run(config, 150, [start, advert(100, '192.0.2.1', 100, 29_999)]);
    expect(early.last).toContainEqual(
      expect.objectContaining({ kind: 'arm', timer: 'masterDown' }),
    );
    const late = run(config, 150, [start, advert(100, '192.0.2.1', 100, 30_000)]);
    expect(late.last).toEqual([]);
  });

  it('shutdown of a backup sends nothing', () => {
    const { state, last } = run(v3, 100, [start, { type: 'shutdown', now: 5 }]);
    expect(state.role).toBe('INIT');
    expect(last).not.toContainEqual(expect.objectContaining({ kind: 'send' }));
  });
});

describe('Master', () => {
  const master = [start, masterDown];

  it('advertises every interval', () => {
    const { last } = run(v3, 100, [...master, { type: 'timer', timer: 'advert', now: 5000 }]);
    expect(last).toEqual([
      { kind: 'send', priority: 100 },
      { kind: 'arm', timer: 'advert', ms: 1000 },
    ]);
  });

  it('shutdown sends priority 0', () => {
    const { state, last } = run(v3, 100, [...master, { type: 'shutdown', now: 5000 }]);
    expect(state.role).toBe('INIT');
    expect(last).toContainEqual({ kind: 'send', priority: 0 });
  });

  it('a higher priority advert makes it backup, with the master-down interval of the new master', () => {
    const { state, last } = run(v3, 100, [...master, advert(150, '192.0.2.1', 50)]);
    expect(state).toMatchObject({
      role: 'BACKUP',
      masterAddress: '192.0.2.1',
      masterIntervalCs: 50,
    });
    expect(last).toContainEqual({ kind: 'cancel', timer: 'advert' });
    expect(last).toContainEqual({ kind: 'arm', timer: 'masterDown', ms: 1500 + 304.6875 });
  });

  it('equal priority: the higher primary address wins', () => {
    const higher = run(v3, 100, [...master, advert(100, '192.0.2.9')]);
    expect(higher.state.role).toBe('BACKUP');
    const lower = run(v3, 100, [...master, advert(100, '192.0.2.1')]);
    expect(lower.state.role).toBe('MASTER');
    expect(lower.last).toEqual([{ kind: 'rival', from: '192.0.2.1', priority: 100 }]);
  });

  it('a lower priority advert is a rival: the master keeps its role', () => {
    const { state, last } = run(v3, 150, [...master, advert(100)]);
    expect(state.role).toBe('MASTER');
    expect(last).toEqual([{ kind: 'rival', from: '192.0.2.1', priority: 100 }]);
  });

  it('priority 0 from another router: advertise at once', () => {
    const { last } = run(v3, 100, [...master, advert(0)]);
    expect(last).toEqual([
      { kind: 'send', priority: 100 },
      { kind: 'arm', timer: 'advert', ms: 1000 },
    ]);
  });

  it('a fault sends priority 0 and stops the timers; recovery starts over as backup', () => {
    const faulted = run(v3, 100, [...master, { type: 'fault', now: 5000, reason: 'eth1 down' }]);
    expect(faulted.state.role).toBe('FAULT');
    expect(faulted.last[0]).toEqual({ kind: 'send', priority: 0 });
    expect(faulted.last).toContainEqual({
      kind: 'transition',
      from: 'MASTER',
      to: 'FAULT',
      reason: 'eth1 down',
    });
    const back = run(v3, 100, [
      ...master,
      { type: 'fault', now: 5000, reason: 'x' },
      { type: 'recover', now: 6000, reason: 'eth1 up' },
    ]);
    expect(back.state.role).toBe('BACKUP');
    // Adverts are ignored while in FAULT.
    const ignored = run(v3, 100, [start, { type: 'fault', now: 1, reason: 'x' }, advert(150)]);
    expect(ignored.last).toEqual([]);
  });

  it('a tracked priority change is carried by the next advert', () => {
    const { last } = run(v3, 100, [
      ...master,
      { type: 'priority', now: 5000, priority: 40, reason: 'eth1 down' },
      { type: 'timer', timer: 'advert', now: 6000 },
    ]);
    expect(last).toContainEqual({ kind: 'send', priority: 40 });
  });

  it('sync groups move members: force MASTER from backup, force BACKUP from master', () => {
    const up = run(v3, 100, [
      start,
      { type: 'force', now: 1, to: 'MASTER', reason: 'sync group G1' },
    ]);
    expect(up.state.role).toBe('MASTER');
    const down = run(v3, 100, [
      ...master,
      { type: 'force', now: 5000, to: 'BACKUP', reason: 'sync group G1' },
    ]);
    expect(down.state.role).toBe('BACKUP');
  });
});
