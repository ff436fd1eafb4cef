import type { BusRecordSpool } from '../../src/index.js';

/**
 * A spool of any record kind in memory, with the semantics of
 * market-data's RecordSpool: batches come back in append order, the same
 * one until ack(); an append can be made to fail (a full disk). It counts
 * what went through it, so a test can prove the spool was used.
 */
export class MemoryRecordSpool<T> implements BusRecordSpool<T> {
  readonly #batches: T[][] = [];
  #pendingAppends = 0;
  #current = false;
  /** Appends reject while set. */
  failAppends = false;
  /** Records appended since creation. */
  appended = 0;
  /** Records acknowledged since creation. */
  acked = 0;

  async append(records: readonly T[]): Promise<void> {
    if (records.length === 0) return;
    this.#pendingAppends += 1;
    try {
      await new Promise((resolve) => setImmediate(resolve));
      if (this.failAppends) throw new Error('spool: disk full (test)');
      this.#batches.push([...records]);
      this.appended += records.length;
    } finally {
      this.#pendingAppends -= 1;
    }
  }

  async next(): Promise<T[] | undefined> {
    await Promise.resolve();
    const batch = this.#batches[0];
    this.#current = batch !== undefined;
    return batch && [...batch];
  }

  async ack(): Promise<void> {
    await Promise.resolve();
    if (!this.#current) throw new Error('spool: ack without a batch read');
    this.#current = false;
    this.acked += this.#batches.shift()!.length;
  }

  get isEmpty(): boolean {
    return this.#pendingAppends === 0 && this.#batches.length === 0;
  }

  get rowCount(): number {
    return this.#batches.reduce((sum, batch) => sum + batch.length, 0);
  }

  /** Every record in the spool now, oldest first. */
  contents(): T[] {
    return this.#batches.flat();
  }
}
