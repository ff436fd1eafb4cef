import { InvalidInputError, normalizeSymbol } from '@trade/core';
import { formatPrice, TradeHistory, type SimTrade } from './trade-history.js';

/** A small fast seeded PRNG (mulberry32): same seed, same sequence. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One symbol the market trades, with the names of its two streams. Only {@link Market} makes them. */
export interface MarketSymbol {
  /** Normalized, e.g. `BTCUSDT`. */
  readonly symbol: string;
  /** e.g. `btcusdt@trade`. */
  readonly tradeStream: string;
  /** e.g. `btcusdt@aggTrade`. */
  readonly aggStream: string;
  /** Every retained trade: the ground truth. */
  readonly history: TradeHistory;
}

interface SymbolState extends MarketSymbol {
  priceCents: number;
}

/** Options of {@link Market}. */
export interface MarketOptions {
  /** Symbols that trade, normalized here. */
  readonly symbols: readonly string[];
  /** Seed of the random walk: the same seed, symbols and calls give the same trades. */
  readonly seed: number;
  /** First trade id of each symbol. Default derived from the seed (around 1e9). */
  readonly firstTradeId?: number;
  /** Trades kept per symbol. */
  readonly retain: number;
}

/**
 * The simulated exchange's trading: a seeded random walk per symbol, the
 * trades it made (the ground truth), and the names of its streams. It knows
 * nothing of sockets: whoever asks for a trade delivers it, or does not.
 *
 * One random sequence feeds every symbol, so the order of {@link trade}
 * calls across symbols is part of what a seed reproduces.
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
  private readonly bySymbol = new Map<string, SymbolState>();
  private readonly byStream = new Map<string, { symbol: MarketSymbol; agg: boolean }>();

  constructor(options: MarketOptions) {
    this.random = prng(options.seed);
    this.firstTradeId = options.firstTradeId ?? 1_000_000_000 + Math.floor(this.random() * 1e8);
    for (const raw of options.symbols) {
      const symbol = normalizeSymbol(raw);
      const lower = symbol.toLowerCase();
      const state: SymbolState = {
        symbol,
        tradeStream: `${lower}@trade`,
        aggStream: `${lower}@aggTrade`,
        history: new TradeHistory(symbol, this.firstTradeId, options.retain),
        priceCents:
          this.bySymbol.size === 0 ? 4_325_001 : 100 + Math.floor(this.random() * 500_000),
      };
      this.bySymbol.set(symbol, state);
      this.byStream.set(state.tradeStream, { symbol: state, agg: false });
      this.byStream.set(state.aggStream.toLowerCase(), { symbol: state, agg: true });
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
   * `BTCUSDT@trade`, `btcusdt@aggtrade`...): its symbol, whether it is the
   * aggTrade stream, and its canonical name. `undefined` when there is none.
   */
  stream(name: string): { symbol: MarketSymbol; agg: boolean; name: string } | undefined {
    const entry = this.byStream.get(name) ?? this.byStream.get(name.toLowerCase());
    if (!entry) return undefined;
    return {
      ...entry,
      name: entry.agg ? entry.symbol.aggStream : entry.symbol.tradeStream,
    };
  }

  /** Makes the next trade of `symbol` at `time` and returns its id. */
  trade(symbol: MarketSymbol, time: number): number {
    const state = symbol as SymbolState; // only this class makes them
    const step = Math.floor(this.random() * 5) - 2;
    state.priceCents = Math.max(1, state.priceCents + step);
    const r = this.random();
    const quantity = 1 + Math.floor(r * r * r * 200_000_000);
    return state.history.push(time, state.priceCents, quantity, this.random() < 0.5);
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
