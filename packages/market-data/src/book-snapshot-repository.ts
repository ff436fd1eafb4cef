import type { BookLevel, BookTop } from '@trade/core';
import type { Kysely } from 'kysely';
import { bookSnapshotProblem, bookSnapshotsJson, type BookSnapshot } from './book-rows.js';
import { inKeyOrder, KeyedInserter, type RefusedRow } from './keyed-insert.js';
import { msOf, rowsByTime, type RowsByTimeOptions, type TimedRow } from './rows-by-time.js';
import type { MarketDataDatabase } from './schema.js';

export type { BookSnapshot } from './book-rows.js';

/** A stored order book top with the time it was taken; fits the paper engine's `TimedBookTop`. */
export interface StoredBookTop extends BookTop {
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
}

/** A snapshot the database would not take, and why. */
export interface RejectedBookSnapshot {
  readonly snapshot: BookSnapshot;
  /** The field that was wrong (`invalid bids`...) or the database's message. */
  readonly reason: string;
}

/** What one {@link BookSnapshotRepository.insert} call did with its snapshots. */
export interface InsertBookSnapshotsResult {
  /** Rows written. */
  readonly inserted: number;
  /** Snapshots already stored (same symbol and update id), or repeated within the batch. */
  readonly duplicates: number;
  /** Snapshots refused; the rest of the batch was stored regardless. */
  readonly rejected: readonly RejectedBookSnapshot[];
}

const INSERT_NEW = `insert into book_snapshots (symbol, update_id, timestamp, bids, asks)
select symbol, update_id, timestamptz 'epoch' + ms * interval '1 millisecond', bids, asks
from jsonb_to_recordset($1::jsonb) as r(symbol text, update_id int8, ms int8, bids jsonb, asks jsonb)`;

interface BookRow extends TimedRow {
  bids: string;
  asks: string;
}

/**
 * `book_snapshots` (the top levels of an order book, taken now and then)
 * through Kysely, on PostgreSQL or PGlite alike. Each side is stored as
 * jsonb `[["price","qty"],...]`, the exchange's strings exactly, best
 * first. Each (symbol, update id) is stored once, written as the quote
 * and tick repositories write: one statement per batch, a plain `INSERT`
 * until a batch meets stored rows, then `ON CONFLICT DO NOTHING`.
 *
 * @example
 * ```ts
 * const books = new BookSnapshotRepository(db);
 * await books.insert([{ top: orderBook.top(20), timestamp: Date.now() }]);
 * for await (const top of books.snapshotsBetween('BTCUSDT', -Infinity, Infinity)) replay(top);
 * ```
 */
export class BookSnapshotRepository {
  readonly #inserter: KeyedInserter<BookSnapshot>;

  constructor(private readonly db: Kysely<MarketDataDatabase>) {
    this.#inserter = new KeyedInserter(db, {
      insertNew: INSERT_NEW,
      insertSkippingStored: `${INSERT_NEW}\non conflict (symbol, update_id) do nothing`,
      parameters: (snapshots) => [bookSnapshotsJson(snapshots)],
    });
  }

  /**
   * Stores `snapshots`, each (symbol, update id) once. A snapshot that
   * fails validation (levels not best first included), or that the
   * database refuses with a data or constraint error, comes back in
   * `rejected`, and the others are stored regardless. Connection errors are
   * thrown, with nothing or everything written.
   */
  async insert(snapshots: readonly BookSnapshot[]): Promise<InsertBookSnapshotsResult> {
    const rejected: RejectedBookSnapshot[] = [];
    const valid: BookSnapshot[] = [];
    for (const snapshot of snapshots) {
      const problem = bookSnapshotProblem(snapshot);
      if (problem === undefined) valid.push(snapshot);
      else rejected.push({ snapshot, reason: `invalid ${problem}` });
    }
    const refused: RefusedRow<BookSnapshot>[] = [];
    const inserted = await this.#inserter.insert(
      inKeyOrder(
        valid,
        (s) => s.top.symbol,
        (s) => s.top.updateId,
      ),
      refused,
    );
    for (const { row, reason } of refused) rejected.push({ snapshot: row, reason });
    return { inserted, duplicates: valid.length - refused.length - inserted, rejected };
  }

  /**
   * The stored snapshots of `symbol` taken in `[fromMs, toMs)`, oldest
   * first (ties in update id order), read `pageSize` rows at a time; levels
   * exactly as stored, best first. `-Infinity`/`Infinity` leave an end open.
   */
  async *snapshotsBetween(
    symbol: string,
    fromMs: number,
    toMs: number,
    options?: RowsByTimeOptions,
  ): AsyncGenerator<StoredBookTop> {
    const rows = rowsByTime<BookRow>(
      this.db,
      'book_snapshots',
      'bids::text as bids, asks::text as asks',
      symbol,
      fromMs,
      toMs,
      options,
    );
    for await (const row of rows) {
      yield {
        symbol,
        updateId: Number(row.update_id),
        bids: JSON.parse(row.bids) as BookLevel[],
        asks: JSON.parse(row.asks) as BookLevel[],
        timestamp: msOf(row),
      };
    }
  }
}
