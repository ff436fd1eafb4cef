import { join } from 'node:path';
import type { BookTop, Quote } from '@trade/core';
import {
  startBookSnapshotRecorder,
  startQuoteRecorder,
  type BookSnapshotRecorder,
  type QuoteRecorder,
} from '@trade/market-data';
import type { Logger } from 'pino';
import { BookSnapshotTimer } from './book-snapshot-timer.js';
import type { Channel } from './channels.js';
import type { Resource } from './resources.js';
import type { Storage } from './storage.js';

/** What `live` does with quotes and books: `quote_data`, and `book_snapshots` every interval. */
export interface BookRecording {
  onQuote(quote: Quote): void;
  /** The newest top of a symbol's book; written at the next snapshot tick if it moved. */
  onBook(book: BookTop, receiveTime: number): void;
  /** `/ready`: neither the database nor the spool takes quotes or snapshots. */
  blocked(): string | undefined;
  /** Writes the last snapshots, then flushes both recorders; quotes and snapshots neither took. */
  close(): Promise<{ lostQuotes: number; lostSnapshots: number }>;
}

/**
 * Opens the recorders the channels need (quotes with `bookTicker`, book
 * snapshots with `depth`), each spooling under `DATA_DIR/spool/quotes` and
 * `.../books` while the database is away, and the snapshot timer: every
 * `bookSnapshotMs` each symbol's newest book, if it moved since the last
 * snapshot, becomes a `book_snapshots` row stamped with the time its last
 * diff was received.
 */
export async function openBookRecording(options: {
  readonly channels: readonly Channel[];
  readonly storage: Storage;
  readonly dataDir: string;
  readonly bookSnapshotMs: number;
  readonly logger: Logger;
  readonly resources: Resource[];
}): Promise<BookRecording> {
  const { channels, storage, logger, resources } = options;
  const quotes: QuoteRecorder | undefined = channels.includes('bookTicker')
    ? await startQuoteRecorder({
        repository: storage.quotes,
        spoolDir: join(options.dataDir, 'spool', 'quotes'),
        logger: logger.child({ component: 'quotes' }),
      })
    : undefined;
  if (quotes) {
    resources.push({ name: 'quote recorder', close: () => quotes.close().then(() => undefined) });
  }
  const books: BookSnapshotRecorder | undefined = channels.includes('depth')
    ? await startBookSnapshotRecorder({
        repository: storage.bookSnapshots,
        spoolDir: join(options.dataDir, 'spool', 'books'),
        logger: logger.child({ component: 'book-snapshots' }),
      })
    : undefined;
  const snapshots = books
    ? new BookSnapshotTimer(options.bookSnapshotMs, (book) => books.offer(book))
    : undefined;
  if (books) {
    resources.push({
      name: 'book snapshot recorder',
      close: () => (snapshots?.stop(), books.close().then(() => undefined)),
    });
  }
  let closed = false;
  return {
    onQuote: (quote) => quotes?.offer(quote),
    onBook: (book, receiveTime) => snapshots?.update(book, receiveTime),
    blocked: () => {
      for (const [what, recorder] of [
        ['quotes', quotes],
        ['book snapshots', books],
      ] as const) {
        const health = recorder?.health();
        if (health?.blocked) return `${what}: ${health.reason ?? 'blocked'}`;
      }
      return undefined;
    },
    close: async () => {
      if (closed) return { lostQuotes: 0, lostSnapshots: 0 };
      closed = true;
      snapshots?.stop();
      const [q, b] = await Promise.all([quotes?.close(), books?.close()]);
      return { lostQuotes: q?.lost ?? 0, lostSnapshots: b?.lost ?? 0 };
    },
  };
}
