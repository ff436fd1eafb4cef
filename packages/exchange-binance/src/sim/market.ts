import { InvalidInputError, normalizeSymbol } from '@trade/core';
import { OrderBookTruth } from './order-book-truth.js';
import { prng, seedFor } from './prng.js';
import {
  CENT_UNITS,
  resolveRules,
  type SimSymbolRules,
  type SimSymbolRulesOptions,
} from './symbol-rules.js';
import { formatPrice, TradeHistory, type SimTrade } from './trade-history.js';

export { prng } from './prng.js';

/** What a stream of the book carries: best bid and ask, or depth diffs every 100 ms or 1 s. */
export type BookStreamKind = 'bookTicker' | 'depth@100ms' | 'depth';

/** One symbol the market trades, with the names of its streams. Only {@link Market} makes them. */
export interface MarketSymbol {
  /** Normalized, e.g. `BTCUSDT`. */
  readonly symbol: string;
  /** e.g. `btcusdt@trade`. */
  readonly tradeStream: string;
  /** e.g. `btcusdt@aggTrade`. */
  readonly aggStream: string;
  /** e.g. `btcusdt@bookTicker`. */
  readonly bookTickerStream: string;
  /** e.g. `btcusdt@depth@100ms`. */
  readonly depthStream: string;
  /** e.g. `btcusdt@depth` (every second). */
  readonly depthSlowStream: string;
  /** Every retained trade: the ground truth. */
  readonly history: TradeHistory;
  /** The order book and every retained change of it: the ground truth. */
  readonly book: OrderBookTruth;
  /** Its exchange rules. */
  readonly rules: SimSymbolRules;
}

interface SymbolState extends MarketSymbol {
  priceCents: number;
  /** Cents a step of the walk moves: 1, or the tick when that is wider. */
  readonly walkCents: number;
}

/** A stream {@link Market.stream} found. */
export interface MarketStream {
  readonly symbol: MarketSymbol;
  /** The aggTrade stream. */
  readonly agg: boolean;
  /** Its canonical name. */
  readonly name: string;
  /** Set for a stream of the book. */
  readonly book?: BookStreamKind;
}

/** Options of {@link Market}. */
export interface MarketOptions {
  /** Symbols that trade, normalized here. */
  readonly symbols: readonly string[];
  /** Seed of the random walk: the same seed, symbols and calls give the same trades. */
  readonly seed: number;
  /** First trade id of each symbol. Default derived from the seed (around 1e9). */
  readonly firstTradeId?: number;
  /** Trades kept per symbol, and book changes kept at least. */
  readonly retain: number;
  /** Rules per symbol (named as in `symbols`, any case); unnamed ones get the defaults. */
  readonly rules?: Readonly<Record<string, SimSymbolRulesOptions>>;
  /** Levels per side each book starts with. Default `500`. */
  readonly bookLevels?: number;
  /** Book changes each trade makes. Default `1`. */
  readonly bookUpdatesPerTrade?: number;
  /** Update id of the first book change of every symbol. Default derived from the seed per symbol (1e9 to 1.1e9). */
  readonly firstUpdateId?: number;
}

/**
 * The simulated exchange's trading: a seeded random walk per symbol, the
 * trades it made (the ground truth), each symbol's rules and order book
 * (which each trade moves), and the names of its streams. It knows nothing
 * of sockets: whoever asks for a trade delivers it, or does not.
 *
 * One random sequence feeds every symbol's trades, so the order of
 * {@link trade} calls across symbols is part of what a seed reproduces.
 * Each book draws from its own sequence (seeded by the seed and its
 * symbol), so the books leave the trades of a seed as they were.
 *
 * @example
 * ```ts
 * const market = new Market({ symbols: ['BTCUSDT'], seed: 7, retain: 1000 });
 * const [btc] = market.symbols;
 * const id = market.trade(btc!, Date.now());
 * market.truth('BTCUSDT').at(-1)?.id === id; // true
 * ```
 */
export class Market {
  /** Every symbol, in the order given. */
  readonly symbols: readonly MarketSymbol[];
  /** Id of the first trade of every symbol. */
  readonly firstTradeId: number;
  private readonly random: () => number;
  private readonly bookUpdatesPerTrade: number;
  private readonly bySymbol = new Map<string, SymbolState>();
  private readonly byStream = new Map<string, Omit<MarketStream, 'name'>>();

  constructor(options: MarketOptions) {
    this.random = prng(options.seed);
    this.firstTradeId = options.firstTradeId ?? 1_000_000_000 + Math.floor(this.random() * 1e8);
    this.bookUpdatesPerTrade = options.bookUpdatesPerTrade ?? 1;
    if (!(Number.isSafeInteger(this.bookUpdatesPerTrade) && this.bookUpdatesPerTrade >= 0)) {
      throw new InvalidInputError(
        'bookUpdatesPerTrade',
        this.bookUpdatesPerTrade,
        'an integer >= 0',
      );
    }
    const levels = options.bookLevels ?? 500;
    if (!(Number.isSafeInteger(levels) && levels >= 1 && levels <= 5000)) {
      throw new InvalidInputError('bookLevels', levels, 'an integer from 1 to 5000');
    }
    const rules = new Map<string, SimSymbolRulesOptions>();
    for (const [name, value] of Object.entries(options.rules ?? {})) {
      rules.set(normalizeSymbol(name, `rules.${name}`), value);
    }
    for (const raw of options.symbols) {
      const symbol = normalizeSymbol(raw);
      const lower = symbol.toLowerCase();
      const symbolRules = resolveRules(symbol, rules.get(symbol));
      // A tick wider than a cent makes the walk step by ticks; the default walk is untouched.
      const walkCents = Math.max(1, symbolRules.tickUnits / CENT_UNITS);
      const startCents =
        this.bySymbol.size === 0 ? 4_325_001 : 100 + Math.floor(this.random() * 500_000);
      const priceCents = Math.max(walkCents, Math.round(startCents / walkCents) * walkCents);
      const state: SymbolState = {
        symbol,
        tradeStream: `${lower}@trade`,
        aggStream: `${lower}@aggTrade`,
        bookTickerStream: `${lower}@bookTicker`,
        depthStream: `${lower}@depth@100ms`,
        depthSlowStream: `${lower}@depth`,
        history: new TradeHistory(symbol, this.firstTradeId, options.retain),
        book: new OrderBookTruth({
          symbol,
          rules: symbolRules,
          seed: seedFor(options.seed, symbol),
          firstUpdateId: options.firstUpdateId,
          levels,
          retain: options.retain,
          anchorTicks: (priceCents * CENT_UNITS) / symbolRules.tickUnits,
        }),
        rules: symbolRules,
        priceCents,
        walkCents,
      };
      this.bySymbol.set(symbol, state);
      this.byStream.set(state.tradeStream, { symbol: state, agg: false });
      this.byStream.set(state.aggStream.toLowerCase(), { symbol: state, agg: true });
      const book = (kind: BookStreamKind, name: string) =>
        this.byStream.set(name.toLowerCase(), { symbol: state, agg: false, book: kind });
      book('bookTicker', state.bookTickerStream);
      book('depth@100ms', state.depthStream);
      book('depth', state.depthSlowStream);
    }
    for (const name of rules.keys()) {
      if (!this.bySymbol.has(name)) {
        throw new InvalidInputError(`rules.${name}`, name, 'a symbol the simulator trades');
      }
    }
    this.symbols = [...this.bySymbol.values()];
  }

  /** The symbol named exactly `name` (already normalized), or `undefined`. */
  find(name: string): MarketSymbol | undefined {
    return this.bySymbol.get(name);
  }

  /**
   * `[that symbol]` for a name (normalized here), or every symbol when
   * `symbol` is `undefined`. Throws `InvalidInputError` for a symbol not traded.
   */
  resolve(symbol?: string): readonly MarketSymbol[] {
    if (symbol === undefined) return this.symbols;
    const state = this.bySymbol.get(normalizeSymbol(symbol));
    if (!state) throw new InvalidInputError('symbol', symbol, 'a symbol the simulator trades');
    return [state];
  }

  /**
   * The stream a client names, matched as Binance does (`btcusdt@trade`,
   * `BTCUSDT@trade`, `btcusdt@aggtrade`, `btcusdt@bookticker`...): its
   * symbol, whether it is the aggTrade stream, which stream of the book it
   * is (if one), and its canonical name. `undefined` when there is none.
   */
  stream(name: string): MarketStream | undefined {
    const entry = this.byStream.get(name) ?? this.byStream.get(name.toLowerCase());
    if (!entry) return undefined;
    return { ...entry, name: canonicalName(entry) };
  }

  /** Makes the next trade of `symbol` at `time` and returns its id; the book moves after it. */
  trade(symbol: MarketSymbol, time: number): number {
    const state = symbol as SymbolState; // only this class makes them
    const step = Math.floor(this.random() * 5) - 2;
    state.priceCents = Math.max(state.walkCents, state.priceCents + step * state.walkCents);
    const r = this.random();
    const quantity = 1 + Math.floor(r * r * r * 200_000_000);
    const id = state.history.push(time, state.priceCents, quantity, this.random() < 0.5);
    if (this.bookUpdatesPerTrade > 0) this.moveBook(state, this.bookUpdatesPerTrade);
    return id;
  }

  /** Makes `count` changes of `symbol`'s book around its last trade price. */
  moveBook(symbol: MarketSymbol, count: number): void {
    const state = symbol as SymbolState;
    const anchor = (state.priceCents * CENT_UNITS) / state.rules.tickUnits;
    for (let i = 0; i < count; i++) state.book.move(anchor);
  }

  /** Every retained trade of `symbol` in id order. */
  truth(symbol: string): SimTrade[] {
    return this.resolve(symbol)[0]!.history.all();
  }

  /** Id of the newest trade of `symbol`, or `undefined` before the first. */
  lastTradeId(symbol: string): number | undefined {
    const history = this.resolve(symbol)[0]!.history;
    return history.nextId === this.firstTradeId ? undefined : history.nextId - 1;
  }

  /**
   * `count` trades of `symbol` that never happened, with ids from `fromId`,
   * priced like the newest real one: they are not in the ground truth.
   */
  fabricate(symbol: MarketSymbol, fromId: number, count: number, time: number): SimTrade[] {
    const model = symbol.history.get(symbol.history.nextId - 1);
    const price = model?.price ?? formatPrice((symbol as SymbolState).priceCents);
    return Array.from({ length: count }, (_, i) => ({
      symbol: symbol.symbol,
      id: fromId + i,
      price,
      quantity: '0.00100000',
      time,
      isBuyerMaker: false,
    }));
  }
}

function canonicalName(entry: Omit<MarketStream, 'name'>): string {
  const { symbol } = entry;
  switch (entry.book) {
    case 'bookTicker':
      return symbol.bookTickerStream;
    case 'depth@100ms':
      return symbol.depthStream;
    case 'depth':
      return symbol.depthSlowStream;
    default:
      return entry.agg ? symbol.aggStream : symbol.tradeStream;
  }
}
