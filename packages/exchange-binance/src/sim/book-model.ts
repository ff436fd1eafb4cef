import { BookSide, BookState } from './book-state.js';

/** The bounds a {@link BookModel} keeps a book in, in ticks and steps. */
export interface BookModelParams {
  /** Levels per side at the start; the count of a side wanders around it. */
  readonly levels: number;
  /** Lowest price a level may have (the symbol's `minPrice`), at least 1 tick. */
  readonly minTicks: number;
  /** Highest price a level may have (the symbol's `maxPrice`). */
  readonly maxTicks: number;
  /** Smallest quantity of a level (the symbol's `minQty`), at least 1 step. */
  readonly minSteps: number;
  /** Largest quantity of a level (the symbol's `maxQty`). */
  readonly maxSteps: number;
  /** How far above `minSteps` quantities usually go (a heavy tail up to it). */
  readonly spanSteps: number;
}

// Shares of the changes that add or remove a level; the rest change a quantity.
const IMPROVE = 0.25;
const INSERT_BELOW_TARGET = 0.3;
const INSERT_AT_TARGET = 0.15;
const REMOVE_ABOVE_TARGET = 0.3;
const REMOVE_AT_TARGET = 0.15;

/**
 * The random order flow of one symbol's book: each {@link next} picks one
 * level change (its key and new quantity, as {@link BookState.apply} takes
 * them) that keeps the book uncrossed and its best prices around the last
 * trade price (the anchor): a side that reaches the anchor loses its best
 * level, a spread wider than the anchor needs gets a better level; else a
 * level near the top (most often) changes quantity, appears or goes.
 * Every change it picks changes the book.
 *
 * @example
 * ```ts
 * const model = new BookModel(params, prng(7));
 * const book = model.initial(4_325_001, prng(8));
 * model.next(book, 4_325_003);
 * book.apply(model.key, model.qty);
 * ```
 */
export class BookModel {
  /** The key of the level {@link next} chose. */
  key = 0;
  /** The quantity (steps) {@link next} chose for it: `0` removes it. */
  qty = 0;

  constructor(
    private readonly params: BookModelParams,
    private readonly random: () => number,
  ) {}

  /**
   * A book of `levels` levels a side (fewer where the price bounds end it)
   * around `anchorTicks`, drawn from `random`: the same draws give the same book.
   */
  initial(anchorTicks: number, random: () => number): BookState {
    const { levels, minTicks, maxTicks } = this.params;
    const anchor = this.clamp(anchorTicks);
    const bids = new BookSide();
    const asks = new BookSide();
    const gap = () => 1 + (random() < 0.3 ? 1 + Math.floor(random() * 3) : 0);
    const quantity = () => this.quantity(random);
    // Each side is drawn best first, then turned around: the best level goes last.
    for (let p = anchor - 1 - Math.floor(random() * 2); p >= minTicks; p -= gap()) {
      bids.keys.push(p);
      bids.qtys.push(quantity());
      if (bids.size === levels) break;
    }
    for (let p = anchor + 1 + Math.floor(random() * 2); p <= maxTicks; p += gap()) {
      asks.keys.push(-p);
      asks.qtys.push(quantity());
      if (asks.size === levels) break;
    }
    for (const side of [bids, asks]) {
      side.keys.reverse();
      side.qtys.reverse();
    }
    return new BookState(bids, asks);
  }

  /** Chooses the next change of `book` with the last trade at `anchorTicks`: see {@link key}, {@link qty}. */
  next(book: BookState, anchorTicks: number): void {
    const { bids, asks } = book;
    const anchor = this.clamp(anchorTicks);
    const { minTicks, maxTicks } = this.params;
    const bestBid = bids.size > 0 ? bids.keys[bids.size - 1]! : minTicks - 1;
    const bestAsk = asks.size > 0 ? -asks.keys[asks.size - 1]! : maxTicks + 1;
    // The trade price stays inside the spread: a side that reached it gives way.
    if (bestAsk <= anchor) return this.crossed(asks, -(anchor + 1));
    if (bestBid >= anchor) return this.crossed(bids, anchor - 1);

    const bid = this.random() < 0.5;
    const side = bid ? bids : asks;
    const room = bid ? anchor - bestBid - 1 : bestAsk - anchor - 1;
    if (room > 0 && (side.size === 0 || this.random() < IMPROVE)) {
      const inside = 1 + Math.floor(this.random() * Math.min(room, 3));
      return this.choose(bid ? anchor - inside : -(anchor + inside), this.quantity());
    }
    const n = side.size;
    const { levels } = this.params;
    if (n < levels / 2 && this.append(side, bid)) return;
    // Most changes within a few levels of the top (0-23, mean 8); one in ten anywhere.
    const u = this.random();
    const depth = u < 0.9 ? Math.floor(u * u * 29.6) : Math.floor(this.random() * n);
    const i = n - 1 - Math.min(depth, n - 1);
    const action = this.random();
    const insertShare = n < levels ? INSERT_BELOW_TARGET : INSERT_AT_TARGET;
    const removeShare = n > levels ? REMOVE_ABOVE_TARGET : REMOVE_AT_TARGET;
    if (action < insertShare && n < 2 * levels && this.insertBehind(side, i, bid)) return;
    if (
      action >= insertShare &&
      action < insertShare + removeShare &&
      n > Math.max(1, levels / 2)
    ) {
      return this.choose(side.keys[i]!, 0);
    }
    const old = side.qtys[i]!;
    let qty = this.quantity();
    const { minSteps, maxSteps } = this.params;
    if (qty === old) qty = old < maxSteps || old <= minSteps ? old + 1 : old - 1;
    this.choose(side.keys[i]!, qty);
  }

  private choose(key: number, qty: number): void {
    this.key = key;
    this.qty = qty;
  }

  /** The best level of `side` is at or past the anchor: it goes, or, alone, gets company first. */
  private crossed(side: BookSide, behindKey: number): void {
    if (side.size > 1) return this.choose(side.keys[side.size - 1]!, 0);
    this.choose(behindKey, this.quantity());
  }

  /** A new level just worse than level `i`, where there is room: whether it found one. */
  private insertBehind(side: BookSide, i: number, bid: boolean): boolean {
    if (i === 0) return this.append(side, bid);
    const key = side.keys[i]!;
    const free = key - side.keys[i - 1]! - 1;
    if (free <= 0) return false;
    this.choose(key - 1 - Math.floor(this.random() * free), this.quantity());
    return true;
  }

  /** A new level 1 to 3 ticks beyond the worst of `side`, within the price bounds: whether it fits. */
  private append(side: BookSide, bid: boolean): boolean {
    if (side.size === 0) return false;
    const key = side.keys[0]! - 1 - Math.floor(this.random() * 3);
    const price = bid ? key : -key;
    if (price < this.params.minTicks || price > this.params.maxTicks) return false;
    this.choose(key, this.quantity());
    return true;
  }

  /** A level's quantity in steps: small ones common, a heavy tail. */
  private quantity(random = this.random): number {
    const { minSteps, spanSteps } = this.params;
    const r = random();
    return minSteps + Math.floor(r * r * r * spanSteps);
  }

  /** The anchor, kept where a bid fits below it and an ask above it. */
  private clamp(anchor: number): number {
    return Math.min(Math.max(anchor, this.params.minTicks + 1), this.params.maxTicks - 1);
  }
}
