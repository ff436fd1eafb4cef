import {
  ConfigError,
  normalizeSymbol,
  silentLogger,
  type BackoffOptions,
  type Logger,
} from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import WebSocket from 'ws';
import { MAX_DEPTH_LIMIT } from './book/parse-depth.js';
import { resolveChannels, type MarketChannel } from './market-channel.js';
import type { TradeStreamType } from './parse-frame.js';

/** Options of {@link BinanceTradeClient}. */
export interface BinanceTradeClientOptions {
  /** WebSocket base URL, e.g. `wss://stream.binance.com:9443`; the client opens `<url>/stream?streams=...`. */
  url: string;
  /** REST base URL for gap backfill, e.g. `https://api.binance.com`. */
  restUrl: string;
  /** Symbols to follow, any case. */
  symbols: readonly string[];
  /** `trade` (default) or `aggTrade` streams. */
  streamType?: TradeStreamType;
  /**
   * What to stream per symbol, on the same connections: `trade` (the
   * `streamType` stream), `bookTicker` (quotes) and `depth` (the order book,
   * `depth@100ms` diffs kept in sync with REST snapshots). Each is one
   * stream, so a connection of 1024 streams carries 1024 / channels
   * symbols. Default `['trade']`.
   */
  channels?: readonly MarketChannel[];
  /** Levels per side of a depth snapshot (1-5000; weight 5/25/50/250). Default 1000. */
  depthLimit?: number;
  /**
   * REST weight per minute for depth snapshots, besides `restWeightPerMinute`
   * for trades. Default 3000 (with trades' 2400, within Binance's 6000 per IP).
   */
  depthWeightPerMinute?: number;
  /** Levels per side in each `book` event. Default 20. */
  bookLevels?: number;
  metrics?: TradingMetrics;
  logger?: Logger;
  /** Aborting it closes the client, as {@link BinanceTradeClient.close} does. */
  signal?: AbortSignal;
  /**
   * Symbol -> id of the last trade already stored. On start the client
   * backfills from the next id over REST while it streams, so a restarted app
   * recovers what it missed, at most {@link maxResumeTrades} per symbol.
   *
   * A resume point ahead of the exchange's newest trade id (REST
   * `trades?limit=1`, asked at start) is not obeyed, since every real trade up
   * to it would be dropped as a repeat: the client logs an error, lists it in
   * `stats().resumeAheadOfExchange`, and resumes from the exchange's newest.
   */
  resumeFrom?: Readonly<Record<string, number>>;
  /** Most trades recovered per symbol on resume; older ones are counted as missed. Default 100 000. */
  maxResumeTrades?: number;
  /** Most trades fetched over REST for one gap; beyond that the oldest are counted as missed. Default 100 000. */
  maxGapTrades?: number;
  /**
   * A trade id more than this far ahead of every id known to exist (the last
   * delivered or held, the exchange's newest seen over REST) is confirmed
   * with the exchange before it is trusted: the client asks REST for the
   * newest trade id (`trades?limit=1`, weight 25, within the budget); an id
   * beyond it (by more than this) is rejected as `ahead_of_exchange`, counted
   * and logged. Real trades keep flowing meanwhile. Nearer ids are held as
   * any gap, and refused the same way if REST, asked a second or more after
   * they arrived, has no trade that new. When REST cannot answer (banned, or
   * five failures in a row), or more than `maxHeldTrades` wait, they are
   * trusted rather than stalling a symbol that really jumped.
   * Default `maxGapTrades` (100 000).
   *
   * @example
   * ```ts
   * // A frame with t = 9007199254740991 no longer moves BTCUSDT past every real trade:
   * new BinanceTradeClient({ ...options, maxTradeIdJump: 10_000 });
   * ```
   */
  maxTradeIdJump?: number;
  /**
   * Most ticks held per symbol behind a gap while REST fills it. A backfill
   * that cannot keep up (rate limit, REST down) would otherwise hold every
   * streamed tick; one more than this, and the oldest gap is given up: its
   * missing ids are counted as missed (`gap` event, error log,
   * `trading_ticks_unrecovered_total`), the held ticks are delivered, and a
   * late REST answer for the given-up ids is dropped as a repeat. Default 100 000.
   */
  maxHeldTrades?: number;
  /**
   * After a reconnect, this many symbols per connection (default 20) are
   * caught up over REST at once instead of waiting for their next trade to
   * reveal the gap.
   */
  maxReconnectCatchUpSymbols?: number;
  /**
   * Reconnect delays. Default 250 ms doubling to 30 s, jitter 0.5. An upgrade
   * refused with `Retry-After` (e.g. HTTP 429 past 300 attempts in 5 minutes)
   * waits at least that long, whatever the backoff says.
   */
  backoff?: BackoffOptions;
  /** A connection open this long resets the backoff. Default 30 s. */
  stableAfterMs?: number;
  /**
   * No frame for this long: the connection is dead (half-open) and replaced.
   * Time paused for a slow consumer ({@link maxBufferedEvents}) is not
   * silence. Default 30 s.
   */
  watchdogMs?: number;
  /** No frame for this long: the client pings to make the server answer. Default 10 s. */
  idlePingMs?: number;
  /** Planned rotation before Binance's 24 h limit. Default 23 h 30 min (plus up to 10 min jitter). */
  maxConnectionAgeMs?: number;
  /** How long an old connection may overlap its replacement. Default 5 s. */
  rotationOverlapMs?: number;
  /** Streams per connection; more shard across connections. Default 1024. */
  maxStreamsPerConnection?: number;
  /** Streams named in the URL; the rest are SUBSCRIBEd (URL length). Default 100. */
  maxUrlStreams?: number;
  /** Streams per SUBSCRIBE message. Default 200. */
  maxStreamsPerSubscribe?: number;
  /** Outgoing messages (SUBSCRIBE, ping, pong) per second per connection. Default 4 (Binance: 5). */
  controlMessagesPerSecond?: number;
  /** Connection attempts per 5 minutes (Binance: 300 per IP). Default 300. */
  maxConnectionAttempts?: number;
  /**
   * REST weight per minute for backfill. Default 2400 (Binance: 6000 per IP).
   * A 429's `Retry-After` holds every backfill back until it elapsed; a 418
   * (IP banned) stops REST altogether until the ban ends: gaps meanwhile are
   * counted as missed.
   */
  restWeightPerMinute?: number;
  /** Sent as `X-MBX-APIKEY` on REST requests when set. */
  apiKey?: string;
  /**
   * A REST request (headers and body) that takes longer fails, and is retried
   * or its gap given up as for any failed request. Default 10 s.
   */
  restTimeoutMs?: number;
  /** Events buffered for a slow consumer before the sockets are paused. Default 200 000. */
  maxBufferedEvents?: number;
  /** Handshake timeout. Default 10 s. */
  connectTimeoutMs?: number;
  /** Rejected frames are logged at most once per this interval per reason. Default 10 s. */
  rejectLogIntervalMs?: number;
  /** For tests: clock, randomness, fetch, WebSocket. */
  now?: () => number;
  random?: () => number;
  fetch?: typeof fetch;
  WebSocket?: typeof WebSocket;
}

/**
 * {@link BinanceTradeClientOptions} with every default applied and every
 * value checked: the one place defaults live. URLs have no trailing slash,
 * symbols are normalized and unique, `resumeFrom` is keyed by normalized symbol.
 */
export interface ResolvedClientOptions {
  readonly url: string;
  readonly restUrl: string;
  readonly symbols: readonly string[];
  readonly streamType: TradeStreamType;
  readonly channels: readonly MarketChannel[];
  readonly depthLimit: number;
  readonly depthWeightPerMinute: number;
  readonly bookLevels: number;
  readonly metrics: TradingMetrics | undefined;
  readonly logger: Logger;
  readonly signal: AbortSignal | undefined;
  readonly resumeFrom: ReadonlyMap<string, number>;
  readonly maxResumeTrades: number;
  readonly maxGapTrades: number;
  readonly maxTradeIdJump: number;
  readonly maxHeldTrades: number;
  readonly maxReconnectCatchUpSymbols: number;
  readonly backoff: BackoffOptions;
  readonly stableAfterMs: number;
  readonly watchdogMs: number;
  readonly idlePingMs: number;
  readonly maxConnectionAgeMs: number;
  readonly rotationOverlapMs: number;
  readonly maxStreamsPerConnection: number;
  readonly maxUrlStreams: number;
  readonly maxStreamsPerSubscribe: number;
  readonly controlMessagesPerSecond: number;
  readonly maxConnectionAttempts: number;
  readonly restWeightPerMinute: number;
  readonly apiKey: string | undefined;
  readonly restTimeoutMs: number;
  readonly maxBufferedEvents: number;
  readonly connectTimeoutMs: number;
  readonly rejectLogIntervalMs: number;
  readonly now: () => number;
  readonly random: () => number;
  readonly fetch: typeof fetch;
  readonly WebSocket: typeof WebSocket;
}

/**
 * Applies the defaults and checks the options, throwing a `ConfigError`
 * naming the first bad setting.
 *
 * @example
 * ```ts
 * const options = resolveClientOptions({ url, restUrl, symbols: ['btcusdt'] });
 * options.watchdogMs; // 30_000
 * ```
 */
export function resolveClientOptions(options: BinanceTradeClientOptions): ResolvedClientOptions {
  validateUrl(options.url, 'url', ['ws:', 'wss:']);
  validateUrl(options.restUrl, 'restUrl', ['http:', 'https:']);
  if (options.symbols.length === 0)
    throw new ConfigError('symbols', options.symbols, 'at least one symbol');
  const symbols = [...new Set(options.symbols.map((s) => normalizeSymbol(s, 'symbols')))];
  const maxStreamsPerConnection = options.maxStreamsPerConnection ?? 1024;
  if (!(maxStreamsPerConnection >= 1)) {
    throw new ConfigError('maxStreamsPerConnection', maxStreamsPerConnection, 'a number >= 1');
  }
  const maxHeldTrades = options.maxHeldTrades ?? 100_000;
  if (!(Number.isSafeInteger(maxHeldTrades) && maxHeldTrades >= 1)) {
    throw new ConfigError('maxHeldTrades', maxHeldTrades, 'an integer >= 1');
  }
  const maxGapTrades = options.maxGapTrades ?? 100_000;
  const maxTradeIdJump = options.maxTradeIdJump ?? maxGapTrades;
  if (!(Number.isSafeInteger(maxTradeIdJump) && maxTradeIdJump >= 1)) {
    throw new ConfigError('maxTradeIdJump', maxTradeIdJump, 'an integer >= 1');
  }
  const watchdogMs = options.watchdogMs ?? 30_000;
  const channels = resolveChannels(options.channels ?? ['trade']);
  const depthLimit = options.depthLimit ?? 1000;
  if (!(Number.isSafeInteger(depthLimit) && depthLimit >= 1 && depthLimit <= MAX_DEPTH_LIMIT)) {
    throw new ConfigError('depthLimit', depthLimit, `an integer from 1 to ${MAX_DEPTH_LIMIT}`);
  }
  const depthWeightPerMinute = options.depthWeightPerMinute ?? 3000;
  if (!(Number.isSafeInteger(depthWeightPerMinute) && depthWeightPerMinute >= 1)) {
    throw new ConfigError('depthWeightPerMinute', depthWeightPerMinute, 'an integer >= 1');
  }
  const bookLevels = options.bookLevels ?? 20;
  if (!(Number.isSafeInteger(bookLevels) && bookLevels >= 1)) {
    throw new ConfigError('bookLevels', bookLevels, 'an integer >= 1');
  }
  if (maxStreamsPerConnection < channels.length) {
    throw new ConfigError(
      'maxStreamsPerConnection',
      maxStreamsPerConnection,
      `at least one stream per channel (${channels.length})`,
    );
  }
  return {
    url: options.url.replace(/\/+$/, ''),
    restUrl: options.restUrl.replace(/\/+$/, ''),
    symbols,
    streamType: options.streamType ?? 'trade',
    channels,
    depthLimit,
    depthWeightPerMinute,
    bookLevels,
    metrics: options.metrics,
    logger: options.logger ?? silentLogger,
    signal: options.signal,
    resumeFrom: resolveResumeFrom(options.resumeFrom ?? {}, symbols),
    maxResumeTrades: options.maxResumeTrades ?? 100_000,
    maxGapTrades,
    maxTradeIdJump,
    maxHeldTrades,
    maxReconnectCatchUpSymbols: options.maxReconnectCatchUpSymbols ?? 20,
    backoff: options.backoff ?? {},
    stableAfterMs: options.stableAfterMs ?? 30_000,
    watchdogMs,
    idlePingMs: options.idlePingMs ?? Math.min(10_000, watchdogMs / 3),
    maxConnectionAgeMs: options.maxConnectionAgeMs ?? 23.5 * 3_600_000,
    rotationOverlapMs: options.rotationOverlapMs ?? 5_000,
    maxStreamsPerConnection,
    maxUrlStreams: options.maxUrlStreams ?? 100,
    maxStreamsPerSubscribe: options.maxStreamsPerSubscribe ?? 200,
    controlMessagesPerSecond: options.controlMessagesPerSecond ?? 4,
    maxConnectionAttempts: options.maxConnectionAttempts ?? 300,
    restWeightPerMinute: options.restWeightPerMinute ?? 2400,
    apiKey: options.apiKey,
    restTimeoutMs: options.restTimeoutMs ?? 10_000,
    maxBufferedEvents: options.maxBufferedEvents ?? 200_000,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    rejectLogIntervalMs: options.rejectLogIntervalMs ?? 10_000,
    now: options.now ?? Date.now,
    random: options.random ?? Math.random,
    fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
    WebSocket: options.WebSocket ?? WebSocket,
  };
}

/** Keyed by normalized symbol; the ids of followed symbols checked (others are ignored). */
function resolveResumeFrom(
  resumeFrom: Readonly<Record<string, number>>,
  symbols: readonly string[],
): ReadonlyMap<string, number> {
  const bySymbol = new Map(
    Object.entries(resumeFrom).map(([s, id]) => [normalizeSymbol(s, 'resumeFrom'), id]),
  );
  const out = new Map<string, number>();
  for (const symbol of symbols) {
    const last = bySymbol.get(symbol);
    if (last === undefined) continue;
    if (!(Number.isSafeInteger(last) && last >= 0)) {
      throw new ConfigError(`resumeFrom.${symbol}`, last, 'a trade id (non-negative integer)');
    }
    out.set(symbol, last);
  }
  return out;
}

function validateUrl(value: string, setting: string, protocols: string[]): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(setting, value, `a URL (${protocols.join(' or ')})`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(setting, value, `a URL (${protocols.join(' or ')})`);
  }
}
