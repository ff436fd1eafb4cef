import type { Quote } from '@trade/core';
import { CompiledQuery, type Kysely } from 'kysely';
import { inKeyOrder, KeyedInserter, type RefusedRow } from './keyed-insert.js';
import { quoteArrays, quoteProblem } from './quote-rows.js';
import { msOf, rowsByTime, type RowsByTimeOptions, type TimedRow } from './rows-by-time.js';
import type { MarketDataDatabase } from './schema.js';
import { textArrayLiteral } from './tick-rows.js';

/** A quote the database would not take, and why. */
export interface RejectedQuote {
  readonly quote: Quote;
  /** The field that was wrong (`invalid bidPrice`...) or the database's message. */
  readonly reason: string;
}

/** What one {@link QuoteRepository.insert} call did with its quotes. */
export interface InsertQuotesResult {
  /** Rows written. */
  readonly inserted: number;
  /** Quotes already stored (same symbol and update id), or repeated within the batch. */
  readonly duplicates: number;
  /** Quotes refused; the rest of the batch was stored regardless. */
  readonly rejected: readonly RejectedQuote[];
}

const INSERT_NEW = `insert into quote_data (symbol, update_id, bid_price, bid_qty, ask_price, ask_qty, timestamp)
select s, i, bp, bq, ap, aq, timestamptz 'epoch' + ($8::int8 + dt) * interval '1 millisecond'
from unnest($1::text[], $2::int8[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[], $7::int8[])
  as u(s, i, bp, bq, ap, aq, dt)`;

interface QuoteRow extends TimedRow {
  bid_price: string;
  bid_qty: string;
  ask_price: string;
  ask_qty: string;
}

/**
 * `quote_data` (best bid and ask updates) through Kysely, on PostgreSQL or
 * PGlite alike.
 *
 * Writes are one `unnest` statement per batch, decimals passed as strings
 * straight into the `numeric` columns, `timestamp` the quote's receive
 * time. Each (symbol, update id) is stored once, the way ticks are: the
 * batch goes in key order with its repeats removed, as a plain `INSERT`;
 * when that meets a stored row, the batch is written again with
 * `ON CONFLICT (symbol, update_id, timestamp) DO NOTHING`, and so are the batches
 * after it until one holds nothing already stored.
 *
 * @example
 * ```ts
 * const quotes = new QuoteRepository(db);
 * await quotes.insert([quote]);
 * const from = Date.parse('2024-01-01T00:00:00Z');
 * for await (const q of quotes.quotesBetween('BTCUSDT', from, from + 86_400_000)) engine.onQuote(q);
 * ```
 */
export class QuoteRepository {
  readonly #inserter: KeyedInserter<Quote>;

  constructor(private readonly db: Kysely<MarketDataDatabase>) {
    this.#inserter = new KeyedInserter(db, {
      insertNew: INSERT_NEW,
      // The partition key is part of the unique key; a quote's time is its receive
      // time, which the spool and the bus carry with it, so a replayed quote lands once.
      insertSkippingStored: `${INSERT_NEW}\non conflict (symbol, update_id, timestamp) do nothing`,
      parameters: quoteArrays,
      partitioned: { table: 'quote_data', timeOf: (quote) => quote.receiveTime },
    });
  }

  /**
   * Stores `quotes`, each (symbol, update id) once. A quote that fails
   * validation, or that the database refuses with a data or constraint
   * error, comes back in `rejected`, and the others are stored regardless.
   * Connection errors are thrown, with nothing or everything written.
   */
  async insert(quotes: readonly Quote[]): Promise<InsertQuotesResult> {
    const rejected: RejectedQuote[] = [];
    const valid: Quote[] = [];
    for (const quote of quotes) {
      const problem = quoteProblem(quote);
      if (problem === undefined) valid.push(quote);
      else rejected.push({ quote, reason: `invalid ${problem}` });
    }
    const refused: RefusedRow<Quote>[] = [];
    const inserted = await this.#inserter.insert(
      inKeyOrder(
        valid,
        (q) => q.symbol,
        (q) => q.updateId,
      ),
      refused,
    );
    for (const { row, reason } of refused) rejected.push({ quote: row, reason });
    return { inserted, duplicates: valid.length - refused.length - inserted, rejected };
  }

  /**
   * The highest stored update id of each symbol that has any: a quote at or
   * below it is a repeat. One index lookup per symbol.
   */
  async latestUpdateIds(symbols: readonly string[]): Promise<Map<string, number>> {
    const { rows } = await this.db.executeQuery<{ symbol: string; update_id: string | null }>(
      CompiledQuery.raw(
        `select s.symbol,
           (select update_id from quote_data q where q.symbol = s.symbol order by update_id desc limit 1) as update_id
         from unnest($1::text[]) as s(symbol)`,
        [textArrayLiteral(symbols)],
      ),
    );
    const latest = new Map<string, number>();
    for (const row of rows) {
      if (row.update_id !== null) latest.set(row.symbol, Number(row.update_id));
    }
    return latest;
  }

  /**
   * The stored quotes of `symbol` received in `[fromMs, toMs)`, oldest
   * first (by receive time, then update id: the update id order, as the
   * ids of one symbol rise with time), read `pageSize` rows at a time.
   * Decimals come back exactly as they were stored; `receiveTime` is the
   * stored `timestamp`. `-Infinity`/`Infinity` leave an end open.
   */
  async *quotesBetween(
    symbol: string,
    fromMs: number,
    toMs: number,
    options?: RowsByTimeOptions,
  ): AsyncGenerator<Quote> {
    const rows = rowsByTime<QuoteRow>(
      this.db,
      'quote_data',
      'bid_price, bid_qty, ask_price, ask_qty',
      symbol,
      fromMs,
      toMs,
      options,
    );
    for await (const row of rows) {
      yield {
        symbol,
        updateId: Number(row.update_id),
        bidPrice: row.bid_price,
        bidQty: row.bid_qty,
        askPrice: row.ask_price,
        askQty: row.ask_qty,
        receiveTime: msOf(row),
      };
    }
  }
}
