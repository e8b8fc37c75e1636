/** The fd table a check worker keeps and its pool closes from (src/ffi/fd-ledger.ts). */
import { closeSync, fstatSync, openSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { closeListed, FdLedger } from '../../src/ffi/fd-ledger.js';

const open: number[] = [];
const isOpen = (fd: number) => {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};

afterEach(() => {
  for (const fd of open.splice(0)) if (isOpen(fd)) closeSync(fd);
});

function devNull(): number {
  const fd = openSync('/dev/null', 'r');
  open.push(fd);
  return fd;
}

describe('fd ledger', () => {
  it('closes the descriptors still listed, and only those', () => {
    const table = FdLedger.table(4);
    const ledger = new FdLedger(table);
    const [kept, struck, unlisted] = [devNull(), devNull(), devNull()];
    expect(ledger.enter(kept)).toBe(true);
    expect(ledger.enter(struck)).toBe(true);
    ledger.strike(struck);
    expect(closeListed(table)).toBe(1);
    expect([isOpen(kept), isOpen(struck), isOpen(unlisted)]).toEqual([false, true, true]);
    // The table is empty once read: a second reading closes nothing.
    expect(closeListed(table)).toBe(0);
  });

  it('reuses struck slots, and says when the table is full', () => {
    const table = FdLedger.table(2);
    const ledger = new FdLedger(table);
    const [a, b, c] = [devNull(), devNull(), devNull()];
    expect([ledger.enter(a), ledger.enter(b), ledger.enter(c)]).toEqual([true, true, false]);
    ledger.strike(a);
    expect(ledger.enter(c)).toBe(true);
    const listed = Array.from(new Int32Array(table), (entry) => entry - 1);
    expect(listed.sort((x, y) => x - y)).toEqual([b, c].sort((x, y) => x - y));
  });
});
