import type { Quote } from '@trade/core';
import { bookSnapshotKind, type BusBookSnapshot } from './book-snapshot-codec.js';
import { quoteKind } from './quote-codec.js';
import { RecordConsumer } from './record-consumer.js';
import {
  resolveRecordConsumerOptions,
  type RecordConsumerOptions,
} from './record-consumer-options.js';

/** The quote consumer's durable name unless told otherwise. */
export const DEFAULT_QUOTE_CONSUMER = 'store-quotes';

/** The book snapshot consumer's durable name unless told otherwise. */
export const DEFAULT_BOOK_SNAPSHOT_CONSUMER = 'store-books';

/**
 * Options of {@link startQuoteConsumer} and {@link startBookSnapshotConsumer}:
 * those of a record consumer but the kind, the durable's name optional.
 */
export type KindConsumerOptions<T> = Omit<RecordConsumerOptions<T>, 'kind' | 'consumer'> & {
  /** The durable pull consumer every process of this role shares. */
  consumer?: string;
};

/**
 * Creates a {@link RecordConsumer} of any kind, ensures its durable
 * consumer (filtered to the kind's channel unless told otherwise) and
 * starts pulling: the packages' `startX` idiom, released with `close()`. A
 * bad option rejects with a `ConfigError` naming it.
 *
 * @example
 * ```ts
 * const consumer = await startRecordConsumer({
 *   nc, kind: quoteKind, consumer: 'store-quotes',
 *   handler: async (quotes) => { await quoteRepository.insert(quotes) },
 * });
 * ```
 */
export async function startRecordConsumer<T>(
  options: RecordConsumerOptions<T>,
): Promise<RecordConsumer<T>> {
  const consumer = new RecordConsumer(resolveRecordConsumerOptions(options));
  await consumer.start();
  return consumer;
}

/**
 * Consumes quotes: the durable pull consumer `consumer` (default
 * `store-quotes`) filtered to `md.binance.bookTicker.>`, each batch acked
 * once the handler resolved. A {@link RecordConsumer} of {@link quoteKind}.
 *
 * @example
 * ```ts
 * const quotes = await startQuoteConsumer({
 *   nc, consumer: 'store-quotes', metrics,
 *   handler: async (batch) => { await quoteRecorder.insert(batch) }, // committed or spooled
 * });
 * ```
 */
export function startQuoteConsumer(
  options: KindConsumerOptions<Quote>,
): Promise<RecordConsumer<Quote>> {
  return startRecordConsumer({
    ...options,
    kind: quoteKind,
    consumer: options.consumer ?? DEFAULT_QUOTE_CONSUMER,
  });
}

/**
 * Consumes order book snapshots: the durable pull consumer `consumer`
 * (default `store-books`) filtered to `md.binance.depth.>`, each batch
 * acked once the handler resolved. A {@link RecordConsumer} of
 * {@link bookSnapshotKind}.
 *
 * @example
 * ```ts
 * const books = await startBookSnapshotConsumer({
 *   nc, consumer: 'store-books', batchSize: 100,
 *   handler: async (snapshots) => { await bookRepository.insert(snapshots) },
 * });
 * ```
 */
export function startBookSnapshotConsumer(
  options: KindConsumerOptions<BusBookSnapshot>,
): Promise<RecordConsumer<BusBookSnapshot>> {
  return startRecordConsumer({
    ...options,
    kind: bookSnapshotKind,
    consumer: options.consumer ?? DEFAULT_BOOK_SNAPSHOT_CONSUMER,
  });
}
