import type { Tick } from '@trade/core';
import type { BusSpool } from '../../src/index.js';

/**
 * A spool in memory with the semantics of market-data's TickSpool: batches
 * come back in append order, the same one until ack(); an append can be
 * made to fail (a full disk). It counts what went through it, so a test
 * can prove the spool was used.
 */
export class MemorySpool implements BusSpool {
  readonly #batches: Tick[][] = [];
  #pendingAppends = 0;
  #current = false;
  /** Appends reject while set. */
  failAppends = false;
  /** Ticks appended since creation. */
  appended = 0;
  /** Ticks acknowledged since creation. */
  acked = 0;

  async append(ticks: readonly Tick[]): Promise<void> {
    if (ticks.length === 0) return;
    this.#pendingAppends += 1;
    try {
      await new Promise((resolve) => setImmediate(resolve));
      if (this.failAppends) throw new Error('spool: disk full (test)');
      this.#batches.push([...ticks]);
      this.appended += ticks.length;
    } finally {
      this.#pendingAppends -= 1;
    }
  }

  async next(): Promise<Tick[] | undefined> {
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

  get tickCount(): number {
    return this.#batches.reduce((sum, batch) => sum + batch.length, 0);
  }

  /** Every tick in the spool now, oldest first. */
  contents(): Tick[] {
    return this.#batches.flat();
  }
}
