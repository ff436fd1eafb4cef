import type { BookTop, Logger, SymbolRules } from '@trade/core';
import type {
  MalformedKind,
  RefuseConnectionsOptions,
  RestLieKind,
  SimFaultKind,
} from './fault-injector.js';
import type { SimQuote } from './order-book-truth.js';
import type { SimSymbolRulesOptions } from './symbol-rules.js';
import type { SimTrade } from './trade-history.js';

// The simulator's public shapes, apart from the code that implements them.

/** Options of {@link startBinanceSimulator}. */
export interface BinanceSimulatorOptions {
  /** Default `0` (a free port). */
  port?: number;
  /** Default `127.0.0.1`. */
  host?: string;
  /** Symbols that trade. Default `['BTCUSDT', 'ETHUSDT']`. */
  symbols?: readonly string[];
  /**
   * Trades per second per symbol; `'max'` generates as fast as every subscribed
   * socket drains; `0` generates only on {@link BinanceSimulator.generate}. Default `10`.
   */
  rate?: number | 'max';
  /** Seed of the random walk; the same seed gives the same trades. Default `1`. */
  seed?: number;
  /**
   * Random faults, as mean occurrences per minute, e.g. `{ gap: 2, drop: 0.5 }`.
   * Each is injected as its method with default arguments would.
   */
  faults?: Partial<Record<SimFaultKind, number>>;
  /** First trade id of each symbol. Default derived from the seed (around 1e9). */
  firstTradeId?: number;
  /**
   * Trades kept per symbol for the ground truth and the REST endpoints, and
   * book changes kept at least for {@link BinanceSimulator.bookAt} and
   * {@link BinanceSimulator.quoteTruth} (about 20 bytes each). Default `1_000_000`.
   */
  retain?: number;
  /**
   * Exchange rules per symbol (`exchangeInfo` filters; book prices sit on
   * the tick, quantities on the step), e.g. `{ ETHUSDT: { tickSize: '0.1' } }`.
   * Unset fields keep the defaults: tickSize `0.01000000`, minPrice
   * `0.01000000`, maxPrice `1000000.00000000`, stepSize and minQty
   * `0.00001000`, maxQty `9000.00000000`, minNotional `5.00000000`,
   * maxNotional `9000000.00000000`, in a `NOTIONAL` filter.
   */
  rules?: Readonly<Record<string, SimSymbolRulesOptions>>;
  /** Levels per side each order book starts with, around the symbol's first price (1-5000). Default `500`. */
  bookLevels?: number;
  /**
   * Order book changes each trade makes (each its own update id); `0`: the
   * book moves only by {@link BinanceSimulator.generateBook}. Default `1`.
   */
  bookUpdatesPerTrade?: number;
  /** Update id of the first book change of every symbol. Default derived from the seed per symbol (1e9 to 1.1e9). */
  firstUpdateId?: number;
  /** Server ping interval. Default 20 s, as Binance. */
  pingIntervalMs?: number;
  /** A client that has not answered a ping for this long is dropped. Default 60 s. */
  pongTimeoutMs?: number;
  /** Connections are closed at this age. Default 24 h. */
  maxConnectionAgeMs?: number;
  /** Incoming messages (text, ping, pong) per second above which a connection is dropped. Default 5. */
  maxIncomingPerSecond?: number;
  /** Streams per connection. Default 1024. */
  maxStreamsPerConnection?: number;
  /** Connection attempts per 5 minutes before upgrades get HTTP 429. Default 300. */
  maxConnectionAttempts?: number;
  /** REST request weight allowed per minute before HTTP 429. Default 6000. */
  restWeightPerMinute?: number;
  /**
   * Size in bytes of the frame `malformed('oversized_frame')` sends. Default
   * 1 MiB + 1 KiB, just over the client's limit for one frame.
   */
  oversizedFrameBytes?: number;
  /** Logs connections and faults. Default silent. */
  logger?: Logger;
  /** Clock, milliseconds. Default `Date.now`. */
  now?: () => number;
}

/** Counters of what the simulator did. */
export interface SimulatorStats {
  connectionsAccepted: number;
  connectionsRefused: number;
  openConnections: number;
  /** Most connections open at the same time. */
  peakConnections: number;
  framesSent: number;
  restRequests: number;
  /** REST requests answered with an error by {@link BinanceSimulator.failRest} or the weight limit. */
  restRejected: number;
  /** REST requests refused because their answer would hold ids withheld by {@link BinanceSimulator.refuseHistory}. */
  restWithheld: number;
  /** REST trade requests answered with a lie by {@link BinanceSimulator.lieRest}. */
  restLies: number;
  /** REST requests held unanswered by {@link BinanceSimulator.hangRest}. */
  restHung: number;
  /** Connections dropped for sending more than the allowed messages per second. */
  rateLimitDrops: number;
  /** Subscriptions refused because a connection would exceed its stream limit. */
  streamLimitRefusals: number;
  /** Connections dropped for not answering pings. */
  pongTimeouts: number;
  /** Depth events not sent, by {@link BinanceSimulator.dropDepthDiff}. */
  depthDiffsDropped: number;
  /** Order book snapshots (`GET /api/v3/depth`) answered. */
  depthSnapshots: number;
}

/** What a test can see of one connection. */
export interface SimConnectionInfo {
  readonly id: number;
  readonly path: string;
  readonly streams: readonly string[];
  readonly openedAt: number;
}

/** One request the simulator answered, as {@link BinanceSimulator.restLog} and {@link BinanceSimulator.upgradeLog} list them. */
export interface SimRequestLogEntry {
  /** When it arrived (the simulator's clock, milliseconds). */
  readonly at: number;
  /** Path and query, e.g. `/api/v3/historicalTrades?symbol=BTCUSDT&fromId=7&limit=1000`. */
  readonly path: string;
  /** HTTP status answered: `101` for an accepted WebSocket upgrade. */
  readonly status: number;
}

/** A running simulator: see {@link startBinanceSimulator}. */
export interface BinanceSimulator {
  /** WebSocket base URL, e.g. `ws://127.0.0.1:40123`: clients open `${url}/stream?streams=...`. */
  readonly url: string;
  /** REST base URL, e.g. `http://127.0.0.1:40123`. */
  readonly restUrl: string;
  readonly port: number;
  readonly symbols: readonly string[];
  /** Every retained trade of `symbol` in id order: the ground truth. */
  truth(symbol: string): SimTrade[];
  /** Id of the newest trade of `symbol`, or `undefined` before the first. */
  lastTradeId(symbol: string): number | undefined;
  /**
   * Generates `count` trades (of `symbol`, or of each symbol) now and sends
   * them; each moves the symbol's book (see `bookUpdatesPerTrade`).
   */
  generate(count: number, symbol?: string): void;
  /**
   * Makes `count` order book changes (of `symbol`, or of each symbol) now,
   * each with the next update id, around the last trade price; bookTicker
   * frames go now, depth events at their next 100 ms (or 1 s) tick.
   */
  generateBook(count: number, symbol?: string): void;
  /** Update id of `symbol`'s newest book change (before any: the starting book's, first update id - 1). */
  lastUpdateId(symbol: string): number;
  /**
   * Every bookTicker `symbol`'s book generated (whether or not anyone was
   * subscribed), oldest first, from `fromUpdateId` on (default: from the
   * oldest retained change): the ground truth of the bookTicker stream.
   * Rebuilt on each call, so ask once per check.
   */
  quoteTruth(symbol: string, fromUpdateId?: number): SimQuote[];
  /**
   * The book of `symbol` right after the change with `updateId`: its best
   * `depth` levels a side (default 20), best first, exact strings. Any id
   * from the oldest retained change to {@link lastUpdateId}; others throw.
   *
   * @example
   * ```ts
   * const book = sim.bookAt('BTCUSDT', sim.lastUpdateId('BTCUSDT'), 5000); // every level
   * ```
   */
  bookAt(symbol: string, updateId: number, depth?: number): BookTop;
  /** The exchange rules of `symbol`, as `exchangeInfo` shows them. */
  symbolRules(symbol: string): SymbolRules;
  /** Closes every connection abruptly (TCP destroy, no close frame). */
  drop(): void;
  /**
   * Connections go silent for `ms`: no trades, no pings, no pongs, as a
   * half-open socket. Trades generated meanwhile are lost to them.
   */
  stall(ms: number): void;
  /** Generates `count` trades of `symbol` (default: each) that no stream sends: REST has them. */
  gap(count?: number, symbol?: string): void;
  /** Sends the newest `count` trades of `symbol` (default: each) again. */
  duplicate(count?: number, symbol?: string): void;
  /**
   * The next `count` (default 1) depth events of `symbol` (default: of each
   * symbol) are not sent though the book moves on: a subscriber sees a `U`
   * past its last `u` + 1. Counted in `stats().depthDiffsDropped`; calls add up.
   *
   * @example
   * ```ts
   * sim.dropDepthDiff('BTCUSDT'); // the client must resync from a snapshot
   * ```
   */
  dropDepthDiff(symbol?: string, count?: number): void;
  /** Sends one malformed frame of `kind` to every connection. */
  malformed(kind?: MalformedKind): void;
  /** Sends `serverShutdown` to every connection, and closes them `closeAfterMs` later (default 1 s). */
  serverShutdown(closeAfterMs?: number): void;
  /**
   * Refuses WebSocket upgrades for `ms`: HTTP 503 by default, or the given
   * status, with a `Retry-After` header when `retryAfterSeconds` is set.
   *
   * @example
   * ```ts
   * sim.refuseConnections(100, { status: 429, retryAfterSeconds: 2 });
   * ```
   */
  refuseConnections(ms: number, options?: RefuseConnectionsOptions): void;
  /**
   * The next `count` REST requests fail with `status` (default 500) and
   * `Retry-After: retryAfterSeconds` (default 1). With 418 this is Binance's IP ban.
   */
  failRest(count: number, status?: number, retryAfterSeconds?: number): void;
  /**
   * REST trade requests (`historicalTrades`, `aggTrades`, `trades`) of
   * `symbol` whose answer would hold any id in `[fromId, toId]` are answered
   * HTTP 503 with no rows, as if the exchange had lost that history; counted
   * in `stats().restWithheld` and logged in {@link restLog}. Calls add up.
   *
   * @example
   * ```ts
   * sim.refuseHistory('BTCUSDT', first, first + 99); // a spool, not REST, must carry these
   * ```
   */
  refuseHistory(symbol: string, fromId: number, toId: number): void;
  /**
   * The next `count` REST trade requests (`historicalTrades`, `aggTrades`,
   * `trades`) are answered 200 with a lie of `kind` (see {@link REST_LIE_KINDS});
   * counted in `stats().restLies`. A later call replaces the earlier one.
   *
   * @example
   * ```ts
   * sim.lieRest(1, 'too_many_rows'); // the next backfill gets 2 x limit rows
   * ```
   */
  lieRest(count: number, kind: RestLieKind): void;
  /**
   * REST requests arriving in the next `ms` get no answer until then (a
   * stalled server); one whose client gave up meanwhile gets none at all.
   * With `{ afterHeaders: true }` the status, headers and the first byte of
   * the body go at once and the rest waits (a body that never ends).
   * Counted in `stats().restHung`.
   *
   * @example
   * ```ts
   * sim.hangRest(60_000, { afterHeaders: true });
   * ```
   */
  hangRest(ms: number, options?: { afterHeaders?: boolean }): void;
  /**
   * Sends a well-formed trade frame of `symbol` with trade id `id` that the
   * exchange never made: not in {@link truth}, not over REST. `id` far ahead
   * of the newest real id is the bogus id that, trusted, would stall a client.
   *
   * @example
   * ```ts
   * sim.bogusTrade('BTCUSDT', Number.MAX_SAFE_INTEGER);
   * ```
   */
  bogusTrade(symbol: string, id: number): void;
  /** The REST requests answered, oldest first (the newest 10 000). */
  restLog(): SimRequestLogEntry[];
  /** The WebSocket upgrade requests answered (accepted: 101), oldest first (the newest 10 000). */
  upgradeLog(): SimRequestLogEntry[];
  /** Open connections. */
  connections(): SimConnectionInfo[];
  stats(): SimulatorStats;
  /** Stops generating, closes every connection and the server. */
  close(): Promise<void>;
}
