import { ConfigError, silentLogger, type Logger, type Tick } from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
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
   * spool. As many again may wait for the disk before the channel stops
   * draining. Default 100,000.
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
}

/** A batch from memory being inserted. */
interface InFlight {
  readonly ticks: Tick[];
  /** A copy already sits in the spool. */
  spooled: boolean;
}

// Ticks moved from the channel per event-loop turn, so I/O keeps its turn.
const PUMP_CHUNK = 4096;

/**
 * Takes ticks from any source and stores every one: a bounded channel, a
 * batcher (N ticks or T ms), one insert in flight per writer (commits kept
 * in order), retries with exponential backoff, and a durable spool for what
 * the database will not take now.
 *
 * - Reception never waits for the database: batches beyond
 *   `maxBufferedTicks`, and every batch while the spool holds anything,
 *   go to the spool, so memory stays bounded and order is kept.
 * - The spool is replayed in order as soon as the database answers,
 *   including batches left by an earlier run.
 * - {@link stop} drains the channel and puts every tick in the database
 *   or the spool before it resolves.
 *
 * Metrics kept: `trading_channel_buffer_size`,
 * `trading_channel_utilization_percent`, `trading_ticks_processed_total`
 * (ticks handed on from the channel), `trading_batch_buffer_size` (ticks
 * in memory awaiting the database), `trading_batch_insert_duration_seconds`
 * (successful inserts), `trading_batches_flushed_total`,
 * `trading_batch_retries_total`, `trading_batches_failed_total` (batches
 * that went to the spool after their retries), `trading_spool_ticks`,
 * `trading_ticks_refused_total` (ticks the database refused, kept in
 * `rejected.jsonl`).
 *
 * @example
 * ```ts
 * const service = await MarketDataService.start({ repository, cache, metrics, spoolDir });
 * void service.consume(binanceClient.ticks());
 * // on SIGTERM, once the source is closed:
 * await service.stop();
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
  #appendingTicks = 0;
  readonly #appends = new Set<Promise<void>>();

  #wake: (() => void) | undefined;
  #progressWaiters: (() => void)[] = [];
  #writer: Promise<void> | undefined;
  readonly #abort = new AbortController();
  #stopping = false;
  #stopped = false;
  #stopPromise: Promise<void> | undefined;

  #accepted = 0;
  #stored = 0;
  #duplicates = 0;
  #rejected = 0;
  #spooled = 0;
  #replayed = 0;
  /** Ticks neither the database nor the disk took at stop (both failing). */
  #lost = 0;

  private constructor(options: MarketDataServiceOptions, spool: TickSpool) {
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
    const spool = await TickSpool.open(options.spoolDir, {
      logger: options.logger,
      ...(options.spoolSegmentBytes ? { segmentBytes: options.spoolSegmentBytes } : {}),
      rejectedFileBytes: options.rejectedFileBytes,
      rejectedFilesKept: options.rejectedFilesKept,
    });
    const service = new MarketDataService(options, spool);
    if (!spool.isEmpty) {
      service.#logger.info(
        { spoolDir: options.spoolDir, segments: spool.segmentCount },
        'market-data: replaying the spool left by an earlier run',
      );
    }
    service.#updateChannelGauges();
    service.#updateBufferGauge();
    service.#updateSpoolGauge();
    service.#writer = service.#writeLoop();
    return service;
  }

  /**
   * Hands one tick over without waiting. Returns `false` when the channel is
   * full (the caller keeps the tick; {@link whenWritable} says when to offer
   * again) or the service has stopped. Only the CPU can fill the channel: a
   * slow database never does.
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
   * under way), and the cache has been flushed.
   */
  async flush(): Promise<void> {
    if (this.#stopped) return;
    this.#drainChannel();
    this.#seal();
    while (!this.#stopped && (this.#queue.length > 0 || this.#memoryInFlight > 0)) {
      await this.#nextProgress();
    }
    await Promise.all(this.#appends);
    await this.#cache?.flush?.();
  }

  /**
   * Stops taking ticks, drains the channel, and resolves once every tick is
   * in the database or the spool; the spool is left for the next start.
   * Stop the sources first: a tick offered after `stop()` resolves is refused.
   */
  stop(): Promise<void> {
    this.#stopPromise ??= this.#shutdown();
    return this.#stopPromise;
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
    };
  }

  async #shutdown(): Promise<void> {
    this.#stopping = true;
    // Retries stop waiting: a batch the database refuses now goes to the spool.
    this.#abort.abort();
    this.#wakeWriter();
    await this.#writer;
    await Promise.all(this.#appends);
    if (this.#lost > 0) {
      this.#logger.error(
        { ticks: this.#lost },
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
    this.#updateChannelGauges();
    this.#updateBufferGauge();
    this.#logger.info(
      { stored: this.#stored, spooled: this.#spooled, spoolSegments: this.#spool.segmentCount },
      'market-data: stopped',
    );
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
      this.#pump(Math.min(PUMP_CHUNK, this.#maxBufferedTicks - this.#appendingTicks));
      if (this.#channelLength > 0) this.#schedulePump();
    });
  }

  /**
   * A whole bound's worth of ticks waits for the disk: the channel stops
   * draining until the spool catches up, so memory stays bounded even then
   * (the channel fills and `offer` says so).
   */
  get #diskBehind(): boolean {
    return this.#appendingTicks >= this.#maxBufferedTicks;
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
    if (!this.#spool.isEmpty || inMemory > this.#maxBufferedTicks) this.#spillQueue();
    this.#updateBufferGauge();
    this.#wakeWriter();
  }

  /**
   * Sends the batches in flight (copies: their inserts go on) and every
   * queued batch to the spool, in order. A copy stored twice is stored once.
   */
  #spillQueue(): void {
    for (const inFlight of this.#inFlight) {
      if (!inFlight.spooled) {
        inFlight.spooled = true;
        this.#appendToSpool(inFlight.ticks);
      }
    }
    for (const batch of this.#queue.splice(0)) this.#appendToSpool(batch);
    this.#queuedTicks = 0;
  }

  #appendToSpool(batch: Tick[]): void {
    this.#appendingTicks += batch.length;
    const append = this.#spool
      .append(batch)
      .then(
        () => {
          this.#spooled += batch.length;
          this.#updateSpoolGauge();
        },
        (error: unknown) => {
          this.#metrics?.errors.inc({ component: 'market-data' });
          if (this.#stopping) {
            // Neither the database nor the disk takes it, and we are leaving.
            this.#lost += batch.length;
            this.#logger.error(
              { err: error, ticks: batch.length, first: batch[0], last: batch.at(-1) },
              'market-data: spool append failed at stop; batch lost',
            );
            return;
          }
          // The disk refused: keep the batch in memory rather than lose it.
          this.#logger.error(
            { err: error, ticks: batch.length },
            'market-data: spool append failed; batch kept in memory',
          );
          this.#queue.push(batch);
          this.#queuedTicks += batch.length;
        },
      )
      .finally(() => {
        this.#appendingTicks -= batch.length;
        this.#appends.delete(append);
        this.#updateBufferGauge();
        this.#wakeWriter();
        if (this.#channelLength > 0) this.#schedulePump();
      });
    this.#appends.add(append);
  }

  /** Ticks of batches from memory being inserted. */
  get #memoryInFlight(): number {
    let ticks = 0;
    for (const inFlight of this.#inFlight) ticks += inFlight.ticks.length;
    return ticks;
  }

  get #bufferedTicks(): number {
    let inFlight = 0;
    for (const f of this.#inFlight) if (!f.spooled) inFlight += f.ticks.length;
    return this.#current.length + this.#queuedTicks + inFlight + this.#appendingTicks;
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
        const replayDue = !this.#spool.isEmpty && !this.#stopping;
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
    const write: Promise<void> = this.#writeFromMemory(
      batch,
      this.#writers > 1 ? previous : undefined,
    )
      .catch((error: unknown) => {
        this.#logger.error({ err: error }, 'market-data: writer error');
        this.#metrics?.errors.inc({ component: 'market-data' });
      })
      .finally(() => {
        durable();
        this.#writes.delete(write);
        this.#progressed();
      });
    this.#writes.add(write);
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

  async #writeFromMemory(batch: Tick[], commitAfter?: Promise<void>): Promise<void> {
    const inFlight: InFlight = { ticks: batch, spooled: false };
    this.#inFlight.add(inFlight);
    try {
      if (await this.#insertWithRetries(batch, commitAfter)) return;
      this.#metrics?.batchesFailed.inc();
      this.#metrics?.errors.inc({ component: 'database' });
      this.#logger.error(
        { ticks: batch.length },
        'market-data: batch insert failed after retries; batch goes to the spool',
      );
      // The batches in flight go first, then everything queued after them;
      // the next batch commits once this one is on disk.
      this.#spillQueue();
      await Promise.all(this.#appends);
    } finally {
      this.#inFlight.delete(inFlight);
      this.#updateBufferGauge();
    }
  }

  /** Replays the oldest spooled batch; false when the database refused it. */
  async #replayOne(): Promise<boolean> {
    const ticks = await this.#spool.next();
    if (!ticks) {
      await this.#spool.settled();
      return true;
    }
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
      await this.#record(result);
      return true;
    } catch (error) {
      this.#logger.warn({ err: error, ticks: ticks.length }, 'market-data: batch insert failed');
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
