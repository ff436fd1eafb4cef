import type { IncomingMessage } from 'node:http';
import {
  Backoff,
  ConfigError,
  normalizeSymbol,
  silentLogger,
  type BackoffOptions,
  type Logger,
  type Tick,
  type TickRejectReason,
} from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import WebSocket from 'ws';
import { SlidingWindowLimit } from './sliding-window-limit.js';
import { ControlQueue } from './control-queue.js';
import { EventQueue } from './event-queue.js';
import { FrameParser } from './frame-parser.js';
import type { FrameResult, TradeStreamType } from './parse-frame.js';
import { RestRequestError, RestTrades } from './rest-trades.js';
import { parseRetryAfter } from './retry-after.js';
import { SymbolSequencer, type GivenUpIds } from './symbol-sequencer.js';

/**
 * The stream may run a moment ahead of REST: a held tick is refused as
 * ahead of the exchange only if REST, asked at least this long after the
 * tick arrived, still does not know its id.
 */
const AHEAD_GRACE_MS = 1_000;

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

/** State of one connection slot (a shard of the streams). */
export type ConnectionState = 'connecting' | 'open' | 'disconnected' | 'rotating' | 'closed';

/** What the client's iterator yields. */
export type BinanceClientEvent =
  | { readonly type: 'tick'; readonly tick: Tick }
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
}

interface SymbolSlot {
  readonly symbol: string;
  readonly shard: Shard;
  readonly sequencer: SymbolSequencer;
  filling: boolean;
  /** Open-ended REST catch-up wanted: after a restart (`resume`, bounded by the newest id) or a reconnect. */
  catchUp: 'resume' | 'reconnect' | undefined;
}

interface Connection {
  readonly id: number;
  readonly ws: WebSocket;
  readonly shard: Shard;
  readonly control: ControlQueue;
  readonly openedAt: number;
  lastFrameAt: number;
  opened: boolean;
  closed: boolean;
  pinged: boolean;
  /** Symbols whose stream on this connection has reached the delivered position (rotation). */
  caughtUp: Set<string>;
  pendingReplies: Set<number>;
  rotateTimer?: NodeJS.Timeout;
  /** The upgrade was answered with this HTTP status instead of 101. */
  refused?: { status: number; retryAfterMs: number | undefined };
}

interface Shard {
  readonly index: number;
  readonly streams: string[];
  readonly symbols: string[];
  readonly backoff: Backoff;
  attempts: number;
  /** Whether a connection of this shard has ever opened. */
  opened: boolean;
  current: Connection | undefined;
  /** The connection being replaced during a planned rotation. */
  draining: Connection | undefined;
  /** The replacement being opened during a planned rotation. */
  incoming: Connection | undefined;
  reconnectTimer?: NodeJS.Timeout;
  stableTimer?: NodeJS.Timeout;
  overlapTimer?: NodeJS.Timeout;
}

let nextConnectionId = 1;

/**
 * Largest frame ws reads (16 MiB). Frames over MAX_FRAME_BYTES (1 MiB) up to
 * this are read, counted as `oversized_frame` and skipped; beyond it ws has
 * to close the connection, which is counted too and reconnected.
 */
const MAX_WS_PAYLOAD = 16 << 20;

/**
 * A Binance trade-stream client that does not lose trades: it answers pings,
 * replaces silent connections, reconnects with backoff and jitter, rotates
 * connections before the 24 h limit and on `serverShutdown` with overlap,
 * detects trade-id gaps and fills them over REST, drops duplicates, and
 * yields each symbol's ticks in trade-id order, exactly once.
 *
 * @example
 * ```ts
 * const client = new BinanceTradeClient({
 *   url: 'wss://stream.binance.com:9443', restUrl: 'https://api.binance.com',
 *   symbols: ['BTCUSDT', 'ETHUSDT'], metrics, logger,
 * });
 * for await (const event of client) {
 *   if (event.type === 'tick') store(event.tick);
 * }
 * ```
 */
export class BinanceTradeClient implements AsyncIterable<BinanceClientEvent> {
  readonly symbols: readonly string[];
  private readonly options: BinanceTradeClientOptions;
  private readonly logger: Logger;
  private readonly metrics: TradingMetrics | undefined;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly parser: FrameParser;
  private readonly rest: RestTrades;
  private readonly queue = new EventQueue<BinanceClientEvent>();
  private readonly slots = new Map<string, SymbolSlot>();
  private readonly shards: Shard[] = [];
  private readonly attempts: SlidingWindowLimit;
  private readonly abort = new AbortController();
  private readonly rejectLog = new Map<string, { at: number; suppressed: number }>();
  private watchdog: NodeJS.Timeout | undefined;
  private readonly sleepers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private paused = false;
  /** No connection attempt before this (epoch ms): a refused upgrade's `Retry-After`, per IP. */
  private connectBlockedUntil = 0;
  private closed = false;
  private started = false;
  private iterated = false;
  private unflushedTicks = 0;
  private burstTime = 0;
  private readonly endBurst = () => {
    this.burstTime = 0;
  };
  private flushScheduled = false;
  /** The gaps left open at close(), once closed. */
  private gapsAtClose: OpenGap[] | undefined;
  private readonly stat: BinanceClientStats = {
    frames: 0,
    ticksDelivered: 0,
    duplicatesDropped: 0,
    rejected: {},
    gapsDetected: 0,
    tradesBackfilled: 0,
    tradesMissed: 0,
    heldTrades: 0,
    gapsOpen: 0,
    resumeAheadOfExchange: [],
    peakHeldTrades: 0,
    restBannedUntil: undefined,
    connectionAttempts: 0,
    reconnects: 0,
    rotations: 0,
    restRequests: 0,
    restErrors: 0,
    fastPathFrames: 0,
    bufferedEvents: 0,
    pauses: 0,
  };

  constructor(options: BinanceTradeClientOptions) {
    this.options = options;
    this.logger = options.logger ?? silentLogger;
    this.metrics = options.metrics;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    validateUrl(options.url, 'url', ['ws:', 'wss:']);
    validateUrl(options.restUrl, 'restUrl', ['http:', 'https:']);
    if (options.symbols.length === 0)
      throw new ConfigError('symbols', options.symbols, 'at least one symbol');
    this.symbols = [...new Set(options.symbols.map((s) => normalizeSymbol(s, 'symbols')))];
    const streamType = options.streamType ?? 'trade';
    this.parser = new FrameParser(streamType, this.symbols);
    this.attempts = new SlidingWindowLimit(options.maxConnectionAttempts ?? 300, 300_000);
    this.rest = new RestTrades({
      restUrl: options.restUrl.replace(/\/+$/, ''),
      streamType,
      weightPerMinute: options.restWeightPerMinute,
      apiKey: options.apiKey,
      timeoutMs: options.restTimeoutMs,
      fetch: options.fetch,
      now: this.now,
      onReject: (reason, detail) => this.reject(reason, detail),
    });

    const perConnection = options.maxStreamsPerConnection ?? 1024;
    if (!(perConnection >= 1)) {
      throw new ConfigError('maxStreamsPerConnection', perConnection, 'a number >= 1');
    }
    for (let i = 0; i < this.symbols.length; i += perConnection) {
      const symbols = this.symbols.slice(i, i + perConnection);
      this.shards.push({
        index: this.shards.length,
        symbols,
        streams: symbols.map((s) => `${s.toLowerCase()}@${streamType}`),
        backoff: new Backoff(options.backoff, this.random),
        attempts: 0,
        opened: false,
        current: undefined,
        draining: undefined,
        incoming: undefined,
      });
    }
    const maxHeld = options.maxHeldTrades ?? 100_000;
    if (!(Number.isSafeInteger(maxHeld) && maxHeld >= 1)) {
      throw new ConfigError('maxHeldTrades', maxHeld, 'an integer >= 1');
    }
    const maxJump = options.maxTradeIdJump ?? options.maxGapTrades ?? 100_000;
    if (!(Number.isSafeInteger(maxJump) && maxJump >= 1)) {
      throw new ConfigError('maxTradeIdJump', maxJump, 'an integer >= 1');
    }
    const resumeFrom = new Map(
      Object.entries(options.resumeFrom ?? {}).map(([s, id]) => [
        normalizeSymbol(s, 'resumeFrom'),
        id,
      ]),
    );
    for (const shard of this.shards) {
      for (const symbol of shard.symbols) {
        const last = resumeFrom.get(symbol);
        if (last !== undefined && !(Number.isSafeInteger(last) && last >= 0)) {
          throw new ConfigError(`resumeFrom.${symbol}`, last, 'a trade id (non-negative integer)');
        }
        this.slots.set(symbol, {
          symbol,
          shard,
          sequencer: new SymbolSequencer(symbol, last, (tick) => this.deliver(tick), {
            maxHeld,
            maxJump,
            onOverflow: (given) => this.onHeldOverflow(symbol, given),
          }),
          filling: false,
          catchUp: last !== undefined ? 'resume' : undefined,
        });
      }
    }
    this.queue.onTake = (size) => {
      if (this.paused && size < this.maxBuffered / 2) this.setPaused(false);
    };
    if (options.signal) {
      if (options.signal.aborted) void this.close();
      else options.signal.addEventListener('abort', () => void this.close(), { once: true });
    }
  }

  private get maxBuffered(): number {
    return this.options.maxBufferedEvents ?? 200_000;
  }

  /** Opens the connections (also done by the first iteration). */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.metrics?.wsConnectionStatus.set(0);
    for (const shard of this.shards) this.connect(shard, false);
    const watchdogMs = this.options.watchdogMs ?? 30_000;
    this.watchdog = setInterval(
      () => this.checkLiveness(),
      Math.max(10, Math.min(1000, watchdogMs / 4)),
    );
    for (const slot of this.slots.values()) if (slot.catchUp) this.fill(slot);
  }

  /** Every event: ticks, connection states, gaps. Only one iterator may read. */
  [Symbol.asyncIterator](): AsyncIterator<BinanceClientEvent> {
    if (this.iterated) throw new Error('BinanceTradeClient can be iterated once');
    this.iterated = true;
    this.start();
    return {
      next: () => this.queue.next(),
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }

  /** Only the ticks. */
  async *ticks(): AsyncGenerator<Tick> {
    for await (const event of this) if (event.type === 'tick') yield event.tick;
  }

  /** Counters since start. */
  stats(): BinanceClientStats {
    let held = 0;
    let peak = 0;
    for (const { sequencer } of this.slots.values()) {
      held += sequencer.held;
      peak = Math.max(peak, sequencer.peakHeld);
    }
    return {
      ...this.stat,
      rejected: { ...this.stat.rejected },
      resumeAheadOfExchange: [...this.stat.resumeAheadOfExchange],
      fastPathFrames: this.parser.fastPathHits,
      bufferedEvents: this.queue.size,
      heldTrades: held,
      gapsOpen: this.gapsAtClose?.length ?? this.countOpenGaps(),
      peakHeldTrades: peak,
      restBannedUntil: this.rest.bannedUntil > 0 ? this.rest.bannedUntil : undefined,
    };
  }

  /**
   * Runs of trade ids not delivered, that REST has not filled yet: while
   * running, the gaps the backfill is working on (ticks after them are held);
   * after `close()`, the gaps left open then, whose later ticks were
   * delivered anyway. Store them with the ticks to fill them later, and
   * report them (e.g. in `/ready`). `trading_gaps_open` counts them.
   *
   * @example
   * ```ts
   * await client.close();
   * for (const { symbol, fromId, toId } of client.openGaps()) saveGap(symbol, fromId, toId);
   * ```
   */
  openGaps(): OpenGap[] {
    if (this.gapsAtClose !== undefined) return [...this.gapsAtClose];
    const gaps: OpenGap[] = [];
    for (const slot of this.slots.values()) {
      for (const range of slot.sequencer.missingRanges())
        gaps.push({ symbol: slot.symbol, ...range });
    }
    return gaps;
  }

  /** Id of the last trade delivered per symbol (what to pass as `resumeFrom` next time). */
  positions(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const slot of this.slots.values()) {
      if (slot.sequencer.lastId !== undefined) out[slot.symbol] = slot.sequencer.lastId;
    }
    return out;
  }

  /**
   * Closes every connection and ends the iterator after the buffered events.
   * Ticks held behind a gap REST has not filled are delivered, in order,
   * after a `gap-open` event per missing run; {@link openGaps} lists those
   * runs afterwards. Ticks whose far-ahead id the exchange never confirmed
   * are not delivered (rejected, `ahead_of_exchange`).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    this.releaseHeldAtClose();
    if (this.watchdog) clearInterval(this.watchdog);
    for (const sleeper of this.sleepers) {
      clearTimeout(sleeper.timer);
      sleeper.resolve();
    }
    this.sleepers.clear();
    const closing: Promise<void>[] = [];
    for (const shard of this.shards) {
      clearTimeout(shard.reconnectTimer);
      clearTimeout(shard.stableTimer);
      clearTimeout(shard.overlapTimer);
      for (const connection of [shard.current, shard.draining, shard.incoming]) {
        if (connection) closing.push(this.closeConnection(connection, 'client closed'));
      }
      this.queue.push({ type: 'connection', state: 'closed', shard: shard.index });
    }
    this.flushTicks();
    this.metrics?.wsConnectionStatus.set(0);
    this.queue.end();
    await Promise.all(closing);
  }

  /**
   * Nothing will fill the gaps now: the ticks behind them go to the consumer
   * (so they are stored) and the gaps are reported instead of the ticks being lost.
   */
  private releaseHeldAtClose(): void {
    const gaps: OpenGap[] = [];
    for (const slot of this.slots.values()) {
      const seq = slot.sequencer;
      for (const tick of seq.dropUnconfirmed()) {
        this.reject(
          'ahead_of_exchange',
          `${slot.symbol} ${tick.tradeId}: not confirmed by the exchange before close`,
        );
      }
      if (!seq.hasGap) continue;
      const ranges = seq.missingRanges();
      for (const range of ranges) {
        gaps.push({ symbol: slot.symbol, ...range });
        this.queue.push({ type: 'gap-open', symbol: slot.symbol, ...range });
      }
      const held = seq.held;
      seq.releaseHeld();
      this.logger.warn(
        { symbol: slot.symbol, gaps: ranges, delivered: held },
        'binance: closing with gaps REST has not filled: the ticks after them are delivered, the gaps reported (openGaps())',
      );
    }
    this.gapsAtClose = gaps;
    this.metrics?.gapsOpen.set(gaps.length);
  }

  // ---- connections --------------------------------------------------------

  private connect(shard: Shard, rotation: boolean): void {
    if (this.closed) return;
    const wait = this.attempts.delay(this.now());
    if (wait > 0) {
      this.logger.warn({ waitMs: wait }, 'binance: connection-attempt limit reached, waiting');
      shard.reconnectTimer = setTimeout(() => this.connect(shard, rotation), wait);
      return;
    }
    // Another shard's refusal asked the whole IP to wait.
    const blocked = this.connectBlockedUntil - this.now();
    if (blocked > 0) {
      shard.reconnectTimer = setTimeout(() => this.connect(shard, rotation), blocked);
      return;
    }
    this.attempts.record(this.now());
    this.stat.connectionAttempts++;
    this.metrics?.wsConnections.inc();
    if (shard.attempts++ > 0) {
      this.stat.reconnects++;
      this.metrics?.wsReconnects.inc();
    }
    const maxUrl = this.options.maxUrlStreams ?? 100;
    const inUrl = shard.streams.slice(0, maxUrl);
    const base = this.options.url.replace(/\/+$/, '');
    const Impl = this.options.WebSocket ?? WebSocket;
    const ws = new Impl(`${base}/stream?streams=${inUrl.join('/')}`, {
      perMessageDeflate: false,
      // Every field a tick uses is checked byte by byte; other bytes are never trusted.
      skipUTF8Validation: true,
      autoPong: false,
      handshakeTimeout: this.options.connectTimeoutMs ?? 10_000,
      // Large enough to read a frame over MAX_FRAME_BYTES and reject it (counted,
      // the connection kept) instead of closing with 1009 and reconnecting in a
      // loop; it bounds the memory one frame may take per connection.
      maxPayload: MAX_WS_PAYLOAD,
    });
    const at = this.now();
    const connection: Connection = {
      id: nextConnectionId++,
      ws,
      shard,
      control: new ControlQueue(this.options.controlMessagesPerSecond ?? 4, this.now),
      openedAt: at,
      lastFrameAt: at,
      opened: false,
      closed: false,
      pinged: false,
      caughtUp: new Set(),
      pendingReplies: new Set(),
    };
    if (rotation) shard.incoming = connection;
    else shard.current = connection;
    this.emitState(shard, rotation ? 'rotating' : 'connecting');

    ws.on('open', () => this.onOpen(connection, shard.streams.slice(maxUrl)));
    ws.on('message', (data: Buffer) => this.onMessage(connection, data));
    ws.on('ping', (data: Buffer) => {
      if (this.closed) return;
      connection.lastFrameAt = this.now();
      this.metrics?.markWsMessage(connection.lastFrameAt);
      connection.control.send(() => {
        if (ws.readyState === WebSocket.OPEN) ws.pong(data);
      });
    });
    ws.on('pong', () => {
      if (this.closed) return;
      connection.lastFrameAt = this.now();
      this.metrics?.markWsMessage(connection.lastFrameAt);
      connection.pinged = false;
    });
    ws.on('unexpected-response', (_request, response) => this.onRefused(connection, response));
    ws.on('error', (error: Error & { code?: string }) => {
      if (connection.refused) return; // our own abort of a refused upgrade, logged in onClose
      // Past maxPayload ws must drop the connection (1009): still a frame rejected.
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' && !this.closed) {
        this.reject('oversized_frame', `over ${MAX_WS_PAYLOAD} bytes: connection replaced`);
      }
      this.logger.warn(
        { shard: shard.index, connection: connection.id, error: error.message },
        'binance: socket error',
      );
    });
    ws.on('close', (code: number, reason: Buffer) =>
      this.onClose(connection, `closed ${code}${reason.length ? ` ${reason.toString()}` : ''}`),
    );
  }

  /**
   * The upgrade got an HTTP answer instead of 101 (Binance: 429 past 300
   * attempts in 5 minutes, with `Retry-After`). Listening to ws's
   * 'unexpected-response' makes aborting the request our job: terminate()
   * does it, and the close that follows schedules the next attempt.
   */
  private onRefused(connection: Connection, response: IncomingMessage): void {
    const at = this.now();
    const retryAfterMs = parseRetryAfter(response.headers['retry-after'], at);
    connection.refused = { status: response.statusCode ?? 0, retryAfterMs };
    if (retryAfterMs !== undefined) {
      this.connectBlockedUntil = Math.max(this.connectBlockedUntil, at + retryAfterMs);
    }
    response.resume();
    connection.ws.terminate();
  }

  /** Backoff delay of the shard's next attempt, never before a refusal's `Retry-After` elapsed. */
  private reconnectDelay(shard: Shard): number {
    return Math.max(shard.backoff.next(), this.connectBlockedUntil - this.now());
  }

  private onOpen(connection: Connection, toSubscribe: string[]): void {
    const shard = connection.shard;
    connection.opened = true;
    connection.lastFrameAt = this.now();
    if (this.paused) connection.ws.pause();
    const perMessage = this.options.maxStreamsPerSubscribe ?? 200;
    for (let i = 0; i < toSubscribe.length; i += perMessage) {
      const id = nextConnectionId++;
      const params = toSubscribe.slice(i, i + perMessage);
      connection.pendingReplies.add(id);
      connection.control.send(() => {
        if (connection.ws.readyState === WebSocket.OPEN) {
          connection.ws.send(JSON.stringify({ method: 'SUBSCRIBE', params, id }));
        }
      });
    }
    this.logger.info(
      { shard: shard.index, connection: connection.id, streams: shard.streams.length },
      'binance: connected',
    );
    clearTimeout(shard.stableTimer);
    shard.stableTimer = setTimeout(
      () => shard.backoff.reset(),
      this.options.stableAfterMs ?? 30_000,
    );
    const ageMs = this.options.maxConnectionAgeMs ?? 23.5 * 3_600_000;
    const jitterMs = Math.min(ageMs * 0.05, 600_000) * this.random();
    connection.rotateTimer = setTimeout(
      () => this.rotate(shard, 'connection age limit'),
      ageMs - jitterMs,
    );

    const reconnected = shard.incoming !== connection && shard.opened;
    shard.opened = true;
    if (reconnected) this.catchUpAfterReconnect(shard);
    if (shard.incoming === connection) {
      // A planned rotation: the new connection streams while the old one drains.
      shard.incoming = undefined;
      shard.draining = shard.current;
      shard.current = connection;
      shard.overlapTimer = setTimeout(
        () => this.finishRotation(shard, 'overlap elapsed'),
        this.options.rotationOverlapMs ?? 5_000,
      );
    }
    this.emitState(shard, 'open');
    this.updateStatus();
  }

  private onClose(connection: Connection, reason: string): void {
    if (connection.closed) return;
    connection.closed = true;
    connection.control.close();
    clearTimeout(connection.rotateTimer);
    const shard = connection.shard;
    if (connection.opened) this.metrics?.wsDisconnections.inc();
    if (this.closed) return;
    if (connection.refused) {
      reason = `refused: HTTP ${connection.refused.status}`;
    } else {
      this.logger.info(
        { shard: shard.index, connection: connection.id, reason },
        'binance: connection closed',
      );
    }

    if (shard.draining === connection) {
      this.finishRotation(shard, reason);
      return;
    }
    if (shard.incoming === connection) {
      // The replacement failed; the old connection keeps streaming. Try again later.
      shard.incoming = undefined;
      const delay = this.reconnectDelay(shard);
      this.logRefusal(connection, delay);
      shard.reconnectTimer = setTimeout(() => this.rotate(shard, 'retry'), delay);
      return;
    }
    if (shard.current !== connection) return;
    shard.current = undefined;
    clearTimeout(shard.stableTimer);
    if (shard.incoming) {
      // Died while its replacement was opening: the replacement takes over as a plain reconnect.
      shard.current = shard.incoming;
      shard.incoming = undefined;
      this.updateStatus();
      return;
    }
    if (shard.draining) {
      // The new connection died during overlap: the old one carries on.
      shard.current = shard.draining;
      shard.draining = undefined;
      clearTimeout(shard.overlapTimer);
      this.updateStatus();
      return;
    }
    this.updateStatus();
    const delay = this.reconnectDelay(shard);
    this.logRefusal(connection, delay);
    this.queue.push({
      type: 'connection',
      state: 'disconnected',
      shard: shard.index,
      reason,
      retryInMs: delay,
    });
    shard.reconnectTimer = setTimeout(() => this.connect(shard, false), delay);
  }

  private logRefusal(connection: Connection, retryInMs: number): void {
    if (!connection.refused) return;
    const { status, retryAfterMs } = connection.refused;
    this.logger.warn(
      { shard: connection.shard.index, connection: connection.id, status, retryAfterMs, retryInMs },
      `binance: connection refused (HTTP ${status}), next attempt in ${retryInMs} ms`,
    );
  }

  /**
   * Trades made while the shard was down show up as a gap with the next
   * trade; a quiet symbol may not trade for a long time, so ask REST now
   * (for at most `maxReconnectCatchUpSymbols` symbols, to spare the weight budget).
   */
  private catchUpAfterReconnect(shard: Shard): void {
    let budget = this.options.maxReconnectCatchUpSymbols ?? 20;
    for (const symbol of shard.symbols) {
      if (budget <= 0) return;
      const slot = this.slots.get(symbol)!;
      if (slot.sequencer.lastId === undefined || slot.catchUp) continue;
      budget--;
      slot.catchUp = 'reconnect';
      this.fill(slot);
    }
  }

  /** Opens a replacement before closing the current connection, so no trade is missed. */
  private rotate(shard: Shard, reason: string): void {
    if (this.closed || shard.incoming || shard.draining || !shard.current?.opened) return;
    this.stat.rotations++;
    this.logger.info({ shard: shard.index, reason }, 'binance: rotating connection');
    this.connect(shard, true);
  }

  private finishRotation(shard: Shard, reason: string): void {
    clearTimeout(shard.overlapTimer);
    const old = shard.draining;
    shard.draining = undefined;
    if (old && !old.closed) void this.closeConnection(old, `rotation: ${reason}`);
    // Gaps seen while two connections overlapped may be real: fill them now.
    for (const symbol of shard.symbols) {
      const slot = this.slots.get(symbol)!;
      if (slot.sequencer.hasGap || slot.sequencer.hasUnconfirmed) this.fill(slot);
    }
  }

  private closeConnection(connection: Connection, reason: string): Promise<void> {
    connection.control.close();
    clearTimeout(connection.rotateTimer);
    const ws = connection.ws;
    if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const done = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1000);
      ws.once('close', () => {
        clearTimeout(done);
        resolve();
      });
      try {
        if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
        else ws.close(1000, reason.slice(0, 100));
      } catch {
        ws.terminate();
      }
    });
  }

  private checkLiveness(): void {
    // New runs open behind held ticks between backfill steps: the gauge catches up here.
    this.updateGapsOpen();
    // Paused sockets read nothing: that is backpressure, not silence (see setPaused).
    if (this.paused) return;
    const at = this.now();
    const watchdogMs = this.options.watchdogMs ?? 30_000;
    const idlePingMs = this.options.idlePingMs ?? Math.min(10_000, watchdogMs / 3);
    for (const shard of this.shards) {
      for (const connection of [shard.current, shard.draining]) {
        if (!connection?.opened || connection.closed) continue;
        const silent = at - connection.lastFrameAt;
        if (silent >= watchdogMs) {
          this.logger.warn(
            { shard: shard.index, connection: connection.id, silentMs: silent },
            'binance: no frame, replacing connection',
          );
          connection.ws.terminate();
        } else if (silent >= idlePingMs && !connection.pinged) {
          connection.pinged = true;
          connection.control.send(() => {
            if (connection.ws.readyState === WebSocket.OPEN) connection.ws.ping();
          });
        }
      }
    }
  }

  private updateStatus(): void {
    const up = this.shards.every((s) => s.current?.opened === true && !s.current.closed);
    this.metrics?.wsConnectionStatus.set(up && !this.closed ? 1 : 0);
  }

  private emitState(shard: Shard, state: ConnectionState, reason?: string): void {
    this.queue.push(
      reason === undefined
        ? { type: 'connection', state, shard: shard.index }
        : { type: 'connection', state, shard: shard.index, reason },
    );
  }

  // ---- frames -------------------------------------------------------------

  private onMessage(connection: Connection, data: Buffer): void {
    // Frames still in flight when close() was called are not delivered, so they must not count.
    if (this.closed) return;
    // One clock read per burst of frames (one socket read): they arrived together.
    let at = this.burstTime;
    if (at === 0) {
      at = this.burstTime = this.now();
      queueMicrotask(this.endBurst);
    }
    connection.lastFrameAt = at;
    connection.pinged = false;
    this.stat.frames++;
    this.metrics?.markWsMessage(at);
    const result = this.parser.parseFast(data, at);
    if ((result as FrameResult).kind === undefined) this.onTick(connection, result as Tick);
    else this.onOther(connection, result as FrameResult);
  }

  private onTick(connection: Connection, tick: Tick): void {
    const slot = this.slots.get(tick.symbol);
    if (slot === undefined || slot.shard !== connection.shard) {
      this.reject('symbol_mismatch', `not subscribed on this connection: ${tick.symbol}`);
      return;
    }
    const sequencer = slot.sequencer;
    const shard = slot.shard;
    if (shard.draining !== undefined && connection === shard.current) {
      const last = sequencer.lastId;
      if (last === undefined || tick.tradeId <= last + 1) {
        connection.caughtUp.add(tick.symbol);
        if (connection.caughtUp.size === shard.symbols.length)
          this.finishRotation(shard, 'caught up');
      }
    }
    const outcome = sequencer.offer(tick);
    if (outcome === 'delivered') return;
    if (outcome === 'duplicate') {
      this.stat.duplicatesDropped++;
      this.metrics?.ticksDuplicate.inc();
    } else if (!slot.filling && shard.draining === undefined) this.fill(slot);
  }

  private onOther(connection: Connection, result: FrameResult): void {
    switch (result.kind) {
      case 'rejected':
        this.reject(result.reason, result.detail);
        return;
      case 'shutdown':
        this.logger.info(
          { shard: connection.shard.index, connection: connection.id },
          'binance: serverShutdown',
        );
        if (connection === connection.shard.current)
          this.rotate(connection.shard, 'serverShutdown');
        return;
      case 'reply': {
        const id = typeof result.id === 'number' ? result.id : NaN;
        const ours = connection.pendingReplies.delete(id);
        if (result.error) {
          this.reject('error_payload', `reply ${String(result.id)}: ${String(result.error.msg)}`);
          this.metrics?.errors.inc({ component: 'exchange' });
        } else if (!ours) {
          this.reject('subscription_reply', `unexpected reply ${String(result.id)}`);
        }
        return;
      }
      case 'tick':
        this.onTick(connection, result.tick);
    }
  }

  private deliver(tick: Tick): void {
    this.queue.push({ type: 'tick', tick });
    this.stat.ticksDelivered++;
    this.unflushedTicks++;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flushTicks());
    }
    if (!this.paused && this.queue.size > this.maxBuffered) this.setPaused(true);
  }

  private flushTicks(): void {
    this.flushScheduled = false;
    if (this.unflushedTicks > 0) {
      this.metrics?.ticksReceived.inc(this.unflushedTicks);
      this.unflushedTicks = 0;
    }
  }

  private setPaused(paused: boolean): void {
    this.paused = paused;
    if (paused) this.stat.pauses++;
    const at = this.now();
    for (const shard of this.shards) {
      for (const c of [shard.current, shard.draining]) {
        if (c?.opened && !c.closed) {
          if (paused) c.ws.pause();
          else c.ws.resume();
        }
      }
      // The silence clock restarts on resume: nothing could arrive while paused.
      for (const c of [shard.current, shard.draining, shard.incoming]) {
        if (c && !paused) {
          c.lastFrameAt = at;
          c.pinged = false;
        }
      }
    }
  }

  private reject(reason: TickRejectReason, detail: string): void {
    this.stat.rejected[reason] = (this.stat.rejected[reason] ?? 0) + 1;
    this.metrics?.ticksRejected.inc({ reason });
    const at = this.now();
    const interval = this.options.rejectLogIntervalMs ?? 10_000;
    const entry = this.rejectLog.get(reason);
    if (entry === undefined || at - entry.at >= interval) {
      this.logger.warn(
        { reason, detail, suppressed: entry?.suppressed ?? 0 },
        'binance: frame rejected',
      );
      this.rejectLog.set(reason, { at, suppressed: 0 });
    } else {
      entry.suppressed++;
    }
  }

  // ---- gap backfill -------------------------------------------------------

  /**
   * Fills the gap of `slot` over REST (or catches up from a resume point),
   * after settling ids waiting for the exchange's word; one job per symbol.
   */
  private fill(slot: SymbolSlot): void {
    if (slot.filling || this.closed) return;
    slot.filling = true;
    this.updateGapsOpen();
    this.fillLoop(slot)
      .catch((error: unknown) => {
        this.logger.error(
          { symbol: slot.symbol, error: String(error) },
          'binance: backfill failed',
        );
      })
      .finally(() => {
        slot.filling = false;
        this.updateGapsOpen();
        const seq = slot.sequencer;
        // A gap may have opened while the job finished.
        if (!this.closed && (seq.hasGap || seq.hasUnconfirmed) && slot.shard.draining === undefined)
          this.fill(slot);
      });
  }

  private async fillLoop(slot: SymbolSlot): Promise<void> {
    const seq = slot.sequencer;
    const symbol = slot.symbol;
    if (seq.hasUnconfirmed) await this.confirmFarIds(slot);
    if (!seq.hasGap && !slot.catchUp) return;
    const maxGap =
      slot.catchUp === 'resume'
        ? (this.options.maxResumeTrades ?? 100_000)
        : (this.options.maxGapTrades ?? 100_000);
    let recovered = 0;
    let missed = 0;
    let failures = 0;
    let bannedUntil: number | undefined;
    this.stat.gapsDetected++;

    let fromId = seq.nextId!;
    if (slot.catchUp === 'resume') {
      // Bound the catch-up by the newest trade REST knows, and check the resume point against it.
      const newest = await this.exchangeNewest(symbol);
      if (newest !== undefined) {
        for (const tick of seq.settleUnconfirmed(newest)) this.rejectAhead(slot, tick, newest);
        if (newest < seq.lastId! && this.resumeAhead(slot, newest)) fromId = seq.nextId!;
        else if (newest - seq.lastId! > maxGap) missed += seq.skipTo(newest - maxGap + 1);
      }
    }
    let toId = fromId - 1;
    while (!this.closed) {
      if (seq.hasUnconfirmed) await this.confirmFarIds(slot);
      this.updateGapsOpen();
      if (this.restBanned()) {
        // No request may go while the IP is banned: give the gap up now rather than hold the stream.
        bannedUntil = this.rest.bannedUntil;
        const given = seq.giveUpHeld();
        if (given) {
          missed += given.missed;
          toId = Math.max(toId, given.toId);
        }
        break;
      }
      const next = seq.nextId!;
      const heldMin = seq.heldMin;
      if (heldMin === undefined && !slot.catchUp) break;
      const target = heldMin ?? Number.POSITIVE_INFINITY; // first id we already hold
      toId = Math.max(toId, Number.isFinite(target) ? target - 1 : next - 1);
      if (Number.isFinite(target) && target - next > maxGap) {
        // Giving ids up for a tick REST has never shown: first make sure the exchange has it.
        if (await this.dropAheadOfExchange(slot)) continue;
        missed += seq.skipTo(target - maxGap);
        continue;
      }
      const limit = Math.min(1000, Number.isFinite(target) ? target - next : 1000);
      const rows = await this.restCall(() =>
        this.rest.fetchFrom(symbol, next, limit, this.abort.signal),
      );
      if (rows === undefined) {
        if (this.closed || this.restBanned()) continue; // the loop's checks end it
        failures++;
        if (failures >= 5) {
          this.logger.error(
            { symbol, fromId: next },
            'binance: REST backfill keeps failing, giving up this gap',
          );
          // skipTo counts nothing already given up meanwhile (an overflow moved past it).
          if (Number.isFinite(target)) missed += seq.skipTo(target);
          break;
        }
        await this.sleep(Math.min(10_000, 500 * 2 ** failures));
        continue;
      }
      if (rows.length === 0) {
        if (!Number.isFinite(target)) break; // caught up with the head
        // History ends before the held tick: is the tick newer than anything the exchange has?
        if (await this.dropAheadOfExchange(slot)) continue;
        // REST does not have them (yet): retry a few times, then give up.
        failures++;
        if (failures >= 5) {
          missed += seq.skipTo(target);
          break;
        }
        await this.sleep(Math.min(5_000, 250 * 2 ** failures));
        continue;
      }
      failures = 0;
      if (rows[0]!.tradeId > seq.nextId!) {
        // History no longer holds these ids.
        missed += seq.skipTo(rows[0]!.tradeId);
      }
      for (const tick of rows) {
        if (seq.offer(tick) === 'delivered') {
          recovered++;
          this.stat.tradesBackfilled++;
          this.metrics?.ticksBackfilled.inc();
        }
      }
      toId = Math.max(toId, rows[rows.length - 1]!.tradeId);
      if (!Number.isFinite(target) && rows.length < limit) break;
    }
    slot.catchUp = undefined;
    this.reportGap(symbol, { fromId, toId, recovered, missed }, bannedUntil);
  }

  /** The exchange's newest trade id of `symbol` over REST (`trades?limit=1`), or `undefined` when REST did not say. */
  private async exchangeNewest(symbol: string): Promise<number | undefined> {
    const rows = await this.restCall(() => this.rest.latest(symbol, 1, this.abort.signal));
    return rows?.[0]?.tradeId;
  }

  /**
   * Far-ahead ids ({@link BinanceTradeClientOptions.maxTradeIdJump}) wait for
   * the exchange's newest trade id: those beyond it are rejected, the others
   * taken. Without an answer (REST banned, or failing five times) they are
   * trusted: a symbol that really jumped must not stall while REST is away.
   */
  private async confirmFarIds(slot: SymbolSlot): Promise<void> {
    const seq = slot.sequencer;
    for (let failures = 1; seq.hasUnconfirmed && !this.closed; failures++) {
      const newest = await this.exchangeNewest(slot.symbol);
      if (this.closed) return;
      if (newest !== undefined) {
        for (const tick of seq.settleUnconfirmed(newest)) this.rejectAhead(slot, tick, newest);
        return;
      }
      if (this.restBanned() || failures >= 5) {
        this.logger.error(
          { symbol: slot.symbol, held: seq.held },
          'binance: cannot ask REST whether far-ahead trade ids exist: trusting them',
        );
        seq.trustUnconfirmed();
        return;
      }
      await this.sleep(Math.min(10_000, 500 * 2 ** failures));
    }
  }

  /**
   * Held ticks whose ids the exchange does not have (beyond REST's newest
   * trade, asked now) are rejected as `ahead_of_exchange`: believed, one
   * would end the gap by skipping to it, and every real trade up to it would
   * then be dropped as a repeat. True when it changed the held ticks or
   * waited to ask again (the caller looks at the gap afresh).
   */
  private async dropAheadOfExchange(slot: SymbolSlot): Promise<boolean> {
    const seq = slot.sequencer;
    const askedAt = this.now();
    const newest = await this.exchangeNewest(slot.symbol);
    if (newest === undefined || this.closed) return false;
    const dropped = seq.dropHeldAbove(newest, askedAt - AHEAD_GRACE_MS);
    for (const tick of dropped) this.rejectAhead(slot, tick, newest);
    if (seq.hasHeldAbove(newest)) {
      // Arrived too recently for REST to be sure of: ask again once the grace has passed.
      await this.sleep(AHEAD_GRACE_MS);
      return true;
    }
    return dropped.length > 0;
  }

  private rejectAhead(slot: SymbolSlot, tick: Tick, newest: number): void {
    this.reject(
      'ahead_of_exchange',
      `${slot.symbol} trade id ${tick.tradeId}: the exchange's newest is ${newest}`,
    );
  }

  /**
   * The resume point is ahead of the exchange's newest trade (a database of
   * another exchange or environment, a corrupted id): obeyed, it would drop
   * every real trade up to it as a repeat. Resume from the exchange's newest.
   */
  private resumeAhead(slot: SymbolSlot, newest: number): boolean {
    const resumeFrom = slot.sequencer.lastId!;
    // Refused when the stream already delivered past it: then the exchange does have such ids.
    if (!slot.sequencer.rewind(newest)) return false;
    this.stat.resumeAheadOfExchange.push({
      symbol: slot.symbol,
      resumeFrom,
      exchangeNewest: newest,
    });
    this.metrics?.errors.inc({ component: 'exchange' });
    this.logger.error(
      { symbol: slot.symbol, resumeFrom, exchangeNewest: newest },
      `binance: resumeFrom ${resumeFrom} of ${slot.symbol} is ahead of the exchange's newest trade ${newest}: resuming from ${newest} instead`,
    );
    return true;
  }

  /** `trading_gaps_open`: gaps waiting for REST now (after close, those left open). */
  private updateGapsOpen(): void {
    if (this.metrics === undefined || this.gapsAtClose !== undefined) return;
    this.metrics.gapsOpen.set(this.countOpenGaps());
  }

  /** {@link openGaps}`.length` while running, without sorting what is held. */
  private countOpenGaps(): number {
    let open = 0;
    for (const slot of this.slots.values()) {
      if (slot.sequencer.hasGap) open += slot.sequencer.gapCount;
    }
    return open;
  }

  /**
   * Counts and tells about a gap's outcome: missed ids in `stats().tradesMissed`,
   * `trading_ticks_unrecovered_total` and an error log; a `gap` event when
   * anything was recovered or missed.
   */
  private reportGap(
    symbol: string,
    gap: { fromId: number; toId: number; recovered: number; missed: number },
    bannedUntil?: number,
  ): void {
    const { fromId, toId, recovered, missed } = gap;
    if (missed > 0) {
      this.stat.tradesMissed += missed;
      this.metrics?.ticksUnrecovered.inc(missed);
      this.metrics?.errors.inc({ component: 'exchange' });
      if (bannedUntil === undefined) {
        this.logger.error(
          { symbol, fromId, toId, missed },
          'binance: trades could not be recovered',
        );
      } else {
        const until = new Date(bannedUntil).toISOString();
        this.logger.error(
          { symbol, fromId, toId, missed, bannedUntil: until },
          `binance: trades could not be recovered: the IP is banned from REST (HTTP 418) until ${until}`,
        );
      }
    } else if (recovered > 0) {
      this.logger.info({ symbol, fromId, toId, recovered }, 'binance: gap filled over REST');
    }
    if (recovered > 0 || missed > 0) {
      this.queue.push({ type: 'gap', symbol, fromId, toId, recovered, missed });
    }
  }

  /** A symbol held `maxHeldTrades` ticks behind a gap: the sequencer gave the gap up. */
  private onHeldOverflow(symbol: string, given: GivenUpIds): void {
    this.updateGapsOpen();
    this.logger.warn(
      { symbol, maxHeldTrades: this.options.maxHeldTrades ?? 100_000 },
      'binance: too many ticks held behind a gap, giving the gap up',
    );
    this.reportGap(symbol, { ...given, recovered: 0 });
  }

  private restBanned(): boolean {
    return this.rest.bannedUntil > this.now();
  }

  /**
   * The IP is banned from REST (418): log it once, and wake every backfill
   * sleeping before its next request so each gives its gap up now instead of
   * holding the stream behind it for the length of the ban.
   */
  private onRestBanned(): void {
    const until = new Date(this.rest.bannedUntil).toISOString();
    this.logger.error(
      { bannedUntil: until },
      `binance: REST answered 418, the IP is banned until ${until}: no REST request until then, gaps meanwhile are counted as missed`,
    );
    for (const sleeper of this.sleepers) {
      clearTimeout(sleeper.timer);
      sleeper.resolve();
    }
    this.sleepers.clear();
  }

  /**
   * Runs a REST call within the weight budget and after any `Retry-After`
   * (429); `undefined` when it failed (logged), the IP is banned, or the
   * client closed.
   */
  private async restCall<T>(call: () => Promise<T>): Promise<T | undefined> {
    // Checked again after every wait: another backfill's 429 or 418 may have come meanwhile.
    for (let wait = this.rest.waitMs(); wait > 0; wait = this.rest.waitMs()) {
      if (this.closed || this.restBanned()) return undefined;
      await this.sleep(wait);
    }
    if (this.closed || this.restBanned()) return undefined;
    this.stat.restRequests++;
    try {
      const result = await call();
      // An answer landing after close() is not delivered, so it must not move anything.
      return this.closed ? undefined : result;
    } catch (error) {
      if (this.closed) return undefined;
      this.stat.restErrors++;
      this.metrics?.errors.inc({ component: 'exchange' });
      if (error instanceof RestRequestError && error.status === 418) this.onRestBanned();
      else this.logger.warn({ error: String(error) }, 'binance: REST request failed');
      return undefined;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      const sleeper = {
        timer: setTimeout(() => {
          this.sleepers.delete(sleeper);
          resolve();
        }, ms),
        resolve,
      };
      this.sleepers.add(sleeper);
    });
  }
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
