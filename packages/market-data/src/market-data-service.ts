import {
  Backoff,
  ConfigError,
  silentLogger,
  type BackoffOptions,
  type Logger,
  type Tick,
} from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import { BatchWriter } from './batch-writer.js';
import type {
  MarketDataHealth,
  MarketDataServiceOptions,
  MarketDataServiceStats,
  MarketDataStopResult,
  TickCacheWriter,
} from './market-data-service-types.js';
import { lostRanges, type LostTickRange } from './lost-ranges.js';
import { Outage } from './outage.js';
import { sleep } from './sleep.js';
import { TickBatcher } from './tick-batcher.js';
import { TickChannel } from './tick-channel.js';
import { TickSpool } from './tick-spool.js';

export type {
  MarketDataHealth,
  MarketDataServiceOptions,
  MarketDataServiceStats,
  MarketDataStopResult,
  TickCacheWriter,
} from './market-data-service-types.js';

/** A batch from memory being inserted. */
interface InFlight {
  readonly ticks: Tick[];
  /** Its copy bound for the spool, once memory overflowed. */
  copy: DiskEntry | undefined;
  /** The insert succeeded: the copy is not needed. */
  stored: boolean;
}

/** A batch bound for the spool, in order, not on disk yet. */
interface DiskEntry {
  readonly ticks: Tick[];
  /** The batch in flight this is a copy of. */
  readonly copyOf: InFlight | undefined;
  /** Settles once the batch is on disk, in the database, or given up at close. */
  readonly settled: Promise<void>;
  readonly settle: () => void;
}

// Lost ranges listed in the log line at close (all of them are in the result).
const LOGGED_RANGES = 50;

/**
 * Takes ticks from any source and stores every one: a bounded channel
 * ({@link TickChannel}), a batcher (N ticks or T ms), the database writers
 * ({@link BatchWriter}: retries, insert timeout, commits in order), and a
 * durable spool for what the database will not take now. This class owns
 * the spill and replay policy: which batch goes to the database, which to
 * the spool, and when the spool is replayed.
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
  readonly #retry: BackoffOptions;
  readonly #retryMaxDelayMs: number;
  readonly #maxBufferedTicks: number;
  readonly #channel: TickChannel;
  readonly #batcher: TickBatcher;
  readonly #writer: BatchWriter;

  /** Sealed batches waiting for a writer, oldest first. */
  readonly #queue: Tick[][] = [];
  #queuedTicks = 0;
  /** Batches from memory being inserted, up to one per writer. */
  readonly #inFlight = new Set<InFlight>();

  /** Batches bound for the spool, oldest first; the head is appended (or inserted) first. */
  readonly #diskQueue: DiskEntry[] = [];
  #diskQueuedTicks = 0;
  /** The loop appending {@link #diskQueue}, while it runs. */
  #diskRun: Promise<void> | undefined;
  /** The head of {@link #diskQueue} is being appended or inserted: nobody else takes it. */
  #diskHeadBusy = false;
  /** Batches given up at close: lost unless their in-flight original was stored. */
  readonly #givenUp: DiskEntry[] = [];
  /** An insert failed during close: the last chances at close go to the disk only. */
  #databaseFailedAtStop = false;

  readonly #spoolOutage = new Outage();
  #blockedSince: number | undefined;

  #wake: (() => void) | undefined;
  #progressWaiters: (() => void)[] = [];
  #loop: Promise<void> | undefined;
  readonly #abort = new AbortController();
  #stopping = false;
  #stopped = false;
  #closePromise: Promise<MarketDataStopResult> | undefined;

  #accepted = 0;
  #spooled = 0;
  #replayed = 0;
  #spoolAppendFailures = 0;
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
    const channelCapacity = positive(options.channelCapacity ?? 10_000, 'channelCapacity');
    const batchSize = positive(options.batchSize ?? 5_000, 'batchSize');
    const flushIntervalMs = positive(options.flushIntervalMs ?? 250, 'flushIntervalMs');
    const writers = positiveInteger(options.writers ?? 1, 'writers');
    const maxRetries = nonNegative(options.maxRetries ?? 3, 'maxRetries');
    const retryBaseDelayMs = positive(options.retryBaseDelayMs ?? 100, 'retryBaseDelayMs');
    this.#retryMaxDelayMs = positive(options.retryMaxDelayMs ?? 5_000, 'retryMaxDelayMs');
    this.#maxBufferedTicks = positive(options.maxBufferedTicks ?? 100_000, 'maxBufferedTicks');
    const insertTimeoutMs = positive(options.insertTimeoutMs ?? 30_000, 'insertTimeoutMs');
    // Inserts, spool appends and replays alike: doubling from the base up
    // to the ceiling, each delay between half and all of it.
    this.#retry = {
      initialMs: retryBaseDelayMs,
      maxMs: this.#retryMaxDelayMs,
      factor: 2,
      jitter: 0.5,
    };
    this.#channel = new TickChannel({
      capacity: channelCapacity,
      metrics: this.#metrics,
      // A whole bound's worth of ticks waiting for the disk stops the drain,
      // so memory stays bounded even then (the channel fills, offer says so).
      room: () => this.#maxBufferedTicks - this.#diskQueuedTicks,
      take: (chunk) => this.#take(chunk),
    });
    this.#batcher = new TickBatcher(batchSize, flushIntervalMs, (batch) => this.#queueBatch(batch));
    this.#writer = new BatchWriter({
      repository: options.repository,
      logger: this.#logger,
      metrics: this.#metrics,
      writers,
      maxRetries,
      retry: this.#retry,
      insertTimeoutMs,
      signal: this.#abort.signal,
      keepRejected: (rejected) => this.#spool.appendRejected(rejected),
      onWriteDone: () => this.#progressed(),
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
    service.#updateBufferGauge();
    service.#updateSpoolGauge();
    service.#loop = service.#writeLoop();
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
    while (
      !this.#stopped &&
      (this.#queue.length > 0 || this.#memoryInFlight > 0 || this.#diskQueue.length > 0)
    ) {
      await this.#nextProgress();
    }
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
    const spoolError = this.#spoolOutage.message;
    const databaseError = this.#writer.databaseError;
    const errors = {
      ...(spoolError === undefined ? {} : { spoolError }),
      ...(databaseError === undefined ? {} : { databaseError }),
    };
    if (this.#blockedSince === undefined) return { blocked: false, ...errors };
    return {
      blocked: true,
      reason: `the spool cannot be written (${spoolError ?? 'unknown error'}) and the database does not keep up (${databaseError ?? 'no failed insert, too slow'}); ${this.#bufferedTicks} ticks held in memory`,
      since: this.#blockedSince,
      ...errors,
    };
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
      spooled: this.#spooled,
      replayed: this.#replayed,
      channel: this.#channel.length,
      buffered: this.#bufferedTicks,
      spoolSegments: this.#spool.segmentCount,
      spoolTicks: this.#spool.tickCount,
      spoolAppendFailures: this.#spoolAppendFailures,
      corruptRecords: this.#corrupt.records,
      lostTicks: this.#lostTicks,
      lost: this.#lost,
    };
  }

  async #shutdown(): Promise<MarketDataStopResult> {
    this.#stopping = true;
    // Retries stop waiting: a batch the database refuses now goes to the spool.
    this.#abort.abort();
    this.#wakeWriter();
    await this.#loop;
    // Every batch from memory has been written or handed to the disk queue.
    while (this.#diskRun) await this.#diskRun;
    const lost = this.#givenUp.filter((entry) => !entry.copyOf?.stored).map((e) => e.ticks);
    this.#lost = lostRanges(lost);
    this.#lostTicks = this.#lost.reduce((sum, range) => sum + range.count, 0);
    if (this.#lostTicks > 0) {
      this.#logger.error(
        {
          lostTicks: this.#lostTicks,
          ranges: this.#lost.length,
          lost: this.#lost.slice(0, LOGGED_RANGES),
          spoolError: this.#spoolOutage.message,
          databaseError: this.#writer.databaseError,
        },
        'market-data: ticks neither stored nor spooled at stop',
      );
      this.#metrics?.errors.inc({ component: 'market-data' });
    }
    try {
      await this.#cache?.flush?.();
    } catch (error) {
      this.#logger.warn({ err: error }, 'market-data: cache flush failed at stop');
    }
    await this.#spool.close();
    this.#channel.close();
    this.#updateBlocked();
    this.#updateBufferGauge();
    this.#logger.info(
      {
        stored: this.#writer.stored,
        spooled: this.#spooled,
        spoolSegments: this.#spool.segmentCount,
        lostTicks: this.#lostTicks,
      },
      'market-data: stopped',
    );
    return { lost: this.#lost, lostTicks: this.#lostTicks };
  }

  // --- batches -----------------------------------------------------------

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
    this.#updateBufferGauge();
  }

  /** Queues a sealed batch: in memory, or in the spool when that must keep order or bound memory. */
  #queueBatch(batch: Tick[]): void {
    this.#queue.push(batch);
    this.#queuedTicks += batch.length;
    const inMemory = this.#queuedTicks + this.#memoryInFlight;
    if (!this.#spoolEmpty || inMemory > this.#maxBufferedTicks) this.#spillQueue();
    this.#updateBufferGauge();
    this.#wakeWriter();
  }

  /** Nothing waits in the spool, on disk or on its way there. */
  get #spoolEmpty(): boolean {
    return this.#diskQueue.length === 0 && this.#spool.isEmpty;
  }

  /**
   * Sends the batches in flight (copies: their inserts go on) and every
   * queued batch to the spool, in order. A copy stored twice is stored once.
   */
  #spillQueue(): void {
    for (const inFlight of this.#inFlight) {
      inFlight.copy ??= this.#toDisk(inFlight.ticks, inFlight);
    }
    for (const batch of this.#queue.splice(0)) this.#toDisk(batch, undefined);
    this.#queuedTicks = 0;
  }

  /** Queues `ticks` for the spool, behind every batch already queued for it. */
  #toDisk(ticks: Tick[], copyOf: InFlight | undefined): DiskEntry {
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    const entry: DiskEntry = { ticks, copyOf, settled, settle };
    this.#diskQueue.push(entry);
    this.#diskQueuedTicks += ticks.length;
    this.#kickDisk();
    this.#updateBlocked();
    return entry;
  }

  /** Takes `entry` off the disk queue: on disk, in the database, no longer needed, or given up. */
  #offDisk(entry: DiskEntry): void {
    const index = this.#diskQueue.indexOf(entry);
    if (index !== -1) {
      this.#diskQueue.splice(index, 1);
      this.#diskQueuedTicks -= entry.ticks.length;
    }
    entry.settle();
    this.#updateBlocked();
    this.#updateBufferGauge();
    this.#channel.resume();
    this.#wakeWriter();
    this.#progressed();
  }

  #kickDisk(): void {
    if (this.#diskRun) return;
    this.#diskRun = this.#appendLoop().finally(() => {
      this.#diskRun = undefined;
      // An entry queued as the loop was ending.
      if (this.#diskQueue.length > 0) this.#kickDisk();
    });
  }

  /**
   * Appends the disk queue's batches to the spool one at a time, in order.
   * A failed append is retried with backoff, the batches behind it
   * waiting; meanwhile the writer may insert the head straight into the
   * database (see {@link #replayOne}). At close, each gets one last chance.
   */
  async #appendLoop(): Promise<void> {
    const backoff = new Backoff(this.#retry);
    for (;;) {
      const entry = this.#diskQueue[0];
      if (!entry) return;
      if (entry.copyOf?.stored) {
        this.#offDisk(entry);
        continue;
      }
      if (this.#diskHeadBusy) {
        // The writer is inserting it.
        await this.#nextProgress();
        continue;
      }
      this.#diskHeadBusy = true;
      let failure: { error: unknown } | undefined;
      try {
        await this.#spool.append(entry.ticks);
      } catch (error) {
        failure = { error };
      } finally {
        this.#diskHeadBusy = false;
      }
      if (!failure) {
        backoff.reset();
        this.#spooled += entry.ticks.length;
        this.#spoolRecovered();
        this.#updateSpoolGauge();
        this.#offDisk(entry);
        continue;
      }
      this.#spoolFailed(failure.error);
      if (this.#stopping) {
        if (!(await this.#insertAtStop(entry))) this.#givenUp.push(entry);
        this.#offDisk(entry);
        continue;
      }
      this.#progressed();
      await sleep(backoff.next(), this.#abort.signal);
    }
  }

  /** Closing, the disk refused `entry`: one insert, unless one failed already during close. */
  async #insertAtStop(entry: DiskEntry): Promise<boolean> {
    if (this.#databaseFailedAtStop) return false;
    if (await this.#writer.insert(entry.ticks)) return true;
    this.#databaseFailedAtStop = true;
    return false;
  }

  #spoolFailed(error: unknown): void {
    this.#spoolAppendFailures += 1;
    this.#metrics?.spoolAppendFailures.inc();
    this.#metrics?.errors.inc({ component: 'market-data' });
    const report = this.#spoolOutage.fail(error);
    if (report) {
      this.#logger.error(
        {
          err: error,
          failedAppends: report.failures,
          waitingForDisk: this.#diskQueuedTicks,
          ...(report.first ? {} : { sinceMs: report.sinceMs }),
        },
        report.first
          ? 'market-data: the spool cannot be written; batches wait in memory, in order, and the append is retried'
          : 'market-data: the spool still cannot be written',
      );
    }
    this.#updateBlocked();
  }

  #spoolRecovered(): void {
    const ended = this.#spoolOutage.recover();
    if (ended) {
      this.#logger.info(
        { failedAppends: ended.failures, outageMs: ended.sinceMs },
        'market-data: the spool takes appends again',
      );
    }
    this.#updateBlocked();
  }

  /** Blocked: the disk bound is reached and the spool fails, so the channel no longer drains. */
  #updateBlocked(): void {
    const blocked = !this.#stopped && this.#diskBehind && this.#spoolOutage.failing;
    if (blocked === (this.#blockedSince !== undefined)) return;
    if (blocked) {
      this.#blockedSince = Date.now();
      this.#metrics?.ingestBlocked.set(1);
      this.#logger.error(
        {
          heldTicks: this.#bufferedTicks,
          spoolError: this.#spoolOutage.message,
          databaseError: this.#writer.databaseError,
        },
        'market-data: ingest blocked: neither the database nor the spool takes ticks; the channel stops draining until one does',
      );
    } else {
      const blockedMs = Date.now() - this.#blockedSince!;
      this.#blockedSince = undefined;
      this.#metrics?.ingestBlocked.set(0);
      this.#logger.info({ blockedMs }, 'market-data: ingest resumed');
    }
  }

  /** A whole bound's worth of ticks waits for the disk: the channel has stopped draining. */
  get #diskBehind(): boolean {
    return this.#diskQueuedTicks >= this.#maxBufferedTicks;
  }

  /** Ticks of batches from memory being inserted. */
  get #memoryInFlight(): number {
    let ticks = 0;
    for (const inFlight of this.#inFlight) ticks += inFlight.ticks.length;
    return ticks;
  }

  get #bufferedTicks(): number {
    let inFlight = 0;
    for (const f of this.#inFlight) if (!f.copy) inFlight += f.ticks.length;
    return this.#batcher.size + this.#queuedTicks + inFlight + this.#diskQueuedTicks;
  }

  #updateBufferGauge(): void {
    this.#metrics?.batchBufferSize.set(this.#bufferedTicks);
  }

  #updateSpoolGauge(): void {
    this.#metrics?.spoolTicks.set(this.#spool.tickCount);
  }

  // --- writer ------------------------------------------------------------

  async #writeLoop(): Promise<void> {
    const replayBackoff = new Backoff(this.#retry);
    // A writer error is retried after the longest retry delay, every time.
    const errorBackoff = new Backoff({
      initialMs: this.#retryMaxDelayMs,
      maxMs: this.#retryMaxDelayMs,
      factor: 1,
      jitter: 0,
    });
    for (;;) {
      try {
        const replayDue = !this.#spoolEmpty && !this.#stopping;
        if (this.#queue.length > 0 && !replayDue) {
          if (this.#writer.full) {
            await this.#writer.whenFree();
            continue;
          }
          const batch = this.#queue.shift()!;
          this.#queuedTicks -= batch.length;
          this.#startWrite(batch);
        } else if (replayDue) {
          // The spool holds what came after the batches in flight: they finish first.
          if (!this.#writer.idle) {
            await this.#writer.whenIdle();
            continue;
          }
          // Older batches are in the spool: they go first, in order.
          if (await this.#replayOne()) replayBackoff.reset();
          else await sleep(replayBackoff.next(), this.#abort.signal);
        } else if (this.#stopping) {
          await this.#writer.whenIdle();
          this.#channel.drain();
          this.#batcher.seal();
          if (this.#queue.length > 0) continue;
          this.#stopped = true;
          return;
        } else {
          await new Promise<void>((resolve) => (this.#wake = resolve));
        }
      } catch (error) {
        this.#logger.error({ err: error }, 'market-data: writer error; retrying');
        this.#metrics?.errors.inc({ component: 'market-data' });
        await sleep(errorBackoff.next(), this.#abort.signal);
      } finally {
        this.#progressed();
      }
    }
  }

  /** Hands `batch` to a free writer; when the database refuses it, it goes to the spool. */
  #startWrite(batch: Tick[]): void {
    const inFlight: InFlight = { ticks: batch, copy: undefined, stored: false };
    this.#inFlight.add(inFlight);
    // The batch is durable once stored, or once its copy is on disk (or in the database).
    this.#writer.write(batch, (stored) => {
      try {
        return stored ? this.#stored(inFlight) : this.#notStored(inFlight);
      } finally {
        this.#inFlight.delete(inFlight);
        this.#updateBufferGauge();
      }
    });
  }

  #stored(inFlight: InFlight): undefined {
    inFlight.stored = true;
    const copy = inFlight.copy;
    // Its copy is not needed, unless it is being appended right now.
    if (copy && !(this.#diskHeadBusy && this.#diskQueue[0] === copy)) this.#offDisk(copy);
    return undefined;
  }

  /** The insert failed after its retries: resolves with what settles once the batch is kept. */
  #notStored(inFlight: InFlight): Promise<void> | undefined {
    this.#metrics?.batchesFailed.inc();
    this.#metrics?.errors.inc({ component: 'database' });
    this.#logger.error(
      { ticks: inFlight.ticks.length },
      'market-data: batch insert failed after retries; batch goes to the spool',
    );
    // The batches in flight go first, then everything queued after them;
    // the next batch commits once this one is on disk.
    this.#spillQueue();
    return inFlight.copy?.settled;
  }

  #progressed(): void {
    for (const resolve of this.#progressWaiters.splice(0)) resolve();
  }

  #wakeWriter(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #nextProgress(): Promise<void> {
    return new Promise((resolve) => this.#progressWaiters.push(resolve));
  }

  /**
   * Replays the oldest batch not stored: from the spool on disk, or, when
   * the disk holds none, the head of the disk queue straight from memory
   * (a full disk need not hold ticks up once the database answers).
   * False when the database refused it.
   */
  async #replayOne(): Promise<boolean> {
    const ticks = await this.#spool.next();
    if (ticks) {
      if (!(await this.#writer.insert(ticks))) {
        this.#metrics?.batchRetries.inc();
        return false;
      }
      await this.#spool.ack();
      this.#updateSpoolGauge();
      this.#replayed += ticks.length;
      if (this.#spool.isEmpty)
        this.#logger.info({ replayed: this.#replayed }, 'market-data: spool replayed');
      return true;
    }
    const head = this.#diskQueue[0];
    if (!head) {
      await this.#spool.settled();
      return true;
    }
    if (this.#diskHeadBusy) {
      // Being appended: it is read back from the disk next.
      await this.#nextProgress();
      return true;
    }
    this.#diskHeadBusy = true;
    let stored = false;
    try {
      stored = await this.#writer.insert(head.ticks);
    } finally {
      this.#diskHeadBusy = false;
    }
    if (!stored) {
      this.#metrics?.batchRetries.inc();
      this.#progressed();
      return false;
    }
    this.#offDisk(head);
    return true;
  }
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new ConfigError(name, value, 'a positive number');
  }
  return value;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new ConfigError(name, value, 'a positive integer');
  }
  return value;
}

function nonNegative(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new ConfigError(name, value, 'a non-negative integer');
  }
  return value;
}
