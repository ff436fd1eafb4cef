import {
  TradeError,
  silentLogger,
  type Logger,
  type PaperFill,
  type PaperFillWriter,
} from '@trade/core';

/** Options of {@link FillLog}. */
export interface FillLogOptions {
  writer: PaperFillWriter;
  /** Write as soon as this many fills are buffered. Default 100. */
  maxBatch?: number;
  /** Write buffered fills at most this long after the first of them arrived. Default 1000 ms. */
  maxDelayMs?: number;
  logger?: Logger;
  /** Called when a background write fails (the fills stay buffered and are retried). */
  onWriteError?: (error: unknown) => void;
  /**
   * Most fills kept while the writer fails; past it the oldest are dropped
   * (counted through {@link onDrop}), so an outage cannot exhaust memory.
   * Default 10,000.
   */
  maxPending?: number;
  /** Called with the number of fills dropped past {@link maxPending}. */
  onDrop?: (count: number) => void;
}

/**
 * Buffers fills and hands them to a {@link PaperFillWriter} in batches: when
 * `maxBatch` are waiting, `maxDelayMs` after the first one, and on
 * {@link FillLog.flush}. `add` never waits; one write runs at a time, in
 * order. A failed write keeps its fills at the front of the buffer for the
 * next attempt; only past `maxPending` fills are the oldest dropped, and
 * counted.
 */
export class FillLog {
  private buffer: PaperFill[] = [];
  private tail: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly writer: PaperFillWriter;
  private readonly maxBatch: number;
  private readonly maxDelayMs: number;
  private readonly logger: Logger;
  private readonly onWriteError: ((error: unknown) => void) | undefined;
  private readonly maxPending: number;
  private readonly onDrop: ((count: number) => void) | undefined;
  private written = 0;
  private dropped = 0;
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

  /** Buffers `fill`; starts a write when the batch is full. Never waits. */
  add(fill: PaperFill): void {
    this.buffer.push(fill);
    this.enforceBound();
    if (this.buffer.length >= this.maxBatch) {
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
      try {
        await this.writer.write(batch);
        this.written += batch.length;
        if (this.droppedInOutage > 0) {
          this.logger.warn(
            { dropped: this.droppedInOutage },
            'paper fills are written again; fills dropped while the writer failed',
          );
          this.droppedInOutage = 0;
        }
      } catch (error) {
        this.buffer = batch.concat(this.buffer);
        this.enforceBound();
        this.logger.error(
          { err: error, fills: batch.length, pending: this.buffer.length },
          'paper fills could not be written; kept for the next attempt',
        );
        this.onWriteError?.(error);
        this.arm();
        throw new TradeError(`writing ${batch.length} paper fill(s) failed`, {
          cause: error,
          isRetryable: true,
        });
      }
    }
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

  private arm(): void {
    if (this.timer !== undefined || this.buffer.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drain().catch(() => undefined);
    }, this.maxDelayMs);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
