import type { Tick } from '@trade/core';

/**
 * Puts one symbol's ticks in trade-id order, each exactly once. Ticks come
 * from the stream (one or two connections) and from REST backfill; a tick
 * whose id is not the next one is held until the ids before it arrive or are
 * given up with {@link skipTo}.
 *
 * @example
 * ```ts
 * const seq = new SymbolSequencer('BTCUSDT', undefined, deliver);
 * seq.offer(tick);            // 'delivered' | 'duplicate' | 'held'
 * if (seq.hasGap) fetchFrom(seq.nextId, seq.gapEnd);
 * ```
 */
export class SymbolSequencer {
  /** Id of the last tick delivered (or stored before a restart); `undefined` before the first. */
  lastId: number | undefined;
  private readonly pending = new Map<number, Tick>();
  /** Duplicates dropped. */
  duplicates = 0;
  /** Ids given up as unrecoverable by {@link skipTo}. */
  skipped = 0;

  constructor(
    readonly symbol: string,
    lastId: number | undefined,
    private readonly deliver: (tick: Tick) => void,
  ) {
    this.lastId = lastId;
  }

  /** The id the next delivered tick must have. */
  get nextId(): number | undefined {
    return this.lastId === undefined ? undefined : this.lastId + 1;
  }

  /** Ticks held behind a gap. */
  get held(): number {
    return this.pending.size;
  }

  /** The smallest held id, or `undefined`. */
  get heldMin(): number | undefined {
    let min: number | undefined;
    for (const id of this.pending.keys()) if (min === undefined || id < min) min = id;
    return min;
  }

  /** True when ticks are held behind missing ids. */
  get hasGap(): boolean {
    return this.pending.size > 0;
  }

  /** Offers a tick from any source. */
  offer(tick: Tick): 'delivered' | 'duplicate' | 'held' {
    const id = tick.tradeId;
    if (this.lastId === undefined) {
      this.lastId = id;
      this.deliver(tick);
      return 'delivered';
    }
    if (id <= this.lastId || this.pending.has(id)) {
      this.duplicates++;
      return 'duplicate';
    }
    if (id === this.lastId + 1) {
      this.lastId = id;
      this.deliver(tick);
      if (this.pending.size > 0) this.drain();
      return 'delivered';
    }
    this.pending.set(id, tick);
    return 'held';
  }

  /**
   * Gives up every id before `id` that has not arrived: they are counted in
   * {@link skipped} and held ticks from `id` on are delivered.
   */
  skipTo(id: number): number {
    const next = this.lastId === undefined ? id : this.lastId + 1;
    if (id <= next) return 0;
    let missing = id - next;
    for (const held of this.pending.keys()) if (held < id) missing--;
    // Held ticks below `id` are still delivered in order before the jump.
    const below = [...this.pending.keys()].filter((k) => k < id).sort((a, b) => a - b);
    for (const k of below) {
      const tick = this.pending.get(k)!;
      this.pending.delete(k);
      this.lastId = k;
      this.deliver(tick);
    }
    this.lastId = id - 1;
    this.skipped += missing;
    this.drain();
    return missing;
  }

  private drain(): void {
    for (;;) {
      const next = this.pending.get(this.lastId! + 1);
      if (next === undefined) return;
      this.pending.delete(next.tradeId);
      this.lastId = next.tradeId;
      this.deliver(next);
    }
  }
}
