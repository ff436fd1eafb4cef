import { TradeError } from '@trade/core';
import type { ArchivedTable } from './archived-table.js';

const ARCHIVE_CHECK_ERROR_MARKER = Symbol.for('@trade/market-data.error.archive-check');

/**
 * A Parquet file that did not match what it was written from: its read-back
 * aggregates differ from PostgreSQL's (plus, when the day was archived
 * before, the rows kept from the earlier file), or it could not be read at
 * all. The file is not at its final name; the day must not be dropped.
 *
 * @example
 * ```ts
 * try { await archive.archiveDay(db, 'tick_data', day) }
 * catch (e) { if (ArchiveCheckError.isInstance(e)) log.error({ check: e.check }, e.message) }
 * ```
 */
export class ArchiveCheckError extends TradeError {
  private readonly [ARCHIVE_CHECK_ERROR_MARKER] = true;
  readonly table: ArchivedTable;
  /** The UTC day, `YYYY-MM-DD`. */
  readonly day: string;
  readonly symbol: string;
  /**
   * What failed: `count`, `min trade_id`, `max trade_id`, `sum of price`,
   * `sum of scale of price`, `sum of timestamp_ms`, `count of is_buyer_maker`...;
   * `read` when the written file could not be read back, `read existing file`
   * when the day's earlier file could not be read to keep its rows.
   */
  readonly check: string;
  /** The value the file should have, as exact text; `undefined` for the read checks. */
  readonly expected: string | null | undefined;
  /** The value the file has. */
  readonly actual: string | null | undefined;
  /** The file that was checked (the temporary name for a new file). */
  readonly file: string;

  constructor(
    where: { table: ArchivedTable; day: string; symbol: string; file: string },
    check: string,
    detail: { expected?: string | null; actual?: string | null; cause?: unknown },
  ) {
    const what =
      detail.cause === undefined
        ? `expected ${String(detail.expected)}, the file has ${String(detail.actual)}`
        : errorMessage(detail.cause);
    super(
      `archive check of ${where.table} ${where.day} ${where.symbol} failed: ${check}: ${what}`,
      {
        cause: detail.cause,
      },
    );
    this.name = 'ArchiveCheckError';
    this.table = where.table;
    this.day = where.day;
    this.symbol = where.symbol;
    this.file = where.file;
    this.check = check;
    this.expected = detail.expected;
    this.actual = detail.actual;
  }

  static override isInstance(error: unknown): error is ArchiveCheckError {
    return typeof error === 'object' && error !== null && ARCHIVE_CHECK_ERROR_MARKER in error;
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
