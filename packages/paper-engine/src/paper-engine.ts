import {
  ConfigError,
  silentLogger,
  type BookTop,
  type Logger,
  type PaperFill,
  type PaperFillWriter,
  type Quote,
  type RecentTicks,
  type Side,
  type Tick,
} from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import { orderRules, rulesOf, type SymbolRulesSource } from './exchange-rules.js';
import { FillLog, type FillLogOptions, type FillWriter } from './fill-log.js';
import { MarketView } from './market-view.js';
import { Portfolio, type PortfolioOptions, type PortfolioSnapshot } from './portfolio.js';
import type {
  ExecutedFill,
  OrderRejection,
  RejectReason,
  Signal,
  Strategy,
  StrategyContext,
  StrategyDefinition,
} from './strategy.js';

/** What a symbol runs when its strategy could not be created: it never trades. */
const HOLD_ONLY: Strategy = Object.freeze({
  onTick: (): Signal => ({ action: 'HOLD' }),
});

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
  /**
   * Called with every refused order (synchronously, in the tick), after the
   * strategy's own `onRejected`.
   */
  onRejected?: (rejection: OrderRejection) => void;
  /**
   * Each symbol's exchange rules (`exchangeInfo`'s tick size, step size,
   * minimum quantity and notional): a map by symbol or a lookup function. A
   * symbol with rules has every order's quantity rounded down to its step,
   * and orders under its minimums refused and told to the strategy. Without
   * rules (the default), quantities are cut to 8 decimals and nothing else.
   * A map is checked here (a bad value throws a `ConfigError`); rules a
   * function returns are checked at the order, which is refused as
   * `invalid_rules` (and logged) when they are bad.
   */
  rules?: SymbolRulesSource;
  /**
   * A quote received longer than this before the trade time of the tick
   * that triggers an order is not used for it (the order fills at the last
   * price with slippage, or the book). Default: no limit.
   */
  maxQuoteAgeMs?: number;
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
  /** Orders refused, for any reason (by reason: `portfolio.rejections`). */
  readonly ordersRejected: number;
  /** Quotes kept (repeats, by update id, are not counted). */
  readonly quotesReceived: number;
  /** Order book tops kept (repeats, by update id, are not counted). */
  readonly bookTopsReceived: number;
  readonly portfolio: PortfolioSnapshot;
}

/** Refusals by the exchange's rules or the book: an operator wants to see them. */
const NOTABLE_REJECTIONS: ReadonlySet<RejectReason> = new Set<RejectReason>([
  'below_min_qty',
  'below_min_notional',
  'no_liquidity',
]);

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
 * `onTick` is synchronous and deterministic: the same ticks (with the same
 * quotes and book tops between them) give the same fills, live or in a
 * backtest (fill timestamps are the ticks' trade times). An order fills at
 * the symbol's latest quote or book when one is known (see
 * {@link PaperEngine.onQuote}, {@link PaperEngine.onBook}), else at the last
 * price with slippage. Fills go to the writer in batches and are never
 * awaited per tick.
 *
 * @example
 * ```ts
 * const engine = new PaperEngine({
 *   strategy: strategyByName('sma', { fast: 5, slow: 20 }),
 *   portfolio: { initialCash: 10_000, feeBps: 10, slippageBps: 5 },
 *   rules: new Map([['BTCUSDT', btcRules]]), // from exchangeInfo
 *   metrics, recentTicks: tickCache, fillWriter: repository, logger,
 * });
 * await engine.warmUp(['BTCUSDT']);
 * for await (const event of marketData) {
 *   if (event.kind === 'quote') engine.onQuote(event.quote);
 *   else engine.onTick(event.tick);
 * }
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
  private readonly onRejectedListener: PaperEngineOptions['onRejected'];
  private readonly rules: SymbolRulesSource | undefined;
  private readonly maxQuoteAgeMs: number;
  private readonly market = new MarketView();
  private processed = 0;
  private rejectedOrders = 0;
  private quotes = 0;
  private bookTops = 0;
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
    this.onRejectedListener = options.onRejected;
    const rules = options.rules;
    if (rules !== undefined && typeof rules !== 'function') {
      for (const symbolRules of rules.values()) orderRules(symbolRules);
    }
    this.rules = rules;
    const maxAge = options.maxQuoteAgeMs;
    if (maxAge !== undefined && !(maxAge >= 0)) {
      throw new ConfigError('maxQuoteAgeMs', maxAge, 'a number of milliseconds from 0');
    }
    this.maxQuoteAgeMs = maxAge ?? Number.POSITIVE_INFINITY;
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
    if (signal.action !== 'HOLD') this.execute(slot, signal, tick);
    if (metrics !== undefined) {
      const equity = portfolio.equity();
      metrics.paperPortfolioValue.set(equity);
      metrics.paperPnl.set(equity - portfolio.initialCash);
      metrics.paperTickDuration.observe((performance.now() - started) / 1000);
    }
  }

  /**
   * Keeps `quote` as the symbol's touch for the orders that follow (in
   * stream order): a BUY then fills at its ask, a SELL at its bid. A quote
   * whose update id is not above the last one kept is a repeat, ignored.
   */
  onQuote(quote: Quote): void {
    if (!this.closed && this.market.addQuote(quote)) this.quotes += 1;
  }

  /**
   * Keeps `top` as the symbol's order book for the orders that follow: an
   * order then walks the levels of its side (asks for a BUY, bids for a
   * SELL) and fills at their volume-weighted price. An order larger than the
   * levels hold fills what they hold (a partial fill, counted in
   * `portfolio.partialFills`); the rest is not carried over. A top whose
   * update id is not above the last one kept is ignored.
   */
  onBook(top: BookTop): void {
    if (!this.closed && this.market.addBook(top)) this.bookTops += 1;
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
      ordersRejected: this.rejectedOrders,
      quotesReceived: this.quotes,
      bookTopsReceived: this.bookTops,
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

  private execute(slot: SymbolSlot, signal: Signal, tick: Tick): void {
    const side: Side = signal.action === 'BUY' ? 'BUY' : 'SELL';
    const symbol = slot.symbol;
    const result = this.portfolio.execute(
      symbol,
      side,
      tick.price,
      signal.size ?? 1,
      tick.tradeTime,
      {
        liquidity: this.market.liquidity(symbol, side, tick.tradeTime, this.maxQuoteAgeMs),
        rules: rulesOf(this.rules, symbol),
      },
    );
    if (!result.ok) {
      this.rejected(slot, result.rejection);
      return;
    }
    const executed = result.fill;
    const exact = executed.exact;
    const fill: PaperFill = {
      strategy: this.strategy.name,
      symbol: executed.symbol,
      side: executed.side,
      price: exact.price,
      quantity: exact.quantity,
      fee: exact.fee,
      cashAfter: exact.cashAfter,
      positionAfter: exact.positionAfter,
      timestamp: executed.timestamp,
    };
    const metrics = this.metrics;
    if (metrics !== undefined) {
      metrics.paperTrades.inc();
      metrics.paperFeesPaid.inc(executed.fee);
      metrics.paperSlippageCost.inc(executed.slippageCost);
    }
    this.fillLog?.add(fill);
    // Written out, not spread from `fill`: on Node 20 the spread of the fill
    // (kept by the fill log) cost about as much as the exact fill itself.
    // At debug: a strategy may fill on one tick in ten, and a line per fill
    // written synchronously cost an eighth of the app's CPU at 50k ticks/s;
    // the fills are in the trade log, and counted in the metrics.
    this.logger.debug(
      {
        strategy: fill.strategy,
        symbol: fill.symbol,
        side: fill.side,
        price: fill.price,
        quantity: fill.quantity,
        fee: fill.fee,
        cashAfter: fill.cashAfter,
        positionAfter: fill.positionAfter,
        timestamp: fill.timestamp,
        realizedPnl: exact.realizedPnl,
        source: executed.source,
        levels: executed.levels,
        partial: executed.partial,
        tradeId: tick.tradeId,
      },
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
    this.rejectedOrders += 1;
    const fields = { ...rejection, strategy: this.strategy.name };
    if (rejection.reason === 'invalid_rules') {
      this.logger.error(fields, "paper order rejected: the symbol's exchange rules are not valid");
      this.metrics?.errors.inc({ component: 'paper-engine' });
    } else if (NOTABLE_REJECTIONS.has(rejection.reason)) {
      this.logger.info(fields, 'paper order rejected');
    } else {
      this.logger.debug(fields, 'paper order rejected');
    }
    try {
      slot.strategy.onRejected?.(rejection);
    } catch (error) {
      this.logger.error({ err: error, symbol: slot.symbol }, 'strategy failed on a rejection');
      this.strategyErrors += 1;
      this.metrics?.errors.inc({ component: 'paper-engine' });
    }
    this.onRejectedListener?.(rejection);
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
      slot = new SymbolSlot(symbol, this.createStrategy(symbol));
      this.slots.set(symbol, slot);
    }
    return slot;
  }

  /**
   * The strategy of a symbol seen for the first time. One whose `create`
   * throws (a user's module, say) holds that symbol, logged and counted
   * once: the other symbols go on trading and the process goes on.
   */
  private createStrategy(symbol: string): Strategy {
    try {
      return this.strategy.create(symbol);
    } catch (error) {
      this.strategyErrors += 1;
      this.logger.error(
        { err: error, symbol, strategy: this.strategy.name },
        'strategy could not be created for the symbol; its ticks are held (HOLD)',
      );
      this.metrics?.errors.inc({ component: 'paper-engine' });
      return HOLD_ONLY;
    }
  }
}
