import type { Tick } from '@trade/core';

// Slots consumed at the head before the array is compacted.
const COMPACT_AFTER = 4096;

/**
 * A first-in first-out queue of ticks: taking from the head is O(1)
 * (the array is compacted now and then rather than shifted each time).
 *
 * @example
 * ```ts
 * const queue = new TickQueue();
 * queue.push(tick);
 * const oldest = queue.shift();
 * ```
 */
export class TickQueue {
  #ticks: Tick[] = [];
  #head = 0;

  get length(): number {
    return this.#ticks.length - this.#head;
  }

  push(tick: Tick): void {
    this.#ticks.push(tick);
  }

  pushAll(ticks: readonly Tick[]): void {
    for (const tick of ticks) this.#ticks.push(tick);
  }

  /** Puts `ticks` back before the others, in their order. */
  unshiftAll(ticks: readonly Tick[]): void {
    this.#ticks = [...ticks, ...this.#ticks.slice(this.#head)];
    this.#head = 0;
  }

  /** The oldest tick, removed; `undefined` when empty. */
  shift(): Tick | undefined {
    if (this.#head >= this.#ticks.length) return undefined;
    const tick = this.#ticks[this.#head]!;
    this.#advance(this.#head + 1);
    return tick;
  }

  /** Up to `count` of the oldest ticks, removed. */
  take(count: number): Tick[] {
    const end = Math.min(this.#ticks.length, this.#head + count);
    const taken = this.#ticks.slice(this.#head, end);
    this.#advance(end);
    return taken;
  }

  /** Every tick, oldest first, removed. */
  takeAll(): Tick[] {
    return this.take(this.length);
  }

  clear(): void {
    this.#ticks = [];
    this.#head = 0;
  }

  #advance(head: number): void {
    this.#head = head;
    if (head === this.#ticks.length) this.clear();
    else if (head >= COMPACT_AFTER) {
      this.#ticks = this.#ticks.slice(head);
      this.#head = 0;
    }
  }
}
