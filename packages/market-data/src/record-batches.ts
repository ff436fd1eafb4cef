/**
 * The rows offered and not yet handed on: the batch being filled, sealed
 * at `batchSize` rows or `flushIntervalMs` after its first row, and the
 * sealed batches, oldest first.
 */
export class RecordBatches<T> {
  readonly #batchSize: number;
  readonly #flushIntervalMs: number;
  readonly #onSealed: () => void;
  readonly #sealed: T[][] = [];
  #filling: T[] = [];
  #rows = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(batchSize: number, flushIntervalMs: number, onSealed: () => void) {
    this.#batchSize = batchSize;
    this.#flushIntervalMs = flushIntervalMs;
    this.#onSealed = onSealed;
  }

  /** Rows held: sealed and filling. */
  get rows(): number {
    return this.#rows;
  }

  /** Sealed batches waiting. */
  get length(): number {
    return this.#sealed.length;
  }

  add(row: T): void {
    this.#filling.push(row);
    this.#rows += 1;
    if (this.#filling.length >= this.#batchSize) this.seal();
    else if (this.#filling.length === 1) {
      this.#timer = setTimeout(() => this.seal(), this.#flushIntervalMs);
      this.#timer.unref();
    }
  }

  /** Seals the batch being filled, if it holds any row. */
  seal(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#filling.length === 0) return;
    this.#sealed.push(this.#filling);
    this.#filling = [];
    this.#onSealed();
  }

  peek(): T[] | undefined {
    return this.#sealed[0];
  }

  shift(): T[] | undefined {
    const batch = this.#sealed.shift();
    if (batch) this.#rows -= batch.length;
    return batch;
  }

  /** Puts back a batch taken by {@link shift}: it is the oldest again. */
  unshift(batch: T[]): void {
    this.#sealed.unshift(batch);
    this.#rows += batch.length;
  }
}
