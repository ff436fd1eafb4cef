import type { PaperFill } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { randomWalk } from '../test/ticks.js';
import { runBacktest } from './backtest.js';
import { BacktestRecorder } from './backtest-recorder.js';
import { smaCrossover } from './sma-crossover.js';

const strategy = () => smaCrossover({ fast: 5, slow: 20 });
const portfolio = { initialCash: 10_000 };
const maxOf = (samples: readonly { value: number }[]) =>
  samples.reduce((max, s) => Math.max(max, s.value), 0);

describe('BacktestRecorder', () => {
  const ticks = randomWalk(20_000, { seed: 7 });

  it('records within maxPoints, every fill, and ends at the summary final equity', async () => {
    const recorder = new BacktestRecorder({ everyMs: 1000, maxPoints: 500 });
    const written: PaperFill[] = [];
    const summary = await runBacktest({
      ticks,
      strategy: strategy(),
      portfolio,
      recorder,
      fillWriter: { write: (batch) => Promise.resolve(void written.push(...batch)) },
    });
    const { prices, equity, drawdown, fills } = recorder.recording();

    expect(Object.keys(prices)).toEqual(['BTCUSDT']);
    const price = prices.BTCUSDT!;
    for (const series of [price, equity, drawdown]) {
      expect(series.length).toBeLessThanOrEqual(500);
      expect(series.length).toBeGreaterThan(250);
      expect(series[0]!.time).toBe(ticks[0]!.tradeTime);
      expect(series.at(-1)!.time).toBe(ticks.at(-1)!.tradeTime);
    }
    expect(price.at(-1)!.value).toBe(Number(ticks.at(-1)!.price));
    expect(equity.at(-1)!.value).toBe(summary.finalEquity);
    expect(equity.map((s) => s.time)).toEqual(drawdown.map((s) => s.time));
    // Merged buckets can hide the deepest point, never make one up.
    expect(maxOf(drawdown)).toBeLessThanOrEqual(summary.maxDrawdown);

    expect(summary.trades).toBeGreaterThan(10);
    expect(fills).toHaveLength(summary.trades);
    expect(fills.filter((f) => f.side === 'BUY')).toHaveLength(summary.buys);
    expect(fills.filter((f) => f.side === 'SELL')).toHaveLength(summary.sells);
    expect(fills.reduce((sum, f) => sum + f.fee, 0)).toBeCloseTo(summary.feesPaid, 6);
    // The fills the engine wrote, one for one.
    expect(fills.map((f) => [f.time, f.symbol, f.side, f.price, f.quantity, f.fee])).toEqual(
      written.map((w) => [
        w.timestamp,
        w.symbol,
        w.side,
        Number(w.price),
        Number(w.quantity),
        Number(w.fee),
      ]),
    );
  });

  it('keeps every tick when they fit: its drawdown peaks at the summary maxDrawdown', async () => {
    const recorder = new BacktestRecorder({ maxPoints: 50_000 });
    const summary = await runBacktest({ ticks, strategy: strategy(), portfolio, recorder });
    const { equity, drawdown } = recorder.recording();
    expect(equity).toHaveLength(ticks.length);
    expect(summary.maxDrawdown).toBeGreaterThan(0);
    expect(maxOf(drawdown)).toBe(summary.maxDrawdown);
    // Drawdown is the fall below the running peak of the equity recorded.
    let peak = portfolio.initialCash;
    for (let i = 0; i < equity.length; i++) {
      peak = Math.max(peak, equity[i]!.value);
      expect(drawdown[i]!.value).toBeCloseTo((peak - equity[i]!.value) / peak, 12);
    }
  });

  it('changes nothing in the summary', async () => {
    const plain = await runBacktest({ ticks, strategy: strategy(), portfolio });
    const recorded = await runBacktest({
      ticks,
      strategy: strategy(),
      portfolio,
      recorder: new BacktestRecorder({ maxPoints: 100 }),
    });
    expect(recorded).toEqual(plain);
  });

  it('records each symbol price apart', async () => {
    const recorder = new BacktestRecorder({ maxPoints: 100 });
    await runBacktest({
      ticks: randomWalk(1000, { symbols: ['BTCUSDT', 'ETHUSDT'] }),
      strategy: strategy(),
      recorder,
    });
    const { prices, equity } = recorder.recording();
    expect(Object.keys(prices)).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(prices.ETHUSDT!.length).toBeLessThanOrEqual(100);
    expect(equity.length).toBeLessThanOrEqual(100);
  });

  it('refuses fewer than 2 points or a negative bucket', () => {
    expect(() => new BacktestRecorder({ maxPoints: 1 })).toThrow(RangeError);
    expect(() => new BacktestRecorder({ maxPoints: 2.5 })).toThrow(/maxPoints/);
    expect(() => new BacktestRecorder({ everyMs: -1 })).toThrow(/everyMs/);
  });
});
