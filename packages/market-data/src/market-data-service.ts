import { ConfigError, silentLogger, type Logger, type Tick } from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import { lostRanges, type LostTickRange } from './lost-ranges.js';
import type { InsertTicksResult, TickWriter } from './tick-repository.js';
import { TickSpool } from './tick-spool.js';

/** What the service needs of a cache: {@link TickCache} has it. */
export interface TickCacheWriter {
  add(ticks: readonly Tick[]): void;
  flush?(): Promise<void>;
}

/** Options of {@link MarketDataService.start}. */
export interface MarketDataServiceOptions {
  /** Where batches go: a {@link TickRepository}. */
  repository: TickWriter;
  /** Updated with every tick as it leaves the channel, before the database has it. */
  cache?: TickCacheWriter;
  metrics?: TradingMetrics;
  logger?: Logger;
  /** Directory of the durable spool (the app passes `DATA_DIR`/spool). Created if missing. */
  spoolDir: string;
  /** Slots of the tick channel. Default 10,000. */
  channelCapacity?: number;
  /** A batch is written when it holds this many ticks... Default 5,000. */
  batchSize?: number;
  /** ...or when its oldest tick has waited this long. Default 250 ms. */
  flushIntervalMs?: number;
  /**
   * Batches written side by side, each on its own connection; they still
   * commit in order (see {@link InsertTicksOptions.commitAfter}), so what is
   * stored is always everything up to some batch. Two use both cores of a
   * PostgreSQL server (about 1.6x one); keep 1 on PGlite, which has a
   * single connection. Default 1.
   */
  writers?: number;
  /** Retries of a failed batch insert before the batch goes to the spool. Default 3. */
  maxRetries?: number;
  /** First retry delay; doubles each retry, with jitter. Default 100 ms. */
  retryBaseDelayMs?: number;
  /** Ceiling of the retry delay, also between spool replay attempts. Default 5,000 ms. */
  retryMaxDelayMs?: number;
  /**
   * Ticks held in memory awaiting the database; beyond it, batches go to the
   * spool. As many again may wait for the disk (slow, full or failing)
   * before the channel stops draining, so the ticks the service holds stay
   * within `channelCapacity + 2 × (maxBufferedTicks + batchSize)` whatever
   * the database and the disk do. Default 100,000.
   */
  maxBufferedTicks?: number;
  /**
   * How long an insert attempt may wait on the library's side: passed to
   * the repository as `InsertTicksOptions.signal`, firing this long
   * after the attempt started. An insert still waiting then for the batch
   * before it to commit (`writers` > 1) rolls back, gives its connection
   * back, and counts as a failed attempt. The statements themselves are not
   * timed here: the driver ends them (the pg pool's `statement_timeout` and
   * `query_timeout`, see `createPostgresDb`), so set this above
   * those. Default 30,000 ms.
   */
  insertTimeoutMs?: number;
  /** Size at which a spool segment file is closed and a new one started. Default 8 MiB. */
  spoolSegmentBytes?: number;
  /** `rejected.jsonl` is rotated before it would grow past this size. Default 16 MiB. */
  rejectedFileBytes?: number;
  /** Rotated `rejected.<n>.jsonl` files kept; older ones are deleted. Default 3. */
  rejectedFilesKept?: number;
}

/** Counters of a service since it started. */
export interface MarketDataServiceStats {
  /** Ticks accepted by {@link MarketDataService.offer}. */
  readonly accepted: number;
  /** Rows written to the database. */
  readonly stored: number;
  /** Ticks the database already held. */
  readonly duplicates: number;
  /** Ticks refused as invalid (kept in `rejected.jsonl` in the spool directory). */
  readonly rejected: number;
  /** Ticks written to the spool. */
  readonly spooled: number;
  /** Ticks replayed from the spool into the database. */
  readonly replayed: number;
  /** Ticks in the channel now. */
  readonly channel: number;
  /** Ticks in memory awaiting the database now. */
  readonly buffered: number;
  /** Spool segment files not yet replayed. */
  readonly spoolSegments: number;
  /** Ticks in the spool now, those left by an earlier run included. */
  readonly spoolTicks: number;
  /** Spool appends that failed (a full or failing disk); each was retried. */
  readonly spoolAppendFailures: number;
  /** Damaged spool records met on replay, copied to the quarantine. */
  readonly corruptRecords: number;
  /** Ticks neither stored nor spooled at stop (0 until then). */
  readonly lostTicks: number;
  /** Those ticks, per symbol and run of trade ids (empty until stop). */
  readonly lost: readonly LostTickRange[];
}

/** What {@link MarketDataService.health} says: for the app's `/ready`. */
export interface MarketDataHealth {
  /**
   * Neither the database nor the spool takes ticks: the bound of ticks
   * waiting for the disk is reached and the last append failed. The channel
   * has stopped draining, so `offer()` returns false once it is full and
   * the source should pause (the gap is backfilled later). Cleared as soon
   * as the database or the disk takes ticks again.
   */
  readonly blocked: boolean;
  /** Why it is blocked: the spool's and the database's last errors. */
  readonly reason?: string;
  /** When it became blocked, epoch milliseconds. */
  readonly since?: number;
  /** The last spool append's error while appends fail; absent when they work. */
  readonly spoolError?: string;
  /** The last insert's error while inserts fail; absent when they work. */
  readonly databaseError?: string;
}

/** What {@link MarketDataService.stop} resolves with. */
export interface MarketDataStopResult {
  /**
   * Ticks neither the database nor the spool took (both failing at stop),
   * per symbol and run of consecutive trade ids: fetch them again (REST
   * backfill) or report them. Empty when every tick was saved.
   */
  readonly lost: readonly LostTickRange[];
  /** Their number. */
  readonly lostTicks: number;
}

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
  /** Settles once the batch is on disk, in the database, or given up at stop. */
  readonly settled: Promise<void>;
  readonly settle: () => void;
}

// Ticks moved from the channel per event-loop turn, so I/O keeps its turn.
const PUMP_CHUNK = 4096;
// While the database or the disk keeps failing, a reminder is logged this often.
const OUTAGE_REMINDER_MS = 60_000;
// Lost ranges listed in the log line at stop (all of them are in the result).
const LOGGED_RANGES = 50;

/**
 * Takes ticks from any source and stores every one: a bounded channel, a
 * batcher (N ticks or T ms), one insert in flight per writer (commits kept
 * in order), retries with exponential backoff, and a durable spool for what
 * the database will not take now.
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
 * - {@link stop} drains the channel and puts every tick in the database
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
 * const { lost } = await service.stop();
 * if (lost.length > 0) process.exitCode = 1; // and say which ranges
 * ```
 */
export class MarketDataService {
  readonly #repository: TickWriter;
  readonly #cache: TickCacheWriter | undefined;
  readonly #metrics: TradingMetrics | undefined;
  readonly #logger: Logger;
  readonly #spool: TickSpool;
  readonly #channelCapacity: number;
  readonly #batchSize: number;
  readonly #flushIntervalMs: number;
  readonly #writers: number;
  readonly #maxRetries: number;
  readonly #retryBaseDelayMs: number;
  readonly #retryMaxDelayMs: number;
  readonly #maxBufferedTicks: number;
  readonly #insertTimeoutMs: number;

  readonly #channel: Tick[] = [];
  #channelHead = 0;
  #pumpScheduled = false;
  #writableWaiters: (() => void)[] = [];

  #current: Tick[] = [];
  #flushTimer: NodeJS.Timeout | undefined;
  readonly #queue: Tick[][] = [];
  #queuedTicks = 0;
  /** Batches from memory being inserted, up to one per writer. */
  readonly #inFlight = new Set<InFlight>();
  /** Inserts of batches from memory under way. */
  readonly #writes = new Set<Promise<void>>();
  /** Settles once the latest batch given to a writer is stored or spooled. */
  #lastDurable: Promise<void> = Promise.resolve();

  /** Batches bound for the spool, oldest first; the head is appended (or inserted) first. */
  readonly #diskQueue: DiskEntry[] = [];
  #diskQueuedTicks = 0;
  /** The loop appending {@link #diskQueue}, while it runs. */
  #diskRun: Promise<void> | undefined;
  /** The head of {@link #diskQueue} is being appended or inserted: nobody else takes it. */
  #diskHeadBusy = false;
  /** Batches given up at stop: lost unless their in-flight original was stored. */
  readonly #givenUp: DiskEntry[] = [];
  /** An insert failed during stop: the last chances at stop go to the disk only. */
  #databaseFailedAtStop = false;

  readonly #spoolOutage = new Outage();
  readonly #databaseOutage = new Outage();
  #blockedSince: number | undefined;

  #wake: (() => void) | undefined;
  #progressWaiters: (() => void)[] = [];
  #writer: Promise<void> | undefined;
  readonly #abort = new AbortController();
  #stopping = false;
  #stopped = false;
  #stopPromise: Promise<MarketDataStopResult> | undefined;

  #accepted = 0;
  #stored = 0;
  #duplicates = 0;
  #rejected = 0;
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
    this.#repository = options.repository;
    this.#cache = options.cache;
    this.#metrics = options.metrics;
    this.#logger = options.logger ?? silentLogger;
    this.#spool = spool;
    this.#channelCapacity = positive(options.channelCapacity ?? 10_000, 'channelCapacity');
    this.#batchSize = positive(options.batchSize ?? 5_000, 'batchSize');
    this.#flushIntervalMs = positive(options.flushIntervalMs ?? 250, 'flushIntervalMs');
    this.#writers = positiveInteger(options.writers ?? 1, 'writers');
    this.#maxRetries = nonNegative(options.maxRetries ?? 3, 'maxRetries');
    this.#retryBaseDelayMs = positive(options.retryBaseDelayMs ?? 100, 'retryBaseDelayMs');
    this.#retryMaxDelayMs = positive(options.retryMaxDelayMs ?? 5_000, 'retryMaxDelayMs');
    this.#maxBufferedTicks = positive(options.maxBufferedTicks ?? 100_000, 'maxBufferedTicks');
    this.#insertTimeoutMs = positive(options.insertTimeoutMs ?? 30_000, 'insertTimeoutMs');
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
    service.#updateChannelGauges();
    service.#updateBufferGauge();
    service.#updateSpoolGauge();
    service.#writer = service.#writeLoop();
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
    if (this.#stopped || this.#channelLength >= this.#channelCapacity) return false;
    this.#channel.push(tick);
    this.#accepted += 1;
    this.#updateChannelGauges();
    this.#schedulePump();
    return true;
  }

  /** Resolves when the channel has room again (at once when it has). */
  whenWritable(): Promise<void> {
    if (this.#channelLength < this.#channelCapacity || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => this.#writableWaiters.push(resolve));
  }

  /**
   * Offers every tick of `source`, waiting for room when the channel is
   * full. Resolves when the source ends, or once {@link stop} is called (a
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
   * ticks again, or {@link stop}.
   */
  async flush(): Promise<void> {
    if (this.#stopped) return;
    this.#drainChannel();
    this.#seal();
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
   * Stop the sources first: a tick offered after `stop()` resolves is refused.
   *
   * Batches still waiting for a failing disk get one more append each (and
   * one insert, until an insert fails); what neither takes is lost, and the
   * result says which ticks: exit non-zero and backfill them.
   *
   * @example
   * ```ts
   * const { lost, lostTicks } = await service.stop();
   * for (const { symbol, fromId, toId } of lost) console.error(`lost ${symbol} ${fromId}-${toId}`);
   * process.exitCode = lostTicks > 0 ? 1 : 0;
   * ```
   */
  stop(): Promise<MarketDataStopResult> {
    this.#stopPromise ??= this.#shutdown();
    return this.#stopPromise;
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
    const databaseError = this.#databaseOutage.message;
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
      stored: this.#stored,
      duplicates: this.#duplicates,
      rejected: this.#rejected,
      spooled: this.#spooled,
      replayed: this.#replayed,
      channel: this.#channelLength,
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
    await this.#writer;
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
          databaseError: this.#databaseOutage.message,
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
    for (const resolve of this.#writableWaiters.splice(0)) resolve();
    this.#updateBlocked();
    this.#updateChannelGauges();
    this.#updateBufferGauge();
    this.#logger.info(
      {
        stored: this.#stored,
        spooled: this.#spooled,
        spoolSegments: this.#spool.segmentCount,
        lostTicks: this.#lostTicks,
      },
      'market-data: stopped',
    );
    return { lost: this.#lost, lostTicks: this.#lostTicks };
  }

  // --- channel -----------------------------------------------------------

  get #channelLength(): number {
    return this.#channel.length - this.#channelHead;
  }

  #schedulePump(): void {
    if (this.#pumpScheduled || this.#diskBehind) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      if (this.#diskBehind) return;
      // No more than the disk bound has room for: a whole chunk taken just
      // under it would all go to the spool at once, past the bound.
      this.#pump(Math.min(PUMP_CHUNK, this.#maxBufferedTicks - this.#diskQueuedTicks));
      if (this.#channelLength > 0) this.#schedulePump();
    });
  }

  /**
   * A whole bound's worth of ticks waits for the disk: the channel stops
   * draining until the spool (or the database) takes them, so memory stays
   * bounded even then (the channel fills and `offer` says so).
   */
  get #diskBehind(): boolean {
    return this.#diskQueuedTicks >= this.#maxBufferedTicks;
  }

  #drainChannel(): void {
    while (this.#channelLength > 0) this.#pump(PUMP_CHUNK);
  }

  /** Moves up to `max` ticks from the channel to the cache and the batcher. */
  #pump(max: number): void {
    const n = Math.min(this.#channelLength, max);
    if (n === 0) return;
    const chunk = this.#channel.slice(this.#channelHead, this.#channelHead + n);
    this.#channelHead += n;
    if (this.#channelHead === this.#channel.length) {
      this.#channel.length = 0;
      this.#channelHead = 0;
    } else if (this.#channelHead >= 4096) {
      this.#channel.splice(0, this.#channelHead);
      this.#channelHead = 0;
    }
    this.#updateChannelGauges();
    try {
      this.#cache?.add(chunk);
    } catch (error) {
      this.#logger.error(
        { err: error },
        'market-data: cache update threw; ticks still go to the database',
      );
      this.#metrics?.errors.inc({ component: 'cache' });
    }
    this.#metrics?.ticksProcessed.inc(n);
    this.#addToBatch(chunk);
    for (const resolve of this.#writableWaiters.splice(0)) resolve();
  }

  #updateChannelGauges(): void {
    if (!this.#metrics) return;
    const length = this.#channelLength;
    this.#metrics.channelBufferSize.set(length);
    this.#metrics.channelUtilization.set((length / this.#channelCapacity) * 100);
  }

  // --- batcher -----------------------------------------------------------

  #addToBatch(ticks: readonly Tick[]): void {
    for (const tick of ticks) {
      this.#current.push(tick);
      if (this.#current.length >= this.#batchSize) this.#seal();
    }
    if (this.#current.length > 0 && !this.#flushTimer) {
      this.#flushTimer = setTimeout(() => this.#seal(), this.#flushIntervalMs);
    }
    this.#updateBufferGauge();
  }

  /** Closes the current batch and queues it: in memory, or in the spool when that must keep order or bound memory. */
  #seal(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#current.length === 0) return;
    const batch = this.#current;
    this.#current = [];
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
    if (this.#channelLength > 0) this.#schedulePump();
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
   * database (see {@link #replayOne}). At stop, each gets one last chance.
   */
  async #appendLoop(): Promise<void> {
    let failures = 0;
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
        failures = 0;
        this.#spooled += entry.ticks.length;
        this.#spoolRecovered();
        this.#updateSpoolGauge();
        this.#offDisk(entry);
        continue;
      }
      failures += 1;
      this.#spoolFailed(failure.error);
      if (this.#stopping) {
        if (!(await this.#insertAtStop(entry))) this.#givenUp.push(entry);
        this.#offDisk(entry);
        continue;
      }
      this.#progressed();
      await this.#sleep(this.#backoff(failures - 1));
    }
  }

  /** Stopping, the disk refused `entry`: one insert, unless one failed already during stop. */
  async #insertAtStop(entry: DiskEntry): Promise<boolean> {
    if (this.#databaseFailedAtStop) return false;
    if (await this.#attempt(entry.ticks)) return true;
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

  #databaseFailed(error: unknown, ticks: number): void {
    const report = this.#databaseOutage.fail(error);
    if (report) {
      this.#logger.warn(
        {
          err: error,
          ticks,
          failedInserts: report.failures,
          ...(report.first ? {} : { sinceMs: report.sinceMs }),
        },
        report.first
          ? 'market-data: the database does not take batches; retrying, meanwhile batches go to the spool'
          : 'market-data: the database still does not take batches',
      );
    } else {
      this.#logger.debug({ err: error, ticks }, 'market-data: batch insert failed');
    }
  }

  #databaseRecovered(): void {
    const ended = this.#databaseOutage.recover();
    if (ended) {
      this.#logger.info(
        { failedInserts: ended.failures, outageMs: ended.sinceMs },
        'market-data: the database takes batches again',
      );
    }
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
          databaseError: this.#databaseOutage.message,
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

  /** Ticks of batches from memory being inserted. */
  get #memoryInFlight(): number {
    let ticks = 0;
    for (const inFlight of this.#inFlight) ticks += inFlight.ticks.length;
    return ticks;
  }

  get #bufferedTicks(): number {
    let inFlight = 0;
    for (const f of this.#inFlight) if (!f.copy) inFlight += f.ticks.length;
    return this.#current.length + this.#queuedTicks + inFlight + this.#diskQueuedTicks;
  }

  #updateBufferGauge(): void {
    this.#metrics?.batchBufferSize.set(this.#bufferedTicks);
  }

  #updateSpoolGauge(): void {
    this.#metrics?.spoolTicks.set(this.#spool.tickCount);
  }

  // --- writer ------------------------------------------------------------

  async #writeLoop(): Promise<void> {
    let replayFailures = 0;
    for (;;) {
      try {
        const replayDue = !this.#spoolEmpty && !this.#stopping;
        if (this.#queue.length > 0 && !replayDue) {
          if (this.#writes.size >= this.#writers) {
            await Promise.race(this.#writes);
            continue;
          }
          const batch = this.#queue.shift()!;
          this.#queuedTicks -= batch.length;
          this.#startWrite(batch);
        } else if (replayDue) {
          // The spool holds what came after the batches in flight: they finish first.
          if (this.#writes.size > 0) {
            await Promise.all(this.#writes);
            continue;
          }
          // Older batches are in the spool: they go first, in order.
          replayFailures = (await this.#replayOne()) ? 0 : replayFailures + 1;
          if (replayFailures > 0) await this.#sleep(this.#backoff(replayFailures - 1));
        } else if (this.#stopping) {
          await Promise.all(this.#writes);
          this.#drainChannel();
          this.#seal();
          if (this.#queue.length > 0) continue;
          this.#stopped = true;
          return;
        } else {
          await new Promise<void>((resolve) => (this.#wake = resolve));
        }
      } catch (error) {
        this.#logger.error({ err: error }, 'market-data: writer error; retrying');
        this.#metrics?.errors.inc({ component: 'market-data' });
        await this.#sleep(this.#retryMaxDelayMs);
      } finally {
        this.#progressed();
      }
    }
  }

  /**
   * Hands `batch` to a writer. With several writers, its commit waits for
   * the batch before it to be stored or spooled: the database never holds
   * a batch without every batch before it.
   */
  #startWrite(batch: Tick[]): void {
    const previous = this.#lastDurable;
    let durable!: () => void;
    this.#lastDurable = new Promise<void>((resolve) => (durable = resolve));
    const written = this.#writeFromMemory(batch, this.#writers > 1 ? previous : undefined).catch(
      (error: unknown) => {
        this.#logger.error({ err: error }, 'market-data: writer error');
        this.#metrics?.errors.inc({ component: 'market-data' });
        return undefined;
      },
    );
    const write: Promise<void> = written
      .then(() => undefined)
      .finally(() => {
        this.#writes.delete(write);
        this.#progressed();
      });
    this.#writes.add(write);
    // Durable once stored, or once its copy is on disk (or in the database).
    void written.then((copy) => copy?.settled).then(durable, durable);
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

  /** Inserts a batch from memory; resolves with its copy bound for the spool when the insert failed. */
  async #writeFromMemory(
    batch: Tick[],
    commitAfter?: Promise<void>,
  ): Promise<DiskEntry | undefined> {
    const inFlight: InFlight = { ticks: batch, copy: undefined, stored: false };
    this.#inFlight.add(inFlight);
    try {
      if (await this.#insertWithRetries(batch, commitAfter)) {
        inFlight.stored = true;
        const copy = inFlight.copy;
        // Its copy is not needed, unless it is being appended right now.
        if (copy && !(this.#diskHeadBusy && this.#diskQueue[0] === copy)) this.#offDisk(copy);
        return undefined;
      }
      this.#metrics?.batchesFailed.inc();
      this.#metrics?.errors.inc({ component: 'database' });
      this.#logger.error(
        { ticks: batch.length },
        'market-data: batch insert failed after retries; batch goes to the spool',
      );
      // The batches in flight go first, then everything queued after them;
      // the next batch commits once this one is on disk.
      this.#spillQueue();
      return inFlight.copy;
    } finally {
      this.#inFlight.delete(inFlight);
      this.#updateBufferGauge();
    }
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
      if (!(await this.#attempt(ticks))) {
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
      stored = await this.#attempt(head.ticks);
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

  async #insertWithRetries(
    ticks: readonly Tick[],
    commitAfter: Promise<void> | undefined,
  ): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      if (await this.#attempt(ticks, commitAfter)) return true;
      if (attempt >= this.#maxRetries || this.#abort.signal.aborted) return false;
      this.#metrics?.batchRetries.inc();
      await this.#sleep(this.#backoff(attempt));
    }
  }

  /**
   * One insert; true when the database took the batch. The attempt lasts
   * as long as the driver lets it: the pool's timeouts end a statement and
   * give its connection back, and the signal ends a wait for the batch
   * before it. Racing a timer instead would leave the insert holding its
   * connection (and its transaction) while the retry takes another.
   */
  async #attempt(ticks: readonly Tick[], commitAfter?: Promise<void>): Promise<boolean> {
    const started = performance.now();
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new Error(`insert still waiting after ${this.#insertTimeoutMs} ms`)),
      this.#insertTimeoutMs,
    );
    try {
      const result = await this.#repository.insertTicks(ticks, {
        commitAfter,
        signal: deadline.signal,
      });
      this.#metrics?.batchInsertDuration.observe((performance.now() - started) / 1000);
      this.#metrics?.batchesFlushed.inc();
      this.#databaseRecovered();
      await this.#record(result);
      return true;
    } catch (error) {
      this.#databaseFailed(error, ticks.length);
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async #record(result: InsertTicksResult): Promise<void> {
    this.#stored += result.inserted;
    this.#duplicates += result.duplicates;
    if (result.rejected.length === 0) return;
    this.#rejected += result.rejected.length;
    // The exchange's rejects (trading_ticks_rejected_total) are frames that
    // never became ticks; these are ticks the database would not store.
    this.#metrics?.ticksRefused.inc(result.rejected.length);
    this.#logger.warn(
      { count: result.rejected.length, first: result.rejected[0]?.reason },
      'market-data: ticks refused by the database; kept in rejected.jsonl',
    );
    try {
      await this.#spool.appendRejected(result.rejected);
    } catch (error) {
      this.#logger.error(
        { err: error, rejected: result.rejected },
        'market-data: cannot record refused ticks',
      );
      this.#metrics?.errors.inc({ component: 'market-data' });
    }
  }

  #backoff(attempt: number): number {
    const ceiling = Math.min(this.#retryMaxDelayMs, this.#retryBaseDelayMs * 2 ** attempt);
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  #sleep(ms: number): Promise<void> {
    const signal = this.#abort.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done);
    });
  }
}

/**
 * Failures of one dependency (the disk, the database) since it last
 * worked: what to log when, so an outage gives a line when it starts,
 * one every {@link OUTAGE_REMINDER_MS} while it lasts, and one when it
 * ends, whatever the number of attempts.
 */
class Outage {
  #since: number | undefined;
  #failures = 0;
  #lastReport = 0;
  #message: string | undefined;

  get failing(): boolean {
    return this.#since !== undefined;
  }

  /** The last error's message while failing. */
  get message(): string | undefined {
    return this.#message;
  }

  /** Notes a failure; says whether (and how) to log it. */
  fail(error: unknown): { first: boolean; failures: number; sinceMs: number } | undefined {
    const now = Date.now();
    this.#failures += 1;
    this.#message = error instanceof Error ? error.message : String(error);
    const first = this.#since === undefined;
    this.#since ??= now;
    if (!first && now - this.#lastReport < OUTAGE_REMINDER_MS) return undefined;
    this.#lastReport = now;
    return { first, failures: this.#failures, sinceMs: now - this.#since };
  }

  /** Notes a success; says how long the outage lasted when one ends. */
  recover(): { failures: number; sinceMs: number } | undefined {
    if (this.#since === undefined) return undefined;
    const ended = { failures: this.#failures, sinceMs: Date.now() - this.#since };
    this.#since = undefined;
    this.#failures = 0;
    this.#message = undefined;
    return ended;
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
