import type { DuckDBInstance } from '@duckdb/node-api';
import {
  InvalidInputError,
  sideFromBuyerMaker,
  silentLogger,
  TradeError,
  type Logger,
  type Quote,
  type Tick,
} from '@trade/core';
import type { Kysely } from 'kysely';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { MarketDataDatabase } from '../schema.js';
import { fileExists, symbolFile, tableDir } from './archive-paths.js';
import {
  layoutOf,
  QUOTE_LAYOUT,
  TICK_LAYOUT,
  type ArchivedTable,
  type TableLayout,
} from './archived-table.js';
import { archivedRows, type ArchivedRow } from './archived-rows.js';
import { loadDuckDB } from './duckdb-loader.js';
import { symbolsOfDay } from './postgres-pages.js';
import { writeSymbolDay } from './symbol-day-writer.js';
import { DAY_MS, dayOverlaps, isUtcDay, utcDayStart } from './utc-day.js';

/** Options of {@link ParquetArchive.open}. */
export interface ParquetArchiveOptions {
  /** The archive's root: files go to `<dir>/<table>/<YYYY-MM-DD>/<SYMBOL>.parquet`. Created if missing. */
  dir: string;
  /** pino-shaped; one `info` line per file written. Default: silent. */
  logger?: Logger;
  /** Rows read from PostgreSQL per round trip while archiving. Default 50,000. */
  pageSize?: number;
  /**
   * For tests only: runs on each temporary file after it is written and
   * before it is read back and checked, so a test can damage it and see the
   * check refuse it. Leave unset in production.
   */
  beforeCheck?: (tempFile: string) => void | Promise<void>;
}

/** What {@link ParquetArchive.archiveDay} wrote. */
export interface ArchivedDay {
  readonly table: ArchivedTable;
  /** The UTC day, `YYYY-MM-DD`. */
  readonly day: string;
  /** Files written (one per symbol with rows that day); 0 for a day without rows. */
  readonly files: number;
  /** Rows in those files, kept rows of earlier files included. */
  readonly rows: number;
  /** Their size on disk. */
  readonly bytes: number;
}

const DEFAULT_PAGE_SIZE = 50_000;

/**
 * The cold tier of `tick_data` and `quote_data`: one zstd Parquet file per
 * table, UTC day and symbol, each checked against PostgreSQL before it takes
 * its name, and read back as the repositories read the tables.
 *
 * A file holds `symbol`, the id and `timestamp_ms` as INT64, the decimals as
 * DECIMAL(18,8) each with a `<column>_scale` (UINT8, the digits PostgreSQL
 * keeps after the point) or, when any value of the file does not fit
 * DECIMAL(18,8), as the exact VARCHAR text; ticks add `side` and
 * `is_buyer_maker`. Rows are in (time, id) order. Needs the optional peer
 * dependency `@duckdb/node-api`.
 *
 * @example
 * ```ts
 * const archive = await ParquetArchive.open({ dir: '/var/lib/trade/archive', logger });
 * await archive.archiveDay(db, 'tick_data', '2024-01-01'); // throws ArchiveCheckError on a bad file
 * for await (const tick of archive.ticks('BTCUSDT', from, to)) engine.onTick(tick);
 * await archive.close();
 * ```
 */
export class ParquetArchive {
  readonly #duckdb: DuckDBInstance;
  readonly #dir: string;
  readonly #logger: Logger;
  readonly #pageSize: number;
  readonly #beforeCheck: ParquetArchiveOptions['beforeCheck'];
  #closed = false;

  private constructor(duckdb: DuckDBInstance, options: ParquetArchiveOptions) {
    this.#duckdb = duckdb;
    this.#dir = options.dir;
    this.#logger = options.logger ?? silentLogger;
    this.#pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    this.#beforeCheck = options.beforeCheck;
  }

  /**
   * Opens the archive at `options.dir` with an in-memory DuckDB (spilling to
   * `<dir>/.duckdb-tmp` when a day outgrows memory). Throws a
   * {@link TradeError} when `@duckdb/node-api` is not installed.
   */
  static async open(options: ParquetArchiveOptions): Promise<ParquetArchive> {
    if (typeof options.dir !== 'string' || options.dir === '') {
      throw new InvalidInputError('dir', options.dir, 'a directory path');
    }
    const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    if (!Number.isSafeInteger(pageSize) || pageSize <= 0) {
      throw new InvalidInputError('pageSize', pageSize, 'a positive integer');
    }
    const { DuckDBInstance } = await loadDuckDB();
    await mkdir(options.dir, { recursive: true });
    const duckdb = await DuckDBInstance.create(':memory:', {
      temp_directory: join(options.dir, '.duckdb-tmp'),
      // Every check must read the file on disk, never bytes cached from an earlier read.
      enable_external_file_cache: 'false',
    });
    return new ParquetArchive(duckdb, options);
  }

  /**
   * Writes every symbol's rows of `table` on UTC day `day` (`YYYY-MM-DD`) to
   * `<dir>/<table>/<day>/<SYMBOL>.parquet`, each through a temporary file
   * that is read back and checked (count, id range, exact sums of every
   * decimal and of their scales, sum of times, and for ticks the buyer-maker
   * and side counts) against PostgreSQL's own aggregates of the same rows,
   * then fsynced and renamed. A file already there (a day backfilled after
   * it was archived) is replaced by the union of its rows and PostgreSQL's,
   * by id, PostgreSQL's row winning. A day without rows writes nothing.
   * Throws {@link ArchiveCheckError} on a file that fails, leaving no new
   * file at its name; files of the symbols before it stay written.
   */
  async archiveDay(
    db: Kysely<MarketDataDatabase>,
    table: ArchivedTable,
    day: string,
  ): Promise<ArchivedDay> {
    this.#assertOpen();
    const layout = tableLayout(table);
    const start = utcDayStart(day);
    const dayStart = new Date(start).toISOString();
    const dayEnd = new Date(start + DAY_MS).toISOString();
    const symbols = await symbolsOfDay(db, layout, dayStart, dayEnd);
    const targets = symbols.map((symbol) => ({
      layout,
      day,
      symbol,
      dayStart,
      dayEnd,
      file: symbolFile(this.#dir, table, day, symbol),
    }));
    const archived = { table, day, files: 0, rows: 0, bytes: 0 };
    for (const target of targets) {
      const written = await writeSymbolDay(db, this.#duckdb, target, {
        pageSize: this.#pageSize,
        beforeCheck: this.#beforeCheck,
      });
      if (written === undefined) continue;
      archived.files += 1;
      archived.rows += written.rows;
      archived.bytes += written.bytes;
      this.#logger.info(
        {
          table,
          day,
          symbol: target.symbol,
          rows: written.rows,
          bytes: written.bytes,
          decimals: written.storage,
        },
        'archived a day of a symbol to parquet',
      );
    }
    return archived;
  }

  /** The UTC days (`YYYY-MM-DD`) with an archive directory holding a file for `table`, oldest first. */
  async days(table: ArchivedTable): Promise<string[]> {
    const dir = tableDir(this.#dir, tableLayout(table).table);
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const days: string[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory() || !isUtcDay(entry.name)) continue;
      const files = await readdir(join(dir, entry.name));
      if (files.some((f) => f.endsWith('.parquet') && !f.startsWith('.'))) days.push(entry.name);
    }
    return days.sort();
  }

  /**
   * The archived ticks of `symbol` traded in `[fromMs, toMs)`, in (trade
   * time, trade id) order, as `TickRepository.ticks` gives them: exact
   * decimal text as PostgreSQL printed it, `side` from `isBuyerMaker`,
   * `receiveTime` = `tradeTime`. Streamed; `-Infinity`/`Infinity` leave an end open.
   */
  async *ticks(symbol: string, fromMs: number, toMs: number): AsyncGenerator<Tick> {
    for await (const row of this.#rows(TICK_LAYOUT, symbol, fromMs, toMs)) {
      const isBuyerMaker = row.values.is_buyer_maker === true;
      yield {
        symbol,
        tradeId: row.id,
        price: row.values.price as string,
        quantity: row.values.quantity as string,
        side: sideFromBuyerMaker(isBuyerMaker),
        isBuyerMaker,
        tradeTime: row.ms,
        receiveTime: row.ms,
      };
    }
  }

  /**
   * The archived quotes of `symbol` received in `[fromMs, toMs)`, in
   * (receive time, update id) order, as `QuoteRepository.quotesBetween` gives them.
   */
  async *quotes(symbol: string, fromMs: number, toMs: number): AsyncGenerator<Quote> {
    for await (const row of this.#rows(QUOTE_LAYOUT, symbol, fromMs, toMs)) {
      yield {
        symbol,
        updateId: row.id,
        bidPrice: row.values.bid_price as string,
        bidQty: row.values.bid_qty as string,
        askPrice: row.values.ask_price as string,
        askQty: row.values.ask_qty as string,
        receiveTime: row.ms,
      };
    }
  }

  /** Closes DuckDB. Reads still being iterated fail. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#duckdb.closeSync();
    }
    return Promise.resolve();
  }

  async *#rows(
    layout: TableLayout,
    symbol: string,
    fromMs: number,
    toMs: number,
  ): AsyncGenerator<ArchivedRow> {
    this.#assertOpen();
    checkRangeEnd(fromMs, 'fromMs');
    checkRangeEnd(toMs, 'toMs');
    const files: string[] = [];
    for (const day of await this.days(layout.table)) {
      if (!dayOverlaps(day, fromMs, toMs)) continue;
      const file = symbolFile(this.#dir, layout.table, day, symbol);
      if (await fileExists(file)) files.push(file);
    }
    yield* archivedRows(this.#duckdb, layout, files, fromMs, toMs);
  }

  #assertOpen(): void {
    if (this.#closed) throw new TradeError('the Parquet archive is closed');
  }
}

function tableLayout(table: ArchivedTable): TableLayout {
  const layout = layoutOf(table);
  if (layout === undefined) throw new InvalidInputError('table', table, 'tick_data or quote_data');
  return layout;
}

function checkRangeEnd(ms: number, field: string): void {
  if (typeof ms !== 'number' || Number.isNaN(ms)) {
    throw new InvalidInputError(field, ms, 'epoch milliseconds, or -Infinity/Infinity for open');
  }
}
