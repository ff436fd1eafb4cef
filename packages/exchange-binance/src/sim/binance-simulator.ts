import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  FRAME_REJECT_REASONS,
  InvalidInputError,
  normalizeSymbol,
  silentLogger,
  type Logger,
} from '@trade/core';
import {
  encodeFrame,
  frameHeaderLatin1,
  FrameReader,
  handshakeResponse,
  OPCODE_BINARY,
  OPCODE_CLOSE,
  OPCODE_PING,
  OPCODE_PONG,
  OPCODE_TEXT,
} from './ws-protocol.js';
import { formatPrice, TradeHistory, type SimTrade } from './trade-history.js';

/** A fault the simulator can inject. */
export type SimFaultKind =
  'drop' | 'stall' | 'gap' | 'duplicate' | 'malformed' | 'serverShutdown' | 'refuse';

/**
 * Malformed frames {@link BinanceSimulator.malformed} can send: one per
 * reason of @trade/core's `FRAME_REJECT_REASONS`, the reasons one stream
 * frame earns on its own. Each frame sent is counted once under its kind.
 * The other reasons of `TICK_REJECT_REASONS` take more than one frame:
 * `ahead_of_exchange` comes from {@link BinanceSimulator.bogusTrade} once the
 * client has asked REST for the newest id, `invalid_rest_answer` from
 * {@link BinanceSimulator.lieRest}.
 */
export const MALFORMED_KINDS = FRAME_REJECT_REASONS;

/** One of {@link MALFORMED_KINDS}. */
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

/**
 * Lies {@link BinanceSimulator.lieRest} can tell in a REST trade answer:
 * - `too_many_rows`: twice the rows asked for, real ones then made-up ones;
 * - `ids_out_of_range`: the real rows under ids past the asked range;
 * - `wrong_symbol`: another symbol's trades for the asked ids, each row
 *   carrying that symbol;
 * - `huge_body`: the honest rows followed by 8 MiB of whitespace.
 */
export const REST_LIE_KINDS = [
  'too_many_rows',
  'ids_out_of_range',
  'wrong_symbol',
  'huge_body',
] as const;

/** One of {@link REST_LIE_KINDS}. */
export type RestLieKind = (typeof REST_LIE_KINDS)[number];

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
  /** Trades kept per symbol for the ground truth and the REST endpoints. Default `1_000_000`. */
  retain?: number;
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

/** Options of {@link BinanceSimulator.refuseConnections}. */
export interface RefuseConnectionsOptions {
  /** HTTP status of the refusal. Default `503`. */
  status?: number;
  /** Sent as the `Retry-After` header (seconds) when set. */
  retryAfterSeconds?: number;
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
  /** Generates `count` trades (of `symbol`, or of each symbol) now and sends them. */
  generate(count: number, symbol?: string): void;
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

/** A small fast seeded PRNG (mulberry32): same seed, same sequence. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface SymbolState {
  readonly symbol: string;
  readonly lower: string;
  readonly tradeStream: string;
  readonly aggStream: string;
  readonly history: TradeHistory;
  priceCents: number;
  carry: number;
}

interface Connection {
  readonly id: number;
  readonly socket: Socket;
  readonly path: string;
  readonly combined: boolean;
  readonly streams: Set<string>;
  readonly openedAt: number;
  readonly reader: FrameReader;
  out: string;
  silentUntil: number;
  lastPongAt: number;
  incoming: number[];
  closing: boolean;
}

const FIVE_MINUTES = 5 * 60_000;
/** Default size of `malformed('oversized_frame')`: a little over the client's 1 MiB frame limit. */
const OVERSIZED_FRAME_BYTES = (1 << 20) + 1024;
const HIGH_WATER = 1 << 20;
const LOG_LIMIT = 10_000;

/**
 * Starts a Binance-protocol server on loopback: combined (`/stream?streams=`)
 * and raw (`/ws/<stream>`, `/ws`) trade and aggTrade streams, SUBSCRIBE /
 * UNSUBSCRIBE / LIST_SUBSCRIPTIONS, REST `historicalTrades`, `trades`,
 * `aggTrades`, seeded random-walk prices, fault injection, and the ground
 * truth of every trade it generated.
 *
 * @example
 * ```ts
 * const sim = await startBinanceSimulator({ symbols: ['BTCUSDT'], rate: 0, seed: 7 });
 * sim.generate(100);
 * sim.gap(5);                 // 5 trades only REST will show
 * sim.truth('BTCUSDT').length // 105
 * await sim.close();
 * ```
 */
export async function startBinanceSimulator(
  options: BinanceSimulatorOptions = {},
): Promise<BinanceSimulator> {
  const now = options.now ?? Date.now;
  const logger = options.logger ?? silentLogger;
  const seed = options.seed ?? 1;
  const random = prng(seed);
  const faultRandom = prng(seed ^ 0x5bd1e995);
  const rate = options.rate ?? 10;
  if (rate !== 'max' && !(typeof rate === 'number' && rate >= 0 && Number.isFinite(rate))) {
    throw new InvalidInputError('rate', rate, "a number of trades per second >= 0, or 'max'");
  }
  const retain = options.retain ?? 1_000_000;
  const pingIntervalMs = options.pingIntervalMs ?? 20_000;
  const pongTimeoutMs = options.pongTimeoutMs ?? 60_000;
  const maxAgeMs = options.maxConnectionAgeMs ?? 24 * 3_600_000;
  const maxIncoming = options.maxIncomingPerSecond ?? 5;
  const maxStreams = options.maxStreamsPerConnection ?? 1024;
  const maxAttempts = options.maxConnectionAttempts ?? 300;
  const restWeightLimit = options.restWeightPerMinute ?? 6000;
  const firstTradeId = options.firstTradeId ?? 1_000_000_000 + Math.floor(random() * 1e8);
  const oversizedFrameBytes = options.oversizedFrameBytes ?? OVERSIZED_FRAME_BYTES;
  let oversizedPadding = '';

  const symbols = new Map<string, SymbolState>();
  const byStream = new Map<string, { state: SymbolState; agg: boolean }>();
  for (const raw of options.symbols ?? ['BTCUSDT', 'ETHUSDT']) {
    const symbol = normalizeSymbol(raw);
    const lower = symbol.toLowerCase();
    const state: SymbolState = {
      symbol,
      lower,
      tradeStream: `${lower}@trade`,
      aggStream: `${lower}@aggTrade`,
      history: new TradeHistory(symbol, firstTradeId, retain),
      priceCents: symbols.size === 0 ? 4_325_001 : 100 + Math.floor(random() * 500_000),
      carry: 0,
    };
    symbols.set(symbol, state);
    byStream.set(state.tradeStream, { state, agg: false });
    byStream.set(state.aggStream.toLowerCase(), { state, agg: true });
  }
  const symbolList = [...symbols.values()];

  const connections = new Set<Connection>();
  const stats: SimulatorStats = {
    connectionsAccepted: 0,
    connectionsRefused: 0,
    openConnections: 0,
    peakConnections: 0,
    framesSent: 0,
    restRequests: 0,
    restRejected: 0,
    restWithheld: 0,
    restLies: 0,
    restHung: 0,
    rateLimitDrops: 0,
    streamLimitRefusals: 0,
    pongTimeouts: 0,
  };
  let nextConnectionId = 1;
  let refuseUntil = 0;
  let refusal: RefuseConnectionsOptions = {};
  let restFailures = { count: 0, status: 500, retryAfterSeconds: 1 };
  let lies: { count: number; kind: RestLieKind } = { count: 0, kind: 'too_many_rows' };
  let hugePadding = '';
  let hangUntil = 0;
  let hangAfterHeaders = false;
  const withheld = new Map<SymbolState, { fromId: number; toId: number }[]>();
  const restRequestLog: SimRequestLogEntry[] = [];
  const upgradeRequestLog: SimRequestLogEntry[] = [];
  const attempts: number[] = [];
  const restWeights: { at: number; weight: number }[] = [];
  let closed = false;
  const timers = new Set<NodeJS.Timeout>();

  /** Appends to a request log, keeping the newest {@link LOG_LIMIT} (a long-running simulator must not grow). */
  function logRequest(log: SimRequestLogEntry[], entry: SimRequestLogEntry): void {
    log.push(entry);
    if (log.length > LOG_LIMIT * 2) log.splice(0, log.length - LOG_LIMIT);
  }

  function later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  }

  // ---- trade generation -------------------------------------------------

  function nextTrade(state: SymbolState, time: number): number {
    const step = Math.floor(random() * 5) - 2;
    state.priceCents = Math.max(1, state.priceCents + step);
    const r = random();
    const quantity = 1 + Math.floor(r * r * r * 200_000_000);
    return state.history.push(time, state.priceCents, quantity, random() < 0.5);
  }

  function tradeFrame(state: SymbolState, id: number, agg: boolean, combined: boolean): string {
    const trade = state.history.get(id)!;
    const m = trade.isBuyerMaker ? 'true' : 'false';
    const data = agg
      ? `{"e":"aggTrade","E":${trade.time},"s":"${state.symbol}","a":${id},"p":"${trade.price}","q":"${trade.quantity}","f":${id},"l":${id},"T":${trade.time},"m":${m},"M":true}`
      : `{"e":"trade","E":${trade.time},"s":"${state.symbol}","t":${id},"p":"${trade.price}","q":"${trade.quantity}","T":${trade.time},"m":${m},"M":true}`;
    return combined
      ? `{"stream":"${agg ? state.aggStream : state.tradeStream}","data":${data}}`
      : data;
  }

  /** Queues the frame of trade `id` on every connection subscribed to its streams. */
  function send(state: SymbolState, id: number): void {
    const at = now();
    for (const connection of connections) {
      if (connection.closing || connection.silentUntil > at) continue;
      if (connection.streams.has(state.tradeStream)) {
        queueAscii(connection, tradeFrame(state, id, false, connection.combined));
      }
      if (connection.streams.has(state.aggStream)) {
        queueAscii(connection, tradeFrame(state, id, true, connection.combined));
      }
    }
  }

  function generateOne(state: SymbolState, time: number, deliver: boolean): void {
    const id = nextTrade(state, time);
    if (deliver) send(state, id);
  }

  function resolveSymbols(symbol?: string): SymbolState[] {
    if (symbol === undefined) return symbolList;
    const state = symbols.get(normalizeSymbol(symbol));
    if (!state) throw new InvalidInputError('symbol', symbol, 'a symbol the simulator trades');
    return [state];
  }

  // ---- socket output ------------------------------------------------------

  function queueAscii(connection: Connection, text: string): void {
    connection.out += frameHeaderLatin1(OPCODE_TEXT, text.length) + text;
    stats.framesSent++;
    if (connection.out.length > 65536) flush(connection);
  }

  function flush(connection: Connection): void {
    if (connection.out.length === 0) return;
    const out = connection.out;
    connection.out = '';
    if (!connection.socket.destroyed) connection.socket.write(out, 'latin1');
  }

  function flushAll(): void {
    for (const connection of connections) flush(connection);
  }

  function sendText(connection: Connection, text: string): void {
    flush(connection);
    if (connection.socket.destroyed) return;
    connection.socket.write(encodeFrame(OPCODE_TEXT, Buffer.from(text, 'utf8')));
    stats.framesSent++;
  }

  function sendControl(connection: Connection, opcode: number, payload: Buffer): void {
    flush(connection);
    if (!connection.socket.destroyed) connection.socket.write(encodeFrame(opcode, payload));
  }

  function closeConnection(connection: Connection, code: number, reason: string): void {
    if (connection.closing) return;
    connection.closing = true;
    const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
    payload.writeUInt16BE(code, 0);
    payload.write(reason, 2);
    sendControl(connection, OPCODE_CLOSE, payload);
    connection.socket.end();
    // A client that never answers the close handshake is cut off.
    later(1000, () => connection.socket.destroy());
  }

  // ---- connections --------------------------------------------------------

  function parseStreams(list: string): string[] {
    return list
      .split('/')
      .map((s) => s.trim())
      .filter(Boolean);
  }

  function subscribe(connection: Connection, streams: string[]): string | undefined {
    const unknown = streams.find((s) => !byStream.has(s.toLowerCase()) && !byStream.has(s));
    if (unknown !== undefined) return `Invalid stream name: ${unknown}`;
    const after = new Set([...connection.streams, ...streams]);
    if (after.size > maxStreams) {
      stats.streamLimitRefusals++;
      return `Too many streams: at most ${maxStreams} per connection`;
    }
    for (const s of streams) connection.streams.add(byStreamName(s));
    return undefined;
  }

  function byStreamName(stream: string): string {
    const entry = byStream.get(stream) ?? byStream.get(stream.toLowerCase());
    return entry!.agg ? entry!.state.aggStream : entry!.state.tradeStream;
  }

  function onUpgrade(request: IncomingMessage, socket: Socket): void {
    const at = now();
    while (attempts.length > 0 && attempts[0]! <= at - FIVE_MINUTES) attempts.shift();
    attempts.push(at);
    const url = new URL(request.url ?? '/', 'http://sim');
    const path = request.url ?? '/';
    const refuse = (status: number, retryAfterSeconds?: number) => {
      stats.connectionsRefused++;
      logRequest(upgradeRequestLog, { at, path, status });
      const retryAfter =
        retryAfterSeconds === undefined ? '' : `Retry-After: ${retryAfterSeconds}\r\n`;
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Refused'}\r\n${retryAfter}` +
          'Connection: close\r\nContent-Length: 0\r\n\r\n',
      );
    };
    if (closed) return refuse(503);
    if (at < refuseUntil) return refuse(refusal.status ?? 503, refusal.retryAfterSeconds);
    if (attempts.length > maxAttempts) {
      // Binance's answer to more than 300 attempts in 5 minutes: wait until enough leave the window.
      const freeAt = attempts[attempts.length - maxAttempts]! + FIVE_MINUTES;
      return refuse(429, Math.max(1, Math.ceil((freeAt - at) / 1000)));
    }
    const response = handshakeResponse(request);
    if (!response) return refuse(400);

    let combined: boolean;
    let initial: string[];
    if (url.pathname === '/stream') {
      combined = true;
      initial = parseStreams(url.searchParams.get('streams') ?? '');
    } else if (url.pathname === '/ws' || url.pathname.startsWith('/ws/')) {
      combined = false;
      initial = parseStreams(decodeURIComponent(url.pathname.slice(4)));
    } else {
      return refuse(404);
    }
    const connection: Connection = {
      id: nextConnectionId++,
      socket,
      path: url.pathname,
      combined,
      streams: new Set(),
      openedAt: at,
      reader: new FrameReader(),
      out: '',
      silentUntil: 0,
      lastPongAt: at,
      incoming: [],
      closing: false,
    };
    // Names in the URL that are not streams are ignored, as Binance does (ccxt puts its own tag there).
    const known = initial.filter((s) => byStream.has(s) || byStream.has(s.toLowerCase()));
    if (subscribe(connection, known) !== undefined) return refuse(400);
    socket.setNoDelay(true);
    socket.write(response);
    logRequest(upgradeRequestLog, { at, path, status: 101 });
    connections.add(connection);
    stats.connectionsAccepted++;
    stats.openConnections = connections.size;
    stats.peakConnections = Math.max(stats.peakConnections, connections.size);
    logger.debug({ connection: connection.id, path: request.url }, 'sim: connection opened');
    socket.on('data', (chunk: Buffer) => onData(connection, chunk));
    socket.on('drain', pumpSoon);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      connections.delete(connection);
      stats.openConnections = connections.size;
      logger.debug({ connection: connection.id }, 'sim: connection closed');
    });
    pumpSoon();
  }

  function onData(connection: Connection, chunk: Buffer): void {
    const frames = connection.reader.push(chunk);
    if (!frames) {
      connection.socket.destroy();
      return;
    }
    const at = now();
    for (const frame of frames) {
      if (connection.silentUntil > at) continue; // half-open: nothing gets through
      if (frame.opcode === OPCODE_CLOSE) {
        closeConnection(connection, 1000, '');
        continue;
      }
      connection.incoming.push(at);
      while (connection.incoming[0]! <= at - 1000) connection.incoming.shift();
      if (connection.incoming.length > maxIncoming) {
        stats.rateLimitDrops++;
        logger.warn({ connection: connection.id }, 'sim: too many messages, dropping');
        connection.socket.destroy();
        return;
      }
      if (frame.opcode === OPCODE_PING) sendControl(connection, OPCODE_PONG, frame.payload);
      else if (frame.opcode === OPCODE_PONG) connection.lastPongAt = at;
      else if (frame.opcode === OPCODE_TEXT || frame.opcode === OPCODE_BINARY) {
        onRequest(connection, frame.payload.toString('utf8'));
      }
    }
  }

  function onRequest(connection: Connection, text: string): void {
    let request: { method?: unknown; params?: unknown; id?: unknown };
    try {
      request = JSON.parse(text) as typeof request;
    } catch {
      return sendText(connection, '{"code":2,"msg":"Invalid JSON"}');
    }
    const id = request.id ?? null;
    const reply = (body: object) => sendText(connection, JSON.stringify({ ...body, id }));
    const params = Array.isArray(request.params) ? request.params : [];
    switch (request.method) {
      case 'SUBSCRIBE': {
        const error = subscribe(connection, params.map(String));
        pumpSoon();
        return error === undefined
          ? reply({ result: null })
          : reply({ error: { code: 2, msg: error } });
      }
      case 'UNSUBSCRIBE':
        for (const s of params.map(String)) {
          if (byStream.has(s) || byStream.has(s.toLowerCase())) {
            connection.streams.delete(byStreamName(s));
          }
        }
        return reply({ result: null });
      case 'LIST_SUBSCRIPTIONS':
        return reply({ result: [...connection.streams] });
      default:
        return reply({ error: { code: 2, msg: `Invalid request: unknown method` } });
    }
  }

  // ---- REST ---------------------------------------------------------------

  function onHttp(request: IncomingMessage, response: ServerResponse): void {
    stats.restRequests++;
    const at = now();
    if (at < hangUntil) {
      // A server that stalls: the answer comes when the hang ends, if anyone still waits for it.
      stats.restHung++;
      answerHttp(request, response, at, hangUntil, hangAfterHeaders);
      return;
    }
    answerHttp(request, response, at);
  }

  function answerHttp(
    request: IncomingMessage,
    response: ServerResponse,
    at: number,
    holdUntil = 0,
    afterHeaders = false,
  ): void {
    const path = request.url ?? '/';
    const url = new URL(path, 'http://sim');
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      const answer = () => {
        if (request.socket.destroyed) return; // the client gave up
        if (!afterHeaders) {
          logRequest(restRequestLog, { at, path, status });
          response.writeHead(status, { 'content-type': 'application/json', ...headers });
        }
        response.end(afterHeaders ? body.slice(1) : body);
      };
      if (holdUntil <= now()) {
        afterHeaders = false;
        return answer();
      }
      if (afterHeaders) {
        logRequest(restRequestLog, { at, path, status });
        response.writeHead(status, { 'content-type': 'application/json', ...headers });
        response.write(body.slice(0, 1));
      }
      later(holdUntil - now(), answer);
    };
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
      send(status, JSON.stringify(body), headers);
    if (restFailures.count > 0) {
      restFailures.count--;
      stats.restRejected++;
      return json(
        restFailures.status,
        { code: -1000, msg: 'Simulated failure' },
        { 'retry-after': String(restFailures.retryAfterSeconds) },
      );
    }
    const weight = url.pathname === '/api/v3/aggTrades' ? 4 : 25;
    while (restWeights.length > 0 && restWeights[0]!.at <= at - 60_000) restWeights.shift();
    const used = restWeights.reduce((sum, w) => sum + w.weight, 0) + weight;
    if (used > restWeightLimit) {
      stats.restRejected++;
      return json(429, { code: -1003, msg: 'Too many requests' }, { 'retry-after': '60' });
    }
    restWeights.push({ at, weight });
    const headers = { 'x-mbx-used-weight-1m': String(used) };

    switch (url.pathname) {
      case '/api/v3/ping':
        return json(200, {}, headers);
      case '/api/v3/time':
        return json(200, { serverTime: at }, headers);
      case '/api/v3/exchangeInfo':
        return json(200, {
          timezone: 'UTC',
          serverTime: at,
          symbols: symbolList.map((s) => ({ symbol: s.symbol, status: 'TRADING' })),
        });
      case '/api/v3/trades':
      case '/api/v3/historicalTrades':
      case '/api/v3/aggTrades':
        break;
      default:
        return json(404, { code: -1, msg: 'Not found' });
    }
    const state = symbols.get(url.searchParams.get('symbol') ?? '');
    if (!state) return json(400, { code: -1121, msg: 'Invalid symbol.' }, headers);
    const limitParam = url.searchParams.get('limit');
    const limit = limitParam === null ? 500 : Number(limitParam);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      return json(
        400,
        { code: -1100, msg: 'Illegal characters found in parameter limit' },
        headers,
      );
    }
    const fromParam = url.searchParams.get('fromId');
    const history = state.history;
    const latest = url.pathname === '/api/v3/trades' || fromParam === null;
    const fromId = latest ? Math.max(history.oldestId, history.nextId - limit) : Number(fromParam);
    if (!Number.isSafeInteger(fromId) || fromId < 0) {
      return json(
        400,
        { code: -1100, msg: 'Illegal characters found in parameter fromId' },
        headers,
      );
    }
    // Ids are consecutive: an answer from fromId never reaches fromId + limit,
    // even when history older than fromId is gone and it starts later.
    const trades = history.range(fromId, limit).filter((t) => latest || t.id < fromId + limit);
    if (trades.length > 0 && isWithheld(state, trades[0]!.id, trades[trades.length - 1]!.id)) {
      stats.restWithheld++;
      return json(503, { code: -1000, msg: 'Simulated: history withheld' }, headers);
    }
    const agg = url.pathname === '/api/v3/aggTrades';
    if (lies.count > 0) {
      lies.count--;
      stats.restLies++;
      return send(200, lie(lies.kind, state, fromId, limit, trades, agg), headers);
    }
    return send(200, JSON.stringify(restRows(trades, agg)), headers);
  }

  /** Trades as Binance's REST rows: `historicalTrades`/`trades`, or `aggTrades`. */
  function restRows(trades: readonly SimTrade[], agg: boolean, symbol?: string): object[] {
    const extra = symbol === undefined ? {} : { symbol };
    return agg
      ? trades.map((t) => ({
          a: t.id,
          p: t.price,
          q: t.quantity,
          f: t.id,
          l: t.id,
          T: t.time,
          m: t.isBuyerMaker,
          M: true,
          ...extra,
        }))
      : trades.map((t) => ({
          id: t.id,
          price: t.price,
          qty: t.quantity,
          quoteQty: quoteQuantity(t.price, t.quantity),
          time: t.time,
          isBuyerMaker: t.isBuyerMaker,
          isBestMatch: true,
          ...extra,
        }));
  }

  /** Trades that never happened, with ids from `fromId`, priced like the newest real one. */
  function fabricate(state: SymbolState, fromId: number, count: number): SimTrade[] {
    const model = state.history.get(state.history.nextId - 1);
    const at = now();
    return Array.from({ length: count }, (_, i) => ({
      symbol: state.symbol,
      id: fromId + i,
      price: model?.price ?? formatPrice(state.priceCents),
      quantity: '0.00100000',
      time: at,
      isBuyerMaker: false,
    }));
  }

  /** The body of a lying answer of `kind` to a request for `limit` trades from `fromId`. */
  function lie(
    kind: RestLieKind,
    state: SymbolState,
    fromId: number,
    limit: number,
    trades: readonly SimTrade[],
    agg: boolean,
  ): string {
    switch (kind) {
      case 'too_many_rows': {
        const first = trades[0]?.id ?? fromId;
        const real = trades.length;
        const rows = [...trades, ...fabricate(state, first + real, 2 * limit - real)];
        return JSON.stringify(restRows(rows, agg));
      }
      case 'ids_out_of_range':
        // The real trades' prices under ids not asked for: a jump if believed.
        return JSON.stringify(
          restRows(
            (trades.length > 0 ? trades : fabricate(state, fromId, 1)).map((t) => ({
              ...t,
              id: t.id + limit,
            })),
            agg,
          ),
        );
      case 'wrong_symbol': {
        const other = symbolList.find((s) => s !== state);
        const rows =
          other === undefined
            ? trades
            : trades.map((t) => other.history.get(t.id) ?? fabricate(other, t.id, 1)[0]!);
        return JSON.stringify(restRows(rows, agg, other?.symbol ?? 'ZZZUSDT'));
      }
      case 'huge_body':
        // Valid JSON (trailing whitespace), too large to be an honest answer.
        return JSON.stringify(restRows(trades, agg)) + (hugePadding ||= ' '.repeat(8 << 20));
    }
  }

  /** Whether an answer holding ids `first`..`last` of `state` would show a withheld id. */
  function isWithheld(state: SymbolState, first: number, last: number): boolean {
    return (withheld.get(state) ?? []).some((r) => r.fromId <= last && r.toId >= first);
  }

  // ---- pacing -------------------------------------------------------------

  let pumpScheduled = false;
  function pumpSoon(): void {
    if (rate !== 'max' || pumpScheduled || closed) return;
    pumpScheduled = true;
    setImmediate(pump);
  }

  function pump(): void {
    pumpScheduled = false;
    if (closed) return;
    let listeners = 0;
    const at = now();
    for (const connection of connections) {
      if (connection.streams.size === 0 || connection.closing || connection.silentUntil > at)
        continue;
      if (connection.socket.writableLength > HIGH_WATER) return; // 'drain' calls pumpSoon
      listeners++;
    }
    if (listeners === 0) return; // the next subscription calls pumpSoon
    for (let n = 0; n < 256; n++) {
      for (const state of symbolList) generateOne(state, at, true);
    }
    flushAll();
    pumpSoon();
  }

  let lastTick = now();
  function timedGeneration(): void {
    const at = now();
    const elapsed = (at - lastTick) / 1000;
    lastTick = at;
    if (typeof rate !== 'number' || rate === 0) return;
    for (const state of symbolList) {
      state.carry += rate * elapsed;
      const count = Math.floor(state.carry);
      state.carry -= count;
      for (let i = 0; i < count; i++) generateOne(state, at, true);
    }
    flushAll();
  }

  function housekeeping(): void {
    const at = now();
    for (const connection of connections) {
      if (connection.closing) continue;
      if (at - connection.openedAt >= maxAgeMs) {
        closeConnection(connection, 1000, 'connection lifetime reached');
      } else if (at - connection.lastPongAt > pongTimeoutMs) {
        stats.pongTimeouts++;
        connection.socket.destroy();
      }
    }
  }

  function pingAll(): void {
    const at = now();
    for (const connection of connections) {
      if (connection.silentUntil > at || connection.closing) continue;
      sendControl(connection, OPCODE_PING, Buffer.from(String(at)));
    }
  }

  function randomFaults(): void {
    for (const [kind, perMinute] of Object.entries(options.faults ?? {}) as [
      SimFaultKind,
      number,
    ][]) {
      if (faultRandom() >= perMinute / 60) continue;
      logger.info({ fault: kind }, 'sim: injecting fault');
      if (kind === 'drop') simulator.drop();
      else if (kind === 'stall') simulator.stall(5_000);
      else if (kind === 'gap') simulator.gap(1 + Math.floor(faultRandom() * 20));
      else if (kind === 'duplicate') simulator.duplicate(1 + Math.floor(faultRandom() * 3));
      else if (kind === 'malformed') {
        simulator.malformed(MALFORMED_KINDS[Math.floor(faultRandom() * MALFORMED_KINDS.length)]);
      } else if (kind === 'serverShutdown') simulator.serverShutdown();
      else simulator.refuseConnections(3_000);
    }
  }

  const server: Server = createServer(onHttp);
  server.on('upgrade', (request: IncomingMessage, socket: Socket) => onUpgrade(request, socket));
  // Nothing runs before the port is ours: a failed listen (EADDRINUSE) leaves no timer behind.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  const simulator: BinanceSimulator = {
    url: `ws://${hostForUrl}:${address.port}`,
    restUrl: `http://${hostForUrl}:${address.port}`,
    port: address.port,
    symbols: symbolList.map((s) => s.symbol),
    truth: (symbol) => resolveSymbols(symbol)[0]!.history.all(),
    lastTradeId(symbol) {
      const history = resolveSymbols(symbol)[0]!.history;
      return history.nextId === firstTradeId ? undefined : history.nextId - 1;
    },
    generate(count, symbol) {
      const at = now();
      for (let i = 0; i < count; i++) {
        for (const state of resolveSymbols(symbol)) generateOne(state, at, true);
      }
      flushAll();
    },
    drop() {
      logger.info({ connections: connections.size }, 'sim: dropping every connection');
      for (const connection of connections) connection.socket.destroy();
    },
    stall(ms) {
      const until = now() + ms;
      for (const connection of connections) {
        flush(connection);
        connection.silentUntil = until;
      }
    },
    gap(count = 5, symbol) {
      const at = now();
      for (const state of resolveSymbols(symbol)) {
        for (let i = 0; i < count; i++) generateOne(state, at, false);
      }
    },
    duplicate(count = 1, symbol) {
      for (const state of resolveSymbols(symbol)) {
        const last = state.history.nextId - 1;
        for (let id = Math.max(state.history.oldestId, last - count + 1); id <= last; id++) {
          send(state, id);
        }
      }
      flushAll();
    },
    malformed(kind = 'invalid_json') {
      const first = symbolList[0]!;
      const other = symbolList[1] ?? first;
      const at = now();
      for (const connection of connections) {
        const wrap = (data: string, stream = first.tradeStream) =>
          connection.combined ? `{"stream":"${stream}","data":${data}}` : data;
        // Built on demand: the oversized one is megabytes.
        const bodies: Record<MalformedKind, () => string> = {
          invalid_json: () => '{"stream":"btcusdt@trade","data":{"e":"trade",',
          not_an_object: () => '[1,2,3]',
          unknown_event: () => wrap(`{"e":"kline","E":${at},"s":"${first.symbol}"}`),
          missing_field: () =>
            wrap(
              `{"e":"trade","E":${at},"s":"${first.symbol}","p":"1.0","q":"1.0","T":${at},"m":true}`,
            ),
          invalid_field: () =>
            wrap(
              `{"e":"trade","E":${at},"s":"${first.symbol}","t":"x","p":"1.0","q":"1.0","T":${at},"m":true}`,
            ),
          non_positive: () =>
            wrap(
              `{"e":"trade","E":${at},"s":"${first.symbol}","t":1,"p":"0.00000000","q":"1.0","T":${at},"m":true}`,
            ),
          subscription_reply: () => '{"result":null,"id":987654}',
          error_payload: () => '{"code":-1003,"msg":"Too much request weight used."}',
          symbol_mismatch: () =>
            connection.combined
              ? `{"stream":"${first.tradeStream}","data":{"e":"trade","E":${at},"s":"${other === first ? 'ZZZUSDT' : other.symbol}","t":1,"p":"1.0","q":"1.0","T":${at},"m":true}}`
              : `{"e":"trade","E":${at},"s":"ZZZUSDT","t":1,"p":"1.0","q":"1.0","T":${at},"m":true}`,
          // Not a trade: a trade could never be this large.
          oversized_frame: () =>
            wrap(
              `{"e":"kline","E":${at},"s":"${first.symbol}","x":"${(oversizedPadding ||= 'x'.repeat(oversizedFrameBytes))}"}`,
            ),
          // 1970: before Binance existed.
          implausible_time: () =>
            wrap(
              `{"e":"trade","E":${at},"s":"${first.symbol}","t":1,"p":"1.0","q":"1.0","T":86400000,"m":true}`,
            ),
        };
        sendText(connection, bodies[kind]());
      }
    },
    serverShutdown(closeAfterMs = 1000) {
      const doomed = [...connections];
      logger.info({ connections: doomed.length }, 'sim: serverShutdown');
      for (const connection of doomed) {
        sendText(connection, `{"e":"serverShutdown","E":${now()}}`);
      }
      later(closeAfterMs, () => {
        for (const connection of doomed) closeConnection(connection, 1001, 'server shutdown');
      });
    },
    refuseConnections(ms, options = {}) {
      refuseUntil = now() + ms;
      refusal = options;
    },
    failRest(count, status = 500, retryAfterSeconds = 1) {
      restFailures = { count, status, retryAfterSeconds };
    },
    refuseHistory(symbol, fromId, toId) {
      const state = resolveSymbols(symbol)[0]!;
      if (!(Number.isSafeInteger(fromId) && Number.isSafeInteger(toId) && fromId <= toId)) {
        throw new InvalidInputError(
          'fromId..toId',
          [fromId, toId],
          'two trade ids, fromId <= toId',
        );
      }
      withheld.set(state, [...(withheld.get(state) ?? []), { fromId, toId }]);
    },
    lieRest(count, kind) {
      if (!REST_LIE_KINDS.includes(kind)) {
        throw new InvalidInputError('kind', kind, `one of ${REST_LIE_KINDS.join(', ')}`);
      }
      lies = { count, kind };
    },
    hangRest(ms, options = {}) {
      hangUntil = now() + ms;
      hangAfterHeaders = options.afterHeaders ?? false;
    },
    bogusTrade(symbol, id) {
      const state = resolveSymbols(symbol)[0]!;
      if (!(Number.isSafeInteger(id) && id >= 0)) {
        throw new InvalidInputError('id', id, 'a trade id (a safe integer >= 0)');
      }
      const [trade] = fabricate(state, id, 1);
      const at = trade!.time;
      const price = trade!.price;
      for (const connection of connections) {
        if (connection.closing || connection.silentUntil > at) continue;
        const wrap = (stream: string, data: string) =>
          connection.combined ? `{"stream":"${stream}","data":${data}}` : data;
        if (connection.streams.has(state.tradeStream)) {
          const data = `{"e":"trade","E":${at},"s":"${state.symbol}","t":${id},"p":"${price}","q":"0.00100000","T":${at},"m":false,"M":true}`;
          queueAscii(connection, wrap(state.tradeStream, data));
        }
        if (connection.streams.has(state.aggStream)) {
          const data = `{"e":"aggTrade","E":${at},"s":"${state.symbol}","a":${id},"p":"${price}","q":"0.00100000","f":${id},"l":${id},"T":${at},"m":false,"M":true}`;
          queueAscii(connection, wrap(state.aggStream, data));
        }
      }
      flushAll();
    },
    restLog: () => restRequestLog.slice(-LOG_LIMIT),
    upgradeLog: () => upgradeRequestLog.slice(-LOG_LIMIT),
    connections: () =>
      [...connections].map((c) => ({
        id: c.id,
        path: c.path,
        streams: [...c.streams],
        openedAt: c.openedAt,
      })),
    stats: () => ({ ...stats, openConnections: connections.size }),
    async close() {
      if (closed) return;
      closed = true;
      for (const interval of intervals) clearInterval(interval);
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const connection of connections) connection.socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  // Started only now that the server listens and `simulator` exists (randomFaults calls it).
  lastTick = now();
  const intervals = [
    setInterval(timedGeneration, 10),
    setInterval(housekeeping, Math.min(1000, pingIntervalMs, pongTimeoutMs)),
    setInterval(pingAll, pingIntervalMs),
    setInterval(randomFaults, 1000),
  ];
  for (const interval of intervals) interval.unref();
  return simulator;
}

/** price x quantity, exactly, as a decimal string (prices have 2 and quantities 8 significant decimals here). */
function quoteQuantity(price: string, quantity: string): string {
  const scaled = BigInt(price.replace('.', '')) * BigInt(quantity.replace('.', ''));
  const decimals =
    price.length - price.indexOf('.') - 1 + (quantity.length - quantity.indexOf('.') - 1);
  const digits = scaled.toString().padStart(decimals + 1, '0');
  return `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
}
