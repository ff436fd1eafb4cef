import type { BookTop, Quote, TickRejectReason } from '@trade/core';
import { spreadBps } from '@trade/metrics';
import type { BinanceClientEvent } from './client-events.js';
import type { ResolvedClientOptions } from './client-options.js';
import { DepthSync, type FetchDepthSnapshot } from './book/depth-sync.js';
import type { DepthSyncEvent, DepthSyncStats } from './book/depth-sync-events.js';
import { fastBookTicker } from './book/fast-book-ticker.js';
import { parseBookTickerText } from './book/parse-book-ticker.js';
import { parseDepthDiffText } from './book/parse-depth.js';
import type { RestWeightLimiter } from './book/rest-weight-budget.js';

/** What {@link BookChannels} needs of the client. */
export interface BookChannelsHost {
  emit(event: BinanceClientEvent): void;
  reject(reason: TickRejectReason, detail: string): void;
  /** Whether `symbol` is streamed on the shard `shard` (else the frame is misrouted). */
  onShard(symbol: string, shard: number): boolean;
}

/** Quote and book counters of the client. */
export interface BookChannelStats {
  /** Quotes delivered (`trading_quotes_received_total`). */
  quotesDelivered: number;
  /** Quotes dropped as repeats: an update id at or below the symbol's last. */
  quoteRepeats: number;
  /** Per symbol, when `depth` is streamed: the book's sync counters. */
  books: Record<string, DepthSyncStats>;
}

interface Best {
  bid: string;
  ask: string;
}

/**
 * The client's `bookTicker` and `depth` streams: quotes checked and
 * de-duplicated by update id per symbol (a repeat, as an overlapping
 * rotation sends, is dropped before anyone sees it), and each symbol's
 * order book kept by a {@link DepthSync} with snapshots over REST within
 * the shared weight budget. Yields `quote`, `book` (the top levels after
 * every applied diff while in sync) and `book-sync` events, and keeps the
 * quote and book metrics (best bid and ask and the spread are set at most
 * once per {@link flushGauges}, not per quote).
 */
export class BookChannels {
  private readonly lastQuoteId = new Map<string, number>();
  private readonly syncs = new Map<string, DepthSync>();
  /** Latest best bid and ask per symbol not yet shown in the gauges. */
  private readonly dirty = new Map<string, Best>();
  private readonly bookLevels: number;
  private readonly quotesFromBook: boolean;
  private quotesDelivered = 0;
  private quoteRepeats = 0;
  private unflushedQuotes = 0;
  private unflushedBookUpdates = 0;
  /** When the diff being handled arrived: the time of the `book` event it yields. */
  private receivedAt = 0;

  constructor(
    private readonly options: ResolvedClientOptions,
    private readonly host: BookChannelsHost,
    fetchSnapshot: FetchDepthSnapshot,
    budget: RestWeightLimiter,
  ) {
    this.bookLevels = options.bookLevels;
    // Without bookTicker, the gauges follow the book's best levels.
    this.quotesFromBook = !options.channels.includes('bookTicker');
    if (options.channels.includes('depth')) {
      for (const symbol of options.symbols) {
        this.syncs.set(
          symbol,
          new DepthSync({
            symbol,
            fetchSnapshot,
            budget,
            limit: options.depthLimit,
            logger: options.logger,
            random: options.random,
            now: options.now,
            onEvent: (event) => this.onSyncEvent(event),
          }),
        );
      }
    }
  }

  /** A `<sym>@bookTicker` frame that came on shard `shard`. */
  onQuoteFrame(data: Buffer, at: number, shard: number): void {
    let quote = fastBookTicker(data, at);
    if (quote === undefined) {
      const result = parseBookTickerText(data.toString('utf8'), at);
      if (result.kind === 'rejected') {
        this.host.reject(result.reason, `bookTicker: ${result.detail}`);
        return;
      }
      quote = result.quote;
    }
    if (!this.host.onShard(quote.symbol, shard)) {
      this.host.reject('symbol_mismatch', `not subscribed on this connection: ${quote.symbol}`);
      return;
    }
    const last = this.lastQuoteId.get(quote.symbol);
    if (last !== undefined && quote.updateId <= last) {
      this.quoteRepeats++;
      return;
    }
    this.lastQuoteId.set(quote.symbol, quote.updateId);
    this.deliverQuote(quote);
  }

  /** A `<sym>@depth` frame that came on shard `shard`. */
  onDepthFrame(data: Buffer, at: number, shard: number): void {
    const result = parseDepthDiffText(data.toString('utf8'));
    if (result.kind === 'rejected') {
      this.host.reject(result.reason, `depth: ${result.detail}`);
      return;
    }
    const diff = result.diff;
    const sync = this.syncs.get(diff.symbol);
    if (sync === undefined || !this.host.onShard(diff.symbol, shard)) {
      this.host.reject(
        'symbol_mismatch',
        `not subscribed on this connection: ${diff.symbol}@depth`,
      );
      return;
    }
    this.receivedAt = at;
    sync.handleDiff(diff);
  }

  /** The best `levels` of `symbol`'s book per side, while it is in sync. */
  book(symbol: string, levels = this.bookLevels): BookTop | undefined {
    return this.syncs.get(symbol)?.top(levels);
  }

  stats(): BookChannelStats {
    const books: Record<string, DepthSyncStats> = {};
    for (const [symbol, sync] of this.syncs) books[symbol] = sync.stats;
    return { quotesDelivered: this.quotesDelivered, quoteRepeats: this.quoteRepeats, books };
  }

  /** Counters and gauges catch up (called once per event-loop turn and by the liveness timer). */
  flushCounters(): void {
    const metrics = this.options.metrics;
    if (metrics === undefined) return;
    if (this.unflushedQuotes > 0) {
      metrics.quotesReceived.inc(this.unflushedQuotes);
      this.unflushedQuotes = 0;
    }
    if (this.unflushedBookUpdates > 0) {
      metrics.bookUpdates.inc(this.unflushedBookUpdates);
      this.unflushedBookUpdates = 0;
    }
  }

  /** Sets the best bid, best ask and spread gauges of the symbols that moved since the last call. */
  flushGauges(): void {
    this.flushCounters();
    const metrics = this.options.metrics;
    if (metrics === undefined || this.dirty.size === 0) return;
    for (const [symbol, best] of this.dirty) {
      metrics.bestBidPrice.set({ symbol }, Number(best.bid));
      metrics.bestAskPrice.set({ symbol }, Number(best.ask));
      metrics.spreadBps.set({ symbol }, spreadBps(best.bid, best.ask));
    }
    this.dirty.clear();
  }

  /** Stops every book sync (a snapshot in flight is abandoned). */
  close(): void {
    for (const sync of this.syncs.values()) sync.close();
    this.flushGauges();
  }

  private deliverQuote(quote: Quote): void {
    this.quotesDelivered++;
    this.unflushedQuotes++;
    if (this.options.metrics !== undefined) {
      this.dirty.set(quote.symbol, { bid: quote.bidPrice, ask: quote.askPrice });
    }
    this.host.emit({ type: 'quote', quote });
  }

  private onSyncEvent(event: DepthSyncEvent): void {
    switch (event.kind) {
      case 'diff_applied':
        this.unflushedBookUpdates++;
        if (this.syncs.get(event.symbol)?.inSync === true)
          this.emitBook(event.symbol, this.receivedAt);
        return;
      case 'synced':
        this.options.logger.info(
          { symbol: event.symbol, updateId: event.updateId, replayed: event.replayed },
          'binance: order book in sync',
        );
        this.host.emit({
          type: 'book-sync',
          symbol: event.symbol,
          state: 'synced',
          updateId: event.updateId,
        });
        this.emitBook(event.symbol, this.options.now());
        return;
      case 'resynced':
        this.options.metrics?.bookResyncs.inc({ symbol: event.symbol });
        this.options.logger.info(
          { symbol: event.symbol, updateId: event.updateId, reason: event.lost.reason },
          'binance: order book in sync again',
        );
        this.host.emit({
          type: 'book-sync',
          symbol: event.symbol,
          state: 'resynced',
          updateId: event.updateId,
          reason: event.lost.reason,
        });
        this.emitBook(event.symbol, this.options.now());
        return;
      case 'desynced':
        this.options.logger.warn(
          { symbol: event.symbol, ...event.lost },
          'binance: order book lost, resyncing from a snapshot',
        );
        this.host.emit({
          type: 'book-sync',
          symbol: event.symbol,
          state: 'desynced',
          reason: event.lost.reason,
          detail: event.lost.detail,
        });
        return;
      case 'diff_rejected':
        this.host.reject('invalid_field', `depth ${event.symbol}: ${event.detail}`);
        return;
      case 'snapshot_failed':
        this.options.logger.warn(
          {
            symbol: event.symbol,
            error: event.error,
            failures: event.failures,
            retryInMs: event.retryInMs,
          },
          'binance: depth snapshot failed',
        );
        return;
      case 'snapshot_stale':
      case 'diff_ignored':
        return;
    }
  }

  private emitBook(symbol: string, at: number): void {
    const book = this.syncs.get(symbol)?.top(this.bookLevels);
    if (book === undefined) return;
    if (this.quotesFromBook && this.options.metrics !== undefined) {
      const bid = book.bids[0];
      const ask = book.asks[0];
      if (bid !== undefined && ask !== undefined)
        this.dirty.set(symbol, { bid: bid[0], ask: ask[0] });
    }
    this.host.emit({ type: 'book', book, receiveTime: at });
  }
}
