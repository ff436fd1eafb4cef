import { Backoff, type BackoffOptions, type Logger } from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import type { BatchWriter } from './batch-writer.js';
import type { Progress } from './progress.js';
import { sleep } from './sleep.js';
import type { SpillQueue } from './spill-queue.js';
import type { TickSpool } from './tick-spool.js';

/** Options of {@link SpoolReplay}. */
export interface SpoolReplayOptions {
  spool: Pick<TickSpool, 'next' | 'ack' | 'isEmpty' | 'tickCount'>;
  writer: Pick<BatchWriter, 'full' | 'idle' | 'whenFree' | 'whenIdle' | 'insert'>;
  /** The batches waiting in memory, and those bound for the spool. */
  spill: SpillQueue;
  logger: Logger;
  metrics?: TradingMetrics | undefined;
  /** The delays between replay attempts the database refused. */
  retry: BackoffOptions;
  /** The delay after a writer error, every time. */
  errorDelayMs: number;
  /** Fired at close: a delay stops waiting. */
  signal: AbortSignal;
  /** Told each time the loop turns. */
  progress: Progress;
  /** Close has begun: no more replay; once the writers are idle, the loop ends. */
  stopping: () => boolean;
  /** Closing, the writers idle: moves what the channel and the batcher hold to the queue. */
  sealAll: () => void;
  /** Closing, every batch written or bound for the disk: the service takes no more ticks. */
  onStopped: () => void;
}

/**
 * The writer loop: hands the batches queued in memory to the writers while
 * the spool is empty, and otherwise replays the spool in order first (its
 * batches are older), the batches in flight finishing before. The spool is
 * replayed from disk, then the batches still waiting for the disk straight
 * from memory.
 *
 * @example
 * ```ts
 * const replay = new SpoolReplay({ spool, writer, spill, logger, retry, errorDelayMs, signal, progress, ... });
 * const loop = replay.run(); // resolves once closing has written every batch
 * ```
 */
export class SpoolReplay {
  readonly #spool: SpoolReplayOptions['spool'];
  readonly #writer: SpoolReplayOptions['writer'];
  readonly #spill: SpillQueue;
  readonly #logger: Logger;
  readonly #metrics: TradingMetrics | undefined;
  readonly #retry: BackoffOptions;
  readonly #errorDelayMs: number;
  readonly #signal: AbortSignal;
  readonly #progress: Progress;
  readonly #isStopping: () => boolean;
  readonly #sealAll: () => void;
  readonly #onStopped: () => void;
  #wake: (() => void) | undefined;
  #replayed = 0;

  constructor(options: SpoolReplayOptions) {
    this.#spool = options.spool;
    this.#writer = options.writer;
    this.#spill = options.spill;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#retry = options.retry;
    this.#errorDelayMs = options.errorDelayMs;
    this.#signal = options.signal;
    this.#progress = options.progress;
    this.#isStopping = options.stopping;
    this.#sealAll = options.sealAll;
    this.#onStopped = options.onStopped;
  }

  /** Ticks replayed from the spool into the database. */
  get replayed(): number {
    return this.#replayed;
  }

  /** Wakes the loop when it waits for a batch. */
  wake(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Runs the loop; resolves once, closing, every batch is written or bound for the disk. */
  async run(): Promise<void> {
    const replayBackoff = new Backoff(this.#retry);
    // A writer error is retried after the longest retry delay, every time.
    const errorBackoff = new Backoff({
      initialMs: this.#errorDelayMs,
      maxMs: this.#errorDelayMs,
      factor: 1,
      jitter: 0,
    });
    for (;;) {
      try {
        const replayDue = !this.#spill.disk.spoolEmpty && !this.#isStopping();
        if (this.#spill.hasQueued && !replayDue) {
          if (this.#writer.full) {
            await this.#writer.whenFree();
            continue;
          }
          this.#spill.writeNext();
        } else if (replayDue) {
          // The spool holds what came after the batches in flight: they finish first.
          if (!this.#writer.idle) {
            await this.#writer.whenIdle();
            continue;
          }
          // Older batches are in the spool: they go first, in order.
          if (await this.#replayOne()) replayBackoff.reset();
          else await sleep(replayBackoff.next(), this.#signal);
        } else if (this.#isStopping()) {
          await this.#writer.whenIdle();
          this.#sealAll();
          if (this.#spill.hasQueued) continue;
          this.#onStopped();
          return;
        } else {
          await new Promise<void>((resolve) => (this.#wake = resolve));
        }
      } catch (error) {
        this.#logger.error({ err: error }, 'market-data: writer error; retrying');
        this.#metrics?.errors.inc({ component: 'market-data' });
        await sleep(errorBackoff.next(), this.#signal);
      } finally {
        this.#progress.notify();
      }
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
      if (!(await this.#writer.insert(ticks))) {
        this.#metrics?.batchRetries.inc();
        return false;
      }
      // ack() counts the batch off before it deletes a finished segment: the
      // gauge follows at once, not after the unlink and the directory fsync.
      const acked = this.#spool.ack();
      this.#spill.disk.updateSpoolGauge();
      await acked;
      this.#spill.disk.retryAppendNow();
      this.#replayed += ticks.length;
      if (this.#spool.isEmpty)
        this.#logger.info({ replayed: this.#replayed }, 'market-data: spool replayed');
      return true;
    }
    return this.#spill.disk.replayHead();
  }
}
