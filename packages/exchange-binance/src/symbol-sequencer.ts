import type { Tick } from '@trade/core';

/** Ids given up by {@link SymbolSequencer}: `missed` ids in `fromId..toId` never arrived. */
export interface GivenUpIds {
  readonly fromId: number;
  readonly toId: number;
  readonly missed: number;
}

/** Options of {@link SymbolSequencer}. */
export interface SymbolSequencerOptions {
  /**
   * Most ticks held behind a gap. One more, and the oldest gap is given up
   * (reported to {@link onOverflow}) so memory stays bounded while REST
   * cannot fill it. Default 100 000.
   */
  maxHeld?: number;
  /** Told about ids given up because {@link maxHeld} was reached. */
  onOverflow?: (given: GivenUpIds) => void;
}

/**
 * Puts one symbol's ticks in trade-id order, each exactly once. Ticks come
 * from the stream (one or two connections) and from REST backfill; a tick
 * whose id is not the next one is held until the ids before it arrive or are
 * given up with {@link skipTo}, or until more than `maxHeld` are held.
 *
 * It is the only writer of its position ({@link lastId}): callers offer
 * ticks and ask it to give ids up, they never move it themselves.
 *
 * @example
 * ```ts
 * const seq = new SymbolSequencer('BTCUSDT', undefined, deliver, { maxHeld: 100_000 });
 * seq.offer(tick);            // 'delivered' | 'duplicate' | 'held'
 * if (seq.hasGap) fetchFrom(seq.nextId, seq.heldMin);
 * ```
 */
export class SymbolSequencer {
  private last: number | undefined;
  private readonly pending = new Map<number, Tick>();
  private readonly maxHeld: number;
  private readonly onOverflow: ((given: GivenUpIds) => void) | undefined;
  /** Duplicates dropped. */
  duplicates = 0;
  /** Ids given up as unrecoverable ({@link skipTo}, {@link giveUpHeld}, overflow). */
  skipped = 0;
  /** Most ticks held at once. */
  peakHeld = 0;

  constructor(
    readonly symbol: string,
    lastId: number | undefined,
    private readonly deliver: (tick: Tick) => void,
    options: SymbolSequencerOptions = {},
  ) {
    this.last = lastId;
    this.maxHeld = options.maxHeld ?? 100_000;
    this.onOverflow = options.onOverflow;
  }

  /** Id of the last tick delivered (or stored before a restart); `undefined` before the first. */
  get lastId(): number | undefined {
    return this.last;
  }

  /** The id the next delivered tick must have. */
  get nextId(): number | undefined {
    return this.last === undefined ? undefined : this.last + 1;
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
    if (this.last === undefined) {
      this.last = id;
      this.deliver(tick);
      return 'delivered';
    }
    if (id === this.last + 1) {
      this.last = id;
      this.deliver(tick);
      if (this.pending.size > 0) this.drain();
      return 'delivered';
    }
    if (id <= this.last || this.pending.has(id)) {
      this.duplicates++;
      return 'duplicate';
    }
    this.pending.set(id, tick);
    if (this.pending.size > this.maxHeld) {
      this.overflow();
      // The tick may have gone out with the run the overflow released.
      if (this.last >= id) return 'delivered';
    }
    if (this.pending.size > this.peakHeld) this.peakHeld = this.pending.size;
    return 'held';
  }

  /**
   * Gives up every id before `id` that has not arrived: they are counted in
   * {@link skipped} and held ticks from `id` on are delivered.
   */
  skipTo(id: number): number {
    const next = this.last === undefined ? id : this.last + 1;
    if (id <= next) return 0;
    let missing = id - next;
    for (const held of this.pending.keys()) if (held < id) missing--;
    // Held ticks below `id` are still delivered in order before the jump.
    const below = [...this.pending.keys()].filter((k) => k < id).sort((a, b) => a - b);
    for (const k of below) {
      const tick = this.pending.get(k)!;
      this.pending.delete(k);
      this.last = k;
      this.deliver(tick);
    }
    this.last = id - 1;
    this.skipped += missing;
    this.drain();
    return missing;
  }

  /**
   * Gives up every missing id below the newest held tick and delivers every
   * held tick, in order (REST cannot be asked, e.g. while the IP is banned).
   * `undefined` when nothing is held.
   */
  giveUpHeld(): GivenUpIds | undefined {
    if (this.pending.size === 0 || this.last === undefined) return undefined;
    let max = 0;
    for (const id of this.pending.keys()) if (id > max) max = id;
    const fromId = this.last + 1;
    return { fromId, toId: max - 1, missed: this.skipTo(max) };
  }

  /** Gives up the oldest gap: the ids before the smallest held tick. */
  private overflow(): void {
    const fromId = this.last! + 1;
    const heldMin = this.heldMin!;
    const missed = this.skipTo(heldMin);
    this.onOverflow?.({ fromId, toId: heldMin - 1, missed });
  }

  private drain(): void {
    for (;;) {
      const next = this.pending.get(this.last! + 1);
      if (next === undefined) return;
      this.pending.delete(next.tradeId);
      this.last = next.tradeId;
      this.deliver(next);
    }
  }
}
