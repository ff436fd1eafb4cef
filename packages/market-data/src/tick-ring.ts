import { ConfigError, type Tick } from '@trade/core';

/** What {@link TickRing.add} did with a tick. */
export type RingAddResult = 'appended' | 'inserted' | 'duplicate' | 'too-old';

/**
 * The latest `capacity` ticks of one symbol, ordered by trade id, each id
 * once. Live ticks arrive in order and append in O(1); a late one (a
 * backfill) is slotted into place; a repeat is ignored.
 */
export class TickRing {
  readonly capacity: number;
  readonly #buffer: (Tick | undefined)[];
  #start = 0;
  #size = 0;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new ConfigError('capacity', capacity, 'a positive integer');
    }
    this.capacity = capacity;
    this.#buffer = new Array<Tick | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** The i-th oldest tick held (0 = oldest). */
  at(i: number): Tick {
    return this.#buffer[(this.#start + i) % this.capacity]!;
  }

  add(tick: Tick): RingAddResult {
    const newest = this.#size > 0 ? this.at(this.#size - 1) : undefined;
    if (!newest || tick.tradeId > newest.tradeId) {
      this.#push(tick);
      return 'appended';
    }
    // Binary search for the first held tick whose id is >= the new one.
    let lo = 0;
    let hi = this.#size;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.at(mid).tradeId < tick.tradeId) lo = mid + 1;
      else hi = mid;
    }
    if (lo < this.#size && this.at(lo).tradeId === tick.tradeId) return 'duplicate';
    if (lo === 0 && this.#size === this.capacity) return 'too-old';
    this.#insertAt(lo, tick);
    return 'inserted';
  }

  /** Up to `count` ticks, newest first. */
  newest(count: number): Tick[] {
    const n = Math.min(Math.max(0, Math.floor(count)), this.#size);
    const out = new Array<Tick>(n);
    for (let i = 0; i < n; i++) out[i] = this.at(this.#size - 1 - i);
    return out;
  }

  #push(tick: Tick): void {
    if (this.#size < this.capacity) {
      this.#buffer[(this.#start + this.#size) % this.capacity] = tick;
      this.#size += 1;
    } else {
      this.#buffer[this.#start] = tick;
      this.#start = (this.#start + 1) % this.capacity;
    }
  }

  #insertAt(index: number, tick: Tick): void {
    const held: Tick[] = [];
    for (let i = 0; i < this.#size; i++) held.push(this.at(i));
    held.splice(index, 0, tick);
    const kept = held.slice(Math.max(0, held.length - this.capacity));
    this.#start = 0;
    this.#size = kept.length;
    for (let i = 0; i < kept.length; i++) this.#buffer[i] = kept[i];
  }
}
