import { createQuote, type BookLevel, type Quote } from '@trade/core';
import type { BusBookSnapshot } from '../../src/index.js';

/**
 * Quotes of one symbol with rising update ids, prices and quantities with
 * 16 significant digits (no JavaScript number holds them exactly) and
 * receive times that are not the update ids'.
 */
export function makeQuotes(symbol: string, fromId: number, count: number): Quote[] {
  return Array.from({ length: count }, (_, i) => {
    const id = fromId + i * 3;
    const bid = 43_000 + (id % 977);
    return createQuote({
      symbol,
      updateId: id,
      bidPrice: `${bid}.${String(id % 100_000_000_000).padStart(11, '0')}`,
      bidQty: `1234.${String((id * 7919) % 1_000_000_000_000).padStart(12, '0')}`,
      askPrice: `${bid + 1}.${String((id * 13) % 100_000_000_000).padStart(11, '0')}`,
      askQty: `0.${String((id * 104_729) % 10_000_000_000_000_000).padStart(16, '0')}1`,
      receiveTime: 1_700_000_000_000 + id * 17 + (i % 5),
    });
  });
}

/** Snapshots of one symbol, `levels` a side, bids falling and asks rising, exact strings. */
export function makeSnapshots(
  symbol: string,
  fromId: number,
  count: number,
  levels = 20,
): BusBookSnapshot[] {
  return Array.from({ length: count }, (_, i) => {
    const updateId = fromId + i * 101;
    const mid = 60_000 + (updateId % 500);
    const side = (direction: 1 | -1): BookLevel[] =>
      Array.from({ length: levels }, (_, level) => {
        const price = `${mid + direction * (level + 1)}.${String((updateId + level) % 100).padStart(2, '0')}000000`;
        const qty = `${level + 1}.${String((updateId * 31 + level) % 1_000_000_000_000).padStart(12, '0')}`;
        return [price, qty] as const;
      });
    return {
      top: { symbol, updateId, bids: side(-1), asks: side(1) },
      timestamp: 1_700_000_000_000 + i * 1_000 + 3,
    };
  });
}
