import type { Tick, TickRejectReason } from '@trade/core';
import { BookChannels } from './book-channels.js';
import { createDepthFetcher } from './book/rest-depth.js';
import { RestWeightBudget } from './book/rest-weight-budget.js';
import { BurstClock } from './burst-clock.js';
import type { BinanceClientEvent, BinanceClientStats, OpenGap } from './client-events.js';
import {
  resolveClientOptions,
  type BinanceTradeClientOptions,
  type ResolvedClientOptions,
} from './client-options.js';
import { ConnectGate } from './connect-gate.js';
import { EventQueue } from './event-queue.js';
import { FrameParser } from './frame-parser.js';
import { GapFiller } from './gap-filler.js';
import { GapReport } from './gap-report.js';
import { bookStreamOf } from './market-channel.js';
import { MAX_FRAME_BYTES, type FrameResult } from './parse-frame.js';
import { RejectLog } from './reject-log.js';
import { releaseHeldAtClose } from './release-held-at-close.js';
import type { Connection } from './connection.js';
import { ShardConnection } from './shard-connection.js';
import type { ShardHost } from './shard-host.js';
import { SymbolSequencer, type GivenUpIds } from './symbol-sequencer.js';

interface SymbolSlot {
  readonly symbol: string;
  readonly shard: ShardConnection;
  readonly sequencer: SymbolSequencer;
}

/**
 * A Binance trade-stream client that does not lose trades: it answers pings,
 * replaces silent connections, reconnects with backoff and jitter, rotates
 * connections before the 24 h limit and on `serverShutdown` with overlap,
 * detects trade-id gaps and fills them over REST, drops duplicates, and
 * yields each symbol's ticks in trade-id order, exactly once.
 *
 * It wires the parts: a {@link ShardConnection} per shard of the streams,
 * the frame parser, a {@link SymbolSequencer} per symbol, the
 * {@link GapFiller} for REST backfill, and the event queue the consumer reads.
 *
 * @example
 * ```ts
 * const client = await startBinanceTradeClient({
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
  private readonly options: ResolvedClientOptions;
  /** Read per frame and per tick: kept at hand rather than behind `options`. */
  private readonly metrics: ResolvedClientOptions['metrics'];
  private readonly maxBuffered: number;
  private readonly parser: FrameParser;
  private readonly gaps: GapFiller;
  private readonly rejects: RejectLog;
  private readonly gapReport: GapReport;
  /** Quotes and order books (channels `bookTicker`, `depth`); `undefined` for trades only. */
  private readonly books: BookChannels | undefined;
  private readonly queue = new EventQueue<BinanceClientEvent>();
  private readonly slots = new Map<string, SymbolSlot>();
  private readonly shards: ShardConnection[] = [];
  private watchdog: NodeJS.Timeout | undefined;
  private paused = false;
  private closed = false;
  private started = false;
  private iterated = false;
  private unflushedTicks = 0;
  private flushScheduled = false;
  /** The gaps left open at close(), once closed. */
  private gapsAtClose: OpenGap[] | undefined;
  private frames = 0;
  private ticksDelivered = 0;
  private duplicatesDropped = 0;
  private pauses = 0;

  constructor(options: BinanceTradeClientOptions) {
    const o = resolveClientOptions(options);
    this.options = o;
    this.metrics = o.metrics;
    this.maxBuffered = o.maxBufferedEvents;
    this.symbols = o.symbols;
    this.parser = new FrameParser(o.streamType, o.symbols);
    this.rejects = new RejectLog(o.logger, o.metrics, o.rejectLogIntervalMs, o.now);
    this.gapReport = new GapReport(o.logger, o.metrics, (event) => this.queue.push(event));
    this.gaps = new GapFiller(o, {
      reject: (reason, detail) => this.reject(reason, detail),
      reportGap: (symbol, gap, bannedUntil) => this.gapReport.report(symbol, gap, bannedUntil),
      gapsChanged: () => this.updateGapsOpen(),
    });
    const host: ShardHost = {
      onFrame: (connection, data, at) => this.onFrame(connection, data, at),
      emit: (event) => this.queue.push(event),
      reject: (reason, detail) => this.reject(reason, detail),
      onReconnected: (shard) => {
        if (o.channels.includes('trade')) this.gaps.catchUpAfterReconnect(this.slotsOf(shard));
      },
      onRotationFinished: (shard) => this.fillAfterRotation(shard),
      onStatusChange: () => this.updateStatus(),
    };
    const gate = new ConnectGate(o.maxConnectionAttempts, o.now);
    const clock = new BurstClock(o.now);
    // Each symbol takes one stream per channel.
    const perConnection = Math.floor(o.maxStreamsPerConnection / o.channels.length);
    for (let i = 0; i < o.symbols.length; i += perConnection) {
      const symbols = o.symbols.slice(i, i + perConnection);
      const shard = new ShardConnection(this.shards.length, symbols, o, gate, clock, host);
      this.shards.push(shard);
      for (const symbol of symbols) {
        const sequencer = new SymbolSequencer(
          symbol,
          o.resumeFrom.get(symbol),
          (tick) => this.deliver(tick),
          {
            maxHeld: o.maxHeldTrades,
            maxJump: o.maxTradeIdJump,
            onOverflow: (given) => this.onHeldOverflow(symbol, given),
          },
        );
        this.slots.set(symbol, { symbol, shard, sequencer });
      }
    }
    this.books =
      o.channels.length === 1 && o.channels[0] === 'trade'
        ? undefined
        : new BookChannels(
            o,
            {
              emit: (event) => this.push(event),
              reject: (reason, detail) => this.reject(reason, detail),
              onShard: (symbol, shard) => this.slots.get(symbol)?.shard.index === shard,
            },
            createDepthFetcher({
              restUrl: o.restUrl,
              apiKey: o.apiKey,
              timeoutMs: o.restTimeoutMs,
              fetch: o.fetch,
              now: o.now,
              bannedUntil: () => this.gaps.bannedUntil,
              onBanned: (until) => this.gaps.noteBan(until),
            }),
            new RestWeightBudget({ weightPerMinute: o.depthWeightPerMinute, now: o.now }),
          );
    this.queue.onTake = (size) => {
      if (this.paused && size < this.maxBuffered / 2) this.setPaused(false);
    };
    if (o.signal) {
      if (o.signal.aborted) void this.close();
      else o.signal.addEventListener('abort', () => void this.close(), { once: true });
    }
  }

  /** Opens the connections (also done by the first iteration). */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.options.metrics?.wsConnectionStatus.set(0);
    for (const shard of this.shards) shard.start();
    const watchdogMs = this.options.watchdogMs;
    this.watchdog = setInterval(
      () => this.checkLiveness(),
      Math.max(10, Math.min(1000, watchdogMs / 4)),
    );
    if (!this.options.channels.includes('trade')) return;
    for (const slot of this.slots.values()) {
      if (this.options.resumeFrom.has(slot.symbol)) this.gaps.catchUp(slot, 'resume');
    }
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
    const sum = (count: (shard: ShardConnection) => number) =>
      this.shards.reduce((total, shard) => total + count(shard), 0);
    const gaps = this.gaps;
    return {
      frames: this.frames,
      ticksDelivered: this.ticksDelivered,
      duplicatesDropped: this.duplicatesDropped,
      rejected: { ...this.rejects.counts },
      gapsDetected: gaps.gapsDetected,
      tradesBackfilled: gaps.tradesBackfilled,
      tradesMissed: this.gapReport.tradesMissed,
      heldTrades: held,
      gapsOpen: this.gapsAtClose?.length ?? this.countOpenGaps(),
      resumeAheadOfExchange: [...gaps.resumeAheadOfExchange],
      peakHeldTrades: peak,
      restBannedUntil: gaps.bannedUntil > 0 ? gaps.bannedUntil : undefined,
      connectionAttempts: sum((s) => s.connectionAttempts),
      reconnects: sum((s) => s.reconnects),
      rotations: sum((s) => s.rotations),
      restRequests: gaps.restRequests,
      restErrors: gaps.restErrors,
      fastPathFrames: this.parser.fastPathHits,
      bufferedEvents: this.queue.size,
      pauses: this.pauses,
      ...(this.books?.stats() ?? { quotesDelivered: 0, quoteRepeats: 0, books: {} }),
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
    this.gaps.close();
    this.books?.close();
    this.releaseHeldAtClose();
    if (this.watchdog) clearInterval(this.watchdog);
    const closing = this.shards.map((shard) => shard.close());
    this.flushTicks();
    this.options.metrics?.wsConnectionStatus.set(0);
    this.queue.end();
    await Promise.all(closing);
  }

  /** Delivers the ticks held behind gaps and records the gaps left open ({@link releaseHeldAtClose}). */
  private releaseHeldAtClose(): void {
    const gaps = releaseHeldAtClose(this.slots.values(), {
      logger: this.options.logger,
      reject: (reason, detail) => this.reject(reason, detail),
      emit: (event) => this.queue.push(event),
    });
    this.gapsAtClose = gaps;
    this.options.metrics?.gapsOpen.set(gaps.length);
  }

  // ---- frames (the hot path) ----------------------------------------------

  private onFrame(connection: Connection, data: Buffer, at: number): void {
    this.frames++;
    this.metrics?.markWsMessage(at);
    const books = this.books;
    // Quote and depth frames are told by their stream name (a cheap look at the first bytes).
    if (books !== undefined && data.length <= MAX_FRAME_BYTES) {
      const stream = bookStreamOf(data);
      if (stream !== undefined) {
        if (stream === 'bookTicker') books.onQuoteFrame(data, at, connection.shard.index);
        else books.onDepthFrame(data, at, connection.shard.index);
        this.afterEvent();
        return;
      }
    }
    const result = this.parser.parseFast(data, at);
    if ((result as FrameResult).kind === undefined) {
      this.onTick(connection, result as Tick);
      return;
    }
    this.onOther(connection, result as FrameResult);
  }

  private onTick(connection: Connection, tick: Tick): void {
    const slot = this.slots.get(tick.symbol);
    if (slot === undefined || slot.shard !== connection.shard) {
      this.reject('symbol_mismatch', `not subscribed on this connection: ${tick.symbol}`);
      return;
    }
    const sequencer = slot.sequencer;
    const shard = slot.shard;
    if (shard.overlapping) {
      const last = sequencer.lastId;
      if (last === undefined || tick.tradeId <= last + 1)
        shard.noteCaughtUp(connection, tick.symbol);
    }
    const outcome = sequencer.offer(tick);
    if (outcome === 'delivered') return;
    if (outcome === 'duplicate') {
      this.duplicatesDropped++;
      this.options.metrics?.ticksDuplicate.inc();
    } else if (!shard.overlapping) {
      // Held behind a gap, or far ahead: the sequencer waits for REST's word.
      this.gaps.fill(slot);
    }
  }

  private onOther(connection: Connection, result: FrameResult): void {
    switch (result.kind) {
      case 'rejected':
        this.reject(result.reason, result.detail);
        return;
      case 'shutdown':
      case 'reply':
        connection.shard.onControlFrame(connection, result);
        return;
      case 'tick':
        this.onTick(connection, result.tick);
    }
  }

  /** A quote or book event for the consumer. */
  private push(event: BinanceClientEvent): void {
    this.queue.push(event);
  }

  /** After a quote or depth frame: counters flushed once per turn, backpressure as for ticks. */
  private afterEvent(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flushTicks());
    }
    if (!this.paused && this.queue.size > this.maxBuffered) this.setPaused(true);
  }

  private deliver(tick: Tick): void {
    this.queue.push({ type: 'tick', tick });
    this.ticksDelivered++;
    this.unflushedTicks++;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flushTicks());
    }
    if (!this.paused && this.queue.size > this.maxBuffered) this.setPaused(true);
  }

  private flushTicks(): void {
    this.flushScheduled = false;
    this.books?.flushCounters();
    if (this.unflushedTicks > 0) {
      this.options.metrics?.ticksReceived.inc(this.unflushedTicks);
      this.unflushedTicks = 0;
    }
  }

  // ---- backpressure and liveness ------------------------------------------

  private setPaused(paused: boolean): void {
    this.paused = paused;
    if (paused) this.pauses++;
    const at = this.options.now();
    for (const shard of this.shards) shard.setPaused(paused, at);
  }

  private checkLiveness(): void {
    // New runs open behind held ticks between backfill steps: the gauge catches up here.
    this.updateGapsOpen();
    this.books?.flushGauges();
    // Paused sockets read nothing: that is backpressure, not silence (see setPaused).
    if (this.paused) return;
    const at = this.options.now();
    for (const shard of this.shards) shard.checkLiveness(at);
  }

  private updateStatus(): void {
    const up = this.shards.every((s) => s.up);
    this.options.metrics?.wsConnectionStatus.set(up && !this.closed ? 1 : 0);
  }

  private reject(reason: TickRejectReason, detail: string): void {
    this.rejects.reject(reason, detail);
  }

  // ---- gaps ---------------------------------------------------------------

  private slotsOf(shard: ShardConnection): SymbolSlot[] {
    return shard.symbols.map((symbol) => this.slots.get(symbol)!);
  }

  /** Gaps seen while two connections overlapped may be real: fill them now. */
  private fillAfterRotation(shard: ShardConnection): void {
    for (const slot of this.slotsOf(shard)) {
      if (slot.sequencer.hasGap || slot.sequencer.hasUnconfirmed) this.gaps.fill(slot);
    }
  }

  /** `trading_gaps_open`: gaps waiting for REST now (after close, those left open). */
  private updateGapsOpen(): void {
    if (this.options.metrics === undefined || this.gapsAtClose !== undefined) return;
    this.options.metrics.gapsOpen.set(this.countOpenGaps());
  }

  /** {@link openGaps}`.length` while running, without sorting what is held. */
  private countOpenGaps(): number {
    let open = 0;
    for (const slot of this.slots.values()) {
      if (slot.sequencer.hasGap) open += slot.sequencer.gapCount;
    }
    return open;
  }

  /** A symbol held `maxHeldTrades` ticks behind a gap: the sequencer gave the gap up. */
  private onHeldOverflow(symbol: string, given: GivenUpIds): void {
    this.updateGapsOpen();
    this.options.logger.warn(
      { symbol, maxHeldTrades: this.options.maxHeldTrades },
      'binance: too many ticks held behind a gap, giving the gap up',
    );
    this.gapReport.report(symbol, { ...given, recovered: 0 });
  }
}
