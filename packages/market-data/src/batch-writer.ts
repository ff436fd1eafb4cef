import { Backoff, type BackoffOptions, type Logger, type Tick } from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import { Outage } from './outage.js';
import { sleep } from './sleep.js';
import type { InsertTicksResult, RejectedTick, TickWriter } from './tick-repository.js';

/** Options of {@link BatchWriter}. */
export interface BatchWriterOptions {
  repository: TickWriter;
  logger: Logger;
  metrics?: TradingMetrics | undefined;
  /** Batches inserted side by side; they still commit in order. */
  writers: number;
  /** Retries of a failed insert before {@link BatchWriter.write} gives up on it. */
  maxRetries: number;
  /** The delays between those retries. */
  retry: BackoffOptions;
  /** How long one attempt may wait on the repository's side (its `signal`). */
  insertTimeoutMs: number;
  /** Once fired, retries stop waiting and a failed insert is given up at once. */
  signal: AbortSignal;
  /** Keeps the ticks the database refused (the spool's `rejected.jsonl`). */
  keepRejected: (rejected: readonly RejectedTick[]) => Promise<void>;
  /** Called each time a write handed over by {@link BatchWriter.write} ends. */
  onWriteDone: () => void;
}

/**
 * Writes batches to the repository: up to `writers` inserts at once, each
 * retried with {@link Backoff} and bounded by the insert timeout, committing
 * in the order they were handed over. Counts what the database stored, and
 * logs its outages when they start and end.
 *
 * @example
 * ```ts
 * const writer = new BatchWriter({ repository, logger, writers: 2, maxRetries: 3, retry, insertTimeoutMs: 30_000, signal, keepRejected, onWriteDone });
 * writer.write(batch, (stored) => (stored ? undefined : spool(batch)));
 * await writer.whenIdle();
 * ```
 */
export class BatchWriter {
  readonly #repository: TickWriter;
  readonly #logger: Logger;
  readonly #metrics: TradingMetrics | undefined;
  readonly #writers: number;
  readonly #maxRetries: number;
  readonly #retry: BackoffOptions;
  readonly #insertTimeoutMs: number;
  readonly #signal: AbortSignal;
  readonly #keepRejected: (rejected: readonly RejectedTick[]) => Promise<void>;
  readonly #onWriteDone: () => void;
  readonly #outage = new Outage();
  /** Writes under way. */
  readonly #writes = new Set<Promise<void>>();
  /** Settles once the latest batch handed over is durable (stored, or kept elsewhere). */
  #lastDurable: Promise<void> = Promise.resolve();
  #stored = 0;
  #duplicates = 0;
  #rejected = 0;

  constructor(options: BatchWriterOptions) {
    this.#repository = options.repository;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#writers = options.writers;
    this.#maxRetries = options.maxRetries;
    this.#retry = options.retry;
    this.#insertTimeoutMs = options.insertTimeoutMs;
    this.#signal = options.signal;
    this.#keepRejected = options.keepRejected;
    this.#onWriteDone = options.onWriteDone;
  }

  /** Rows written to the database. */
  get stored(): number {
    return this.#stored;
  }

  /** Ticks the database already held. */
  get duplicates(): number {
    return this.#duplicates;
  }

  /** Ticks the database refused. */
  get rejected(): number {
    return this.#rejected;
  }

  /** The last insert's error while inserts fail; `undefined` when they work. */
  get databaseError(): string | undefined {
    return this.#outage.message;
  }

  /** Every writer has a write under way. */
  get full(): boolean {
    return this.#writes.size >= this.#writers;
  }

  /** No write is under way. */
  get idle(): boolean {
    return this.#writes.size === 0;
  }

  /** Resolves when a write under way ends. */
  async whenFree(): Promise<void> {
    await Promise.race(this.#writes);
  }

  /** Resolves when every write under way has ended. */
  async whenIdle(): Promise<void> {
    await Promise.all(this.#writes);
  }

  /**
   * Inserts `batch` with retries on a free writer (check {@link full}
   * first). `settle` is told whether the database took it; when it did not,
   * `settle` keeps it elsewhere and returns what settles once it is kept.
   * With several writers, a batch commits only once the batch handed over
   * before it is durable: the database never holds a batch without every
   * batch before it.
   */
  write(batch: readonly Tick[], settle: (stored: boolean) => PromiseLike<void> | undefined): void {
    const previous = this.#lastDurable;
    let durable!: () => void;
    this.#lastDurable = new Promise<void>((resolve) => (durable = resolve));
    const written = this.#insertWithRetries(batch, this.#writers > 1 ? previous : undefined)
      .catch((error: unknown) => {
        this.#writerError(error);
        return false;
      })
      // Wrapped: the write ends now, not once the batch is kept elsewhere.
      .then((stored) => ({ kept: settle(stored) }))
      .catch((error: unknown) => {
        this.#writerError(error);
        return undefined;
      });
    const write: Promise<void> = written
      .then(() => undefined)
      .finally(() => {
        this.#writes.delete(write);
        this.#onWriteDone();
      });
    this.#writes.add(write);
    void written.then((result) => result?.kept).then(durable, durable);
  }

  /**
   * One insert, without retry; true when the database took the batch. The
   * attempt lasts as long as the driver lets it: the pool's timeouts end a
   * statement and give its connection back, and the signal ends a wait for
   * the batch before it. Racing a timer instead would leave the insert
   * holding its connection (and its transaction) while the retry takes
   * another.
   */
  async insert(ticks: readonly Tick[], commitAfter?: Promise<void>): Promise<boolean> {
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
      this.#recovered();
      await this.#record(result);
      return true;
    } catch (error) {
      this.#failed(error, ticks.length);
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async #insertWithRetries(
    ticks: readonly Tick[],
    commitAfter: Promise<void> | undefined,
  ): Promise<boolean> {
    const backoff = new Backoff(this.#retry);
    for (let attempt = 0; ; attempt++) {
      if (await this.insert(ticks, commitAfter)) return true;
      if (attempt >= this.#maxRetries || this.#signal.aborted) return false;
      this.#metrics?.batchRetries.inc();
      await sleep(backoff.next(), this.#signal);
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
      await this.#keepRejected(result.rejected);
    } catch (error) {
      this.#logger.error(
        { err: error, rejected: result.rejected },
        'market-data: cannot record refused ticks',
      );
      this.#metrics?.errors.inc({ component: 'market-data' });
    }
  }

  #failed(error: unknown, ticks: number): void {
    const report = this.#outage.fail(error);
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

  #recovered(): void {
    const ended = this.#outage.recover();
    if (ended) {
      this.#logger.info(
        { failedInserts: ended.failures, outageMs: ended.sinceMs },
        'market-data: the database takes batches again',
      );
    }
  }

  #writerError(error: unknown): void {
    this.#logger.error({ err: error }, 'market-data: writer error');
    this.#metrics?.errors.inc({ component: 'market-data' });
  }
}
