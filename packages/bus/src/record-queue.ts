// Slots consumed at the head before the array is compacted.
const COMPACT_AFTER = 4096;

/**
 * A first-in first-out queue of records (ticks, quotes, snapshots): taking from the head is O(1)
 * (the array is compacted now and then rather than shifted each time).
 *
 * @example
 * ```ts
 * const queue = new RecordQueue<Tick>();
 * queue.push(tick);
 * const oldest = queue.shift();
 * ```
 */
export class RecordQueue<T> {
  #ticks: T[] = [];
  #head = 0;

  get length(): number {
    return this.#ticks.length - this.#head;
  }

  push(tick: T): void {
    this.#ticks.push(tick);
  }

  pushAll(ticks: readonly T[]): void {
    for (const tick of ticks) this.#ticks.push(tick);
  }

  /** Puts `ticks` back before the others, in their order. */
  unshiftAll(ticks: readonly T[]): void {
    this.#ticks = [...ticks, ...this.#ticks.slice(this.#head)];
    this.#head = 0;
  }

  /** The oldest, removed; `undefined` when empty. */
  shift(): T | undefined {
    if (this.#head >= this.#ticks.length) return undefined;
    const tick = this.#ticks[this.#head]!;
    this.#advance(this.#head + 1);
    return tick;
  }

  /** Up to `count` of the oldest, removed. */
  take(count: number): T[] {
    const end = Math.min(this.#ticks.length, this.#head + count);
    const taken = this.#ticks.slice(this.#head, end);
    this.#advance(end);
    return taken;
  }

  /** Every one, oldest first, removed. */
  takeAll(): T[] {
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
