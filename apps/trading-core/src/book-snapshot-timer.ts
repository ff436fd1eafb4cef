import type { BookTop } from '@trade/core';

/** One symbol's book as of a time: a `book_snapshots` row, or a bus message. */
export interface TimedBook {
  readonly top: BookTop;
  /** When the diff that made it was received, epoch ms. */
  readonly timestamp: number;
}

/**
 * Keeps the newest top of each symbol's book and, every `intervalMs`, hands
 * each one that moved since the last time to `take`: what `BOOK_SNAPSHOT_MS`
 * means for `live` (into `book_snapshots`) and for `collect` (onto the bus).
 *
 * @example
 * ```ts
 * const snapshots = new BookSnapshotTimer(1000, (book) => recorder.offer(book));
 * // for each client event of type 'book':
 * snapshots.update(event.book, event.receiveTime);
 * // at stop: the last ones, then no more
 * snapshots.stop();
 * ```
 */
export class BookSnapshotTimer {
  private readonly newest = new Map<string, TimedBook>();
  private readonly taken = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private stopped = false;

  constructor(
    intervalMs: number,
    private readonly take: (book: TimedBook) => void,
  ) {
    // Not what keeps the process alive: stop() hands on the last books.
    this.timer = setInterval(() => this.flush(), intervalMs).unref();
  }

  /** The newest top of `top.symbol`'s book, received at `receiveTime`. */
  update(top: BookTop, receiveTime: number): void {
    if (!this.stopped) this.newest.set(top.symbol, { top, timestamp: receiveTime });
  }

  /** Hands on the books that moved, then takes no more. */
  stop(): void {
    if (this.stopped) return;
    clearInterval(this.timer);
    this.flush();
    this.stopped = true;
  }

  private flush(): void {
    for (const [symbol, book] of this.newest) {
      if (this.taken.get(symbol) === book.top.updateId) continue;
      this.taken.set(symbol, book.top.updateId);
      this.take(book);
    }
  }
}
