/**
 * One side of an order book: levels in two parallel arrays sorted by key,
 * best last. A bid's key is its price in ticks, an ask's the price negated,
 * so on either side the best level has the largest key, and the busy end
 * of the book is the cheap end of the arrays (push, pop, short splices).
 */
export class BookSide {
  /** Ascending; the best level last. */
  readonly keys: number[];
  /** Quantity of each level in steps, beside its key. */
  readonly qtys: number[];

  constructor(keys: number[] = [], qtys: number[] = []) {
    this.keys = keys;
    this.qtys = qtys;
  }

  get size(): number {
    return this.keys.length;
  }

  /** The index of `key`, or `-(where it would go) - 1`. */
  find(key: number): number {
    const keys = this.keys;
    let lo = 0;
    let hi = keys.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const k = keys[mid]!;
      if (k < key) lo = mid + 1;
      else if (k > key) hi = mid - 1;
      else return mid;
    }
    return -lo - 1;
  }

  /**
   * Sets the level at `key` to `qty` steps (`0` removes it). Returns whether
   * the best level's price or quantity changed.
   */
  set(key: number, qty: number): boolean {
    const { keys, qtys } = this;
    const top = keys.length - 1;
    const i = this.find(key);
    if (i >= 0) {
      if (qty === 0) {
        // Shifting by hand: changes sit near the top, and splice would allocate.
        for (let j = i; j < top; j++) {
          keys[j] = keys[j + 1]!;
          qtys[j] = qtys[j + 1]!;
        }
        keys.pop();
        qtys.pop();
        return i === top;
      }
      if (qtys[i] === qty) return false;
      qtys[i] = qty;
      return i === top;
    }
    if (qty === 0) return false;
    const at = -i - 1;
    keys.push(key);
    qtys.push(qty);
    for (let j = top + 1; j > at; j--) {
      keys[j] = keys[j - 1]!;
      qtys[j] = qtys[j - 1]!;
    }
    keys[at] = key;
    qtys[at] = qty;
    return at > top;
  }
}

/** A book frozen at one update id, compact: what a checkpoint keeps. */
export interface BookSnapshot {
  readonly bidKeys: Float64Array;
  readonly bidQtys: Float64Array;
  readonly askKeys: Float64Array;
  readonly askQtys: Float64Array;
}

/**
 * Both sides of a book, changed one level at a time by {@link apply}: the
 * one way the simulator's live book and every rebuilt one move, so both
 * see the same changes of the best levels.
 */
export class BookState {
  constructor(
    readonly bids = new BookSide(),
    readonly asks = new BookSide(),
  ) {}

  /** A book equal to `snapshot`. */
  static from(snapshot: BookSnapshot): BookState {
    return new BookState(
      new BookSide(Array.from(snapshot.bidKeys), Array.from(snapshot.bidQtys)),
      new BookSide(Array.from(snapshot.askKeys), Array.from(snapshot.askQtys)),
    );
  }

  /**
   * Sets one level: `key > 0` a bid at `key` ticks, `key < 0` an ask at
   * `-key` ticks; `qty` in steps, `0` removing it. Returns whether the best
   * bid or ask (price or quantity) changed.
   */
  apply(key: number, qty: number): boolean {
    return key > 0 ? this.bids.set(key, qty) : this.asks.set(key, qty);
  }

  /** A copy that later changes do not touch. */
  snapshot(): BookSnapshot {
    return {
      bidKeys: Float64Array.from(this.bids.keys),
      bidQtys: Float64Array.from(this.bids.qtys),
      askKeys: Float64Array.from(this.asks.keys),
      askQtys: Float64Array.from(this.asks.qtys),
    };
  }
}
