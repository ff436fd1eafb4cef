import { silentLogger, type Logger, type Tick } from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import { BatchWriter } from './batch-writer.js';
import type {
  MarketDataHealth,
  MarketDataServiceOptions,
  MarketDataServiceStats,
  MarketDataStopResult,
  TickCacheWriter,
} from './market-data-service-types.js';
import type { LostTickRange } from './lost-ranges.js';
import { Progress } from './progress.js';
import { resolveServiceOptions } from './service-options.js';
import { SpillQueue } from './spill-queue.js';
import { SpoolReplay } from './spool-replay.js';
import { TickBatcher } from './tick-batcher.js';
import { TickChannel } from './tick-channel.js';
import { TickSpool } from './tick-spool.js';

/**
 * Takes ticks from any source and stores every one: a bounded channel
 * ({@link TickChannel}), a batcher (N ticks or T ms), the database writers
 * ({@link BatchWriter}: retries, insert timeout, commits in order), and a
 * durable spool for what the database will not take now. The spill and
 * replay policy (which batch goes to the database, which to the spool, and
 * when the spool is replayed) is kept by {@link SpillQueue} (with its disk
 * queue) and {@link SpoolReplay}; this class wires them.
 *
 * - Reception never waits for the database: batches beyond
 *   `maxBufferedTicks`, and every batch while the spool holds anything,
 *   go to the spool, so memory stays bounded and order is kept.
 * - Batches reach the spool one at a time, in order; a failed append (a
 *   full disk) is retried, later batches waiting behind it. When the
 *   database answers, those waiting go straight to it once the spool on
 *   disk is replayed.
 * - When neither takes ticks, the channel stops draining once
 *   `maxBufferedTicks` wait for the disk: {@link offer} returns false, the
 *   source pauses, {@link health} says `blocked` and
 *   `trading_ingest_blocked` is 1, until the database or the disk takes
 *   ticks again. Memory stays within `channelCapacity + 2 × (maxBufferedTicks
 *   + batchSize)` ticks.
 * - The spool is replayed in order as soon as the database answers,
 *   including batches left by an earlier run.
 * - {@link close} drains the channel and puts every tick in the database
 *   or the spool before it resolves; what neither took is reported, per
 *   symbol and trade-id range.
 * - Outages are logged when they start and end (and every minute while they
 *   last), not on every attempt.
 *
 * Metrics kept: `trading_channel_buffer_size`,
 * `trading_channel_utilization_percent`, `trading_ticks_processed_total`
 * (ticks handed on from the channel), `trading_batch_buffer_size` (ticks
 * in memory awaiting the database or the disk),
 * `trading_batch_insert_duration_seconds` (successful inserts),
 * `trading_batches_flushed_total`, `trading_batch_retries_total`,
 * `trading_batches_failed_total` (batches that went to the spool after
 * their retries), `trading_spool_ticks`, `trading_spool_append_failures_total`,
 * `trading_spool_corrupt_records_total` (damaged records quarantined on
 * replay), `trading_ingest_blocked`, `trading_ticks_refused_total` (ticks
 * the database refused, kept in `rejected.jsonl`).
 *
 * @example
 * ```ts
 * const service = await MarketDataService.start({ repository, cache, metrics, spoolDir });
 * void service.consume(binanceClient.ticks());
 * // /ready: service.health().blocked means no tick is being taken now.
 * // on SIGTERM, once the source is closed:
 * const { lost } = await service.close();
 * if (lost.length > 0) process.exitCode = 1; // and say which ranges
 * ```
 */
export class MarketDataService {
  readonly #cache: TickCacheWriter | undefined;
  readonly #metrics: TradingMetrics | undefined;
  readonly #logger: Logger;
  readonly #spool: TickSpool;
  readonly #channel: TickChannel;
  readonly #batcher: TickBatcher;
  readonly #writer: BatchWriter;
  /** The batches in memory, the spill policy, and the disk queue with its append loop. */
  readonly #spill: SpillQueue;
  /** The writer loop: batches from memory, or the spool replayed first. */
  readonly #replay: SpoolReplay;
  readonly #progress = new Progress();

  #loop: Promise<void> | undefined;
  readonly #abort = new AbortController();
  #stopping = false;
  #stopped = false;
  #closePromise: Promise<MarketDataStopResult> | undefined;

  #accepted = 0;
  readonly #corrupt: { readonly records: number };
  #lost: LostTickRange[] = [];
  #lostTicks = 0;

  private constructor(
    options: MarketDataServiceOptions,
    spool: TickSpool,
    corrupt: { readonly records: number },
  ) {
    this.#corrupt = corrupt;
    this.#cache = options.cache;
    this.#metrics = options.metrics;
    this.#logger = options.logger ?? silentLogger;
    this.#spool = spool;
    const resolved = resolveServiceOptions(options);
    const { retry } = resolved;
    const signal = this.#abort.signal;
    this.#channel = new TickChannel({
      capacity: resolved.channelCapacity,
      metrics: this.#metrics,
      // A whole bound's worth of ticks waiting for the disk stops the drain,
      // so memory stays bounded even then (the channel fills, offer says so).
      room: () => this.#spill.disk.room,
      take: (chunk) => this.#take(chunk),
    });
    this.#batcher = new TickBatcher(resolved.batchSize, resolved.flushIntervalMs, (batch) =>
      this.#spill.queueBatch(batch),
    );
    this.#writer = new BatchWriter({
      repository: options.repository,
      logger: this.#logger,
      metrics: this.#metrics,
      writers: resolved.writers,
      maxRetries: resolved.maxRetries,
      retry,
      insertTimeoutMs: resolved.insertTimeoutMs,
      signal,
      keepRejected: (rejected) => this.#spool.appendRejected(rejected),
      onWriteDone: () => this.#progress.notify(),
    });
    // What the spill queue, its disk queue and the writer loop share.
    const shared = {
      spool,
      writer: this.#writer,
      logger: this.#logger,
      metrics: this.#metrics,
      retry,
      signal,
      progress: this.#progress,
      stopping: () => this.#stopping,
    };
    this.#spill = new SpillQueue({
      ...shared,
      maxBufferedTicks: resolved.maxBufferedTicks,
      stopped: () => this.#stopped,
      openTicks: () => this.#batcher.size,
      onDiskFreed: () => this.#channel.resume(),
      wakeWriter: () => this.#replay.wake(),
    });
    this.#replay = new SpoolReplay({
      ...shared,
      spill: this.#spill,
      errorDelayMs: resolved.retryMaxDelayMs,
      sealAll: () => {
        this.#channel.drain();
        this.#batcher.seal();
      },
      onStopped: () => (this.#stopped = true),
    });
  }

  /**
   * Opens the spool in `spoolDir` and starts writing; batches a previous run
   * left in the spool are replayed first.
   */
  static async start(options: MarketDataServiceOptions): Promise<MarketDataService> {
    // Counted from the spool's side: records are met only on replay, once the service runs.
    const corrupt = { records: 0 };
    const spool = await TickSpool.open(options.spoolDir, {
      logger: options.logger,
      ...(options.spoolSegmentBytes ? { segmentBytes: options.spoolSegmentBytes } : {}),
      rejectedFileBytes: options.rejectedFileBytes,
      rejectedFilesKept: options.rejectedFilesKept,
      onCorruptRecord: () => {
        corrupt.records += 1;
        options.metrics?.spoolCorruptRecords.inc();
      },
    });
    const service = new MarketDataService(options, spool, corrupt);
    if (!spool.isEmpty) {
      service.#logger.info(
        { spoolDir: options.spoolDir, segments: spool.segmentCount },
        'market-data: replaying the spool left by an earlier run',
      );
    }
    service.#metrics?.ingestBlocked.set(0);
    service.#spill.updateBufferGauge();
    service.#spill.disk.updateSpoolGauge();
    service.#loop = service.#replay.run();
    return service;
  }

  /**
   * Hands one tick over without waiting. Returns `false` when the channel is
   * full (the caller keeps the tick; {@link whenWritable} says when to offer
   * again) or the service has stopped. A slow database never fills the
   * channel; a database and a disk both refusing ticks do (see
   * {@link health}).
   */
  offer(tick: Tick): boolean {
    if (this.#stopped || !this.#channel.offer(tick)) return false;
    this.#accepted += 1;
    return true;
  }

  /** Resolves when the channel has room again (at once when it has). */
  whenWritable(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return this.#channel.whenWritable();
  }

  /**
   * Offers every tick of `source`, waiting for room when the channel is
   * full. Resolves when the source ends, or once {@link close} is called (a
   * tick already pulled is still taken).
   */
  async consume(source: AsyncIterable<Tick> | Iterable<Tick>): Promise<void> {
    const iterator =
      Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
    try {
      while (!this.#stopping) {
        const next = await iterator.next();
        if (next.done) return;
        while (!this.offer(next.value)) {
          if (this.#stopped) {
            this.#logger.error(
              { symbol: next.value.symbol, tradeId: next.value.tradeId },
              'market-data: tick arrived after stop; not stored',
            );
            this.#metrics?.errors.inc({ component: 'market-data' });
            return;
          }
          await this.whenWritable();
        }
      }
    } finally {
      await iterator.return?.();
    }
  }

  /**
   * Writes out the current batch now and resolves once every tick offered
   * so far is in the database or the spool (a spool replay may still be
   * under way), and the cache has been flushed. While the service is
   * {@link health blocked} that waits until the database or the disk takes
   * ticks again, or {@link close}.
   */
  async flush(): Promise<void> {
    if (this.#stopped) return;
    this.#channel.drain();
    this.#batcher.seal();
    while (!this.#stopped && this.#spill.pending) await this.#progress.next();
    await this.#cache?.flush?.();
  }

  /**
   * Stops taking ticks, drains the channel, and resolves once every tick is
   * in the database or the spool; the spool is left for the next start.
   * Stop the sources first: a tick offered after `close()` resolves is refused.
   *
   * Batches still waiting for a failing disk get one more append each (and
   * one insert, until an insert fails); what neither takes is lost, and the
   * result says which ticks: exit non-zero and backfill them.
   *
   * @example
   * ```ts
   * const { lost, lostTicks } = await service.close();
   * for (const { symbol, fromId, toId } of lost) console.error(`lost ${symbol} ${fromId}-${toId}`);
   * process.exitCode = lostTicks > 0 ? 1 : 0;
   * ```
   */
  close(): Promise<MarketDataStopResult> {
    this.#closePromise ??= this.#shutdown();
    return this.#closePromise;
  }

  /**
   * {@link close} by its former name.
   *
   * @deprecated Use {@link close}: every class of this package is released by `close()`.
   */
  stop(): Promise<MarketDataStopResult> {
    return this.close();
  }

  /**
   * Whether ticks are being taken: `blocked` while neither the database nor
   * the spool takes them (the channel no longer drains, {@link offer}
   * returns false once it is full). Serve it as the app's readiness.
   *
   * @example
   * ```ts
   * const { blocked, reason } = service.health();
   * if (blocked) return reply(503, `ingest blocked: ${reason}`);
   * ```
   */
  health(): MarketDataHealth {
    return this.#spill.disk.health();
  }

  /**
   * The highest trade id of each symbol in the spool, those left by an
   * earlier run included: ticks received but not yet in the database. An
   * upper bound (a spool segment counts until all of it is replayed), and
   * it covers the spool only, not the ticks in memory. Read it at start,
   * before offering ticks: resume each symbol's stream after the larger of
   * this and the database's newest id, so the exchange is not asked again
   * for trades the spool already holds.
   *
   * @example
   * ```ts
   * const service = await MarketDataService.start({ repository, spoolDir });
   * const resumeFrom = await repository.latestTradeIds(symbols);
   * for (const [symbol, id] of service.spooledTradeIds()) {
   *   resumeFrom.set(symbol, Math.max(id, resumeFrom.get(symbol) ?? id));
   * }
   * ```
   */
  spooledTradeIds(): Map<string, number> {
    return this.#spool.highestTradeIds();
  }

  /** Counters since start, and what is buffered now. */
  stats(): MarketDataServiceStats {
    return {
      accepted: this.#accepted,
      stored: this.#writer.stored,
      duplicates: this.#writer.duplicates,
      rejected: this.#writer.rejected,
      spooled: this.#spill.disk.spooled,
      replayed: this.#replay.replayed,
      channel: this.#channel.length,
      buffered: this.#spill.bufferedTicks,
      spoolSegments: this.#spool.segmentCount,
      spoolTicks: this.#spool.tickCount,
      spoolAppendFailures: this.#spill.disk.appendFailures,
      corruptRecords: this.#corrupt.records,
      lostTicks: this.#lostTicks,
      lost: this.#lost,
    };
  }

  async #shutdown(): Promise<MarketDataStopResult> {
    this.#stopping = true;
    // Retries stop waiting: a batch the database refuses now goes to the spool.
    this.#abort.abort();
    this.#replay.wake();
    await this.#loop;
    // Every batch from memory has been written or handed to the disk queue.
    await this.#spill.disk.whenIdle();
    // What neither the disk nor the database took is logged, and reported.
    ({ lost: this.#lost, lostTicks: this.#lostTicks } = this.#spill.disk.reportLost());
    try {
      await this.#cache?.flush?.();
    } catch (error) {
      this.#logger.warn({ err: error }, 'market-data: cache flush failed at stop');
    }
    await this.#spool.close();
    this.#channel.close();
    this.#spill.disk.updateBlocked();
    this.#spill.updateBufferGauge();
    this.#logger.info(
      {
        stored: this.#writer.stored,
        spooled: this.#spill.disk.spooled,
        spoolSegments: this.#spool.segmentCount,
        lostTicks: this.#lostTicks,
      },
      'market-data: stopped',
    );
    return { lost: this.#lost, lostTicks: this.#lostTicks };
  }

  /** A chunk leaving the channel: the cache has it at once, the batcher next. */
  #take(chunk: Tick[]): void {
    try {
      this.#cache?.add(chunk);
    } catch (error) {
      this.#logger.error(
        { err: error },
        'market-data: cache update threw; ticks still go to the database',
      );
      this.#metrics?.errors.inc({ component: 'cache' });
    }
    this.#batcher.add(chunk);
    this.#spill.updateBufferGauge();
  }
}
