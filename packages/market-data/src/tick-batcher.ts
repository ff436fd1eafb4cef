import type { Tick } from '@trade/core';

/**
 * Groups ticks into batches: a batch is closed when it holds `batchSize`
 * ticks, or `flushIntervalMs` after its first tick, whichever comes first,
 * and handed to `onBatch`.
 *
 * @example
 * ```ts
 * const batcher = new TickBatcher(5_000, 250, (batch) => queue.push(batch));
 * batcher.add(ticks);
 * batcher.seal(); // hand over what is open now
 * ```
 */
export class TickBatcher {
  #open: Tick[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly batchSize: number,
    private readonly flushIntervalMs: number,
    private readonly onBatch: (batch: Tick[]) => void,
  ) {}

  /** Ticks in the batch not closed yet. */
  get size(): number {
    return this.#open.length;
  }

  add(ticks: readonly Tick[]): void {
    for (const tick of ticks) {
      this.#open.push(tick);
      if (this.#open.length >= this.batchSize) this.seal();
    }
    if (this.#open.length > 0 && !this.#timer) {
      this.#timer = setTimeout(() => this.seal(), this.flushIntervalMs);
    }
  }

  /** Closes the open batch now and hands it on (nothing when it is empty). */
  seal(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#open.length === 0) return;
    const batch = this.#open;
    this.#open = [];
    this.onBatch(batch);
  }
}
