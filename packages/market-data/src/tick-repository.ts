import type { Tick } from '@trade/core';
import type { Kysely } from 'kysely';
import type { MarketDataDatabase } from './schema.js';
import {
  TickInserter,
  type InsertTicksOptions,
  type InsertTicksResult,
  type TickWriter,
} from './tick-insert.js';
import {
  TickQueries,
  type Candle,
  type CandleOptions,
  type TickStreamOptions,
} from './tick-queries.js';

export { isDataError } from './tick-insert.js';
export type {
  InsertTicksOptions,
  InsertTicksResult,
  RejectedTick,
  TickWriter,
} from './tick-insert.js';
export type { Candle, CandleOptions, TickStreamOptions, TimeRange } from './tick-queries.js';

/**
 * `tick_data` through Kysely, on PostgreSQL or PGlite alike.
 *
 * Writes are one statement per batch whatever its size: the columns travel
 * as six array parameters expanded by `unnest`, so the 65,535-parameter
 * limit never applies. Each (symbol, trade id) is stored once: a batch goes
 * in key order with its repeats removed, as a plain `INSERT`; when that
 * meets a row already stored, the batch is written again with
 * `ON CONFLICT (symbol, trade_id) DO NOTHING`, and so are the batches after
 * it until one holds nothing already stored. Replays are harmless either way.
 *
 * @example
 * ```ts
 * const repository = new TickRepository(db);
 * await repository.insertTicks(ticks);
 * for await (const tick of repository.ticks('BTCUSDT', { from: Date.parse('2024-01-01') })) {
 *   strategy.onTick(tick);
 * }
 * ```
 */
export class TickRepository implements TickWriter {
  readonly #inserter: TickInserter;
  readonly #queries: TickQueries;

  constructor(db: Kysely<MarketDataDatabase>) {
    this.#inserter = new TickInserter(db);
    this.#queries = new TickQueries(db);
  }

  /**
   * Stores `ticks`, each (symbol, trade id) once. A tick that fails
   * validation, or that the database refuses with a data or constraint
   * error, comes back in `rejected` and the others are stored regardless:
   * the statement is split in halves until the bad rows are isolated.
   * Connection errors are thrown, with nothing or everything written; so is
   * a retryable {@link TradeError} when `options.signal` fires while the
   * insert waits (nothing written then).
   */
  insertTicks(ticks: readonly Tick[], options?: InsertTicksOptions): Promise<InsertTicksResult> {
    return this.#inserter.insertTicks(ticks, options);
  }

  /**
   * Every tick of `symbol` in `range`, oldest first, fetched `pageSize` rows
   * at a time (keyset pagination on `(timestamp, trade_id)`): no row cap, no
   * transaction held open, memory bounded by one page.
   */
  ticks(symbol: string, options: TickStreamOptions = {}): AsyncGenerator<Tick> {
    return this.#queries.ticks(symbol, options);
  }

  /** The newest `count` ticks of `symbol`, newest first. */
  latestTicks(symbol: string, count: number): Promise<Tick[]> {
    return this.#queries.latestTicks(symbol, count);
  }

  /**
   * OHLC candles of `symbol`, `intervalMs` wide and aligned on the epoch,
   * oldest first; intervals without trades are absent.
   */
  candles(symbol: string, options: CandleOptions): Promise<Candle[]> {
    return this.#queries.candles(symbol, options);
  }

  /**
   * The highest stored trade id of each symbol that has any: where to resume
   * the exchange stream. One index lookup per symbol.
   */
  latestTradeIds(symbols: readonly string[]): Promise<Map<string, number>> {
    return this.#queries.latestTradeIds(symbols);
  }

  /** How many ticks are stored, for one symbol or all. */
  countTicks(symbol?: string): Promise<number> {
    return this.#queries.countTicks(symbol);
  }
}
