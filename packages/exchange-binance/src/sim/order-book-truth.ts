import { InvalidInputError, type BookLevel, type BookTop, type Quote } from '@trade/core';
import { BookModel } from './book-model.js';
import { BookState, type BookSide, type BookSnapshot } from './book-state.js';
import { prng } from './prng.js';
import type { SimSymbolRules } from './symbol-rules.js';
import { formatQuantity } from './trade-history.js';

/**
 * A bookTicker the simulator generated: the fields of @trade/core's `Quote`
 * but the receive time, which only a client knows.
 */
export type SimQuote = Omit<Quote, 'receiveTime'>;

/** The changes of a run of update ids merged, as one `depthUpdate` event carries them. */
export interface BookDiff {
  /** `U`: the first update id in the run. */
  readonly firstUpdateId: number;
  /** `u`: the last. */
  readonly finalUpdateId: number;
  /** Each changed bid's newest quantity (`"0.00000000"`: gone), best first. */
  readonly bids: BookLevel[];
  /** Each changed ask's newest quantity, best first. */
  readonly asks: BookLevel[];
}

/** Options of {@link OrderBookTruth}. */
export interface OrderBookTruthOptions {
  readonly symbol: string;
  readonly rules: SimSymbolRules;
  /** Seed of the book's own random sequences (the trades' stays as it was). */
  readonly seed: number;
  /** Update id of the first change. Default drawn from the seed (1e9 to 1.1e9). */
  readonly firstUpdateId?: number;
  /** Levels per side at the start. */
  readonly levels: number;
  /** Changes kept at least, for {@link OrderBookTruth.bookAt} and {@link OrderBookTruth.quotes}. */
  readonly retain: number;
  /** Price (ticks) the book starts around. */
  readonly anchorTicks: number;
}

/** Changes per log chunk; each chunk starts with a checkpoint of the whole book. */
const CHUNK = 8192;
/** Room for changes a chunk starts with: it grows to {@link CHUNK} as needed, so idle books stay small. */
const FIRST_ROOM = 64;
/** A level's usual quantity goes up to this many units of the base asset. */
const USUAL_MAX_QTY_UNITS = 10 * 100_000_000;

interface LogChunk {
  /** Update id of the book its checkpoint holds; its changes are ids `baseId + 1`... */
  readonly baseId: number;
  /** `undefined` for the starting book, which is drawn again from the seed when needed. */
  readonly checkpoint: BookSnapshot | undefined;
  /** The level each change set (see `BookState.apply`)... */
  keys: Float64Array;
  /** ...and its new quantity in steps. */
  qtys: Float64Array;
  length: number;
}

/**
 * One symbol's simulated order book and its ground truth: the live book,
 * moved one level per update id by its {@link BookModel}, and every change
 * since the oldest retained one, in chunks of 8192 that each start with a
 * checkpoint, so any retained update id's book is a checkpoint plus at most
 * 8191 changes away (about 20 bytes a change, checkpoints included, at 500
 * levels a side). The starting book is no checkpoint: the seed draws it
 * again. The live book tells one listener when its best bid or ask changed:
 * the bookTicker stream.
 *
 * @example
 * ```ts
 * const book = new OrderBookTruth({ symbol: 'BTCUSDT', rules, seed: 7, levels: 500,
 *   retain: 1_000_000, anchorTicks: 4_325_001 });
 * book.move(4_325_002);
 * book.bookAt(book.updateId, 5).bids.length; // 5
 * ```
 */
export class OrderBookTruth {
  readonly symbol: string;
  readonly rules: SimSymbolRules;
  private readonly model: BookModel;
  private readonly live: BookState;
  private current: number;
  private readonly chunks: LogChunk[] = [];
  /** The newest chunk, the one {@link move} writes. */
  private tail: LogChunk;
  /** A trimmed chunk's arrays, for the next chunk. */
  private spare: LogChunk | undefined;
  private readonly retain: number;
  private readonly seed: number;
  private readonly anchorTicks: number;
  private listener: (() => void) | undefined;

  constructor(options: OrderBookTruthOptions) {
    const { rules } = options;
    this.symbol = options.symbol;
    this.rules = rules;
    this.retain = Math.max(1, options.retain);
    this.seed = options.seed;
    this.anchorTicks = options.anchorTicks;
    const first = options.firstUpdateId ?? 1_000_000_000 + Math.floor(prng(this.seed)() * 1e8);
    if (!(Number.isSafeInteger(first) && first >= 1)) {
      throw new InvalidInputError('firstUpdateId', first, 'a safe integer >= 1');
    }
    const minSteps = Math.max(1, Math.ceil(rules.minQtyUnits / rules.stepUnits));
    const maxSteps = Math.max(minSteps, Math.floor(rules.maxQtyUnits / rules.stepUnits));
    this.model = new BookModel(
      {
        levels: options.levels,
        minTicks: Math.max(1, Math.ceil(rules.minPriceUnits / rules.tickUnits)),
        maxTicks: Math.floor(rules.maxPriceUnits / rules.tickUnits),
        minSteps,
        maxSteps,
        spanSteps: Math.min(
          maxSteps - minSteps,
          Math.max(1, Math.round(USUAL_MAX_QTY_UNITS / rules.stepUnits)),
        ),
      },
      prng(this.seed ^ 0x5f3759df),
    );
    this.live = this.startingBook();
    this.current = first - 1;
    this.tail = {
      baseId: this.current,
      checkpoint: undefined,
      ...this.room(FIRST_ROOM),
      length: 0,
    };
    this.chunks.push(this.tail);
  }

  /** Update id of the newest change (before any: the first update id - 1, the starting book's). */
  get updateId(): number {
    return this.current;
  }

  /** The oldest update id {@link bookAt} can still answer for. */
  get oldestUpdateId(): number {
    return this.chunks[0]!.baseId;
  }

  /** Calls `listener` after each change of the best bid or ask (`undefined`: no one listens). */
  onQuote(listener: (() => void) | undefined): void {
    this.listener = listener;
  }

  /** Makes the next change, with the last trade at `anchorTicks`. */
  move(anchorTicks: number): void {
    let chunk = this.tail;
    if (chunk.length === chunk.keys.length) {
      if (chunk.length === CHUNK) chunk = this.tail = this.startChunk();
      else this.grow(chunk);
    }
    const model = this.model;
    model.next(this.live, anchorTicks);
    const top = this.live.apply(model.key, model.qty);
    chunk.keys[chunk.length] = model.key;
    chunk.qtys[chunk.length] = model.qty;
    chunk.length++;
    this.current++;
    if (top && this.listener !== undefined) this.listener();
  }

  /** The live best bid and ask, at {@link updateId}. */
  quote(): SimQuote {
    return this.quoteOf(this.live, this.current);
  }

  /** The live book's best `depth` levels a side, at {@link updateId}. */
  top(depth: number): BookTop {
    return this.topOf(this.live, this.current, depth);
  }

  /**
   * The book's best `depth` levels a side right after the change with
   * `updateId`, rebuilt from the truth. Throws `InvalidInputError` for an id
   * not generated yet, or older than the retained changes, or a depth below 1.
   */
  bookAt(updateId: number, depth = 20): BookTop {
    if (!(Number.isSafeInteger(depth) && depth >= 1)) {
      throw new InvalidInputError('depth', depth, 'a number of levels >= 1');
    }
    if (!(Number.isSafeInteger(updateId) && updateId >= this.oldestUpdateId)) {
      throw new InvalidInputError(
        'updateId',
        updateId,
        `an update id of ${this.symbol} from ${this.oldestUpdateId} to ${this.current}`,
      );
    }
    if (updateId > this.current) {
      throw new InvalidInputError(
        'updateId',
        updateId,
        `an update id of ${this.symbol} generated so far (newest ${this.current})`,
      );
    }
    if (updateId === this.current) return this.top(depth);
    let c = this.chunks.length - 1;
    while (this.chunks[c]!.baseId > updateId) c--;
    const chunk = this.chunks[c]!;
    const book = this.checkpoint(chunk);
    for (let j = 0; j < updateId - chunk.baseId; j++) book.apply(chunk.keys[j]!, chunk.qtys[j]!);
    return this.topOf(book, updateId, depth);
  }

  /** Every bookTicker generated from `fromUpdateId` (default: the oldest retained) on, rebuilt from the truth. */
  quotes(fromUpdateId = 0): SimQuote[] {
    const out: SimQuote[] = [];
    let c = this.chunks.length - 1;
    while (c > 0 && this.chunks[c]!.baseId >= fromUpdateId) c--;
    const book = this.checkpoint(this.chunks[c]!);
    for (; c < this.chunks.length; c++) {
      const chunk = this.chunks[c]!;
      for (let j = 0; j < chunk.length; j++) {
        const id = chunk.baseId + j + 1;
        if (book.apply(chunk.keys[j]!, chunk.qtys[j]!) && id >= fromUpdateId) {
          out.push(this.quoteOf(book, id));
        }
      }
    }
    return out;
  }

  /**
   * The changes after `afterId` up to the newest, merged per level, or
   * `undefined` when there are none. Changes no longer retained are left
   * out: the diff then starts later than asked, as a gap.
   */
  diffSince(afterId: number): BookDiff | undefined {
    if (afterId >= this.current) return undefined;
    const from = Math.max(afterId, this.oldestUpdateId);
    const changed = new Map<number, number>();
    let c = this.chunks.length - 1;
    while (this.chunks[c]!.baseId > from) c--;
    for (let j = from - this.chunks[c]!.baseId; c < this.chunks.length; c++, j = 0) {
      const chunk = this.chunks[c]!;
      for (; j < chunk.length; j++) changed.set(chunk.keys[j]!, chunk.qtys[j]!);
    }
    const keys = [...changed.keys()].sort((a, b) => b - a); // best first on either side
    const bids: BookLevel[] = [];
    const asks: BookLevel[] = [];
    for (const key of keys) {
      const level: BookLevel = [this.price(Math.abs(key)), this.qty(changed.get(key)!)];
      (key > 0 ? bids : asks).push(level);
    }
    return { firstUpdateId: from + 1, finalUpdateId: this.current, bids, asks };
  }

  /** The starting book, drawn from the seed (the first draw was the first update id's). */
  private startingBook(): BookState {
    const random = prng(this.seed);
    random();
    return this.model.initial(this.anchorTicks, random);
  }

  /** A copy of the book `chunk` starts from. */
  private checkpoint(chunk: LogChunk): BookState {
    return chunk.checkpoint ? BookState.from(chunk.checkpoint) : this.startingBook();
  }

  private room(size: number): { keys: Float64Array; qtys: Float64Array } {
    return { keys: new Float64Array(size), qtys: new Float64Array(size) };
  }

  private grow(chunk: LogChunk): void {
    const { keys, qtys } = this.room(Math.min(CHUNK, chunk.keys.length * 4));
    keys.set(chunk.keys);
    qtys.set(chunk.qtys);
    chunk.keys = keys;
    chunk.qtys = qtys;
  }

  private startChunk(): LogChunk {
    const spare = this.spare;
    this.spare = undefined;
    const chunk: LogChunk = {
      baseId: this.current,
      checkpoint: this.live.snapshot(),
      ...(spare?.keys.length === CHUNK ? { keys: spare.keys, qtys: spare.qtys } : this.room(CHUNK)),
      length: 0,
    };
    this.chunks.push(chunk);
    while (this.chunks.length > 1 && this.current - this.chunks[1]!.baseId >= this.retain) {
      this.spare = this.chunks.shift();
    }
    return chunk;
  }

  private price(ticks: number): string {
    return formatQuantity(ticks * this.rules.tickUnits);
  }

  private qty(steps: number): string {
    return formatQuantity(steps * this.rules.stepUnits);
  }

  private quoteOf(book: BookState, updateId: number): SimQuote {
    const { bids, asks } = book;
    return {
      symbol: this.symbol,
      updateId,
      bidPrice: this.price(bids.keys[bids.size - 1] ?? 0),
      bidQty: this.qty(bids.qtys[bids.size - 1] ?? 0),
      askPrice: this.price(-(asks.keys[asks.size - 1] ?? 0)),
      askQty: this.qty(asks.qtys[asks.size - 1] ?? 0),
    };
  }

  private topOf(book: BookState, updateId: number, depth: number): BookTop {
    const levels = (side: BookSide, sign: number): BookLevel[] => {
      const out: BookLevel[] = [];
      for (let i = side.size - 1; i >= Math.max(0, side.size - depth); i--) {
        out.push([this.price(sign * side.keys[i]!), this.qty(side.qtys[i]!)]);
      }
      return out;
    };
    return {
      symbol: this.symbol,
      updateId,
      bids: levels(book.bids, 1),
      asks: levels(book.asks, -1),
    };
  }
}
