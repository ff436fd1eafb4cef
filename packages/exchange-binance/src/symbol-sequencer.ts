import type { Tick } from '@trade/core';

/** Ids given up by {@link SymbolSequencer}: `missed` ids in `fromId..toId` never arrived. */
export interface GivenUpIds {
  readonly fromId: number;
  readonly toId: number;
  readonly missed: number;
}

/** A run of missing trade ids, `fromId..toId` inclusive. */
export interface IdRange {
  readonly fromId: number;
  readonly toId: number;
}

/** What {@link SymbolSequencer.offer} did with a tick. */
export type OfferOutcome = 'delivered' | 'duplicate' | 'held' | 'unconfirmed';

/** Options of {@link SymbolSequencer}. */
export interface SymbolSequencerOptions {
  /**
   * Most ticks held behind a gap. One more, and the oldest gap is given up
   * (reported to {@link onOverflow}) so memory stays bounded while REST
   * cannot fill it. Ticks waiting for the exchange to confirm their id
   * ({@link maxJump}) are bounded by the same number. Default 100 000.
   */
  maxHeld?: number;
  /** Told about ids given up because {@link maxHeld} was reached. */
  onOverflow?: (given: GivenUpIds) => void;
  /**
   * A tick whose id is more than this far ahead of every id known to exist
   * (the last delivered, the highest held, the exchange's newest confirmed
   * with {@link SymbolSequencer.settleUnconfirmed}) is not trusted: it waits,
   * `'unconfirmed'`, until the exchange says whether such an id exists. One
   * bogus id would otherwise move the position past every real trade to
   * come. Default 100 000.
   */
  maxJump?: number;
}

/**
 * Puts one symbol's ticks in trade-id order, each exactly once. Ticks come
 * from the stream (one or two connections) and from REST backfill; a tick
 * whose id is not the next one is held until the ids before it arrive or are
 * given up with {@link skipTo}, or until more than `maxHeld` are held. A tick
 * far ahead of anything known (`maxJump`) is set aside as unconfirmed until
 * the caller has asked the exchange ({@link settleUnconfirmed}).
 *
 * It is the only writer of its position ({@link lastId}): callers offer
 * ticks and ask it to give ids up, they never move it themselves.
 *
 * @example
 * ```ts
 * const seq = new SymbolSequencer('BTCUSDT', undefined, deliver, { maxHeld: 100_000 });
 * seq.offer(tick);            // 'delivered' | 'duplicate' | 'held' | 'unconfirmed'
 * if (seq.hasUnconfirmed) seq.settleUnconfirmed(await newestIdOverRest()); // returns the bogus ones
 * if (seq.hasGap) fetchFrom(seq.nextId, seq.heldMin);
 * ```
 */
export class SymbolSequencer {
  private last: number | undefined;
  private readonly pending = new Map<number, Tick>();
  private readonly unconfirmed = new Map<number, Tick>();
  /** Highest id known to exist: held, or confirmed by the exchange (-1: none). */
  private known = -1;
  /** Where it started: the position has not moved while {@link last} still equals it. */
  private readonly start: number | undefined;
  private readonly maxHeld: number;
  private readonly maxJump: number;
  private readonly onOverflow: ((given: GivenUpIds) => void) | undefined;
  /** Duplicates dropped. */
  duplicates = 0;
  /** Ids given up as unrecoverable ({@link skipTo}, {@link giveUpHeld}, overflow). */
  skipped = 0;
  /** Most ticks held at once (behind gaps and unconfirmed together). */
  peakHeld = 0;

  constructor(
    readonly symbol: string,
    lastId: number | undefined,
    private readonly deliver: (tick: Tick) => void,
    options: SymbolSequencerOptions = {},
  ) {
    this.last = lastId;
    this.start = lastId;
    this.maxHeld = options.maxHeld ?? 100_000;
    this.maxJump = options.maxJump ?? 100_000;
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

  /** Ticks held behind a gap or waiting for confirmation. */
  get held(): number {
    return this.pending.size + this.unconfirmed.size;
  }

  /** The smallest id held behind a gap, or `undefined`. */
  get heldMin(): number | undefined {
    let min: number | undefined;
    for (const id of this.pending.keys()) if (min === undefined || id < min) min = id;
    return min;
  }

  /** True when ticks are held behind missing ids. */
  get hasGap(): boolean {
    return this.pending.size > 0;
  }

  /** True when ticks wait for the exchange to confirm their ids exist. */
  get hasUnconfirmed(): boolean {
    return this.unconfirmed.size > 0;
  }

  /** Offers a tick from any source. */
  offer(tick: Tick): OfferOutcome {
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
    if (id <= this.last || this.pending.has(id) || this.unconfirmed.has(id)) {
      this.duplicates++;
      return 'duplicate';
    }
    if (id - Math.max(this.last, this.known) > this.maxJump) {
      this.unconfirmed.set(id, tick);
      this.notePeak();
      // Unbounded waiting would be memory growing while REST is down: see trustUnconfirmed.
      if (this.unconfirmed.size > this.maxHeld) this.trustUnconfirmed();
      return 'unconfirmed';
    }
    this.hold(tick);
    if (this.pending.size > this.maxHeld) {
      this.overflow();
      // The tick may have gone out with the run the overflow released.
      if (this.last >= id) return 'delivered';
    }
    return 'held';
  }

  /**
   * The exchange's newest trade id is `newestId`: unconfirmed ticks within
   * `maxJump` of it are taken (held or delivered), the others are removed and
   * returned, to be rejected: no lag between stream and REST explains them.
   */
  settleUnconfirmed(newestId: number): Tick[] {
    this.known = Math.max(this.known, newestId);
    const ticks = this.takeUnconfirmed();
    const bogus: Tick[] = [];
    for (const tick of ticks) {
      if (tick.tradeId - Math.max(this.last!, this.known) > this.maxJump) bogus.push(tick);
      else this.offer(tick);
    }
    return bogus;
  }

  /**
   * Takes every unconfirmed tick as real, without the exchange's word (REST
   * banned or failing, or too many waiting): a symbol that truly jumped must
   * not stall for as long as REST is away. The gap before them is then
   * filled or given up as any other.
   */
  trustUnconfirmed(): void {
    for (const tick of this.takeUnconfirmed()) this.hold(tick);
    while (this.pending.size > this.maxHeld) this.overflow();
  }

  /** Removes and returns the unconfirmed ticks (at close: nothing vouches for them). */
  dropUnconfirmed(): Tick[] {
    return this.takeUnconfirmed();
  }

  /** Whether a tick with an id above `id` is held. */
  hasHeldAbove(id: number): boolean {
    for (const held of this.pending.keys()) if (held > id) return true;
    return false;
  }

  /**
   * Removes and returns, in id order, the held ticks with an id above `id`
   * received at or before `receivedBy` (all of them by default): the
   * exchange has no such trades.
   */
  dropHeldAbove(id: number, receivedBy = Number.POSITIVE_INFINITY): Tick[] {
    const dropped = [...this.pending.values()]
      .filter((t) => t.tradeId > id && t.receiveTime <= receivedBy)
      .sort((a, b) => a.tradeId - b.tradeId);
    for (const tick of dropped) this.pending.delete(tick.tradeId);
    // The dropped ids no longer vouch for anything; the exchange's newest does.
    let known = Math.max(this.last ?? -1, id);
    for (const held of this.pending.keys()) if (held > known) known = held;
    this.known = known;
    return dropped;
  }

  /**
   * Moves the position back to `id`, as long as nothing was delivered or held
   * since construction: the resume point was ahead of the exchange's newest
   * trade, and obeying it would drop every real trade up to it as a repeat.
   * Returns whether it did.
   */
  rewind(id: number): boolean {
    // Every delivery and every skip moves the position forward, so an unmoved one still equals its start.
    const moved = this.last !== this.start;
    if (moved || this.pending.size > 0 || this.last === undefined || id >= this.last) {
      return false;
    }
    this.last = id;
    return true;
  }

  /** The missing ids below the newest held tick, in order (what a gap fill still needs). */
  missingRanges(): IdRange[] {
    if (this.pending.size === 0 || this.last === undefined) return [];
    const held = [...this.pending.keys()].sort((a, b) => a - b);
    const ranges: IdRange[] = [];
    let next = this.last + 1;
    for (const id of held) {
      if (id > next) ranges.push({ fromId: next, toId: id - 1 });
      next = id + 1;
    }
    return ranges;
  }

  /** How many runs of ids are missing below the newest held tick ({@link missingRanges}`.length`, without sorting). */
  get gapCount(): number {
    let count = 0;
    for (const id of this.pending.keys()) {
      if (id - 1 !== this.last && !this.pending.has(id - 1)) count++;
    }
    return count;
  }

  /**
   * Delivers every held tick in order without giving their gaps up (they
   * are not counted in {@link skipped}): the caller closes and reports the
   * returned ranges as still open, to be filled later.
   */
  releaseHeld(): IdRange[] {
    const ranges = this.missingRanges();
    const held = [...this.pending.keys()].sort((a, b) => a - b);
    for (const id of held) {
      const tick = this.pending.get(id)!;
      this.pending.delete(id);
      this.last = id;
      this.deliver(tick);
    }
    return ranges;
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

  private hold(tick: Tick): void {
    this.pending.set(tick.tradeId, tick);
    if (tick.tradeId > this.known) this.known = tick.tradeId;
    this.notePeak();
  }

  private notePeak(): void {
    const held = this.pending.size + this.unconfirmed.size;
    if (held > this.peakHeld) this.peakHeld = Math.min(held, this.maxHeld);
  }

  private takeUnconfirmed(): Tick[] {
    const ticks = [...this.unconfirmed.values()].sort((a, b) => a.tradeId - b.tradeId);
    this.unconfirmed.clear();
    return ticks;
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
