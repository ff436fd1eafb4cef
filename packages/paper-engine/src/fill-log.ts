import {
  Backoff,
  TradeError,
  silentLogger,
  type BackoffOptions,
  type Logger,
  type PaperFill,
  type PaperFillWriter,
} from '@trade/core';

/** A fill the writer would not store (the database refused it), and why. */
export interface RefusedFill {
  readonly fill: PaperFill;
  readonly reason: string;
}

/**
 * What a fill writer's `write` may resolve with. Fills in `refused` were
 * not stored and never will be: they are counted, logged with their
 * content, and dropped instead of retried. Resolving with nothing (as
 * `PaperFillWriter` of `@trade/core` does) means every fill was stored.
 * The market-data `PaperTradeRepository` resolves with `{ written, refused }`.
 */
export interface FillWriteOutcome {
  readonly refused?: readonly RefusedFill[];
}

/**
 * A `PaperFillWriter` (`@trade/core`) whose `write` may also tell which
 * fills it refused; every `PaperFillWriter` is one.
 *
 * @example
 * ```ts
 * const writer: FillWriter = {
 *   async write(fills) {
 *     const bad = fills.filter((f) => !fits(f));
 *     await store(fills.filter((f) => fits(f)));
 *     return { refused: bad.map((fill) => ({ fill, reason: 'price over the column limit' })) };
 *   },
 * };
 * ```
 */
export interface FillWriter {
  write(fills: readonly PaperFill[]): Promise<FillWriteOutcome | void>;
}

/** Options of {@link FillLog}. */
export interface FillLogOptions {
  writer: FillWriter | PaperFillWriter;
  /** Write as soon as this many fills are buffered. Default 100. */
  maxBatch?: number;
  /** Write buffered fills at most this long after the first of them arrived. Default 1000 ms. */
  maxDelayMs?: number;
  logger?: Logger;
  /** Called when a background write fails (the fills stay buffered and are retried). */
  onWriteError?: (error: unknown) => void;
  /**
   * Delays before retrying a failed write, growing while the writer keeps
   * failing and back to the first once a write succeeds. Default
   * `{ initialMs: maxDelayMs, maxMs: 30_000 }` with `Backoff`'s jitter (0.5).
   */
  retry?: BackoffOptions;
  /**
   * Most fills kept while the writer fails; past it the oldest are dropped
   * (counted through {@link FillLogOptions.onDrop}), so an outage cannot exhaust memory.
   * Default 10,000.
   */
  maxPending?: number;
  /** Called with the number of fills dropped past {@link FillLogOptions.maxPending}. */
  onDrop?: (count: number) => void;
  /**
   * Called once with the fills a write refused (see {@link FillWriteOutcome}):
   * they are dropped, not retried, and the fills after them go on.
   */
  onRefused?: (refused: readonly RefusedFill[]) => void;
}

/**
 * Buffers fills and hands them to a {@link FillWriter} in batches: when
 * `maxBatch` are waiting, `maxDelayMs` after the first one, and on
 * {@link FillLog.flush}. `add` never waits; one write runs at a time, in
 * order. A failed write keeps its fills at the front of the buffer and is
 * retried after a growing delay (`retry`); until a write succeeds, a full
 * batch does not start one sooner. Only past `maxPending` fills are the
 * oldest dropped, and counted. Fills the writer reports as refused (the database will never
 * take them) are logged with their content, counted and dropped, so one bad
 * fill does not hold up the ones after it.
 */
export class FillLog {
  private buffer: PaperFill[] = [];
  private tail: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly writer: FillWriter;
  private readonly maxBatch: number;
  private readonly maxDelayMs: number;
  private readonly logger: Logger;
  private readonly onWriteError: ((error: unknown) => void) | undefined;
  private readonly maxPending: number;
  private readonly onDrop: ((count: number) => void) | undefined;
  private readonly onRefused: ((refused: readonly RefusedFill[]) => void) | undefined;
  private readonly backoff: Backoff;
  /** The last write failed: retries follow {@link backoff}, not the batch bound. */
  private failing = false;
  private written = 0;
  private dropped = 0;
  private refused = 0;
  /** Fills dropped since the writer last succeeded: reported once it does. */
  private droppedInOutage = 0;
  /** A write is queued by the batch bound and has not started: no need to queue another. */
  private queued = false;

  constructor(options: FillLogOptions) {
    this.writer = options.writer;
    this.maxBatch = Math.max(1, Math.floor(options.maxBatch ?? 100));
    this.maxDelayMs = Math.max(0, options.maxDelayMs ?? 1000);
    this.logger = options.logger ?? silentLogger;
    this.onWriteError = options.onWriteError;
    this.maxPending = Math.max(1, Math.floor(options.maxPending ?? 10_000));
    this.onDrop = options.onDrop;
    this.onRefused = options.onRefused;
    this.backoff = new Backoff({
      initialMs: this.maxDelayMs,
      maxMs: Math.max(this.maxDelayMs, 30_000),
      ...options.retry,
    });
  }

  /** Fills buffered and not yet written. */
  get pending(): number {
    return this.buffer.length;
  }

  /** Fills the writer has accepted. */
  get writtenCount(): number {
    return this.written;
  }

  /** Fills dropped because more than `maxPending` waited for a failing writer. */
  get droppedCount(): number {
    return this.dropped;
  }

  /** Fills the writer refused, dropped without retry. */
  get refusedCount(): number {
    return this.refused;
  }

  /** Buffers `fill`; starts a write when the batch is full. Never waits. */
  add(fill: PaperFill): void {
    this.buffer.push(fill);
    // Bounded only while the writer fails: a writer that is merely busy loses nothing.
    if (this.failing) this.enforceBound();
    if (this.buffer.length >= this.maxBatch && !this.failing) {
      if (this.queued) return;
      this.queued = true;
      void this.drain().catch(() => undefined);
    } else {
      this.arm();
    }
  }

  /**
   * Writes every buffered fill and resolves once the writer has them all.
   * Rejects with a {@link TradeError} (fills kept) when the writer fails.
   */
  async flush(): Promise<void> {
    await this.drain();
  }

  /** Flushes, then stops the delay timer. */
  async close(): Promise<void> {
    try {
      await this.drain();
    } finally {
      this.disarm();
    }
  }

  private drain(): Promise<void> {
    this.disarm();
    const run = this.tail.then(() => this.writeAll());
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async writeAll(): Promise<void> {
    this.queued = false;
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.maxBatch);
      let outcome: FillWriteOutcome | void;
      try {
        outcome = await this.writer.write(batch);
      } catch (error) {
        this.buffer = batch.concat(this.buffer);
        this.enforceBound();
        this.failing = true;
        const retryInMs = this.backoff.next();
        this.logger.error(
          { err: error, fills: batch.length, pending: this.buffer.length, retryInMs },
          'paper fills could not be written; kept for the next attempt',
        );
        this.onWriteError?.(error);
        this.retryIn(retryInMs);
        throw new TradeError(`writing ${batch.length} paper fill(s) failed`, {
          cause: error,
          isRetryable: true,
        });
      }
      this.failing = false;
      this.backoff.reset();
      const refused = refusedIn(outcome);
      this.written += batch.length - refused.length;
      if (refused.length > 0) this.setAside(refused);
      if (this.droppedInOutage > 0) {
        this.logger.warn(
          { dropped: this.droppedInOutage },
          'paper fills are written again; fills dropped while the writer failed',
        );
        this.droppedInOutage = 0;
      }
    }
  }

  /** Fills the writer will never take: logged with their content and counted, once. */
  private setAside(refused: readonly RefusedFill[]): void {
    this.refused += refused.length;
    this.logger.error(
      { refused: refused.map(({ fill, reason }) => ({ reason, fill })) },
      'paper fills refused by the writer; set aside, not retried',
    );
    this.onRefused?.(refused);
  }

  /** Drops the oldest fills beyond `maxPending`: bounded memory while the writer fails. */
  private enforceBound(): void {
    const excess = this.buffer.length - this.maxPending;
    if (excess <= 0) return;
    this.buffer.splice(0, excess);
    if (this.droppedInOutage === 0) {
      this.logger.error(
        { maxPending: this.maxPending },
        'paper fill buffer full while the writer fails; dropping the oldest fills',
      );
    }
    this.dropped += excess;
    this.droppedInOutage += excess;
    this.onDrop?.(excess);
  }

  /** Starts the batch delay unless a write is already due. */
  private arm(): void {
    if (this.timer !== undefined || this.buffer.length === 0) return;
    this.schedule(this.maxDelayMs);
  }

  /** The next attempt after a failed write, replacing any batch delay. */
  private retryIn(delayMs: number): void {
    this.disarm();
    this.schedule(delayMs);
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drain().catch(() => undefined);
    }, delayMs);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** The refused fills of a write's outcome; nothing for a writer that resolves with nothing. */
function refusedIn(outcome: FillWriteOutcome | void): readonly RefusedFill[] {
  const refused: unknown = (outcome as FillWriteOutcome | undefined)?.refused;
  return Array.isArray(refused) ? (refused as readonly RefusedFill[]) : [];
}
