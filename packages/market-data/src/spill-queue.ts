import type { Logger, Tick } from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import type { BatchWriter } from './batch-writer.js';
import { DiskQueue, type DiskEntry, type DiskQueueOptions } from './disk-queue.js';

/** A batch from memory being inserted. */
interface InFlight {
  readonly ticks: Tick[];
  /** Its copy bound for the spool, once memory overflowed. */
  copy: DiskEntry | undefined;
  /** The insert succeeded: the copy is not needed. */
  stored: boolean;
}

/** Options of {@link SpillQueue}: those of its {@link DiskQueue}, and the wiring to the service. */
export interface SpillQueueOptions extends Omit<
  DiskQueueOptions,
  'writer' | 'heldTicks' | 'onOffDisk'
> {
  /** Inserts the batches from memory (and, through the disk queue, replays and last chances). */
  writer: Pick<BatchWriter, 'write' | 'insert' | 'databaseError'>;
  /** Ticks of the batch being filled, not sealed yet (counted as held in memory). */
  openTicks: () => number;
  /** A batch left the disk queue: the channel may drain again. */
  onDiskFreed: () => void;
  /** A batch waits for the writer loop, or the disk queue moved. */
  wakeWriter: () => void;
}

/**
 * The batches sealed in memory on their way to the database, and the spill
 * policy: a batch waits in memory for a writer unless the spool holds
 * anything (order) or memory holds more than `maxBufferedTicks` (the bound);
 * then it, every batch queued, and a copy of each batch in flight go to the
 * {@link DiskQueue}, in order. A batch the database refused after its
 * retries goes there too, and the next batch commits once it is on disk.
 *
 * @example
 * ```ts
 * const spill = new SpillQueue({ spool, writer, logger, retry, maxBufferedTicks, ... });
 * batcher = new TickBatcher(batchSize, flushIntervalMs, (batch) => spill.queueBatch(batch));
 * if (spill.hasQueued && spill.disk.spoolEmpty && !writer.full) spill.writeNext();
 * ```
 */
export class SpillQueue {
  /** The batches bound for the spool. */
  readonly disk: DiskQueue;
  readonly #writer: SpillQueueOptions['writer'];
  readonly #logger: Logger;
  readonly #metrics: TradingMetrics | undefined;
  readonly #maxBufferedTicks: number;
  readonly #openTicks: () => number;
  readonly #wakeWriter: () => void;

  /** Sealed batches waiting for a writer, oldest first. */
  readonly #queue: Tick[][] = [];
  #queuedTicks = 0;
  /** Batches from memory being inserted, up to one per writer. */
  readonly #inFlight = new Set<InFlight>();

  constructor(options: SpillQueueOptions) {
    this.#writer = options.writer;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#maxBufferedTicks = options.maxBufferedTicks;
    this.#openTicks = options.openTicks;
    this.#wakeWriter = options.wakeWriter;
    this.disk = new DiskQueue({
      ...options,
      heldTicks: () => this.bufferedTicks,
      onOffDisk: () => {
        this.updateBufferGauge();
        options.onDiskFreed();
        this.#wakeWriter();
      },
    });
  }

  /** A batch waits in memory for a writer. */
  get hasQueued(): boolean {
    return this.#queue.length > 0;
  }

  /** A batch waits in memory, is being inserted from memory, or waits for the disk. */
  get pending(): boolean {
    return this.#queue.length > 0 || this.#memoryInFlight > 0 || this.disk.length > 0;
  }

  /** Ticks held in memory awaiting the database or the disk, the open batch's included. */
  get bufferedTicks(): number {
    let inFlight = 0;
    for (const f of this.#inFlight) if (!f.copy) inFlight += f.ticks.length;
    return this.#openTicks() + this.#queuedTicks + inFlight + this.disk.ticks;
  }

  /** Queues a sealed batch: in memory, or in the spool when that must keep order or bound memory. */
  queueBatch(batch: Tick[]): void {
    this.#queue.push(batch);
    this.#queuedTicks += batch.length;
    const inMemory = this.#queuedTicks + this.#memoryInFlight;
    if (!this.disk.spoolEmpty || inMemory > this.#maxBufferedTicks) this.#spillQueue();
    this.updateBufferGauge();
    this.#wakeWriter();
  }

  /** Hands the oldest queued batch to a free writer (check {@link hasQueued} and the writer first). */
  writeNext(): void {
    const batch = this.#queue.shift()!;
    this.#queuedTicks -= batch.length;
    this.#startWrite(batch);
  }

  updateBufferGauge(): void {
    this.#metrics?.batchBufferSize.set(this.bufferedTicks);
  }

  /**
   * Sends the batches in flight (copies: their inserts go on) and every
   * queued batch to the spool, in order. A copy stored twice is stored once.
   */
  #spillQueue(): void {
    for (const inFlight of this.#inFlight) {
      inFlight.copy ??= this.disk.push(inFlight.ticks, inFlight);
    }
    for (const batch of this.#queue.splice(0)) this.disk.push(batch, undefined);
    this.#queuedTicks = 0;
  }

  /** Ticks of batches from memory being inserted. */
  get #memoryInFlight(): number {
    let ticks = 0;
    for (const inFlight of this.#inFlight) ticks += inFlight.ticks.length;
    return ticks;
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
        this.updateBufferGauge();
      }
    });
  }

  #stored(inFlight: InFlight): undefined {
    inFlight.stored = true;
    const copy = inFlight.copy;
    // Its copy is not needed, unless it is being appended right now.
    if (copy) this.disk.discard(copy);
    return undefined;
  }

  /**
   * The insert failed after its retries: returns (without waiting for it)
   * what settles once the batch is kept, so the write ends now and the
   * writer loop can replay while the copy waits for the disk.
   */
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
}
