import { createTick, type Tick } from '@trade/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TickBatcher } from './tick-batcher.js';

const ticks = (from: number, count: number): Tick[] =>
  Array.from({ length: count }, (_, i) =>
    createTick({
      symbol: 'BTCUSDT',
      tradeId: from + i,
      price: '1',
      quantity: '1',
      isBuyerMaker: false,
      tradeTime: from + i,
    }),
  );
const sizes = (batches: readonly Tick[][]) => batches.map((b) => b.length);

afterEach(() => {
  vi.useRealTimers();
});

describe('TickBatcher', () => {
  it('closes a batch at batchSize ticks', () => {
    const batches: Tick[][] = [];
    const batcher = new TickBatcher(3, 1000, (b) => batches.push(b));
    batcher.add(ticks(1, 7));
    expect(sizes(batches)).toEqual([3, 3]);
    expect(batcher.size).toBe(1);
    batcher.seal();
    expect(sizes(batches)).toEqual([3, 3, 1]);
    expect(batches.flat().map((t) => t.tradeId)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('closes a batch flushIntervalMs after its first tick', () => {
    vi.useFakeTimers();
    const batches: Tick[][] = [];
    const batcher = new TickBatcher(100, 250, (b) => batches.push(b));
    batcher.add(ticks(1, 2));
    vi.advanceTimersByTime(249);
    batcher.add(ticks(3, 1));
    expect(batches).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(sizes(batches)).toEqual([3]);
  });

  it('hands nothing on when sealed empty', () => {
    const batches: Tick[][] = [];
    new TickBatcher(3, 1000, (b) => batches.push(b)).seal();
    expect(batches).toEqual([]);
  });
});
