import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '@trade/core';
import { BookStreams } from './book-streams.js';
import type { RefuseConnectionsOptions } from './fault-injector.js';
import type { Market, MarketSymbol } from './market.js';
import { RequestLog } from './request-log.js';
import type { SimConnectionInfo, SimRequestLogEntry } from './simulator-types.js';
import { answerStreamRequest, parseStreams, subscribe } from './stream-requests.js';
import type { SimTrade } from './trade-history.js';
import { SimConnection } from './ws-connection.js';
import {
  handshakeResponse,
  OPCODE_BINARY,
  OPCODE_CLOSE,
  OPCODE_PING,
  OPCODE_PONG,
  OPCODE_TEXT,
} from './ws-protocol.js';

const FIVE_MINUTES = 5 * 60_000;
/** Bytes a socket may hold unsent before the fastest generation waits for it. */
const HIGH_WATER = 1 << 20;

/** Options of {@link StreamServer}. */
export interface StreamServerOptions {
  readonly market: Market;
  readonly now: () => number;
  readonly logger: Logger;
  /** Runs `fn` in `ms` (a timer the simulator cancels on close). */
  readonly later: (ms: number, fn: () => void) => void;
  /** A client that has not answered a ping for this long is dropped. */
  readonly pongTimeoutMs: number;
  /** Connections are closed at this age. */
  readonly maxConnectionAgeMs: number;
  /** Incoming messages per second above which a connection is dropped. */
  readonly maxIncomingPerSecond: number;
  readonly maxStreamsPerConnection: number;
  /** Connection attempts per 5 minutes before upgrades get HTTP 429. */
  readonly maxConnectionAttempts: number;
  /** Asked at each upgrade: refuse it, and how (the fault injector's `refusal`). */
  readonly refusal: (at: number) => RefuseConnectionsOptions | undefined;
  /** A socket can take more, or a connection subscribed: the fastest generation may go on. */
  readonly onWritable: () => void;
  /** Asked before each depth event of `symbol` goes out: `true` drops it (the fault injector's). */
  readonly dropDepthDiff?: (symbol: string) => boolean;
}

/** The counters of {@link StreamServer}, as `SimulatorStats` names them. */
export interface StreamServerStats {
  connectionsAccepted: number;
  connectionsRefused: number;
  peakConnections: number;
  framesSent: number;
  rateLimitDrops: number;
  streamLimitRefusals: number;
  pongTimeouts: number;
  /** Depth events dropped by the fault injector. */
  depthDiffsDropped: number;
}

/**
 * Binance's WebSocket side: upgrades (with the attempt limit and refusals),
 * combined `/stream?streams=` and raw `/ws/<stream>` connections, the
 * subscription protocol, pings, pong timeouts, the message rate limit and
 * the connection lifetime. It sends the trades it is given; it makes none.
 * The book's streams go through its {@link BookStreams}.
 *
 * @example
 * ```ts
 * const streams = new StreamServer({ market, now: Date.now, logger, later, ...limits });
 * httpServer.on('upgrade', (request, socket) => streams.upgrade(request, socket as Socket));
 * streams.broadcast(btc, market.trade(btc, Date.now()));
 * streams.flushAll();
 * ```
 */
export class StreamServer {
  private readonly connections = new Set<SimConnection>();
  private readonly attempts: number[] = [];
  private readonly log = new RequestLog();
  private readonly counters: Omit<StreamServerStats, 'depthDiffsDropped'> = {
    connectionsAccepted: 0,
    connectionsRefused: 0,
    peakConnections: 0,
    framesSent: 0,
    rateLimitDrops: 0,
    streamLimitRefusals: 0,
    pongTimeouts: 0,
  };
  private readonly book: BookStreams;
  private nextConnectionId = 1;
  private closed = false;
  private readonly context = {
    countFrame: () => void this.counters.framesSent++,
    later: (ms: number, fn: () => void) => this.options.later(ms, fn),
  };

  constructor(private readonly options: StreamServerOptions) {
    this.book = new BookStreams({
      market: options.market,
      connections: this.connections,
      now: options.now,
      dropDepthDiff: options.dropDepthDiff ?? (() => false),
    });
  }

  /** Answers a WebSocket upgrade request: a connection, or an HTTP refusal. */
  upgrade(request: IncomingMessage, socket: Socket): void {
    const { now, maxConnectionAttempts: maxAttempts } = this.options;
    const at = now();
    const attempts = this.attempts;
    while (attempts.length > 0 && attempts[0]! <= at - FIVE_MINUTES) attempts.shift();
    attempts.push(at);
    const url = new URL(request.url ?? '/', 'http://sim');
    const path = request.url ?? '/';
    const refuse = (status: number, retryAfterSeconds?: number) => {
      this.counters.connectionsRefused++;
      this.log.add({ at, path, status });
      const retryAfter =
        retryAfterSeconds === undefined ? '' : `Retry-After: ${retryAfterSeconds}\r\n`;
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Refused'}\r\n${retryAfter}` +
          'Connection: close\r\nContent-Length: 0\r\n\r\n',
      );
    };
    if (this.closed) return refuse(503);
    const refusal = this.options.refusal(at);
    if (refusal) return refuse(refusal.status ?? 503, refusal.retryAfterSeconds);
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
    const connection = new SimConnection(
      { id: this.nextConnectionId++, socket, path: url.pathname, combined, openedAt: at },
      this.context,
    );
    // Names in the URL that are not streams are ignored, as Binance does (ccxt puts its own tag there).
    const known = initial.filter((s) => this.options.market.stream(s) !== undefined);
    const refused = subscribe(
      connection.streams,
      known,
      this.options.market,
      this.options.maxStreamsPerConnection,
    );
    if (refused !== undefined) {
      if (refused.reason === 'stream_limit') this.counters.streamLimitRefusals++;
      return refuse(400);
    }
    socket.setNoDelay(true);
    socket.write(response);
    this.log.add({ at, path, status: 101 });
    this.connections.add(connection);
    this.counters.connectionsAccepted++;
    this.counters.peakConnections = Math.max(this.counters.peakConnections, this.connections.size);
    this.book.refresh();
    this.options.logger.debug(
      { connection: connection.id, path: request.url },
      'sim: connection opened',
    );
    socket.on('data', (chunk: Buffer) => this.onData(connection, chunk));
    socket.on('drain', this.options.onWritable);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.connections.delete(connection);
      this.book.refresh();
      this.options.logger.debug({ connection: connection.id }, 'sim: connection closed');
    });
    this.options.onWritable();
  }

  private onData(connection: SimConnection, chunk: Buffer): void {
    const frames = connection.reader.push(chunk);
    if (!frames) {
      connection.socket.destroy();
      return;
    }
    const at = this.options.now();
    for (const frame of frames) {
      if (connection.silentUntil > at) continue; // half-open: nothing gets through
      if (frame.opcode === OPCODE_CLOSE) {
        connection.close(1000, '');
        continue;
      }
      connection.incoming.push(at);
      while (connection.incoming[0]! <= at - 1000) connection.incoming.shift();
      if (connection.incoming.length > this.options.maxIncomingPerSecond) {
        this.counters.rateLimitDrops++;
        this.options.logger.warn({ connection: connection.id }, 'sim: too many messages, dropping');
        connection.socket.destroy();
        return;
      }
      if (frame.opcode === OPCODE_PING) connection.sendControl(OPCODE_PONG, frame.payload);
      else if (frame.opcode === OPCODE_PONG) connection.lastPongAt = at;
      else if (frame.opcode === OPCODE_TEXT || frame.opcode === OPCODE_BINARY) {
        this.onRequest(connection, frame.payload.toString('utf8'));
      }
    }
  }

  private onRequest(connection: SimConnection, text: string): void {
    const outcome = answerStreamRequest(
      text,
      connection.streams,
      this.options.market,
      this.options.maxStreamsPerConnection,
    );
    if (outcome.refusal?.reason === 'stream_limit') this.counters.streamLimitRefusals++;
    this.book.refresh();
    if (outcome.subscribe) this.options.onWritable();
    connection.sendText(outcome.reply);
  }

  /** Closes connections at their maximum age and drops those whose pongs stopped. */
  housekeeping(): void {
    const at = this.options.now();
    for (const connection of this.connections) {
      if (connection.closing) continue;
      if (at - connection.openedAt >= this.options.maxConnectionAgeMs) {
        connection.close(1000, 'connection lifetime reached');
      } else if (at - connection.lastPongAt > this.options.pongTimeoutMs) {
        this.counters.pongTimeouts++;
        connection.socket.destroy();
      }
    }
  }

  /** Pings every connection that is not silent. */
  ping(): void {
    const at = this.options.now();
    for (const connection of this.connections) {
      if (connection.silentUntil > at || connection.closing) continue;
      connection.sendControl(OPCODE_PING, Buffer.from(String(at)));
    }
  }

  /** Queues trade `id` of `symbol`'s ground truth on every connection subscribed to its streams. */
  broadcast(symbol: MarketSymbol, id: number): void {
    this.queueTrade(symbol, id, undefined);
  }

  /** Queues `trade`, real or not, on every connection subscribed to `symbol`'s streams. */
  broadcastTrade(symbol: MarketSymbol, trade: SimTrade): void {
    this.queueTrade(symbol, trade.id, trade);
  }

  private queueTrade(symbol: MarketSymbol, id: number, trade: SimTrade | undefined): void {
    const at = this.options.now();
    for (const connection of this.connections) {
      if (!connection.takesTrades(at)) continue;
      if (connection.streams.has(symbol.tradeStream)) {
        trade ??= symbol.history.get(id)!; // read only when someone listens: this is the hot path
        connection.queueAscii(tradeFrame(symbol, trade, false, connection.combined));
      }
      if (connection.streams.has(symbol.aggStream)) {
        trade ??= symbol.history.get(id)!;
        connection.queueAscii(tradeFrame(symbol, trade, true, connection.combined));
      }
    }
  }

  /**
   * Sends each symbol's event of the `kind` depth stream to its subscribers
   * (see {@link BookStreams.emitDepth}), and writes them.
   */
  emitDepth(kind: 'depth@100ms' | 'depth'): void {
    this.book.emitDepth(kind);
    this.flushAll();
  }

  /** Writes every connection's queued frames. */
  flushAll(): void {
    for (const connection of this.connections) connection.flush();
  }

  /**
   * Whether some connection listens to trades at `at` and none of those
   * listening holds more than 1 MiB unsent: the fastest generation goes on
   * only then.
   */
  canTakeTrades(at: number): boolean {
    let listeners = 0;
    for (const connection of this.connections) {
      if (connection.streams.size === 0 || !connection.takesTrades(at)) continue;
      if (connection.socket.writableLength > HIGH_WATER) return false; // 'drain' calls onWritable
      listeners++;
    }
    return listeners > 0;
  }

  /** Closes every connection abruptly (TCP destroy, no close frame). */
  dropAll(): void {
    this.options.logger.info(
      { connections: this.connections.size },
      'sim: dropping every connection',
    );
    for (const connection of this.connections) connection.socket.destroy();
  }

  /** Every connection goes half-open until `until`: no trades, pings or pongs. */
  silence(until: number): void {
    for (const connection of this.connections) {
      connection.flush();
      connection.silentUntil = until;
    }
  }

  /** Sends `serverShutdown` to every connection and closes them `closeAfterMs` later. */
  shutdown(closeAfterMs: number): void {
    const doomed = [...this.connections];
    this.options.logger.info({ connections: doomed.length }, 'sim: serverShutdown');
    for (const connection of doomed) {
      connection.sendText(`{"e":"serverShutdown","E":${this.options.now()}}`);
    }
    this.options.later(closeAfterMs, () => {
      for (const connection of doomed) connection.close(1001, 'server shutdown');
    });
  }

  /** Sends every connection the text frame `frame` builds for it (combined or raw). */
  sendEach(frame: (connection: { readonly combined: boolean }) => string): void {
    for (const connection of this.connections) connection.sendText(frame(connection));
  }

  /** Open connections. */
  list(): SimConnectionInfo[] {
    return [...this.connections].map((c) => ({
      id: c.id,
      path: c.path,
      streams: [...c.streams],
      openedAt: c.openedAt,
    }));
  }

  /** How many connections are open. */
  get openConnections(): number {
    return this.connections.size;
  }

  /** The upgrade requests answered, oldest first. */
  upgradeLog(): SimRequestLogEntry[] {
    return this.log.list();
  }

  /** A copy of the counters. */
  stats(): StreamServerStats {
    return { ...this.counters, depthDiffsDropped: this.book.dropped };
  }

  /** Refuses further upgrades and destroys every connection. */
  close(): void {
    this.closed = true;
    for (const connection of this.connections) connection.socket.destroy();
  }
}

/** The frame of `trade` on `symbol`'s trade or aggTrade stream, combined or raw. */
export function tradeFrame(
  symbol: MarketSymbol,
  trade: SimTrade,
  agg: boolean,
  combined: boolean,
): string {
  const id = trade.id;
  const m = trade.isBuyerMaker ? 'true' : 'false';
  const data = agg
    ? `{"e":"aggTrade","E":${trade.time},"s":"${symbol.symbol}","a":${id},"p":"${trade.price}","q":"${trade.quantity}","f":${id},"l":${id},"T":${trade.time},"m":${m},"M":true}`
    : `{"e":"trade","E":${trade.time},"s":"${symbol.symbol}","t":${id},"p":"${trade.price}","q":"${trade.quantity}","T":${trade.time},"m":${m},"M":true}`;
  return combined
    ? `{"stream":"${agg ? symbol.aggStream : symbol.tradeStream}","data":${data}}`
    : data;
}
