import type { BookTop, Quote, Tick, TickRejectReason } from '@trade/core';
import type { DepthSyncStats, ResyncReason } from './book/depth-sync-events.js';

/** State of one connection slot (a shard of the streams). */
export type ConnectionState = 'connecting' | 'open' | 'disconnected' | 'rotating' | 'closed';

/** What the client's iterator yields. */
export type BinanceClientEvent =
  | { readonly type: 'tick'; readonly tick: Tick }
  /** A `bookTicker` update (channel `bookTicker`), each update id once, rising per symbol. */
  | { readonly type: 'quote'; readonly quote: Quote }
  /**
   * The top levels of a symbol's order book (channel `depth`, `bookLevels`
   * per side), after each diff applied while in sync and at each (re)sync.
   */
  | { readonly type: 'book'; readonly book: BookTop; readonly receiveTime: number }
  /** A symbol's book came in sync, was lost (a gap in diff ids...), or is in sync again. */
  | {
      readonly type: 'book-sync';
      readonly symbol: string;
      readonly state: 'synced' | 'desynced' | 'resynced';
      /** The book's update id once in sync. */
      readonly updateId?: number;
      /** Why it was lost (desynced, resynced). */
      readonly reason?: ResyncReason;
      readonly detail?: string;
    }
  | {
      readonly type: 'connection';
      readonly state: ConnectionState;
      /** Which shard of the streams (0 unless there are more than 1024). */
      readonly shard: number;
      readonly reason?: string;
      /** For `disconnected`: the delay before the next attempt. */
      readonly retryInMs?: number;
    }
  | {
      readonly type: 'gap';
      readonly symbol: string;
      /** First and last missing id detected. */
      readonly fromId: number;
      readonly toId: number;
      /** Trades recovered over REST, and trades given up. */
      readonly recovered: number;
      readonly missed: number;
    }
  /**
   * At `close()`, a gap still waiting for REST: its ids `fromId..toId` were
   * not delivered, the ticks streamed after it were (they follow this event).
   * Record it to fill it later; {@link BinanceTradeClient.openGaps} lists the same.
   */
  | ({ readonly type: 'gap-open' } & OpenGap);

/** A run of trade ids not delivered, that REST has not filled (yet). */
export interface OpenGap {
  readonly symbol: string;
  /** First and last missing id, inclusive. */
  readonly fromId: number;
  readonly toId: number;
}

/** A `resumeFrom` id the exchange had not reached: see {@link BinanceClientStats.resumeAheadOfExchange}. */
export interface ResumeAheadOfExchange {
  readonly symbol: string;
  /** The id the app asked to resume after. */
  readonly resumeFrom: number;
  /** The exchange's newest trade id at start: where the client resumed instead. */
  readonly exchangeNewest: number;
}

/** Counters of what the client did, for tests and diagnostics. */
export interface BinanceClientStats {
  frames: number;
  ticksDelivered: number;
  /** Stream frames dropped as repeats of a trade id already delivered or held (`trading_ticks_duplicates_total`). */
  duplicatesDropped: number;
  rejected: Partial<Record<TickRejectReason, number>>;
  gapsDetected: number;
  tradesBackfilled: number;
  tradesMissed: number;
  /** Ticks held now, all symbols: behind gaps, or waiting for the exchange to confirm a far id. */
  heldTrades: number;
  /** Gaps waiting for REST now ({@link BinanceTradeClient.openGaps}); after `close()`, the gaps left open (`trading_gaps_open`). */
  gapsOpen: number;
  /** `resumeFrom` ids that were ahead of the exchange's newest trade, and where each symbol resumed instead. */
  resumeAheadOfExchange: ResumeAheadOfExchange[];
  /** Most ticks one symbol held at once (bounded by `maxHeldTrades`). */
  peakHeldTrades: number;
  /** End (epoch ms) of the latest REST IP ban (HTTP 418); `undefined` when never banned. */
  restBannedUntil: number | undefined;
  connectionAttempts: number;
  reconnects: number;
  rotations: number;
  restRequests: number;
  restErrors: number;
  fastPathFrames: number;
  /** Events waiting for the consumer now. */
  bufferedEvents: number;
  /** Times the sockets were paused because the consumer fell behind. */
  pauses: number;
  /** Quotes delivered (channel `bookTicker`). */
  quotesDelivered: number;
  /** Quotes dropped as repeats (an update id at or below the symbol's last). */
  quoteRepeats: number;
  /** Per symbol (channel `depth`): the order book's sync counters. */
  books: Record<string, DepthSyncStats>;
}
