import type { Tick } from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';

// Ticks moved out per event-loop turn, so I/O keeps its turn.
const PUMP_CHUNK = 4096;
// Slots consumed at the head before the array is compacted.
const COMPACT_AFTER = 4096;

/** Options of {@link TickChannel}. */
export interface TickChannelOptions {
  /** Ticks the channel holds; {@link TickChannel.offer} refuses beyond. */
  capacity: number;
  /** Takes each chunk moved out of the channel, oldest first. */
  take: (chunk: Tick[]) => void;
  /**
   * Ticks the consumer has room for now; 0 or less pauses the background
   * drain until {@link TickChannel.resume}. {@link TickChannel.drain} ignores it.
   */
  room: () => number;
  /** Keeps `trading_channel_buffer_size`, `trading_channel_utilization_percent` and `trading_ticks_processed_total`. */
  metrics?: TradingMetrics | undefined;
}

/**
 * The bounded hand-over between a tick source and the batcher: {@link offer}
 * never waits, and the ticks move on in chunks on later event-loop turns,
 * as far as the consumer has room. When it has none the channel fills,
 * `offer` returns false and {@link whenWritable} says when to offer again.
 *
 * @example
 * ```ts
 * const channel = new TickChannel({ capacity: 10_000, take: (chunk) => batcher.add(chunk), room: () => Infinity });
 * while (!channel.offer(tick)) await channel.whenWritable();
 * ```
 */
export class TickChannel {
  readonly #capacity: number;
  readonly #take: (chunk: Tick[]) => void;
  readonly #room: () => number;
  readonly #metrics: TradingMetrics | undefined;
  readonly #ticks: Tick[] = [];
  #head = 0;
  #pumpScheduled = false;
  #writableWaiters: (() => void)[] = [];
  #closed = false;

  constructor(options: TickChannelOptions) {
    this.#capacity = options.capacity;
    this.#take = options.take;
    this.#room = options.room;
    this.#metrics = options.metrics;
    this.#updateGauges();
  }

  /** Ticks in the channel now. */
  get length(): number {
    return this.#ticks.length - this.#head;
  }

  /** Adds `tick` unless the channel is full or closed; says whether it did. */
  offer(tick: Tick): boolean {
    if (this.#closed || this.length >= this.#capacity) return false;
    this.#ticks.push(tick);
    this.#updateGauges();
    this.#schedulePump();
    return true;
  }

  /** Resolves when the channel has room again (at once when it has, or is closed). */
  whenWritable(): Promise<void> {
    if (this.length < this.#capacity || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#writableWaiters.push(resolve));
  }

  /** Moves every tick out now, whatever the consumer's room. */
  drain(): void {
    while (this.length > 0) this.#pump(PUMP_CHUNK);
  }

  /** The consumer may have room again: the drain goes on if ticks wait. */
  resume(): void {
    if (this.length > 0) this.#schedulePump();
  }

  /** Refuses further offers and releases those waiting to offer. */
  close(): void {
    this.#closed = true;
    for (const resolve of this.#writableWaiters.splice(0)) resolve();
    this.#updateGauges();
  }

  #schedulePump(): void {
    if (this.#pumpScheduled || this.#room() <= 0) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      const room = this.#room();
      if (room <= 0) return;
      // No more than the consumer has room for: a whole chunk taken just
      // under its bound would all land past it.
      this.#pump(Math.min(PUMP_CHUNK, room));
      if (this.length > 0) this.#schedulePump();
    });
  }

  /** Moves up to `max` ticks to the consumer. */
  #pump(max: number): void {
    const n = Math.min(this.length, max);
    if (n === 0) return;
    const chunk = this.#ticks.slice(this.#head, this.#head + n);
    this.#head += n;
    if (this.#head === this.#ticks.length) {
      this.#ticks.length = 0;
      this.#head = 0;
    } else if (this.#head >= COMPACT_AFTER) {
      this.#ticks.splice(0, this.#head);
      this.#head = 0;
    }
    this.#updateGauges();
    this.#metrics?.ticksProcessed.inc(n);
    this.#take(chunk);
    for (const resolve of this.#writableWaiters.splice(0)) resolve();
  }

  #updateGauges(): void {
    if (!this.#metrics) return;
    const length = this.length;
    this.#metrics.channelBufferSize.set(length);
    this.#metrics.channelUtilization.set((length / this.#capacity) * 100);
  }
}
