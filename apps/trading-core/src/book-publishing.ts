import { join } from 'node:path';
import type { BookTop, Quote } from '@trade/core';
import {
  startBookSnapshotPublisher,
  startQuotePublisher,
  type BusBookSnapshot,
  type RecordPublisher,
} from '@trade/bus';
import { RecordSpool, bookSnapshotCodec, quoteCodec, type RecordCodec } from '@trade/market-data';
import type { TradingMetrics } from '@trade/metrics';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { BookSnapshotTimer } from './book-snapshot-timer.js';
import type { Channel } from './channels.js';
import type { Resource } from './resources.js';

/** What `collect` does with quotes and books: onto the bus, through a spool while it is away. */
export interface BookPublishing {
  /** Waits while the publisher holds too many; false when it refused the quote at stop. */
  offerQuote(quote: Quote, stopping: () => boolean): Promise<boolean>;
  onBook(book: BookTop, receiveTime: number): void;
  /** `/ready`: why quotes or snapshots are neither published nor spooled, if they are not. */
  blocked(): string | undefined;
  /** Publishes or spools what is held; quotes and snapshots neither took. */
  close(): Promise<{ lost: number; leftInSpool: number }>;
}

/**
 * Opens the publishers the channels need: quotes (`bookTicker`) on
 * `md.binance.bookTicker.<SYMBOL>`, and with `depth` each symbol's top 20
 * every `bookSnapshotMs` (when it moved) on `md.binance.depth.<SYMBOL>`,
 * each with its durable spool under `DATA_DIR/bus-spool/quotes` and `.../books`.
 */
export async function openBookPublishing(options: {
  readonly channels: readonly Channel[];
  readonly nc: NatsConnection;
  readonly stream: string;
  readonly dataDir: string;
  readonly bookSnapshotMs: number;
  readonly metrics: TradingMetrics;
  readonly libraryLogger: Logger;
  readonly resources: Resource[];
}): Promise<BookPublishing> {
  const { channels, resources } = options;
  const open = async <T>(
    kind: 'quotes' | 'books',
    codec: RecordCodec<T>,
    start: (spool: RecordSpool<T>) => Promise<RecordPublisher<T>>,
  ) => {
    const logger = options.libraryLogger.child({ component: `bus-${kind}` });
    const spool = await RecordSpool.open<T>(join(options.dataDir, 'bus-spool', kind), {
      codec,
      name: kind,
      logger,
      onCorruptRecord: () => options.metrics.spoolCorruptRecords.inc(),
    });
    const held: { publisher?: RecordPublisher<T> } = {};
    let closing: Promise<{ lost: number; leftInSpool: number }> | undefined;
    // Closed once, at stop or by closeAll after a failure: the publisher, then its spool.
    const close = () =>
      (closing ??= (async () => {
        const result = await held.publisher?.close();
        await spool.close();
        return { lost: result?.lost.length ?? 0, leftInSpool: result?.leftInSpool ?? 0 };
      })());
    resources.push({ name: `${kind} publisher`, close: () => close().then(() => undefined) });
    const publisher = await start(spool);
    held.publisher = publisher;
    return { publisher, close };
  };
  const common = {
    nc: options.nc,
    stream: options.stream,
    metrics: options.metrics,
  };
  const quotes = channels.includes('bookTicker')
    ? await open<Quote>('quotes', quoteCodec, (spool) =>
        startQuotePublisher({
          ...common,
          spool,
          logger: options.libraryLogger.child({ component: 'bus-quotes' }),
        }),
      )
    : undefined;
  const books = channels.includes('depth')
    ? await open<BusBookSnapshot>('books', bookSnapshotCodec, (spool) =>
        startBookSnapshotPublisher({
          ...common,
          spool,
          logger: options.libraryLogger.child({ component: 'bus-books' }),
        }),
      )
    : undefined;
  let lostSnapshots = 0;
  const snapshots = books
    ? new BookSnapshotTimer(options.bookSnapshotMs, (book) => {
        try {
          if (!books.publisher.offer(book)) lostSnapshots++;
        } catch (error) {
          // A snapshot the codec refuses (it never should: the book checked every level).
          lostSnapshots++;
          options.libraryLogger.error(
            { err: error, symbol: book.top.symbol },
            'book snapshot not published',
          );
        }
      })
    : undefined;
  let closed = false;
  return {
    offerQuote: async (quote, stopping) => {
      if (quotes === undefined) return true;
      const { publisher } = quotes;
      while (!publisher.offer(quote)) {
        if (stopping()) return false;
        await Promise.race([
          publisher.whenWritable(),
          new Promise((resolve) => setTimeout(resolve, 1_000).unref()),
        ]);
      }
      return true;
    },
    onBook: (book, receiveTime) => snapshots?.update(book, receiveTime),
    blocked: () => {
      for (const [what, part] of [
        ['quotes', quotes],
        ['book snapshots', books],
      ] as const) {
        const health = part?.publisher.health();
        if (health?.blocked) return `${what}: ${health.reason ?? 'blocked'}`;
      }
      return undefined;
    },
    close: async () => {
      if (closed) return { lost: 0, leftInSpool: 0 };
      closed = true;
      snapshots?.stop();
      let lost = lostSnapshots;
      let leftInSpool = 0;
      for (const part of [quotes, books]) {
        if (part === undefined) continue;
        const result = await part.close();
        lost += result.lost;
        leftInSpool += result.leftInSpool;
      }
      return { lost, leftInSpool };
    },
  };
}
