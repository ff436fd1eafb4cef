import type { BookTop, Logger, PaperFillWriter, Quote, Tick } from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import type { BacktestRecorder } from './backtest-recorder.js';
import type { SymbolRulesSource } from './exchange-rules.js';
import { PaperEngine } from './paper-engine.js';
import { EquityTracker, type SharpePeriod, type SharpeRatio } from './performance.js';
import type { PortfolioOptions, PositionSnapshot, RoundTripStats } from './portfolio.js';
import { mergeByTime, timed, type ReplayInput } from './replay.js';
import type { FillSource, RejectReason, StrategyDefinition } from './strategy.js';

/** An order book top with the time it was taken (a `book_snapshots` row), for a replay. */
export interface TimedBookTop extends BookTop {
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
}

/** Where a backtest is, handed to {@link BacktestOptions.onProgress}. */
export interface BacktestProgress {
  /** Ticks read so far. */
  readonly ticks: number;
  /** `expectedTicks` as given, or null. */
  readonly expectedTicks: number | null;
  /** `ticks / expectedTicks` capped at 1, or null without an expectation. */
  readonly fraction: number | null;
  readonly fills: number;
  readonly equity: number;
  /** Trade time of the last tick read, ms since the epoch, or null before the first. */
  readonly lastTradeTime: number | null;
  /** True on the last call, once every tick has been read. */
  readonly done: boolean;
}

/** Options of {@link runBacktest}. */
export interface BacktestOptions {
  /** The ticks to replay in order, e.g. streamed from the tick repository. */
  ticks: AsyncIterable<Tick> | Iterable<Tick>;
  /**
   * Stored quotes to replay with the ticks, in `receiveTime` order: merged
   * with the ticks by time (a quote at the same millisecond as a trade comes
   * first), so orders fill at the touch as they would have live.
   */
  quotes?: AsyncIterable<Quote> | Iterable<Quote>;
  /** Stored order book tops, in `timestamp` order, merged likewise: orders walk their levels. */
  books?: AsyncIterable<TimedBookTop> | Iterable<TimedBookTop>;
  /** Each symbol's exchange rules, as {@link PaperEngineOptions.rules}. */
  rules?: SymbolRulesSource;
  /** As {@link PaperEngineOptions.maxQuoteAgeMs}. */
  maxQuoteAgeMs?: number;
  strategy: StrategyDefinition;
  portfolio?: PortfolioOptions;
  /** Period of the Sharpe ratio's returns. Default `hour`. */
  sharpePeriod?: SharpePeriod;
  /** Called every `progressEvery` ticks and once at the end. */
  onProgress?: (progress: BacktestProgress) => void;
  /** Ticks between two progress calls. Default 10 000. */
  progressEvery?: number;
  /** How many ticks are coming (e.g. a `count(*)`), for `fraction` in the progress. */
  expectedTicks?: number;
  /** Stops reading; the summary then covers the ticks read and says `aborted`. */
  signal?: AbortSignal;
  /** Writes the backtest's fills too, in batches. */
  fillWriter?: PaperFillWriter;
  fillBatch?: { maxBatch?: number; maxDelayMs?: number };
  metrics?: TradingMetrics;
  logger?: Logger;
  /**
   * Records prices, equity, drawdown and fills for a chart (see
   * {@link BacktestRecorder}); without one, nothing is kept.
   */
  recorder?: BacktestRecorder;
}

/** What a backtest found: plain numbers and strings, ready for `JSON.stringify`. */
export interface BacktestSummary {
  readonly strategy: string;
  readonly strategyOptions: Readonly<Record<string, number>>;
  readonly symbols: readonly string[];
  /** Trade time of the first and last tick, ISO 8601, or null without ticks. */
  readonly from: string | null;
  readonly to: string | null;
  readonly ticks: number;
  /** Ticks ignored as not newer than the previous trade id of their symbol. */
  readonly ticksSkipped: number;
  /** Quotes and book tops replayed (kept: repeats not counted). */
  readonly quotes: number;
  readonly bookTops: number;
  /** Fills: BUYs plus SELLs. */
  readonly trades: number;
  readonly buys: number;
  readonly sells: number;
  readonly rejectedOrders: Readonly<Record<RejectReason, number>>;
  /** Fills by where their price came from: the book, a quote, the last price with slippage. */
  readonly fillSources: Readonly<Record<FillSource, number>>;
  /** Fills cut short by the book's visible depth. */
  readonly partialFills: number;
  readonly initialCash: number;
  /** Cash plus positions marked to each symbol's last price. */
  readonly finalEquity: number;
  /** `finalEquity / initialCash - 1` (0.05 = +5%). */
  readonly totalReturn: number;
  /** Largest fall of equity from a peak, tick by tick, as a fraction of the peak. */
  readonly maxDrawdown: number;
  readonly sharpe: SharpeRatio;
  /** Share of closed round trips (flat -> long -> flat) with a PnL above zero; null if none closed. */
  readonly winRate: number | null;
  readonly roundTrips: RoundTripStats;
  readonly feesPaid: number;
  readonly slippageCost: number;
  readonly realizedPnl: number;
  readonly unrealizedPnl: number;
  readonly positions: readonly PositionSnapshot[];
  /** True when `signal` stopped the replay early. */
  readonly aborted: boolean;
}

/**
 * Replays `ticks` through a fresh {@link PaperEngine} (the one the live path
 * uses, so the same ticks give the same fills) and summarises the result.
 * The ticks are consumed one at a time, so a stream of any length works.
 *
 * @example
 * ```ts
 * // ticks: the market-data TickRepository, which streams a symbol's stored ticks in order
 * const summary = await runBacktest({
 *   ticks: ticks.ticks('BTCUSDT', { from: Date.UTC(2026, 0, 1) }),
 *   strategy: strategyByName('sma'),
 *   onProgress: (p) => console.error(`${p.ticks} ticks, ${p.fills} fills`),
 * });
 * console.log(JSON.stringify(summary));
 * ```
 */
export async function runBacktest(options: BacktestOptions): Promise<BacktestSummary> {
  let buys = 0;
  let sells = 0;
  const recorder = options.recorder;
  const engine = new PaperEngine({
    strategy: options.strategy,
    portfolio: options.portfolio ?? {},
    ...(options.metrics && { metrics: options.metrics }),
    ...(options.fillWriter && { fillWriter: options.fillWriter }),
    ...(options.fillBatch && { fillBatch: options.fillBatch }),
    ...(options.logger && { logger: options.logger }),
    ...(options.rules && { rules: options.rules }),
    ...(options.maxQuoteAgeMs !== undefined && { maxQuoteAgeMs: options.maxQuoteAgeMs }),
    onFill: (fill, executed) => {
      if (fill.side === 'BUY') buys += 1;
      else sells += 1;
      recorder?.fill(executed);
    },
  });
  const portfolio = engine.portfolio;
  const tracker = new EquityTracker(portfolio.initialCash, options.sharpePeriod ?? 'hour');
  const every = Math.max(1, Math.floor(options.progressEvery ?? 10_000));
  const expected = options.expectedTicks ?? null;
  const onProgress = options.onProgress;
  const signal = options.signal;
  const symbols = new Set<string>();
  let count = 0;
  let first: number | null = null;
  let last: number | null = null;
  let aborted = false;

  const progress = (done: boolean): void =>
    onProgress?.({
      ticks: count,
      expectedTicks: expected,
      fraction: expected === null || expected <= 0 ? null : Math.min(1, count / expected),
      fills: buys + sells,
      equity: portfolio.equity(),
      lastTradeTime: last,
      done,
    });

  const onTick = (tick: Tick): void => {
    engine.onTick(tick);
    count += 1;
    if (first === null) first = tick.tradeTime;
    last = tick.tradeTime;
    if (!symbols.has(tick.symbol)) symbols.add(tick.symbol);
    const equity = portfolio.equity();
    tracker.record(tick.tradeTime, equity);
    if (recorder !== undefined) recorder.tick(tick, equity, tracker.drawdown());
    if (count % every === 0) progress(false);
  };

  try {
    if (options.quotes === undefined && options.books === undefined) {
      for await (const tick of options.ticks) {
        if (signal?.aborted) {
          aborted = true;
          break;
        }
        onTick(tick);
      }
    } else {
      // Books, then quotes, then ticks: at the same millisecond the market data goes first.
      const { books, quotes } = options;
      const inputs: ReplayInput[] = [];
      if (books) inputs.push(timed(books, bookTime, (b) => engine.onBook(b)));
      if (quotes) inputs.push(timed(quotes, quoteTime, (q) => engine.onQuote(q)));
      inputs.push(timed(options.ticks, tradeTime, onTick));
      aborted = await mergeByTime(inputs, signal);
    }
  } finally {
    await engine.close();
  }
  progress(true);

  const state = engine.state();
  const snapshot = state.portfolio;
  return {
    strategy: state.strategy,
    strategyOptions: state.strategyOptions,
    symbols: [...symbols].sort(),
    from: first === null ? null : new Date(first).toISOString(),
    to: last === null ? null : new Date(last).toISOString(),
    ticks: count,
    ticksSkipped: state.ticksSkipped,
    quotes: state.quotesReceived,
    bookTops: state.bookTopsReceived,
    trades: snapshot.fills,
    buys,
    sells,
    rejectedOrders: snapshot.rejections,
    fillSources: snapshot.fillSources,
    partialFills: snapshot.partialFills,
    initialCash: snapshot.initialCash,
    finalEquity: snapshot.equity,
    totalReturn: snapshot.equity / snapshot.initialCash - 1,
    maxDrawdown: tracker.maxDrawdown(),
    sharpe: tracker.sharpe(),
    winRate: snapshot.roundTrips.winRate,
    roundTrips: snapshot.roundTrips,
    feesPaid: snapshot.feesPaid,
    slippageCost: snapshot.slippageCost,
    realizedPnl: snapshot.realizedPnl,
    unrealizedPnl: snapshot.unrealizedPnl,
    positions: snapshot.positions,
    aborted,
  };
}

const bookTime = (book: TimedBookTop): number => book.timestamp;
const quoteTime = (quote: Quote): number => quote.receiveTime;
const tradeTime = (tick: Tick): number => tick.tradeTime;
