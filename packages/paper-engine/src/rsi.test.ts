import { describe, expect, it } from 'vitest';
import { ticksAt } from '../test/ticks.js';
import { WilderRsi, rsiStrategy } from './rsi.js';
import type { StrategyContext } from './strategy.js';

const flat: StrategyContext = { symbol: 'ETHUSDT', position: 0, averageCost: 0, cash: 1000 };
const long: StrategyContext = { ...flat, position: 2, averageCost: 10 };

describe('WilderRsi', () => {
  it('seeds with simple means, then smooths by (avg * (n - 1) + x) / n', () => {
    const rsi = new WilderRsi(3);
    expect(rsi.push(10)).toBeNaN();
    expect(rsi.push(11)).toBeNaN();
    expect(rsi.push(12)).toBeNaN();
    // Changes +1 +1 -1: avgGain 2/3, avgLoss 1/3, RS 2.
    expect(rsi.push(11)).toBeCloseTo(100 - 100 / 3, 10);
    // +2: avgGain (2/3*2 + 2)/3 = 10/9, avgLoss (1/3*2)/3 = 2/9, RS 5.
    expect(rsi.push(13)).toBeCloseTo(100 - 100 / 6, 10);
    // -3: avgGain 20/27, avgLoss (4/9 + 3)/3 = 31/27, RS 20/31.
    expect(rsi.push(10)).toBeCloseTo(2000 / 51, 10);
  });

  it('is 100 without losses and 50 when nothing moved', () => {
    const rising = new WilderRsi(2);
    [1, 2, 3].forEach((p) => rising.push(p));
    expect(rising.value()).toBe(100);
    const still = new WilderRsi(2);
    [5, 5, 5].forEach((p) => still.push(p));
    expect(still.value()).toBe(50);
  });
});

describe('rsiStrategy', () => {
  it('defaults to period 14 with thresholds 30/70', () => {
    const definition = rsiStrategy();
    expect(definition.name).toBe('rsi');
    expect(definition.options).toEqual({ period: 14, oversold: 30, overbought: 70 });
    expect(definition.warmUpTicks).toBe(15);
  });

  it('buys below oversold while flat and sells above overbought while long', () => {
    const strategy = rsiStrategy({ period: 2 }).create('ETHUSDT');
    // 10, 9, 8: changes -1 -1, RSI 0.
    const down = ticksAt('ETHUSDT', [10, 9, 8]);
    expect(down.map((t) => strategy.onTick(t, flat).action)).toEqual(['HOLD', 'HOLD', 'BUY']);
    // 12 (+4): avgGain 2, avgLoss 0.5, RSI 80 > 70.
    const [up] = ticksAt('ETHUSDT', [12], 4);
    expect(strategy.onTick(up!, long).action).toBe('SELL');
  });

  it('holds inside the band and never sells while flat', () => {
    const strategy = rsiStrategy({ period: 2 }).create('ETHUSDT');
    const ticks = ticksAt('ETHUSDT', [10, 11, 12, 11]);
    // RSI 100 at 12 (flat: no sell); at 11 avgGain 0.5, avgLoss 0.5: RSI 50.
    expect(ticks.map((t) => strategy.onTick(t, flat).action)).toEqual([
      'HOLD',
      'HOLD',
      'HOLD',
      'HOLD',
    ]);
  });

  it('after a refused buy waits until RSI has left the oversold zone', () => {
    const strategy = rsiStrategy({ period: 2 }).create('ETHUSDT');
    const ticks = ticksAt('ETHUSDT', [10, 9, 8, 7, 9, 6]);
    const seen = ticks.map((t) => {
      const action = strategy.onTick(t, flat).action;
      if (action === 'BUY') {
        strategy.onRejected!({
          symbol: 'ETHUSDT',
          side: 'BUY',
          reason: 'insufficient_cash',
          required: 100,
          available: 1,
          timestamp: t.tradeTime,
        });
      }
      return action;
    });
    // 8: RSI 0, BUY refused. 7: RSI 0, not retried. 9 (+2): avgGain 1, avgLoss 0.5,
    // RSI 66.7, re-armed. 6 (-3): avgGain 0.5, avgLoss 1.75, RSI 22.2: BUY again.
    expect(seen).toEqual(['HOLD', 'HOLD', 'BUY', 'HOLD', 'HOLD', 'BUY']);
  });

  it('warm-up feeds the indicator without signals', () => {
    const strategy = rsiStrategy({ period: 2 }).create('ETHUSDT');
    strategy.warmUp!(ticksAt('ETHUSDT', [10, 9]));
    const [next] = ticksAt('ETHUSDT', [8], 3);
    expect(strategy.onTick(next!, flat).action).toBe('BUY');
  });

  it('names the option that is wrong', () => {
    expect(() => rsiStrategy({ oversold: 80, overbought: 70 })).toThrow(/rsi\.oversold/);
    expect(() => rsiStrategy({ overbought: 101 })).toThrow(/rsi\.overbought/);
    expect(() => rsiStrategy({ period: 0 })).toThrow(/rsi\.period/);
  });
});
