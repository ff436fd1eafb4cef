import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { InvalidInputError, silentLogger } from '@trade/core';
import { FaultInjector, OVERSIZED_FRAME_BYTES } from './fault-injector.js';
import { Market, prng, type MarketSymbol } from './market.js';
import { RequestLog } from './request-log.js';
import { RestHandler, writeRestAnswer } from './rest-handler.js';
import type { BinanceSimulator, BinanceSimulatorOptions } from './simulator-types.js';
import { coreRules } from './symbol-rules.js';
import { TimerSet } from './timer-set.js';
import { StreamServer } from './ws-server.js';

export { MALFORMED_KINDS, REST_LIE_KINDS } from './fault-injector.js';
export type {
  MalformedKind,
  RefuseConnectionsOptions,
  RestLieKind,
  SimFaultKind,
} from './fault-injector.js';
export type { SimQuote } from './order-book-truth.js';
export type {
  BinanceSimulator,
  BinanceSimulatorOptions,
  SimConnectionInfo,
  SimRequestLogEntry,
  SimulatorStats,
} from './simulator-types.js';
export type { SimSymbolRulesOptions } from './symbol-rules.js';

/**
 * Starts a Binance-protocol server on loopback: combined (`/stream?streams=`)
 * and raw (`/ws/<stream>`, `/ws`) trade, aggTrade, bookTicker and depth
 * (`@depth@100ms`, `@depth`) streams, SUBSCRIBE / UNSUBSCRIBE /
 * LIST_SUBSCRIPTIONS, REST `historicalTrades`, `trades`, `aggTrades`,
 * `depth` and `exchangeInfo` (with filters), seeded random-walk prices and
 * order books, fault injection, and the ground truth of every trade, quote
 * and book change it generated.
 *
 * (Inside, it only wires its parts, each in its own module under `src/sim/`:
 * the market with the ground truth, the WebSocket server, the REST handler
 * and the fault injector; and it paces generation.)
 *
 * @example
 * ```ts
 * const sim = await startBinanceSimulator({ symbols: ['BTCUSDT'], rate: 0, seed: 7 });
 * sim.generate(100);
 * sim.gap(5);                 // 5 trades only REST will show
 * sim.truth('BTCUSDT').length // 105
 * sim.bookAt('BTCUSDT', sim.lastUpdateId('BTCUSDT')).bids[0]; // ['43250.00000000', '0.01234000']
 * await sim.close();
 * ```
 */
export async function startBinanceSimulator(
  options: BinanceSimulatorOptions = {},
): Promise<BinanceSimulator> {
  const now = options.now ?? Date.now;
  const logger = options.logger ?? silentLogger;
  const seed = options.seed ?? 1;
  const rate = options.rate ?? 10;
  if (rate !== 'max' && !(typeof rate === 'number' && rate >= 0 && Number.isFinite(rate))) {
    throw new InvalidInputError('rate', rate, "a number of trades per second >= 0, or 'max'");
  }
  const pingIntervalMs = options.pingIntervalMs ?? 20_000;
  const pongTimeoutMs = options.pongTimeoutMs ?? 60_000;
  const timers = new TimerSet();
  const later = (ms: number, fn: () => void) => timers.later(ms, fn);
  let closed = false;

  const market = new Market({
    symbols: options.symbols ?? ['BTCUSDT', 'ETHUSDT'],
    seed,
    firstTradeId: options.firstTradeId,
    retain: options.retain ?? 1_000_000,
    rules: options.rules,
    bookLevels: options.bookLevels,
    bookUpdatesPerTrade: options.bookUpdatesPerTrade,
    firstUpdateId: options.firstUpdateId,
  });
  // Asks `faults` (made next, with it) whether to refuse an upgrade.
  const streams: StreamServer = new StreamServer({
    market,
    now,
    logger,
    later,
    pongTimeoutMs,
    maxConnectionAgeMs: options.maxConnectionAgeMs ?? 24 * 3_600_000,
    maxIncomingPerSecond: options.maxIncomingPerSecond ?? 5,
    maxStreamsPerConnection: options.maxStreamsPerConnection ?? 1024,
    maxConnectionAttempts: options.maxConnectionAttempts ?? 300,
    refusal: (at) => faults.refusal(at),
    dropDepthDiff: (symbol) => faults.takeDepthDrop(symbol),
    onWritable: () => pumpSoon(),
  });
  const faults: FaultInjector = new FaultInjector({
    market,
    streams,
    now,
    logger,
    oversizedFrameBytes: options.oversizedFrameBytes ?? OVERSIZED_FRAME_BYTES,
    rates: options.faults,
    random: prng(seed ^ 0x5bd1e995),
  });
  const rest = new RestHandler({
    market,
    faults,
    now,
    weightPerMinute: options.restWeightPerMinute ?? 6000,
  });
  const restLog = new RequestLog();

  // ---- pacing -------------------------------------------------------------

  function generateOne(symbol: MarketSymbol, time: number): void {
    streams.broadcast(symbol, market.trade(symbol, time));
  }

  // rate 'max': generate in batches while every listening socket drains.
  let pumpScheduled = false;
  function pumpSoon(): void {
    if (rate !== 'max' || pumpScheduled || closed) return;
    pumpScheduled = true;
    setImmediate(pump);
  }

  function pump(): void {
    pumpScheduled = false;
    if (closed) return;
    const at = now();
    if (!streams.canTakeTrades(at)) return; // the next subscription or 'drain' calls pumpSoon
    for (let n = 0; n < 256; n++) {
      for (const symbol of market.symbols) generateOne(symbol, at);
    }
    streams.flushAll();
    pumpSoon();
  }

  // A number rate: each symbol accrues rate x elapsed trades, whole ones made at each tick.
  const carry = market.symbols.map(() => 0);
  let lastTick = now();
  function timedGeneration(): void {
    const at = now();
    const elapsed = (at - lastTick) / 1000;
    lastTick = at;
    if (typeof rate !== 'number' || rate === 0) return;
    market.symbols.forEach((symbol, i) => {
      carry[i]! += rate * elapsed;
      const count = Math.floor(carry[i]!);
      carry[i]! -= count;
      for (let n = 0; n < count; n++) generateOne(symbol, at);
    });
    streams.flushAll();
  }

  const server: Server = createServer((request, response) => {
    const at = now();
    const answer = rest.handle(request.url ?? '/', at);
    writeRestAnswer(request, response, at, answer, { now, later, log: restLog });
  });
  server.on('upgrade', (request: IncomingMessage, socket: Socket) =>
    streams.upgrade(request, socket),
  );
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
    symbols: market.symbols.map((s) => s.symbol),
    truth: (symbol) => market.truth(symbol),
    lastTradeId: (symbol) => market.lastTradeId(symbol),
    generate(count, symbol) {
      const at = now();
      for (let i = 0; i < count; i++) {
        for (const state of market.resolve(symbol)) generateOne(state, at);
      }
      streams.flushAll();
    },
    generateBook(count, symbol) {
      const states = market.resolve(symbol);
      for (let i = 0; i < count; i++) {
        for (const state of states) market.moveBook(state, 1);
      }
      streams.flushAll();
    },
    lastUpdateId: (symbol) => market.resolve(symbol)[0]!.book.updateId,
    quoteTruth: (symbol, fromUpdateId) => market.resolve(symbol)[0]!.book.quotes(fromUpdateId),
    bookAt: (symbol, updateId, depth) => market.resolve(symbol)[0]!.book.bookAt(updateId, depth),
    symbolRules: (symbol) => coreRules(market.resolve(symbol)[0]!.rules),
    dropDepthDiff: (symbol, count) => faults.dropDepthDiff(symbol, count),
    drop: () => faults.drop(),
    stall: (ms) => faults.stall(ms),
    gap: (count, symbol) => faults.gap(count, symbol),
    duplicate: (count, symbol) => faults.duplicate(count, symbol),
    malformed: (kind) => faults.malformed(kind),
    serverShutdown: (closeAfterMs) => faults.serverShutdown(closeAfterMs),
    refuseConnections: (ms, refusal) => faults.refuseConnections(ms, refusal),
    failRest: (count, status, retryAfterSeconds) =>
      faults.failRest(count, status, retryAfterSeconds),
    refuseHistory: (symbol, fromId, toId) => faults.refuseHistory(symbol, fromId, toId),
    lieRest: (count, kind) => faults.lieRest(count, kind),
    hangRest: (ms, hang) => faults.hangRest(ms, hang),
    bogusTrade: (symbol, id) => faults.bogusTrade(symbol, id),
    restLog: () => restLog.list(),
    upgradeLog: () => streams.upgradeLog(),
    connections: () => streams.list(),
    stats() {
      const ws = streams.stats();
      const http = rest.stats();
      return {
        connectionsAccepted: ws.connectionsAccepted,
        connectionsRefused: ws.connectionsRefused,
        openConnections: streams.openConnections,
        peakConnections: ws.peakConnections,
        framesSent: ws.framesSent,
        restRequests: http.restRequests,
        restRejected: http.restRejected,
        restWithheld: http.restWithheld,
        restLies: http.restLies,
        restHung: http.restHung,
        rateLimitDrops: ws.rateLimitDrops,
        streamLimitRefusals: ws.streamLimitRefusals,
        pongTimeouts: ws.pongTimeouts,
        depthDiffsDropped: ws.depthDiffsDropped,
        depthSnapshots: http.depthSnapshots,
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const interval of intervals) clearInterval(interval);
      timers.clear();
      streams.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  // Started only now that the server listens.
  lastTick = now();
  const intervals = [
    setInterval(timedGeneration, 10),
    setInterval(() => streams.housekeeping(), Math.min(1000, pingIntervalMs, pongTimeoutMs)),
    setInterval(() => streams.ping(), pingIntervalMs),
    setInterval(() => faults.tick(), 1000),
    setInterval(() => streams.emitDepth('depth@100ms'), 100),
    setInterval(() => streams.emitDepth('depth'), 1000),
  ];
  for (const interval of intervals) interval.unref();
  return simulator;
}
