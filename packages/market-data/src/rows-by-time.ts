import { InvalidInputError } from '@trade/core';
import { CompiledQuery, type Kysely } from 'kysely';
import type { MarketDataDatabase } from './schema.js';

/** Options of the time-range reads of the quote and book snapshot repositories. */
export interface RowsByTimeOptions {
  /** Rows fetched per round trip. Default 5000. */
  pageSize?: number;
}

/** The columns every row of {@link rowsByTime} carries. */
export interface TimedRow {
  update_id: string;
  /** `timestamp` in microseconds since the epoch: exact, and the keyset. */
  us: string;
}

// Open range ends: 0001-01-01 and 9999-12-31, beyond anything a row holds.
const MIN_MS = -62_135_596_800_000;
const MAX_MS = 253_402_300_799_999;

/**
 * Every row of `symbol` in `table` whose `timestamp` is in `[fromMs, toMs)`,
 * oldest first, ties in update id order: keyset pages on
 * `(timestamp, update_id)` along the `(symbol, timestamp desc)` index, so no
 * row cap, no transaction held open, memory bounded by one page.
 * `-Infinity` and `Infinity` leave an end open.
 */
export async function* rowsByTime<R extends TimedRow>(
  db: Kysely<MarketDataDatabase>,
  table: 'quote_data' | 'book_snapshots',
  columns: string,
  symbol: string,
  fromMs: number,
  toMs: number,
  options: RowsByTimeOptions = {},
): AsyncGenerator<R> {
  const pageSize = options.pageSize ?? 5000;
  if (!Number.isSafeInteger(pageSize) || pageSize <= 0) {
    throw new InvalidInputError('pageSize', pageSize, 'a positive integer');
  }
  const from = rangeEnd(fromMs, 'fromMs');
  const to = rangeEnd(toMs, 'toMs');
  const page = `select ${columns}, update_id,
      (extract(epoch from timestamp) * 1000000)::int8 as us
    from ${table}
    where symbol = $1
      and timestamp >= timestamptz 'epoch' + $2::int8 * interval '1 millisecond'
      and timestamp < timestamptz 'epoch' + $3::int8 * interval '1 millisecond'
      and (timestamp, update_id) > (timestamptz 'epoch' + $4::int8 * interval '1 microsecond', $5::int8)
    order by timestamp, update_id
    limit $6`;
  let afterUs = String(BigInt(from) * 1000n - 1n);
  let afterId = '-1';
  for (;;) {
    const { rows } = await db.executeQuery<R>(
      CompiledQuery.raw(page, [symbol, from, to, afterUs, afterId, pageSize]),
    );
    for (const row of rows) yield row;
    if (rows.length < pageSize) return;
    const last = rows[rows.length - 1]!;
    afterUs = String(last.us);
    afterId = String(last.update_id);
  }
}

/** Milliseconds since the epoch of a row read by {@link rowsByTime}. */
export function msOf(row: TimedRow): number {
  return Math.floor(Number(row.us) / 1000);
}

function rangeEnd(ms: number, field: string): number {
  if (ms === Number.NEGATIVE_INFINITY) return MIN_MS;
  if (ms === Number.POSITIVE_INFINITY) return MAX_MS;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw new InvalidInputError(field, ms, 'epoch milliseconds, or -Infinity/Infinity for open');
  }
  return Math.min(MAX_MS, Math.max(MIN_MS, Math.floor(ms)));
}
