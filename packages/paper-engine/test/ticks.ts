import type { Side, Tick } from '@trade/core';
import { plainDecimal } from '../src/plain-decimal.js';
import { prng } from '../../../tests/support/src/index.js';

/** Start of the synthetic tick streams: 2024-01-01T00:00:00Z. */
export const T0 = Date.UTC(2024, 0, 1);

/** A tick with the fields tests care about; the rest filled in. */
export function tick(
  symbol: string,
  tradeId: number,
  price: number | string,
  tradeTime = T0 + tradeId * 1000,
): Tick {
  const side: Side = tradeId % 2 === 0 ? 'BUY' : 'SELL';
  return {
    symbol,
    tradeId,
    price: typeof price === 'string' ? price : plainDecimal(price),
    quantity: '0.01',
    side,
    isBuyerMaker: side === 'SELL',
    tradeTime,
    receiveTime: tradeTime + 5,
  };
}

/** Ticks of `symbol` at `prices`, trade ids from `firstId`, one second apart. */
export function ticksAt(symbol: string, prices: readonly number[], firstId = 1): Tick[] {
  return prices.map((price, i) => tick(symbol, firstId + i, price));
}

/**
 * A random walk of `count` ticks over `symbols` (interleaved), prices with
 * two decimals, `spacingMs` apart. Same seed, same ticks.
 */
export function randomWalk(
  count: number,
  options: { symbols?: readonly string[]; seed?: number; start?: number; spacingMs?: number } = {},
): Tick[] {
  const symbols = options.symbols ?? ['BTCUSDT'];
  const random = prng(options.seed ?? 42);
  const prices = symbols.map(() => options.start ?? 100);
  const ids = symbols.map(() => 1000);
  const spacing = options.spacingMs ?? 1000;
  const ticks: Tick[] = [];
  for (let i = 0; i < count; i++) {
    const s = i % symbols.length;
    const step = (random() - 0.5) * 0.01 * prices[s]!;
    prices[s] = Math.max(1, Math.round((prices[s]! + step) * 100) / 100);
    ids[s]! += 1;
    ticks.push(tick(symbols[s]!, ids[s]!, prices[s].toFixed(2), T0 + i * spacing));
  }
  return ticks;
}

/** The seeded PRNG of the workspace's test support (mulberry32). */
export { prng };
