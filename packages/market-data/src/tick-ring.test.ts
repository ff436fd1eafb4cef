import { createTick, type Tick } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { TickRing } from './tick-ring.js';

const tick = (tradeId: number): Tick =>
  createTick({
    symbol: 'BTCUSDT',
    tradeId,
    price: '1',
    quantity: '1',
    isBuyerMaker: false,
    tradeTime: tradeId,
  });
const ids = (ticks: readonly Tick[]) => ticks.map((t) => t.tradeId);

describe('TickRing', () => {
  it('keeps the latest ticks, newest first, wrapping around', () => {
    const ring = new TickRing(3);
    for (let id = 1; id <= 7; id++) expect(ring.add(tick(id))).toBe('appended');
    expect(ring.size).toBe(3);
    expect(ids(ring.newest(10))).toEqual([7, 6, 5]);
    expect(ids(ring.newest(2))).toEqual([7, 6]);
    expect(ring.newest(0)).toEqual([]);
  });

  it('ignores repeats, slots late ticks in place, drops those older than it holds', () => {
    const ring = new TickRing(4);
    for (const id of [10, 12, 13]) ring.add(tick(id));
    expect(ring.add(tick(12))).toBe('duplicate');
    expect(ring.add(tick(11))).toBe('inserted');
    expect(ids(ring.newest(4))).toEqual([13, 12, 11, 10]);
    expect(ring.add(tick(9))).toBe('too-old');
    ring.add(tick(15));
    expect(ring.add(tick(14))).toBe('inserted');
    expect(ids(ring.newest(4))).toEqual([15, 14, 13, 12]);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new TickRing(0)).toThrow(/capacity/);
  });
});
