import { bookTickerFrame, depthFrame } from './book-frames.js';
import type { Market, MarketSymbol } from './market.js';
import type { SimQuote } from './order-book-truth.js';
import type { SimConnection } from './ws-connection.js';

/** Options of {@link BookStreams}. */
export interface BookStreamsOptions {
  readonly market: Market;
  /** The open connections (the stream server's own set, read, never changed here). */
  readonly connections: ReadonlySet<SimConnection>;
  readonly now: () => number;
  /** Asked before each depth event of `symbol` goes out: `true` drops it (the fault injector's). */
  readonly dropDepthDiff: (symbol: string) => boolean;
}

/**
 * The book's streams over the stream server's connections: a bookTicker
 * frame at each change of a best bid or ask (the book tells it, only while
 * someone subscribes), and depth events, each the changes since the
 * previous event of its stream merged per level, when the simulator's
 * 100 ms and 1 s timers ask. A stream no one subscribes to costs nothing:
 * its first event starts from the book as it is when someone does.
 *
 * @example
 * ```ts
 * const book = new BookStreams({ market, connections, now: Date.now, dropDepthDiff: () => false });
 * book.refresh();            // after any subscription changed
 * book.emitDepth('depth@100ms');
 * ```
 */
export class BookStreams {
  /** Depth events withheld by the fault injector. */
  dropped = 0;
  /** Of each depth stream someone subscribes to: the `u` of its previous event (or the book's id when they came). */
  private readonly lastSent = new Map<string, number>();

  constructor(private readonly options: BookStreamsOptions) {}

  /**
   * Subscriptions changed: listens to the books whose bookTicker someone
   * wants, and to no other; a depth stream someone now wants starts at the
   * book's update id, one no one wants is forgotten.
   */
  refresh(): void {
    const { market, connections } = this.options;
    const wanted = (stream: string) => {
      for (const connection of connections) if (connection.streams.has(stream)) return true;
      return false;
    };
    for (const symbol of market.symbols) {
      const book = symbol.book;
      book.onQuote(wanted(symbol.bookTickerStream) ? () => this.sendQuote(symbol) : undefined);
      for (const stream of [symbol.depthStream, symbol.depthSlowStream]) {
        if (!wanted(stream)) this.lastSent.delete(stream);
        else if (!this.lastSent.has(stream)) this.lastSent.set(stream, book.updateId);
      }
    }
  }

  /** Queues the new best bid and ask of `symbol` on every connection subscribed to its bookTicker. */
  private sendQuote(symbol: MarketSymbol): void {
    const at = this.options.now();
    let quote: SimQuote | undefined;
    for (const connection of this.options.connections) {
      if (!connection.streams.has(symbol.bookTickerStream) || !connection.takesTrades(at)) continue;
      quote ??= symbol.book.quote();
      connection.queueAscii(bookTickerFrame(quote, symbol.bookTickerStream, connection.combined));
    }
  }

  /**
   * Sends each symbol's event of the `kind` depth stream: the changes since
   * its previous event, to every connection subscribed (and not silent),
   * unless the fault injector drops it. Nothing when nothing changed.
   */
  emitDepth(kind: 'depth@100ms' | 'depth'): void {
    const { market, connections, now } = this.options;
    const at = now();
    for (const symbol of market.symbols) {
      const stream = kind === 'depth' ? symbol.depthSlowStream : symbol.depthStream;
      const last = this.lastSent.get(stream);
      if (last === undefined) continue; // no one listens
      const diff = symbol.book.diffSince(last);
      if (diff === undefined) continue;
      this.lastSent.set(stream, diff.finalUpdateId);
      const takers = [...connections].filter((c) => c.streams.has(stream) && c.takesTrades(at));
      if (takers.length === 0) continue; // half-open connections miss it
      if (this.options.dropDepthDiff(symbol.symbol)) {
        this.dropped++;
        continue;
      }
      let combined: string | undefined;
      let raw: string | undefined;
      for (const connection of takers) {
        const frame = connection.combined
          ? (combined ??= depthFrame(symbol.symbol, diff, at, stream, true))
          : (raw ??= depthFrame(symbol.symbol, diff, at, stream, false));
        connection.queueAscii(frame);
      }
    }
  }
}
