import {
  silentLogger,
  type Logger,
  type PaperFill,
  type PaperFillWriter,
  type RecentTicks,
  type Tick,
} from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import { FillLog, type FillLogOptions, type FillWriter } from './fill-log.js';
import { plainDecimal } from './plain-decimal.js';
import { Portfolio, type PortfolioOptions, type PortfolioSnapshot } from './portfolio.js';
import type {
  ExecutedFill,
  OrderRejection,
  Signal,
  Strategy,
  StrategyContext,
  StrategyDefinition,
} from './strategy.js';

/** Options of {@link PaperEngine}. */
export interface PaperEngineOptions {
  /** The strategy every symbol runs, e.g. `strategyByName('sma')`. */
  strategy: StrategyDefinition;
  /** Portfolio settings, or a portfolio to trade in. Defaults as in {@link PortfolioOptions}. */
  portfolio?: PortfolioOptions | Portfolio;
  /**
   * Prometheus handles; without them the engine records nothing. Used:
   * paperTrades, paperPortfolioValue, paperPnl, paperTickDuration (around the
   * whole tick), paperFeesPaid, paperSlippageCost, paperFillsDropped,
   * paperFillsRefused, cacheHits/cacheMisses (warm-up) and
   * errors{component="paper-engine"}.
   */
  metrics?: TradingMetrics;
  /** Recent ticks for {@link PaperEngine.warmUp}, e.g. the market-data TickCache. */
  recentTicks?: RecentTicks;
  /**
   * Where fills are written (`paper_trades`), in batches: any
   * `PaperFillWriter`. One whose `write` resolves with `{ refused }` (the
   * market-data `PaperTradeRepository` does) has those fills counted in
   * `trading_paper_fills_refused_total`, logged and dropped, not retried.
   */
  fillWriter?: FillWriter | PaperFillWriter;
  /**
   * Batch bounds of the fill writer: `maxBatch` fills (100) or `maxDelayMs`
   * (1000); and `maxPending` (10,000), the most fills kept while the writer
   * fails, beyond which the oldest are dropped and counted in
   * `trading_paper_fills_dropped_total`; `retry`, the delays between
   * attempts of a failed write (see {@link FillLogOptions.retry}).
   */
  fillBatch?: Pick<FillLogOptions, 'maxBatch' | 'maxDelayMs' | 'maxPending' | 'retry'>;
  logger?: Logger;
  /** Called with every fill after it is applied (synchronously, in the tick). */
  onFill?: (fill: PaperFill, executed: ExecutedFill) => void;
}

/** The engine's counters and portfolio as a plain, JSON-serialisable object. */
export interface PaperEngineState {
  readonly strategy: string;
  readonly strategyOptions: Readonly<Record<string, number>>;
  /** Ticks that reached a strategy. */
  readonly ticksProcessed: number;
  /**
   * Ticks ignored: not newer than the last trade id seen for their symbol,
   * without a positive price (logged), or after close.
   */
  readonly ticksSkipped: number;
  /** Ticks whose strategy threw (logged and counted in `trading_errors_total`). */
  readonly strategyErrors: number;
  /** Fills buffered for the writer and not yet written. */
  readonly pendingFills: number;
  /** Fills the writer refused (set aside, not retried). */
  readonly refusedFills: number;
  readonly portfolio: PortfolioSnapshot;
}

class SymbolSlot implements StrategyContext {
  position = 0;
  averageCost = 0;
  cash = 0;
  lastTradeId = -1;

  constructor(
    readonly symbol: string,
    readonly strategy: Strategy,
  ) {}
}

/**
 * Runs one strategy per symbol on ticks and trades a shared {@link Portfolio}.
 * `onTick` is synchronous and deterministic: the same ticks give the same
 * fills, live or in a backtest (fill timestamps are the ticks' trade times).
 * Fills go to the writer in batches and are never awaited per tick.
 *
 * @example
 * ```ts
 * const engine = new PaperEngine({
 *   strategy: strategyByName('sma', { fast: 5, slow: 20 }),
 *   portfolio: { initialCash: 10_000, feeBps: 10, slippageBps: 5 },
 *   metrics, recentTicks: tickCache, fillWriter: repository, logger,
 * });
 * await engine.warmUp(['BTCUSDT']);
 * for await (const tick of ticks) engine.onTick(tick);
 * await engine.close();
 * ```
 */
export class PaperEngine {
  /** The portfolio every symbol trades in. */
  readonly portfolio: Portfolio;
  /** The strategy definition each symbol's instance comes from. */
  readonly strategy: StrategyDefinition;
  private readonly slots = new Map<string, SymbolSlot>();
  private readonly metrics: TradingMetrics | undefined;
  private readonly recentTicks: RecentTicks | undefined;
  private readonly fillLog: FillLog | undefined;
  private readonly logger: Logger;
  private readonly onFillListener: PaperEngineOptions['onFill'];
  private processed = 0;
  private skipped = 0;
  private strategyErrors = 0;
  private closed = false;

  constructor(options: PaperEngineOptions) {
    this.strategy = options.strategy;
    this.portfolio =
      options.portfolio instanceof Portfolio
        ? options.portfolio
        : new Portfolio(options.portfolio ?? {});
    this.metrics = options.metrics;
    this.recentTicks = options.recentTicks;
    this.logger = options.logger ?? silentLogger;
    this.onFillListener = options.onFill;
    const metrics = this.metrics;
    this.fillLog = options.fillWriter
      ? new FillLog({
          writer: options.fillWriter,
          ...options.fillBatch,
          logger: this.logger,
          onWriteError: () => metrics?.errors.inc({ component: 'paper-engine' }),
          onDrop: (count) => metrics?.paperFillsDropped.inc(count),
          onRefused: (refused) => metrics?.paperFillsRefused.inc(refused.length),
        })
      : undefined;
    metrics?.paperPortfolioValue.set(this.portfolio.equity());
    metrics?.paperPnl.set(this.portfolio.equity() - this.portfolio.initialCash);
  }

  /**
   * Feeds each symbol's strategy its most recent ticks (read through
   * `recentTicks`, oldest first) without trading, and marks the symbol's
   * price. Counts a cache hit when ticks came back, a miss when none did (or
   * the read failed, which is logged). Ticks older than what was read are
   * then skipped by {@link PaperEngine.onTick}.
   */
  async warmUp(symbols: readonly string[]): Promise<void> {
    const source = this.recentTicks;
    const count = this.strategy.warmUpTicks;
    if (!source || count <= 0) return;
    for (const symbol of symbols) {
      let ticks: readonly Tick[] = [];
      try {
        ticks = await source.recent(symbol, count);
      } catch (error) {
        this.logger.warn({ err: error, symbol }, 'warm-up read failed; the strategy starts cold');
        this.metrics?.errors.inc({ component: 'paper-engine' });
      }
      if (ticks.length === 0) {
        this.metrics?.cacheMisses.inc();
        continue;
      }
      this.metrics?.cacheHits.inc();
      const slot = this.slot(symbol);
      const ordered = ticks
        .filter((t) => t.tradeId > slot.lastTradeId)
        .sort((a, b) => a.tradeId - b.tradeId);
      const newest = ordered.at(-1);
      if (!newest) continue;
      slot.strategy.warmUp?.(ordered);
      slot.lastTradeId = newest.tradeId;
      this.portfolio.mark(symbol, Number(newest.price));
      this.logger.debug({ symbol, ticks: ordered.length }, 'strategy warmed up');
    }
  }

  /** Processes one tick: mark, decide, maybe trade, record metrics. */
  onTick(tick: Tick): void {
    const metrics = this.metrics;
    const started = metrics === undefined ? 0 : performance.now();
    if (this.closed) {
      this.skipped += 1;
      return;
    }
    const slot = this.slots.get(tick.symbol) ?? this.slot(tick.symbol);
    if (tick.tradeId <= slot.lastTradeId) {
      this.skipped += 1;
      return;
    }
    const price = Number(tick.price);
    if (!(price > 0 && price < Infinity)) {
      this.badPrice(tick);
      return;
    }
    slot.lastTradeId = tick.tradeId;
    this.processed += 1;
    const portfolio = this.portfolio;
    const position = portfolio.mark(tick.symbol, price);
    slot.position = position.quantity;
    slot.averageCost = position.quantity > 0 ? position.costBasis / position.quantity : 0;
    slot.cash = portfolio.cash;
    let signal: Signal;
    try {
      signal = slot.strategy.onTick(tick, slot);
    } catch (error) {
      this.strategyFailed(tick, error);
      signal = { action: 'HOLD' };
    }
    if (signal.action !== 'HOLD') this.execute(slot, signal, tick, price);
    if (metrics !== undefined) {
      const equity = portfolio.equity();
      metrics.paperPortfolioValue.set(equity);
      metrics.paperPnl.set(equity - portfolio.initialCash);
      metrics.paperTickDuration.observe((performance.now() - started) / 1000);
    }
  }

  /** Counters and the portfolio, as a plain object. */
  state(): PaperEngineState {
    return {
      strategy: this.strategy.name,
      strategyOptions: { ...this.strategy.options },
      ticksProcessed: this.processed,
      ticksSkipped: this.skipped,
      strategyErrors: this.strategyErrors,
      pendingFills: this.fillLog?.pending ?? 0,
      refusedFills: this.fillLog?.refusedCount ?? 0,
      portfolio: this.portfolio.snapshot(),
    };
  }

  /** Writes every buffered fill; rejects (fills kept) when the writer fails. */
  async flush(): Promise<void> {
    await this.fillLog?.flush();
  }

  /**
   * Ignores further ticks and writes every buffered fill, then releases the
   * fill log's timer. Rejects (fills kept) when the writer fails.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.fillLog?.close();
  }

  /** @deprecated Use {@link PaperEngine.close}; this calls it. */
  stop(): Promise<void> {
    return this.close();
  }

  private execute(slot: SymbolSlot, signal: Signal, tick: Tick, price: number): void {
    const result = this.portfolio.execute(
      slot.symbol,
      signal.action === 'BUY' ? 'BUY' : 'SELL',
      price,
      signal.size ?? 1,
      tick.tradeTime,
    );
    if (!result.ok) {
      this.rejected(slot, result.rejection);
      return;
    }
    const executed = result.fill;
    const fill: PaperFill = {
      strategy: this.strategy.name,
      symbol: executed.symbol,
      side: executed.side,
      price: plainDecimal(executed.price),
      quantity: plainDecimal(executed.quantity),
      fee: plainDecimal(executed.fee),
      cashAfter: plainDecimal(executed.cashAfter),
      positionAfter: plainDecimal(executed.positionAfter),
      timestamp: executed.timestamp,
    };
    const metrics = this.metrics;
    if (metrics !== undefined) {
      metrics.paperTrades.inc();
      metrics.paperFeesPaid.inc(executed.fee);
      metrics.paperSlippageCost.inc(executed.slippageCost);
    }
    this.fillLog?.add(fill);
    this.logger.info(
      { ...fill, realizedPnl: executed.realizedPnl, tradeId: tick.tradeId },
      'paper fill',
    );
    this.onFillListener?.(fill, executed);
    try {
      slot.strategy.onFill?.(executed);
    } catch (error) {
      this.strategyFailed(tick, error);
    }
  }

  private rejected(slot: SymbolSlot, rejection: OrderRejection): void {
    this.logger.debug({ ...rejection, strategy: this.strategy.name }, 'paper order rejected');
    try {
      slot.strategy.onRejected?.(rejection);
    } catch (error) {
      this.logger.error({ err: error, symbol: slot.symbol }, 'strategy failed on a rejection');
      this.strategyErrors += 1;
      this.metrics?.errors.inc({ component: 'paper-engine' });
    }
  }

  private badPrice(tick: Tick): void {
    this.skipped += 1;
    this.logger.warn(
      { symbol: tick.symbol, tradeId: tick.tradeId, price: tick.price },
      'tick without a positive price skipped by the paper engine',
    );
    this.metrics?.errors.inc({ component: 'paper-engine' });
  }

  private strategyFailed(tick: Tick, error: unknown): void {
    this.strategyErrors += 1;
    this.logger.error(
      { err: error, symbol: tick.symbol, tradeId: tick.tradeId, strategy: this.strategy.name },
      'strategy failed on a tick; treated as HOLD',
    );
    this.metrics?.errors.inc({ component: 'paper-engine' });
  }

  private slot(symbol: string): SymbolSlot {
    let slot = this.slots.get(symbol);
    if (slot === undefined) {
      slot = new SymbolSlot(symbol, this.strategy.create(symbol));
      this.slots.set(symbol, slot);
    }
    return slot;
  }
}
