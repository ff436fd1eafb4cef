import type { Tick } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { SymbolSequencer, type GivenUpIds } from './symbol-sequencer.js';

const tick = (tradeId: number): Tick => ({
  symbol: 'BTCUSDT',
  tradeId,
  price: '1',
  quantity: '1',
  side: 'BUY',
  isBuyerMaker: false,
  tradeTime: 1,
  receiveTime: 1,
});

function harness(lastId?: number, maxHeld?: number) {
  const out: number[] = [];
  const overflows: GivenUpIds[] = [];
  const seq = new SymbolSequencer('BTCUSDT', lastId, (t) => out.push(t.tradeId), {
    maxHeld,
    onOverflow: (given) => overflows.push(given),
  });
  return { seq, out, overflows };
}

describe('SymbolSequencer', () => {
  it('delivers consecutive ids and drops repeats', () => {
    const { seq, out } = harness();
    for (const id of [5, 6, 6, 7, 5]) seq.offer(tick(id));
    expect(out).toEqual([5, 6, 7]);
    expect(seq.duplicates).toBe(2);
  });

  it('holds ticks behind a gap until the missing ids arrive, in order', () => {
    const { seq, out } = harness(10);
    expect(seq.offer(tick(14))).toBe('held');
    expect(seq.offer(tick(15))).toBe('held');
    expect(seq.hasGap).toBe(true);
    expect(seq.heldMin).toBe(14);
    for (const id of [11, 12, 13]) seq.offer(tick(id));
    expect(out).toEqual([11, 12, 13, 14, 15]);
    expect(seq.hasGap).toBe(false);
  });

  it('continues from a resume point and skips what cannot be recovered', () => {
    const { seq, out } = harness(100);
    seq.offer(tick(105));
    seq.offer(tick(102));
    expect(seq.skipTo(105)).toBe(3); // 101, 103, 104 lost; 102 still delivered
    expect(out).toEqual([102, 105]);
    expect(seq.skipped).toBe(3);
    expect(seq.lastId).toBe(105);
  });

  it('holds at most maxHeld ticks: one more gives the oldest gap up and delivers the run after it', () => {
    const { seq, out, overflows } = harness(10, 3);
    for (const id of [13, 14, 20]) expect(seq.offer(tick(id))).toBe('held');
    expect(overflows).toEqual([]);
    // The fourth held tick: 11 and 12 are given up, 13 and 14 go out; 20 and 21 stay behind 15..19.
    expect(seq.offer(tick(21))).toBe('held');
    expect(overflows).toEqual([{ fromId: 11, toId: 12, missed: 2 }]);
    expect(out).toEqual([13, 14]);
    expect(seq.held).toBe(2);
    expect(seq.peakHeld).toBe(3);
    // Late ids of the given-up gap are repeats.
    expect(seq.offer(tick(12))).toBe('duplicate');
    expect(seq.skipped).toBe(2);
  });

  it('reports a tick the overflow released as delivered', () => {
    const { seq, out, overflows } = harness(0, 2);
    seq.offer(tick(5));
    seq.offer(tick(6));
    expect(seq.offer(tick(7))).toBe('delivered');
    expect(overflows).toEqual([{ fromId: 1, toId: 4, missed: 4 }]);
    expect(out).toEqual([5, 6, 7]);
    expect(seq.hasGap).toBe(false);
  });

  it('gives every gap up at once with giveUpHeld', () => {
    const { seq, out } = harness(10);
    expect(seq.giveUpHeld()).toBeUndefined();
    for (const id of [13, 16, 17]) seq.offer(tick(id));
    expect(seq.giveUpHeld()).toEqual({ fromId: 11, toId: 16, missed: 4 });
    expect(out).toEqual([13, 16, 17]);
    expect(seq.lastId).toBe(17);
    expect(seq.hasGap).toBe(false);
  });
});
