import type { Side, Tick } from '@trade/core';
import { SeriesSampler, type BacktestSample } from './series-sampler.js';
import type { ExecutedFill } from './strategy.js';

/** Options of {@link BacktestRecorder}. */
export interface BacktestRecorderOptions {
  /** Narrowest time bucket of the series, ms: the last point of each is kept. Default 1. */
  everyMs?: number;
  /** Most points per series; buckets widen to fit. At least 2. Default 5 000. */
  maxPoints?: number;
}

/** One fill of a recorded backtest, as plain numbers. */
export interface BacktestFillRecord {
  /** Trade time of the tick that filled it, ms since the epoch. */
  readonly time: number;
  readonly symbol: string;
  readonly side: Side;
  readonly price: number;
  readonly quantity: number;
  /** Fee charged, quote currency. */
  readonly fee: number;
  /** Realized PnL of the fill, fees included (SELL only; 0 for a BUY). */
  readonly realizedPnl: number;
}

/** What a {@link BacktestRecorder} kept: series of at most `maxPoints` points each, every fill. */
export interface BacktestRecording {
  /** Each symbol's trade price. */
  readonly prices: Readonly<Record<string, readonly BacktestSample[]>>;
  /** Cash plus positions marked to each symbol's last price, after each tick. */
  readonly equity: readonly BacktestSample[];
  /**
   * Fall of equity below its running peak, as a fraction of the peak, at the
   * same times as `equity`. Its largest value is the summary's `maxDrawdown`
   * when no bucket merged points; merging can only hide a deeper one.
   */
  readonly drawdown: readonly BacktestSample[];
  /** Every fill, in order. */
  readonly fills: readonly BacktestFillRecord[];
}

/**
 * Records what a chart of a backtest needs, when handed to
 * {@link BacktestOptions.recorder}: prices, equity and drawdown, downsampled
 * to a bounded number of points (the last of each time bucket; the first and
 * the last always), and every fill. {@link runBacktest} feeds it; a backtest
 * without one records nothing.
 *
 * @example
 * ```ts
 * const recorder = new BacktestRecorder({ everyMs: 1000, maxPoints: 5000 });
 * const summary = await runBacktest({ ticks, strategy, recorder });
 * const { equity, drawdown, prices, fills } = recorder.recording();
 * ```
 */
export class BacktestRecorder {
  private readonly everyMs: number;
  private readonly maxPoints: number;
  private readonly prices = new Map<string, SeriesSampler>();
  private readonly equity: SeriesSampler;
  private readonly drawdown: SeriesSampler;
  private readonly fills: BacktestFillRecord[] = [];

  constructor(options: BacktestRecorderOptions = {}) {
    const everyMs = options.everyMs ?? 1;
    const maxPoints = options.maxPoints ?? 5_000;
    if (!(everyMs >= 0) || !Number.isFinite(everyMs)) {
      throw new RangeError(`everyMs: expected a number of ms >= 0, got ${everyMs}`);
    }
    if (!Number.isInteger(maxPoints) || maxPoints < 2) {
      throw new RangeError(`maxPoints: expected an integer >= 2, got ${maxPoints}`);
    }
    this.everyMs = everyMs;
    this.maxPoints = maxPoints;
    this.equity = new SeriesSampler(everyMs, maxPoints);
    this.drawdown = new SeriesSampler(everyMs, maxPoints);
  }

  /** Called by {@link runBacktest} after each tick with the equity and drawdown then. */
  tick(tick: Tick, equity: number, drawdown: number): void {
    let prices = this.prices.get(tick.symbol);
    if (prices === undefined) {
      prices = new SeriesSampler(this.everyMs, this.maxPoints);
      this.prices.set(tick.symbol, prices);
    }
    prices.add(tick.tradeTime, Number(tick.price));
    this.equity.add(tick.tradeTime, equity);
    this.drawdown.add(tick.tradeTime, drawdown);
  }

  /** Called by {@link runBacktest} with each fill. */
  fill(fill: ExecutedFill): void {
    this.fills.push({
      time: fill.timestamp,
      symbol: fill.symbol,
      side: fill.side,
      price: fill.price,
      quantity: fill.quantity,
      fee: fill.fee,
      realizedPnl: fill.realizedPnl,
    });
  }

  /** What was recorded so far. */
  recording(): BacktestRecording {
    const prices: Record<string, BacktestSample[]> = {};
    for (const [symbol, sampler] of [...this.prices].sort(([a], [b]) => (a < b ? -1 : 1))) {
      prices[symbol] = sampler.samples();
    }
    return {
      prices,
      equity: this.equity.samples(),
      drawdown: this.drawdown.samples(),
      fills: [...this.fills],
    };
  }
}
