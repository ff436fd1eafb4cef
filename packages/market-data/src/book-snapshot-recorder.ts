import type { BookLevel } from '@trade/core';
import type { BookSnapshot } from './book-rows.js';
import type { BookSnapshotRepository } from './book-snapshot-repository.js';
import { RecordRecorder } from './record-recorder.js';
import type { RecordRecorderOptions } from './record-recorder-types.js';
import type { RecordCodec } from './record-spool.js';

/** Options of {@link startBookSnapshotRecorder}: those of {@link RecordRecorder.start} but the row specifics. */
export interface BookSnapshotRecorderOptions extends Omit<
  RecordRecorderOptions<BookSnapshot>,
  'insert' | 'codec' | 'name' | 'rejectedField'
> {
  repository: Pick<BookSnapshotRepository, 'insert'>;
}

/** A {@link RecordRecorder} of order book snapshots. */
export type BookSnapshotRecorder = RecordRecorder<BookSnapshot>;

/**
 * A snapshot in the spool: `[symbol, updateId, timestamp, bids, asks]`,
 * levels as `[["price","qty"],...]`, the strings exactly, best first.
 */
export const bookSnapshotCodec: RecordCodec<BookSnapshot> = {
  encode: ({ top, timestamp }) => [top.symbol, top.updateId, timestamp, top.bids, top.asks],
  decode(value) {
    if (!Array.isArray(value) || value.length !== 5) throw new TypeError('not a snapshot tuple');
    const [symbol, updateId, timestamp, bids, asks] = value as unknown[];
    if (
      typeof symbol !== 'string' ||
      typeof updateId !== 'number' ||
      typeof timestamp !== 'number' ||
      !isLevels(bids) ||
      !isLevels(asks)
    ) {
      throw new TypeError('not a snapshot tuple');
    }
    return { top: { symbol, updateId, bids, asks }, timestamp };
  },
};

function isLevels(value: unknown): value is BookLevel[] {
  return (
    Array.isArray(value) &&
    value.every(
      (level) =>
        Array.isArray(level) &&
        level.length === 2 &&
        typeof level[0] === 'string' &&
        typeof level[1] === 'string',
    )
  );
}

/**
 * Records order book snapshots into `book_snapshots` through a
 * {@link BookSnapshotRepository}: in batches, each (symbol, update id)
 * once, spooled to `spoolDir` while the database does not take them (see
 * {@link RecordRecorder}). Refused snapshots go to `<spoolDir>/rejected.jsonl`
 * as `{"at","reason","snapshot"}` lines.
 *
 * @example
 * ```ts
 * const books = await startBookSnapshotRecorder({
 *   repository: new BookSnapshotRepository(db),
 *   spoolDir: join(DATA_DIR, 'spool', 'books'),
 * });
 * setInterval(() => books.offer({ top: orderBook.top(20), timestamp: Date.now() }), 1_000);
 * const { lost } = await books.close();
 * ```
 */
export function startBookSnapshotRecorder(
  options: BookSnapshotRecorderOptions,
): Promise<BookSnapshotRecorder> {
  const { repository, ...rest } = options;
  return RecordRecorder.start<BookSnapshot>({
    ...rest,
    name: 'books',
    rejectedField: 'snapshot',
    codec: bookSnapshotCodec,
    async insert(rows) {
      const { inserted, duplicates, rejected } = await repository.insert(rows);
      return {
        inserted,
        duplicates,
        rejected: rejected.map((r) => ({ row: r.snapshot, reason: r.reason })),
      };
    },
  });
}
