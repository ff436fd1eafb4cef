import { InvalidInputError, type BookLevel, type BookTop } from '@trade/core';
import { quantityState, readPriceKey, type PriceKey } from './price-key.js';

/** What {@link OrderBook.applySnapshot} takes: a {@link DepthSnapshot} or anything shaped like it. */
export interface BookSnapshotInput {
  readonly lastUpdateId: number;
  readonly bids: readonly BookLevel[];
  readonly asks: readonly BookLevel[];
}

/** What {@link OrderBook.applyDiff} takes: a {@link DepthDiff} or anything shaped like it. */
export interface BookDiffInput {
  readonly finalUpdateId: number;
  readonly bids: readonly BookLevel[];
  readonly asks: readonly BookLevel[];
}

/** One resting level. `int`/`frac` is the price's key, negated on the ask side. */
interface Level {
  price: string;
  qty: string;
  int: number;
  frac: number;
}

const scratch: PriceKey = { int: 0, frac: 0 };
const PRICE = 'a decimal string of at most 15 digits each side of the point';

/** A chunk is split in two above this many levels. */
const CHUNK_MAX = 64;
/** A chunk this small is merged into a neighbour when they fit in one. */
const CHUNK_MIN = 16;

/** `a`'s key is below `(int, frac)`. */
function below(a: Level, int: number, frac: number): boolean {
  return a.int < int || (a.int === int && a.frac < frac);
}

/**
 * The first index of `levels` (sorted ascending) whose key is at or above
 * `(int, frac)`. Gallops from the end (the best end, where most changes
 * are), then bisects.
 */
function lowerBound(levels: Level[], int: number, frac: number): number {
  let hi = levels.length;
  let probe = hi - 1;
  for (let step = 1; probe >= 0 && !below(levels[probe]!, int, frac); step *= 2) {
    hi = probe;
    probe = hi - step;
  }
  let lo = probe < 0 ? 0 : probe + 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (below(levels[mid]!, int, frac)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * One side of a book, sorted so the best is last (bids ascending, asks
 * descending by price, through negated keys) and cut into chunks of at
 * most {@link CHUNK_MAX} levels: a change finds its chunk by galloping
 * from the best end (a few comparisons at the touch, log n deep in the
 * book), and inserting or removing moves at most one chunk's levels, not
 * the whole side's. Levels are found by exact price value, so `"1.5"` and
 * `"1.50"` are one level.
 */
class BookSide {
  /** Non-empty chunks in ascending key order. */
  private chunks: Level[][] = [];
  private count = 0;

  constructor(private readonly sign: 1 | -1) {}

  get size(): number {
    return this.count;
  }

  /** Sets the level at `price` to `qty` (zero: removes it). Throws on a malformed level. */
  set(price: string, qty: string): void {
    const state = quantityState(qty);
    if (state === 'invalid') throw new InvalidInputError('quantity', qty, 'a decimal string');
    if (!readPriceKey(price, scratch)) throw new InvalidInputError('price', price, PRICE);
    const int = scratch.int * this.sign;
    const frac = scratch.frac * this.sign;
    const chunks = this.chunks;
    if (chunks.length === 0) {
      if (state === 'positive') {
        chunks.push([{ price, qty, int, frac }]);
        this.count = 1;
      }
      return;
    }
    const c = this.chunkFor(int, frac);
    const chunk = chunks[c]!;
    const at = lowerBound(chunk, int, frac);
    const level = chunk[at];
    if (level !== undefined && level.int === int && level.frac === frac) {
      if (state === 'positive') {
        level.price = price; // the newest spelling, should it differ
        level.qty = qty;
      } else {
        this.removeAt(c, chunk, at);
      }
    } else if (state === 'positive') {
      // (A zero for a level the book does not hold: nothing to remove.)
      if (at === chunk.length) chunk.push({ price, qty, int, frac });
      else chunk.splice(at, 0, { price, qty, int, frac });
      this.count++;
      if (chunk.length > CHUNK_MAX) chunks.splice(c + 1, 0, chunk.splice(chunk.length >> 1));
    }
  }

  /** Replaces every level (zero quantities skipped). Throws on a malformed level, leaving the side empty. */
  reset(input: readonly BookLevel[]): void {
    this.chunks = [];
    this.count = 0;
    const levels: Level[] = [];
    for (const [price, qty] of input) {
      const state = quantityState(qty);
      if (state === 'invalid') throw new InvalidInputError('quantity', qty, 'a decimal string');
      if (!readPriceKey(price, scratch)) throw new InvalidInputError('price', price, PRICE);
      if (state === 'zero') continue;
      levels.push({ price, qty, int: scratch.int * this.sign, frac: scratch.frac * this.sign });
    }
    // A checked snapshot comes best first, the reverse of this order: one run for the sort.
    levels.reverse().sort((a, b) => (a.int !== b.int ? a.int - b.int : a.frac - b.frac));
    // A repeated price (never in a checked snapshot) keeps one level.
    let kept = 0;
    for (const level of levels) {
      const last = levels[kept - 1];
      if (last !== undefined && last.int === level.int && last.frac === level.frac) continue;
      levels[kept++] = level;
    }
    levels.length = kept;
    // Half-full chunks: room to grow either way before the first split.
    for (let i = 0; i < kept; i += CHUNK_MAX / 2)
      this.chunks.push(levels.slice(i, i + CHUNK_MAX / 2));
    this.count = kept;
  }

  /** The best level's entry, or `undefined` when the side is empty. */
  bestLevel(): Level | undefined {
    const last = this.chunks[this.chunks.length - 1];
    return last?.[last.length - 1];
  }

  top(n: number): BookLevel[] {
    const out: BookLevel[] = [];
    for (let c = this.chunks.length - 1; c >= 0 && out.length < n; c--) {
      const chunk = this.chunks[c]!;
      for (let i = chunk.length - 1; i >= 0 && out.length < n; i--) {
        out.push([chunk[i]!.price, chunk[i]!.qty]);
      }
    }
    return out;
  }

  /** The chunk that holds (or would hold) `(int, frac)`: the last whose first key is not above it, else the first. */
  private chunkFor(int: number, frac: number): number {
    const chunks = this.chunks;
    // Invariant: chunks[lo] starts at or below the key (or lo = -1); chunks[hi] above it (or hi = length).
    let hi = chunks.length;
    let probe = hi - 1;
    for (let step = 1; probe >= 0 && !atOrBelow(chunks[probe]![0]!, int, frac); step *= 2) {
      hi = probe;
      probe = hi - step;
    }
    let lo = probe < 0 ? -1 : probe;
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (atOrBelow(chunks[mid]![0]!, int, frac)) lo = mid;
      else hi = mid;
    }
    return lo < 0 ? 0 : lo;
  }

  private removeAt(c: number, chunk: Level[], at: number): void {
    if (at === chunk.length - 1) chunk.pop();
    else chunk.splice(at, 1);
    this.count--;
    const chunks = this.chunks;
    if (chunk.length === 0) {
      chunks.splice(c, 1);
    } else if (chunk.length < CHUNK_MIN) {
      // Keep chunks from dwindling into many tiny ones: merge with a neighbour when both fit.
      const previous = chunks[c - 1];
      const next = chunks[c + 1];
      if (previous !== undefined && previous.length + chunk.length <= CHUNK_MAX) {
        previous.push(...chunk);
        chunks.splice(c, 1);
      } else if (next !== undefined && next.length + chunk.length <= CHUNK_MAX) {
        chunk.push(...next);
        chunks.splice(c + 1, 1);
      }
    }
  }
}

/** `a`'s key is at or below `(int, frac)`. */
function atOrBelow(a: Level, int: number, frac: number): boolean {
  return a.int < int || (a.int === int && a.frac <= frac);
}

/**
 * The order book of one symbol: bids and asks kept with their exact price
 * strings, found and ordered by exact decimal value (no float error). It applies
 * what it is given; keeping diffs in sequence is {@link DepthSync}'s job.
 * Strings come out exactly as they went in.
 *
 * @example
 * ```ts
 * const book = new OrderBook('BNBUSDT');
 * book.applySnapshot({ lastUpdateId: 160, bids: [['0.0024', '10']], asks: [['0.0026', '100']] });
 * book.applyDiff({ finalUpdateId: 161, bids: [['0.0024', '0'], ['0.0023', '5']], asks: [] });
 * book.bestBid(); // ['0.0023', '5']
 * book.top(20);   // { symbol: 'BNBUSDT', updateId: 161, bids: [...], asks: [...] }
 * ```
 */
export class OrderBook {
  private readonly bids = new BookSide(1);
  private readonly asks = new BookSide(-1);
  private lastUpdateId = 0;

  constructor(readonly symbol: string) {}

  /** The last diff's `finalUpdateId`, or the snapshot's `lastUpdateId`; 0 before any. */
  get updateId(): number {
    return this.lastUpdateId;
  }

  /** Levels on the bid side. */
  get bidCount(): number {
    return this.bids.size;
  }

  /** Levels on the ask side. */
  get askCount(): number {
    return this.asks.size;
  }

  /**
   * Replaces the whole book with a snapshot (levels in any order; zero
   * quantities skipped). Throws {@link InvalidInputError} on a malformed
   * level, leaving the book empty.
   */
  applySnapshot(snapshot: BookSnapshotInput): void {
    try {
      this.bids.reset(snapshot.bids);
      this.asks.reset(snapshot.asks);
    } catch (error) {
      this.clear();
      throw error;
    }
    this.lastUpdateId = snapshot.lastUpdateId;
  }

  /**
   * Sets each level of the diff to its new quantity (a zero quantity removes
   * the level; removing one the book does not hold is fine) and the update
   * id to `finalUpdateId`. Returns the number of level changes applied.
   * Throws {@link InvalidInputError} on a malformed level, the levels before
   * it applied: check diffs first ({@link parseDepthDiff} does), and treat
   * the book as unknown after a throw.
   */
  applyDiff(diff: BookDiffInput): number {
    const { bids, asks } = diff;
    for (let i = 0; i < bids.length; i++) this.bids.set(bids[i]![0], bids[i]![1]);
    for (let i = 0; i < asks.length; i++) this.asks.set(asks[i]![0], asks[i]![1]);
    this.lastUpdateId = diff.finalUpdateId;
    return bids.length + asks.length;
  }

  /** The highest bid, or `undefined` when there is none. */
  bestBid(): BookLevel | undefined {
    const level = this.bids.bestLevel();
    return level === undefined ? undefined : [level.price, level.qty];
  }

  /** The lowest ask, or `undefined` when there is none. */
  bestAsk(): BookLevel | undefined {
    const level = this.asks.bestLevel();
    return level === undefined ? undefined : [level.price, level.qty];
  }

  /** True when the best bid is at or above the best ask: no exchange leaves its book so. */
  isCrossed(): boolean {
    const bid = this.bids.bestLevel();
    const ask = this.asks.bestLevel();
    if (bid === undefined || ask === undefined) return false;
    // Ask keys are negated.
    return bid.int !== -ask.int ? bid.int > -ask.int : bid.frac >= -ask.frac;
  }

  /** The best `n` levels per side (default 20), best first, exact strings, at the current update id. */
  top(n = 20): BookTop {
    return {
      symbol: this.symbol,
      updateId: this.lastUpdateId,
      bids: this.bids.top(n),
      asks: this.asks.top(n),
    };
  }

  /** Empties the book (update id back to 0). */
  clear(): void {
    this.bids.reset([]);
    this.asks.reset([]);
    this.lastUpdateId = 0;
  }
}
