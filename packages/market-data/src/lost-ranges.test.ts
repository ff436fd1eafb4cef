import { createTick } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { lostRanges } from './lost-ranges.js';

const tick = (symbol: string, tradeId: number) =>
  createTick({
    symbol,
    tradeId,
    price: '1',
    quantity: '1',
    isBuyerMaker: false,
    tradeTime: 1_700_000_000_000,
  });

describe('lostRanges', () => {
  it('gives runs of consecutive ids per symbol, each id once, across batches', () => {
    expect(
      lostRanges([
        [tick('ETHUSDT', 9), tick('BTCUSDT', 6), tick('BTCUSDT', 5)],
        [tick('BTCUSDT', 8), tick('BTCUSDT', 6), tick('BTCUSDT', 7), tick('BTCUSDT', 11)],
      ]),
    ).toEqual([
      { symbol: 'BTCUSDT', fromId: 5, toId: 8, count: 4 },
      { symbol: 'BTCUSDT', fromId: 11, toId: 11, count: 1 },
      { symbol: 'ETHUSDT', fromId: 9, toId: 9, count: 1 },
    ]);
  });

  it('is empty for nothing lost', () => {
    expect(lostRanges([])).toEqual([]);
    expect(lostRanges([[]])).toEqual([]);
  });
});
