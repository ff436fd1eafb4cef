import type { Tick } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { SymbolSequencer, type GivenUpIds } from './symbol-sequencer.js';

const tick = (tradeId: number, receiveTime = 1): Tick => ({
  symbol: 'BTCUSDT',
  tradeId,
  price: '1',
  quantity: '1',
  side: 'BUY',
  isBuyerMaker: false,
  tradeTime: 1_700_000_000_000,
  receiveTime,
});

function harness(lastId?: number, maxHeld?: number, maxJump?: number) {
  const out: number[] = [];
  const overflows: GivenUpIds[] = [];
  const seq = new SymbolSequencer('BTCUSDT', lastId, (t) => out.push(t.tradeId), {
    maxHeld,
    maxJump,
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

  it('sets an id far ahead aside until the exchange is asked; real ids keep flowing', () => {
    const { seq, out } = harness(100, 1_000, 50);
    expect(seq.offer(tick(Number.MAX_SAFE_INTEGER))).toBe('unconfirmed');
    expect(seq.offer(tick(Number.MAX_SAFE_INTEGER))).toBe('duplicate');
    expect(seq.offer(tick(151))).toBe('unconfirmed'); // 51 ahead of 100
    expect(seq.offer(tick(150))).toBe('held'); // 50 ahead: near enough to be a gap
    expect(seq.offer(tick(200))).toBe('held'); // held ids are known to exist
    for (const id of [101, 102]) expect(seq.offer(tick(id))).toBe('delivered');
    expect(out).toEqual([101, 102]);
    expect(seq).toMatchObject({ hasUnconfirmed: true, held: 4, heldMin: 150 });
    // The exchange's newest is 160: the far one is bogus, nothing else moves.
    expect(seq.settleUnconfirmed(160).map((t) => t.tradeId)).toEqual([Number.MAX_SAFE_INTEGER]);
    expect(seq).toMatchObject({ hasUnconfirmed: false, held: 3, heldMin: 150, lastId: 102 });
  });

  it('takes unconfirmed ids the exchange vouches for, and measures "far" from its newest id', () => {
    const { seq, out } = harness(100, 1_000, 50);
    expect(seq.offer(tick(300))).toBe('unconfirmed');
    expect(seq.offer(tick(301))).toBe('unconfirmed');
    expect(seq.settleUnconfirmed(305)).toEqual([]);
    expect(seq).toMatchObject({ hasUnconfirmed: false, heldMin: 300, held: 2 });
    expect(seq.offer(tick(340))).toBe('held'); // within 50 of the newest the exchange named
    seq.skipTo(300);
    expect(out).toEqual([300, 301]);
  });

  it('trusts unconfirmed ids it cannot check, and when more than maxHeld wait', () => {
    const { seq, out, overflows } = harness(0, 3, 10);
    for (const id of [100, 101, 102]) expect(seq.offer(tick(id))).toBe('unconfirmed');
    seq.trustUnconfirmed();
    expect(seq).toMatchObject({ hasUnconfirmed: false, heldMin: 100, held: 3 });
    const bounded = harness(0, 3, 10);
    for (const id of [100, 101, 102, 103]) bounded.seq.offer(tick(id));
    // The fourth: taken as real, the 3-tick bound gives the gap before them up.
    expect(bounded.seq).toMatchObject({ hasUnconfirmed: false, held: 0, lastId: 103 });
    expect(bounded.out).toEqual([100, 101, 102, 103]);
    expect(bounded.overflows).toEqual([{ fromId: 1, toId: 99, missed: 99 }]);
    expect(out).toEqual([]);
    expect(overflows).toEqual([]);
  });

  it('drops held ids above the exchange newest, only those received by a time', () => {
    const { seq } = harness(10);
    seq.offer(tick(15, 100));
    seq.offer(tick(5_000, 100));
    seq.offer(tick(5_001, 900));
    expect(seq.hasHeldAbove(20)).toBe(true);
    expect(seq.dropHeldAbove(20, 500).map((t) => t.tradeId)).toEqual([5_000]);
    expect(seq.dropHeldAbove(20).map((t) => t.tradeId)).toEqual([5_001]);
    expect(seq.hasHeldAbove(20)).toBe(false);
    expect(seq.heldMin).toBe(15);
  });

  it('lists the missing runs, and at close delivers every held tick without giving them up', () => {
    const { seq, out } = harness(10);
    expect(seq.missingRanges()).toEqual([]);
    for (const id of [13, 14, 20, 22]) seq.offer(tick(id));
    expect(seq.missingRanges()).toEqual([
      { fromId: 11, toId: 12 },
      { fromId: 15, toId: 19 },
      { fromId: 21, toId: 21 },
    ]);
    expect(seq.gapCount).toBe(3);
    const ranges = seq.missingRanges();
    expect(seq.releaseHeld()).toEqual(ranges);
    expect(out).toEqual([13, 14, 20, 22]);
    expect(seq).toMatchObject({ lastId: 22, held: 0, skipped: 0, gapCount: 0 });
  });

  it('moves a resume point back only before anything was delivered or held', () => {
    const { seq, out } = harness(1_000);
    expect(seq.offer(tick(500))).toBe('duplicate');
    expect(seq.rewind(1_200)).toBe(false); // not back
    expect(seq.rewind(600)).toBe(true);
    expect(seq.offer(tick(601))).toBe('delivered');
    expect(seq.rewind(550)).toBe(false); // something was delivered since
    expect(out).toEqual([601]);
  });
});
