/**
 * The announcer's state machine on a manual clock: rise before announcing, fall before
 * withdrawing, the hold-down after a withdrawal for health, drain (graceful shutdown, then
 * withdrawal at 0 connections or after the wait), undrain, stop and reloads.
 */
import { describe, expect, it } from 'vitest';
import { AnnounceMachine, type Evaluation, type VipInput } from '../../src/announce/machine.js';
import type { ResolvedAnnounce, ResolvedAnnounceVip } from '../../src/config/announce.js';

const VIP: ResolvedAnnounceVip = {
  prefix: '192.0.2.10/32',
  family: 'ipv4',
  services: ['web', 'api'],
  rise: 3,
  fall: 2,
  holdDownMs: 10_000,
};
const DRAIN: ResolvedAnnounce['drain'] = {
  method: 'graceful-shutdown',
  waitMs: 30_000,
  onStop: false,
};

class Clock {
  now = 1_000_000;
  tick(ms = 1000): number {
    this.now += ms;
    return this.now;
  }
}

function input(now: number, vip: Partial<VipInput> = {}, converged = true): Evaluation {
  return { now, converged, vips: new Map([[VIP.prefix, { down: [], activeConns: 5, ...vip }]]) };
}

function setup(vips = [VIP], drain = DRAIN) {
  const clock = new Clock();
  const machine = new AnnounceMachine(vips, drain, clock.now);
  const good = (extra: Partial<VipInput> = {}) => machine.evaluate(input(clock.tick(), extra));
  const bad = () => machine.evaluate(input(clock.tick(), { down: ['api'] }));
  const state = () => machine.status()[0]?.state;
  return { clock, machine, good, bad, state };
}

describe('AnnounceMachine', () => {
  it('starts withdrawn and announces after rise good evaluations, not before', () => {
    const { machine, good, state } = setup();
    expect(machine.desired()).toEqual([]);
    expect(good()).toEqual([]);
    expect(good()).toEqual([]);
    expect(machine.status()[0]?.reason).toBe('rising: 2/3 good evaluations');
    expect(good()).toEqual([
      {
        prefix: VIP.prefix,
        from: 'withdrawn',
        to: 'announced',
        reason: expect.stringMatching(/quorum/),
      },
    ]);
    expect(state()).toBe('announced');
    expect(machine.desired()).toEqual([{ prefix: VIP.prefix, gracefulShutdown: false }]);
  });

  it('announces nothing before the first reconcile pass, whatever health says', () => {
    const { machine, clock } = setup();
    for (let i = 0; i < 5; i++) machine.evaluate(input(clock.tick(), {}, false));
    expect(machine.desired()).toEqual([]);
    expect(machine.status()[0]?.reason).toMatch(/not in the kernel yet/);
  });

  it('a bad evaluation resets the rise count', () => {
    const { good, bad, state } = setup();
    good();
    good();
    bad();
    good();
    good();
    expect(state()).toBe('withdrawn');
    good();
    expect(state()).toBe('announced');
  });

  it('withdraws after fall bad evaluations, saying which service', () => {
    const { machine, good, bad, state } = setup();
    for (let i = 0; i < 3; i++) good();
    expect(bad()).toEqual([]);
    expect(state()).toBe('announced');
    const [t] = bad();
    expect(t).toMatchObject({ from: 'announced', to: 'withdrawn' });
    expect(t?.reason).toBe('below quorum: api (2 bad evaluations)');
    expect(machine.desired()).toEqual([]);
  });

  it('holds a prefix withdrawn for health down before announcing it again', () => {
    const { machine, clock, good, bad, state } = setup();
    for (let i = 0; i < 3; i++) good();
    bad();
    bad(); // withdrawn at t
    const withdrawnAt = clock.now;
    for (let i = 0; i < 3; i++) good();
    expect(state()).toBe('withdrawn');
    expect(machine.status()[0]?.reason).toMatch(/held down for 7 s/);
    expect(machine.status()[0]?.holdDownUntil).toBe(withdrawnAt + 10_000);
    while (clock.now + 1000 < withdrawnAt + 10_000) good();
    expect(state()).toBe('withdrawn');
    good();
    expect(state()).toBe('announced');
  });

  it('drain: graceful shutdown, then withdrawn when connections reach 0', () => {
    const { machine, clock, good, state } = setup();
    for (let i = 0; i < 3; i++) good();
    const [t] = machine.startDrain(clock.tick(), 'maintenance');
    expect(t).toMatchObject({ from: 'announced', to: 'draining' });
    expect(machine.desired()).toEqual([{ prefix: VIP.prefix, gracefulShutdown: true }]);
    good({ activeConns: 3 });
    expect(state()).toBe('draining');
    const [done] = good({ activeConns: 0 });
    expect(done).toMatchObject({
      from: 'draining',
      to: 'withdrawn',
      reason: 'drained: no active connection left',
    });
    expect(machine.allWithdrawn()).toBe(true);
    // Drained: healthy evaluations do not announce it again.
    for (let i = 0; i < 5; i++) good();
    expect(state()).toBe('withdrawn');
    expect(machine.status()[0]?.reason).toBe('drained: maintenance');
  });

  it('drain: withdrawn when the wait is over, connections or not', () => {
    const { machine, clock, good, state } = setup();
    for (let i = 0; i < 3; i++) good();
    machine.startDrain(clock.now, 'x');
    clock.tick(28_000);
    good({ activeConns: 9 });
    expect(state()).toBe('draining');
    const [t] = good({ activeConns: 9 });
    expect(t?.reason).toBe("drained: the drain's wait is over (9 active)");
  });

  it('drain with method withdraw withdraws at once; quorum loss while draining withdraws too', () => {
    const a = setup([VIP], { ...DRAIN, method: 'withdraw' });
    for (let i = 0; i < 3; i++) a.good();
    expect(a.machine.startDrain(a.clock.now, 'x')[0]).toMatchObject({ to: 'withdrawn' });
    const b = setup();
    for (let i = 0; i < 3; i++) b.good();
    b.machine.startDrain(b.clock.now, 'x');
    b.bad();
    expect(b.bad()[0]).toMatchObject({ from: 'draining', to: 'withdrawn' });
  });

  it('undrain: a draining prefix is announced plainly at once; a drained one rises again without hold-down', () => {
    const { machine, clock, good, state } = setup();
    for (let i = 0; i < 3; i++) good();
    machine.startDrain(clock.now, 'x');
    expect(machine.undrain(clock.tick())[0]).toMatchObject({ from: 'draining', to: 'announced' });
    expect(machine.desired()).toEqual([{ prefix: VIP.prefix, gracefulShutdown: false }]);
    machine.startDrain(clock.now, 'x');
    good({ activeConns: 0 });
    expect(state()).toBe('withdrawn');
    expect(machine.undrain(clock.tick())).toEqual([]);
    good();
    expect(state()).toBe('announced');
  });

  it('stop withdraws everything and nothing rises after it', () => {
    const { machine, clock, good } = setup();
    for (let i = 0; i < 3; i++) good();
    expect(machine.stop(clock.now, 'lvsd stops')).toHaveLength(1);
    for (let i = 0; i < 5; i++) good();
    expect(machine.desired()).toEqual([]);
  });

  it('a reload keeps the state of kept prefixes and starts new ones withdrawn', () => {
    const { machine, clock, good } = setup();
    for (let i = 0; i < 3; i++) good();
    const other = { ...VIP, prefix: '192.0.2.20/32' };
    expect(machine.update([VIP, other], DRAIN, clock.now)).toEqual([]);
    expect(machine.desired().map((d) => d.prefix)).toEqual([VIP.prefix]);
    expect(machine.update([other], DRAIN, clock.now)).toEqual([
      { prefix: VIP.prefix, from: 'announced', to: 'withdrawn', reason: 'no longer in the config' },
    ]);
    expect(machine.desired()).toEqual([]);
  });
});
