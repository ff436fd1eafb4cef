import type { Quote } from '@trade/core';
import type { BusBookSnapshot } from './book-snapshot-codec.js';
import { bookSnapshotKind } from './book-snapshot-codec.js';
import { quoteKind } from './quote-codec.js';
import { RecordPublisher } from './record-publisher.js';
import {
  resolveRecordPublisherOptions,
  type RecordPublisherOptions,
} from './record-publisher-options.js';

/** Options of {@link startQuotePublisher} and {@link startBookSnapshotPublisher}: those of a record publisher but the kind. */
export type KindPublisherOptions<T> = Omit<RecordPublisherOptions<T>, 'kind'>;

/**
 * The defaults of a book snapshot publisher's limits: a snapshot of 20
 * levels a side is a hundred times a quote, and one comes per symbol and
 * second.
 */
export const BOOK_SNAPSHOT_LIMITS = Object.freeze({
  maxQueued: 1_000,
  maxBuffered: 10_000,
  spoolBatch: 100,
});

/**
 * Creates a {@link RecordPublisher} of any kind and starts it: the
 * packages' `startX` idiom, released with `close()`. Options are checked
 * here: a bad one rejects with a `ConfigError` naming it. A spool left
 * non-empty by an earlier run is published before any record offered now.
 *
 * @example
 * ```ts
 * const spool = await RecordSpool.open('./data/bus-spool/quotes', { codec: quoteCodec, name: 'quotes' });
 * const publisher = await startRecordPublisher({ nc, kind: quoteKind, spool, metrics, logger });
 * publisher.offer(quote);
 * await publisher.close();
 * await spool.close();
 * ```
 */
export function startRecordPublisher<T>(
  options: RecordPublisherOptions<T>,
): Promise<RecordPublisher<T>> {
  return start(() => resolveRecordPublisherOptions(options));
}

/**
 * Publishes quotes: subject `md.binance.bookTicker.<SYMBOL>`, message id
 * `binance:bookTicker:<SYMBOL>:<updateId>`, the receive time kept in the
 * body (through the spool too), so a replay carries the same time. A
 * {@link RecordPublisher} of {@link quoteKind}.
 *
 * @example
 * ```ts
 * const spool = await RecordSpool.open<Quote>(join(dataDir, 'bus-spool', 'quotes'), { codec: quoteCodec, name: 'quotes' });
 * const quotes = await startQuotePublisher({ nc, spool, metrics, logger });
 * client.on('quote', (quote) => { if (!quotes.offer(quote)) held.push(quote); });
 * const { lost } = await quotes.close();
 * ```
 */
export function startQuotePublisher(
  options: KindPublisherOptions<Quote>,
): Promise<RecordPublisher<Quote>> {
  return start(() => resolveRecordPublisherOptions({ ...options, kind: quoteKind }));
}

/**
 * Publishes order book snapshots: subject `md.binance.depth.<SYMBOL>`,
 * message id `binance:depth:<SYMBOL>:<top.updateId>`. Each snapshot is
 * checked when offered (`offer` throws an `InvalidInputError` naming the
 * bad field). Smaller memory limits by default: {@link BOOK_SNAPSHOT_LIMITS}.
 * A {@link RecordPublisher} of {@link bookSnapshotKind}.
 *
 * @example
 * ```ts
 * const spool = await RecordSpool.open<BookSnapshot>(join(dataDir, 'bus-spool', 'books'), { codec: bookSnapshotCodec, name: 'books' });
 * const books = await startBookSnapshotPublisher({ nc, spool, metrics, logger });
 * setInterval(() => books.offer({ top: book.top(20), timestamp: Date.now() }), 1_000);
 * ```
 */
export function startBookSnapshotPublisher(
  options: KindPublisherOptions<BusBookSnapshot>,
): Promise<RecordPublisher<BusBookSnapshot>> {
  return start(() =>
    resolveRecordPublisherOptions({ ...options, kind: bookSnapshotKind }, BOOK_SNAPSHOT_LIMITS),
  );
}

function start<T>(
  resolve: () => ConstructorParameters<typeof RecordPublisher<T>>[0],
): Promise<RecordPublisher<T>> {
  // A bad option rejects rather than throws: the caller awaits either way.
  return Promise.resolve().then(() => {
    const publisher = new RecordPublisher(resolve());
    publisher.start();
    return publisher;
  });
}
