import { ConfigError, type Tick } from '@trade/core';
import { integerOption } from './options.js';
import {
  HOLD,
  buySignal,
  sellSignal,
  type Signal,
  type Strategy,
  type StrategyContext,
  type StrategyDefinition,
} from './strategy.js';

/** Options of {@link smaCrossover}. */
export interface SmaCrossoverOptions {
  /** Ticks in the fast moving average. Default 5. */
  fast?: number | string;
  /** Ticks in the slow moving average; must exceed `fast`. Default 20. */
  slow?: number | string;
}

/**
 * SMA crossover over tick prices: BUY when the fast average crosses above the
 * slow one while flat, SELL the whole position when it crosses below while
 * long. A cross needs both averages on the previous tick and on this one; a
 * refused BUY is not retried until the next cross (the strategy reads the
 * real position, so it never believes it is long when it is not).
 *
 * @example
 * ```ts
 * const engine = new PaperEngine({ strategy: smaCrossover({ fast: 5, slow: 20 }) });
 * ```
 */
export function smaCrossover(options: SmaCrossoverOptions = {}): StrategyDefinition {
  const fast = integerOption(options.fast, 'sma.fast', 5, 1);
  const slow = integerOption(options.slow, 'sma.slow', 20, 2);
  if (fast >= slow) {
    throw new ConfigError('sma.fast', options.fast ?? fast, `fewer ticks than sma.slow (${slow})`);
  }
  return {
    name: 'sma',
    warmUpTicks: slow,
    options: { fast, slow },
    create: () => new SmaCrossoverState(fast, slow),
  };
}

/** One symbol's averages: a ring of the last `slow` prices and two running sums. */
class SmaCrossoverState implements Strategy {
  private readonly ring: Float64Array;
  private count = 0;
  private index = 0;
  private fastSum = 0;
  private slowSum = 0;
  /** fast - slow average on the previous tick; NaN until both exist. */
  private previousDiff = Number.NaN;

  constructor(
    private readonly fast: number,
    private readonly slow: number,
  ) {
    this.ring = new Float64Array(slow);
  }

  onTick(tick: Tick, ctx: StrategyContext): Signal {
    const diff = this.push(Number(tick.price));
    const previous = this.previousDiff;
    this.previousDiff = diff;
    if (Number.isNaN(diff) || Number.isNaN(previous)) return HOLD;
    if (previous <= 0 && diff > 0 && ctx.position === 0) return buySignal();
    if (previous >= 0 && diff < 0 && ctx.position > 0) return sellSignal();
    return HOLD;
  }

  warmUp(ticks: readonly Tick[]): void {
    for (const tick of ticks) this.previousDiff = this.push(Number(tick.price));
  }

  /** Adds a price and returns fast - slow average, or NaN before `slow` prices. */
  private push(price: number): number {
    const { ring, slow, fast } = this;
    const at = this.index;
    this.slowSum += price - (this.count >= slow ? ring[at]! : 0);
    // The price leaving the fast window is the one `fast` places back in the ring.
    const leaving = at - fast < 0 ? at - fast + slow : at - fast;
    this.fastSum += price - (this.count >= fast ? ring[leaving]! : 0);
    ring[at] = price;
    this.index = at + 1 === slow ? 0 : at + 1;
    if (this.count < slow) this.count += 1;
    if (this.index === 0) this.resum();
    if (this.count < slow) return Number.NaN;
    return this.fastSum / fast - this.slowSum / slow;
  }

  /** Recomputes both sums once per lap of the ring, so rounding never accumulates. */
  private resum(): void {
    const { ring, slow, fast } = this;
    let slowSum = 0;
    let fastSum = 0;
    for (let i = 0; i < slow; i++) {
      slowSum += ring[i]!;
      if (i >= slow - fast) fastSum += ring[i]!;
    }
    this.slowSum = slowSum;
    if (this.count >= fast) this.fastSum = fastSum;
  }
}
