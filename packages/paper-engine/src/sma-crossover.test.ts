import { ConfigError } from '@trade/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tick, ticksAt } from '../test/ticks.js';
import { smaCrossover } from './sma-crossover.js';
import type { SignalAction, StrategyContext } from './strategy.js';

const flat: StrategyContext = { symbol: 'BTCUSDT', position: 0, averageCost: 0, cash: 1000 };
const long: StrategyContext = { ...flat, position: 1, averageCost: 10 };

function actions(prices: number[], ctx: (i: number) => StrategyContext, fast = 2, slow = 3) {
  const strategy = smaCrossover({ fast, slow }).create('BTCUSDT');
  return ticksAt('BTCUSDT', prices).map((t, i) => strategy.onTick(t, ctx(i)).action);
}

describe('smaCrossover', () => {
  it('defaults to 5/20 and needs 20 ticks of warm-up', () => {
    const definition = smaCrossover();
    expect(definition.name).toBe('sma');
    expect(definition.options).toEqual({ fast: 5, slow: 20 });
    expect(definition.warmUpTicks).toBe(20);
  });

  // fast=2, slow=3. Tick 3: fast 10, slow 10, diff 0. Tick 4 (13): fast 11.5, slow 11,
  // diff +0.5: cross up. Tick 5 (13): fast 13, slow 12, still above. Tick 6 (7): fast 10,
  // slow 11, diff -1: cross down.
  const prices = [10, 10, 10, 13, 13, 7];

  it('buys on the cross up while flat and sells on the cross down while long', () => {
    const position = (i: number) => (i >= 4 ? long : flat);
    expect(actions(prices, position)).toEqual(['HOLD', 'HOLD', 'HOLD', 'BUY', 'HOLD', 'SELL']);
  });

  it('does not buy while long nor sell while flat', () => {
    expect(actions(prices, () => long)).toEqual(['HOLD', 'HOLD', 'HOLD', 'HOLD', 'HOLD', 'SELL']);
    expect(actions(prices, () => flat)).toEqual(['HOLD', 'HOLD', 'HOLD', 'BUY', 'HOLD', 'HOLD']);
  });

  it('does not retry a refused buy until the next cross', () => {
    // Flat throughout (every buy refused): one BUY per cross up, none in between.
    const series = [10, 10, 10, 13, 14, 15, 9, 8, 12, 13];
    expect(actions(series, () => flat)).toEqual([
      'HOLD',
      'HOLD',
      'HOLD',
      'BUY',
      'HOLD',
      'HOLD',
      'HOLD',
      'HOLD',
      'BUY',
      'HOLD',
    ]);
  });

  it('warm-up fills the averages so the first live tick can cross', () => {
    const strategy = smaCrossover({ fast: 2, slow: 3 }).create('BTCUSDT');
    strategy.warmUp!(ticksAt('BTCUSDT', [10, 10, 10]));
    expect(strategy.onTick(tick('BTCUSDT', 4, 13), flat).action).toBe('BUY');
  });

  it('matches averages recomputed from scratch on long random series', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 150 }),
        (fast, extra, cents) => {
          const slow = fast + extra;
          const prices = cents.map((c) => c / 4);
          const got = actions(prices, () => flat, fast, slow);
          expect(got).toEqual(naive(prices, fast, slow));
        },
      ),
    );
  });

  it('names the option that is wrong', () => {
    expect(() => smaCrossover({ fast: 20, slow: 5 })).toThrow(/sma\.fast/);
    expect(() => smaCrossover({ fast: 0 })).toThrow(ConfigError);
    expect(() => smaCrossover({ slow: 'ten' })).toThrow(/sma\.slow/);
    expect(smaCrossover({ fast: '3', slow: '7' }).options).toEqual({ fast: 3, slow: 7 });
  });
});

/** Crossover signals of a flat trader, averages summed afresh on every tick. */
function naive(prices: number[], fast: number, slow: number): SignalAction[] {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  let previous = Number.NaN;
  return prices.map((_, i) => {
    if (i + 1 < slow) return 'HOLD';
    const diff = mean(prices.slice(i + 1 - fast, i + 1)) - mean(prices.slice(i + 1 - slow, i + 1));
    const before = previous;
    previous = diff;
    // Tolerate the last-bit difference between running and fresh sums at exact ties.
    const up = Math.abs(diff) > 1e-9 && diff > 0;
    return !Number.isNaN(before) && before <= 1e-9 && up ? 'BUY' : 'HOLD';
  });
}
