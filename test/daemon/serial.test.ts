import { afterEach, describe, expect, it, vi } from 'vitest';
import { CoalescingRunner, Debouncer } from '../../src/daemon/serial.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('CoalescingRunner', () => {
  it('never runs two jobs at once and merges requests made during a run into one follow-up', async () => {
    const gates: Array<ReturnType<typeof deferred>> = [];
    const runs: string[][] = [];
    let active = 0;
    let maxActive = 0;
    const runner = new CoalescingRunner<string, number>(async (reasons) => {
      active++;
      maxActive = Math.max(maxActive, active);
      runs.push([...reasons].sort());
      const gate = deferred();
      gates.push(gate);
      await gate.promise;
      active--;
      return runs.length;
    });
    const first = runner.request('start');
    await vi.waitFor(() => expect(gates).toHaveLength(1));
    const during = ['health', 'drift', 'health', 'reload'].map((r) => runner.request(r));
    gates[0]!.resolve();
    expect(await first).toBe(1);
    await vi.waitFor(() => expect(gates).toHaveLength(2));
    gates[1]!.resolve();
    expect(await Promise.all(during)).toEqual([2, 2, 2, 2]);
    expect(runs).toEqual([['start'], ['drift', 'health', 'reload']]);
    expect(maxActive).toBe(1);
    await runner.idle();
    expect(runner.busy).toBe(false);
  });

  it('rejects the waiters of a failed run and keeps serving later requests', async () => {
    let fail = true;
    const runner = new CoalescingRunner<string, string>(async () => {
      if (fail) throw new Error('netlink went away');
      return 'ok';
    });
    await expect(runner.request('a')).rejects.toThrow('netlink went away');
    fail = false;
    expect(await runner.request('b')).toBe('ok');
  });
});

describe('CoalescingRunner onBusy', () => {
  it('says busy from the first request until the last follow-up run has ended', async () => {
    const gates: Array<ReturnType<typeof deferred>> = [];
    const busy: boolean[] = [];
    const runner = new CoalescingRunner<string, void>(
      () => {
        const gate = deferred();
        gates.push(gate);
        return gate.promise;
      },
      (b) => busy.push(b),
    );
    const first = runner.request('a');
    const second = runner.request('b');
    expect(busy).toEqual([true]);
    gates[0]!.resolve();
    await first;
    expect(busy).toEqual([true]);
    gates[1]!.resolve();
    await second;
    await runner.idle();
    expect(busy).toEqual([true, false]);
  });
});

describe('Debouncer', () => {
  afterEach(() => vi.useRealTimers());

  it('fires once, `wait` after the last call of a burst', () => {
    vi.useFakeTimers();
    const fire = vi.fn();
    const d = new Debouncer(fire, 500);
    for (let i = 0; i < 5; i++) {
      d.call();
      vi.advanceTimersByTime(100);
    }
    expect(fire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(399);
    expect(fire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fire).toHaveBeenCalledTimes(1);
  });

  it('fires at maxWait even while calls keep coming', () => {
    vi.useFakeTimers();
    const fire = vi.fn();
    const d = new Debouncer(fire, 500, 2000);
    for (let i = 0; i < 30; i++) {
      d.call();
      vi.advanceTimersByTime(100);
    }
    expect(fire).toHaveBeenCalledTimes(1);
  });

  it('waits on while not ready, and fires once ready or at maxWait', () => {
    vi.useFakeTimers();
    const fire = vi.fn();
    let ready = false;
    const d = new Debouncer(fire, 100, 1000, () => ready);
    d.call();
    vi.advanceTimersByTime(450);
    expect(fire).not.toHaveBeenCalled();
    ready = true;
    vi.advanceTimersByTime(100);
    expect(fire).toHaveBeenCalledTimes(1);
    ready = false;
    d.call();
    vi.advanceTimersByTime(999);
    expect(fire).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(fire).toHaveBeenCalledTimes(2);
  });

  it('cancel drops a pending call', () => {
    vi.useFakeTimers();
    const fire = vi.fn();
    const d = new Debouncer(fire, 100);
    d.call();
    d.cancel();
    vi.advanceTimersByTime(1000);
    expect(fire).not.toHaveBeenCalled();
  });
});
