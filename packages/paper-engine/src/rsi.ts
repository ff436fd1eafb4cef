import { ConfigError, type Tick } from '@trade/core';
import { integerOption, rangeOption } from './options.js';
import {
  HOLD,
  buySignal,
  sellSignal,
  type Signal,
  type Strategy,
  type StrategyContext,
  type StrategyDefinition,
} from './strategy.js';

/** Options of {@link rsiStrategy}. */
export interface RsiOptions {
  /** Price changes averaged. Default 14. */
  period?: number | string;
  /** BUY below this RSI. Default 30. */
  oversold?: number | string;
  /** SELL above this RSI. Default 70. */
  overbought?: number | string;
}

/**
 * RSI with Wilder's smoothing over tick-to-tick price changes. The first
 * average is the simple mean of the first `period` gains (losses); after that
 * `avg = (avg * (period - 1) + change) / period`. RSI is
 * `100 - 100 / (1 + avgGain / avgLoss)`: 100 when there were no losses, 50
 * when nothing moved.
 *
 * BUY while flat when RSI < `oversold`; SELL the whole position when RSI >
 * `overbought`. After a refused BUY the strategy waits until RSI has left the
 * oversold zone before it asks again, instead of asking on every tick.
 *
 * @example
 * ```ts
 * const engine = new PaperEngine({ strategy: rsiStrategy({ period: 14, oversold: 25 }) });
 * ```
 */
export function rsiStrategy(options: RsiOptions = {}): StrategyDefinition {
  const period = integerOption(options.period, 'rsi.period', 14, 1);
  const oversold = rangeOption(options.oversold, 'rsi.oversold', 30, { min: 0, max: 100 });
  const overbought = rangeOption(options.overbought, 'rsi.overbought', 70, { min: 0, max: 100 });
  if (oversold >= overbought) {
    throw new ConfigError(
      'rsi.oversold',
      options.oversold ?? oversold,
      `a value below rsi.overbought (${overbought})`,
    );
  }
  return {
    name: 'rsi',
    warmUpTicks: period + 1,
    options: { period, oversold, overbought },
    create: () => new RsiState(period, oversold, overbought),
  };
}

/**
 * Wilder's RSI state of one symbol. Exported for tests and for callers that
 * want the indicator alone.
 */
export class WilderRsi {
  private previousPrice = Number.NaN;
  private changes = 0;
  private avgGain = 0;
  private avgLoss = 0;

  constructor(private readonly period: number) {}

  /** Adds a price; returns the RSI, or NaN until `period` changes have been seen. */
  push(price: number): number {
    const previous = this.previousPrice;
    this.previousPrice = price;
    if (Number.isNaN(previous)) return Number.NaN;
    const change = price - previous;
    const gain = change > 0 ? change : 0;
    const loss = change < 0 ? -change : 0;
    const { period } = this;
    if (this.changes < period) {
      // Sums while seeding; divided once when the first average is complete.
      this.avgGain += gain;
      this.avgLoss += loss;
      this.changes += 1;
      if (this.changes < period) return Number.NaN;
      this.avgGain /= period;
      this.avgLoss /= period;
    } else {
      this.avgGain = (this.avgGain * (period - 1) + gain) / period;
      this.avgLoss = (this.avgLoss * (period - 1) + loss) / period;
    }
    return this.value();
  }

  /** The current RSI, or NaN before `period` changes. */
  value(): number {
    if (this.changes < this.period) return Number.NaN;
    if (this.avgLoss === 0) return this.avgGain === 0 ? 50 : 100;
    return 100 - 100 / (1 + this.avgGain / this.avgLoss);
  }
}

class RsiState implements Strategy {
  private readonly rsi: WilderRsi;
  /** False after a refused BUY, until RSI leaves the oversold zone. */
  private buyArmed = true;

  constructor(
    period: number,
    private readonly oversold: number,
    private readonly overbought: number,
  ) {
    this.rsi = new WilderRsi(period);
  }

  onTick(tick: Tick, ctx: StrategyContext): Signal {
    const rsi = this.rsi.push(Number(tick.price));
    if (Number.isNaN(rsi)) return HOLD;
    if (rsi >= this.oversold) this.buyArmed = true;
    if (ctx.position === 0) return rsi < this.oversold && this.buyArmed ? buySignal() : HOLD;
    return rsi > this.overbought ? sellSignal() : HOLD;
  }

  warmUp(ticks: readonly Tick[]): void {
    for (const tick of ticks) this.rsi.push(Number(tick.price));
  }

  onRejected(): void {
    this.buyArmed = false;
  }
}
