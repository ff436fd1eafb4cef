import type { Tick } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { SymbolSequencer } from './symbol-sequencer.js';

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

function harness(lastId?: number) {
  const out: number[] = [];
  const seq = new SymbolSequencer('BTCUSDT', lastId, (t) => out.push(t.tradeId));
  return { seq, out };
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
});
