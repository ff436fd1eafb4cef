import type { Tick } from '@trade/core';

/** Ticks of one symbol, with consecutive trade ids, that were neither stored nor spooled. */
export interface LostTickRange {
  readonly symbol: string;
  /** First trade id of the run. */
  readonly fromId: number;
  /** Last trade id of the run, inclusive. */
  readonly toId: number;
  /** Ticks in the run: `toId - fromId + 1`. */
  readonly count: number;
}

/**
 * The trade ids of `batches` as runs of consecutive ids per symbol, symbols
 * in code-unit order, each id once: what to fetch again over REST.
 *
 * @example
 * ```ts
 * lostRanges([[btc(5), btc(6), eth(9)], [btc(8)]]);
 * // [{ symbol: 'BTCUSDT', fromId: 5, toId: 6, count: 2 },
 * //  { symbol: 'BTCUSDT', fromId: 8, toId: 8, count: 1 },
 * //  { symbol: 'ETHUSDT', fromId: 9, toId: 9, count: 1 }]
 * ```
 */
export function lostRanges(batches: readonly (readonly Tick[])[]): LostTickRange[] {
  const ids = new Map<string, Set<number>>();
  for (const batch of batches) {
    for (const { symbol, tradeId } of batch) {
      let set = ids.get(symbol);
      if (!set) ids.set(symbol, (set = new Set()));
      set.add(tradeId);
    }
  }
  const ranges: LostTickRange[] = [];
  for (const symbol of [...ids.keys()].sort()) {
    const sorted = [...ids.get(symbol)!].sort((a, b) => a - b);
    let from = sorted[0]!;
    for (let i = 1; i <= sorted.length; i++) {
      const id = sorted[i];
      if (id === sorted[i - 1]! + 1) continue;
      const to = sorted[i - 1]!;
      ranges.push({ symbol, fromId: from, toId: to, count: to - from + 1 });
      if (id !== undefined) from = id;
    }
  }
  return ranges;
}
