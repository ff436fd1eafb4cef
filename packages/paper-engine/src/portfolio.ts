import { ConfigError, type DecimalString, type Side, type SymbolRules } from '@trade/core';
import { orderRules, type OrderRules } from './exchange-rules.js';
import { parseLiquidity } from './liquidity.js';
import type { MarketLiquidity } from './market-view.js';
import { ZERO, decimalString, exact, roundMoney, type Exact } from './money.js';
import {
  costRates,
  priceBuy,
  priceSell,
  type CostRates,
  type OrderVenue,
  type Pricing,
} from './order-costs.js';
import { rangeOption } from './options.js';
import { checkSizing, type PositionSizing } from './position-sizing.js';
import {
  REJECT_REASONS,
  type ExecutedFill,
  type FillSource,
  type OrderRejection,
  type RejectReason,
} from './strategy.js';

/** Options of {@link Portfolio}. */
export interface PortfolioOptions {
  /** Starting cash in the quote currency. Default 10 000. */
  initialCash?: number;
  /** Default `{ mode: 'fraction', fraction: 0.1 }`. */
  sizing?: PositionSizing;
  /** Fee in basis points of the notional, charged on BUY and SELL. Default 10 (0.1%). */
  feeBps?: number;
  /**
   * Price moved against the taker, basis points: BUY pays more, SELL gets
   * less. Only for orders filled at the last trade price (no quote or book
   * known). Default 5.
   */
  slippageBps?: number;
}

/** What an order meets besides the last trade price; see {@link Portfolio.execute}. */
export interface OrderMarket {
  /** The order's side of the book, or a quote's touch, e.g. from the engine's latest quote and book. */
  readonly liquidity?: MarketLiquidity;
  /** The symbol's exchange rules: step, minimums, tick. */
  readonly rules?: SymbolRules;
}

/** The portfolio's amounts as exact decimal strings (signed where a loss can make them negative). */
export interface ExactBalances {
  readonly cash: DecimalString;
  readonly feesPaid: DecimalString;
  readonly slippageCost: DecimalString;
  readonly realizedPnl: string;
  readonly positions: Readonly<
    Record<
      string,
      {
        readonly quantity: DecimalString;
        readonly costBasis: DecimalString;
        readonly realizedPnl: string;
      }
    >
  >;
}

/** One symbol's holding as the portfolio keeps it. */
export interface PositionState {
  readonly symbol: string;
  /** Units held; long only, never negative. */
  readonly quantity: number;
  /** Cost of the units held, buy fees included. */
  readonly costBasis: number;
  /** Last price marked for the symbol (NaN before the first). */
  readonly lastPrice: number;
  /** PnL realized by sells of this symbol, fees included. */
  readonly realizedPnl: number;
}

/** A position as a plain object, for summaries and logs. */
export interface PositionSnapshot {
  readonly symbol: string;
  readonly quantity: number;
  /** Cost per unit, buy fees included; 0 when flat. */
  readonly averageCost: number;
  readonly lastPrice: number | null;
  readonly marketValue: number;
  readonly unrealizedPnl: number;
  readonly realizedPnl: number;
}

/** Round trips (flat -> long -> flat) that have closed, and how they ended. */
export interface RoundTripStats {
  readonly closed: number;
  /** Closed with a PnL above zero, fees included. */
  readonly wins: number;
  readonly losses: number;
  /** `wins / closed`, or null when none has closed. */
  readonly winRate: number | null;
}

/** The whole portfolio as a plain, JSON-serialisable object. */
export interface PortfolioSnapshot {
  readonly initialCash: number;
  readonly cash: number;
  /** Cash plus every position marked to its symbol's last price. */
  readonly equity: number;
  readonly realizedPnl: number;
  readonly unrealizedPnl: number;
  /** `equity - initialCash` (= realized + unrealized). */
  readonly pnl: number;
  readonly feesPaid: number;
  readonly slippageCost: number;
  readonly fills: number;
  /** Fills by where their price came from. */
  readonly fillSources: Readonly<Record<FillSource, number>>;
  /** Fills cut short by the book's visible depth. */
  readonly partialFills: number;
  readonly rejections: Readonly<Record<RejectReason, number>>;
  readonly roundTrips: RoundTripStats;
  readonly positions: readonly PositionSnapshot[];
  /** Cash, fees, PnL and positions exactly, as the fills carry them. */
  readonly exact: ExactBalances;
}

/** What {@link Portfolio.execute} did: a fill, or a refusal that changed nothing. */
export type OrderResult =
  | { readonly ok: true; readonly fill: ExecutedFill }
  | { readonly ok: false; readonly rejection: OrderRejection };

/**
 * One symbol's holding: exact amounts, and the same read as numbers for the
 * per-tick path (marking, equity, the strategy's view), refreshed on each fill.
 */
class Position implements PositionState {
  quantity = 0;
  costBasis = 0;
  lastPrice = Number.NaN;
  realizedPnl = 0;
  exactQuantity: Exact = ZERO;
  exactCost: Exact = ZERO;
  exactRealized: Exact = ZERO;
  /** Realized PnL of the round trip in progress. */
  tripPnl: Exact = ZERO;

  constructor(readonly symbol: string) {}
}

/** What a fill changed, for {@link Portfolio.filled}. */
interface Applied {
  readonly position: Position;
  readonly side: Side;
  readonly pricing: Extract<Pricing, { ok: true }>;
  /** 0 for a BUY. */
  readonly realizedPnl: Exact;
  readonly timestamp: number;
}

/**
 * Cash and per-symbol long positions with average cost, fees and slippage,
 * in exact decimals: cash and fees are rounded half-even to 8 decimal
 * places, quantities to the symbol's step (8 decimals without rules).
 * A BUY spends at most what the sizing rule gives (fee included) and is
 * refused when cash does not cover it; a SELL is refused when nothing is
 * held; an order under the exchange's minimums is refused. A refused order
 * changes nothing. Marking and equity stay in numbers (they run on every
 * tick); only orders use decimals.
 *
 * @example
 * ```ts
 * const portfolio = new Portfolio({ initialCash: 10_000, feeBps: 10, slippageBps: 5 });
 * // BUY the whole sizing budget (size 1) against a last price of 40 000
 * const result = portfolio.execute('BTCUSDT', 'BUY', '40000.00', 1, Date.now());
 * if (!result.ok) console.log(result.rejection.reason);
 * // ... or at a quote's ask, within the symbol's exchange rules
 * portfolio.execute('BTCUSDT', 'BUY', '40000.00', 1, Date.now(), {
 *   liquidity: { touch: '40000.50' },
 *   rules: { symbol: 'BTCUSDT', tickSize: '0.01', stepSize: '0.00001', minQty: '0.00001', minNotional: '5' },
 * });
 * portfolio.mark('BTCUSDT', 41_000);
 * portfolio.snapshot().exact.cash;
 * ```
 */
export class Portfolio {
  readonly initialCash: number;
  readonly sizing: PositionSizing;
  /** `feeBps / 10 000`. */
  readonly feeRate: number;
  /** `slippageBps / 10 000`. */
  readonly slippageRate: number;
  private readonly rates: CostRates;
  private exactCash: Exact;
  private cashBalance: number;
  private readonly bySymbol = new Map<string, Position>();
  private readonly list: Position[] = [];
  private fees: Exact = ZERO;
  private slippage: Exact = ZERO;
  private fillCount = 0;
  private partialCount = 0;
  private readonly sources: Record<FillSource, number> = { book: 0, quote: 0, last: 0 };
  private readonly rejected = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<
    RejectReason,
    number
  >;
  private tripsClosed = 0;
  private tripsWon = 0;

  constructor(options: PortfolioOptions = {}) {
    const initialCash = rangeOption(options.initialCash, 'initialCash', 10_000, {
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
      minExclusive: true,
    });
    this.sizing = checkSizing(options.sizing ?? { mode: 'fraction', fraction: 0.1 });
    const feeBps = rangeOption(options.feeBps, 'feeBps', 10, { min: 0, max: 1000 });
    const slippageBps = rangeOption(options.slippageBps, 'slippageBps', 5, { min: 0, max: 1000 });
    this.rates = costRates(feeBps, slippageBps);
    this.feeRate = this.rates.feeRate.toNumber();
    this.slippageRate = this.rates.slippageRate.toNumber();
    this.exactCash = roundMoney(exact(initialCash));
    this.cashBalance = this.exactCash.toNumber();
    this.initialCash = this.cashBalance;
  }

  /** Cash in the quote currency; never negative. */
  get cash(): number {
    return this.cashBalance;
  }

  /** Fees charged on every fill so far, quote currency. */
  get feesPaid(): number {
    return this.fees.toNumber();
  }

  /** What slippage has cost on every fill so far, quote currency. */
  get slippageCost(): number {
    return this.slippage.toNumber();
  }

  /** The holding of `symbol`, created flat on first use; the object stays live. */
  position(symbol: string): PositionState {
    return this.slot(symbol);
  }

  /** Records `price` as the last price of `symbol`, which values its position. */
  mark(symbol: string, price: number): PositionState {
    const position = this.slot(symbol);
    position.lastPrice = price;
    return position;
  }

  /** Cash plus every position marked to its symbol's last price (in numbers: it runs per tick). */
  equity(): number {
    let value = this.cashBalance;
    const list = this.list;
    for (let i = 0; i < list.length; i++) {
      const position = list[i]!;
      if (position.quantity > 0) value += position.quantity * position.lastPrice;
    }
    return value;
  }

  /** PnL realized by every sell so far, fees included. */
  realizedPnl(): number {
    return this.exactRealized().toNumber();
  }

  /** Market value of the positions minus their cost basis. */
  unrealizedPnl(): number {
    let total = 0;
    for (const position of this.list) {
      if (position.quantity > 0) {
        total += position.quantity * position.lastPrice - position.costBasis;
      }
    }
    return total;
  }

  /** Closed round trips and the share that made money. */
  roundTrips(): RoundTripStats {
    const closed = this.tripsClosed;
    const wins = this.tripsWon;
    return { closed, wins, losses: closed - wins, winRate: closed === 0 ? null : wins / closed };
  }

  /**
   * Executes an order. `marketPrice` is the last trade price (a decimal
   * string as the exchange wrote it, or a number); the symbol is marked to
   * it. `size` in (0, 1]: of the sizing rule's budget for a BUY, of the
   * position for a SELL; above 1 counts as 1, zero or below is refused.
   *
   * `market.liquidity` given, the order takes it (a book's levels in turn,
   * cut to their depth, or a quote's touch), else the last price moved by
   * the slippage. `market.rules` given, the quantity is rounded down to the
   * step and checked against the minimums (and the slipped last price put
   * on a tick: up for a BUY, down for a SELL); without, quantities are cut
   * to 8 decimals.
   */
  execute(
    symbol: string,
    side: Side,
    marketPrice: number | DecimalString,
    size: number,
    timestamp: number,
    market: OrderMarket = {},
  ): OrderResult {
    const position = this.slot(symbol);
    position.lastPrice = typeof marketPrice === 'number' ? marketPrice : Number(marketPrice);
    if (!(size > 0)) return this.reject(symbol, side, 'zero_quantity', 0, timestamp);
    const fraction = size < 1 ? size : 1;
    let rules: OrderRules;
    try {
      rules = orderRules(market.rules);
    } catch (error) {
      if (!ConfigError.isInstance(error)) throw error;
      return this.reject(symbol, side, 'invalid_rules', 0, timestamp);
    }
    const venue: OrderVenue = {
      marketPrice: exact(marketPrice),
      liquidity: market.liquidity && parseLiquidity(market.liquidity),
      rules,
      rates: this.rates,
    };
    return side === 'BUY'
      ? this.buy(position, venue, fraction, timestamp)
      : this.sell(position, venue, fraction, timestamp);
  }

  /** Every figure of the portfolio as a plain object. */
  snapshot(): PortfolioSnapshot {
    const equity = this.equity();
    return {
      initialCash: this.initialCash,
      cash: this.cashBalance,
      equity,
      realizedPnl: this.realizedPnl(),
      unrealizedPnl: this.unrealizedPnl(),
      pnl: equity - this.initialCash,
      feesPaid: this.feesPaid,
      slippageCost: this.slippageCost,
      fills: this.fillCount,
      fillSources: { ...this.sources },
      partialFills: this.partialCount,
      rejections: { ...this.rejected },
      roundTrips: this.roundTrips(),
      positions: this.list.map((p) => {
        const marked = Number.isNaN(p.lastPrice) ? null : p.lastPrice;
        const marketValue = p.quantity > 0 && marked !== null ? p.quantity * marked : 0;
        return {
          symbol: p.symbol,
          quantity: p.quantity,
          averageCost: p.quantity > 0 ? p.costBasis / p.quantity : 0,
          lastPrice: marked,
          marketValue,
          unrealizedPnl: p.quantity > 0 ? marketValue - p.costBasis : 0,
          realizedPnl: p.realizedPnl,
        };
      }),
      exact: {
        cash: decimalString(this.exactCash),
        feesPaid: decimalString(this.fees),
        slippageCost: decimalString(this.slippage),
        realizedPnl: decimalString(this.exactRealized()),
        positions: Object.fromEntries(
          this.list.map((p) => [
            p.symbol,
            {
              quantity: decimalString(p.exactQuantity),
              costBasis: decimalString(p.exactCost),
              realizedPnl: decimalString(p.exactRealized),
            },
          ]),
        ),
      },
    };
  }

  private buy(
    position: Position,
    venue: OrderVenue,
    fraction: number,
    timestamp: number,
  ): OrderResult {
    const sizing = this.sizing;
    const budget =
      (sizing.mode === 'fraction' ? sizing.fraction * this.equity() : sizing.amount) * fraction;
    if (budget > this.cashBalance) {
      return this.reject(position.symbol, 'BUY', 'insufficient_cash', budget, timestamp);
    }
    // The budget comes from numbers; never let it read as more than the exact cash.
    const asked = exact(budget);
    const exactBudget = asked.lt(this.exactCash) ? asked : this.exactCash;
    const pricing = priceBuy(exactBudget, venue);
    if (!pricing.ok) return this.refuse(position.symbol, 'BUY', pricing, budget, timestamp);
    const { quantity, cashFlow: cost } = pricing.order;
    if (position.exactQuantity.isZero()) position.tripPnl = ZERO;
    position.exactQuantity = position.exactQuantity.plus(quantity);
    position.exactCost = position.exactCost.plus(cost);
    this.exactCash = this.exactCash.minus(cost);
    return this.filled({ position, side: 'BUY', pricing, realizedPnl: ZERO, timestamp });
  }

  private sell(
    position: Position,
    venue: OrderVenue,
    fraction: number,
    timestamp: number,
  ): OrderResult {
    const held = position.exactQuantity;
    if (!held.gt(ZERO)) return this.reject(position.symbol, 'SELL', 'no_position', 0, timestamp);
    const pricing = priceSell(fraction === 1 ? held : held.times(fraction), venue);
    if (!pricing.ok) return this.refuse(position.symbol, 'SELL', pricing, 0, timestamp);
    const { quantity, cashFlow: proceeds } = pricing.order;
    const closing = quantity.eq(held);
    const cost = closing
      ? position.exactCost
      : roundMoney(position.exactCost.times(quantity).div(held));
    const realizedPnl = proceeds.minus(cost);
    position.exactQuantity = held.minus(quantity);
    position.exactCost = closing ? ZERO : position.exactCost.minus(cost);
    position.exactRealized = position.exactRealized.plus(realizedPnl);
    position.tripPnl = position.tripPnl.plus(realizedPnl);
    this.exactCash = this.exactCash.plus(proceeds);
    if (closing) {
      this.tripsClosed += 1;
      if (position.tripPnl.gt(ZERO)) this.tripsWon += 1;
    }
    return this.filled({ position, side: 'SELL', pricing, realizedPnl, timestamp });
  }

  /** Counts an applied order, refreshes the numbers it changed, and describes it. */
  private filled({ position, side, pricing, realizedPnl, timestamp }: Applied): OrderResult {
    const order = pricing.order;
    this.fees = this.fees.plus(order.fee);
    this.slippage = this.slippage.plus(order.slippageCost);
    this.fillCount += 1;
    this.sources[order.source] += 1;
    if (order.partial) this.partialCount += 1;
    const text = {
      price: decimalString(order.price),
      quantity: decimalString(order.quantity),
      notional: decimalString(order.notional),
      fee: decimalString(order.fee),
      cashAfter: decimalString(this.exactCash),
      positionAfter: decimalString(position.exactQuantity),
      realizedPnl: decimalString(realizedPnl),
    };
    this.cashBalance = Number(text.cashAfter);
    position.quantity = Number(text.positionAfter);
    position.costBasis = position.exactCost.isZero() ? 0 : position.exactCost.toNumber();
    if (side === 'SELL') position.realizedPnl = position.exactRealized.toNumber();
    return {
      ok: true,
      fill: {
        symbol: position.symbol,
        side,
        price: Number(text.price),
        // At the last price, the reference is the price execute() marked.
        marketPrice: order.source === 'last' ? position.lastPrice : order.referencePrice.toNumber(),
        quantity: Number(text.quantity),
        notional: Number(text.notional),
        fee: Number(text.fee),
        slippageCost: order.slippageCost.toNumber(),
        realizedPnl: Number(text.realizedPnl),
        cashAfter: this.cashBalance,
        positionAfter: position.quantity,
        timestamp,
        source: order.source,
        levels: order.levels,
        partial: order.partial,
        exact: text,
      },
    };
  }

  /** An order the pricing refused (the exchange's minimums, no liquidity, nothing to trade), with what it found. */
  private refuse(
    symbol: string,
    side: Side,
    pricing: Extract<Pricing, { ok: false }>,
    required: number,
    timestamp: number,
  ): OrderResult {
    return this.reject(symbol, side, pricing.reason, required, timestamp, {
      quantity: decimalString(pricing.quantity),
      ...(pricing.price && { price: decimalString(pricing.price) }),
      ...(pricing.minimum && { minimum: decimalString(pricing.minimum) }),
    });
  }

  private reject(
    symbol: string,
    side: Side,
    reason: RejectReason,
    required: number,
    timestamp: number,
    found?: Pick<OrderRejection, 'quantity' | 'price' | 'minimum'>,
  ): OrderResult {
    this.rejected[reason] += 1;
    return {
      ok: false,
      rejection: {
        symbol,
        side,
        reason,
        required,
        available: this.cashBalance,
        timestamp,
        ...found,
      },
    };
  }

  private exactRealized(): Exact {
    let total = ZERO;
    for (const position of this.list) total = total.plus(position.exactRealized);
    return total;
  }

  private slot(symbol: string): Position {
    let position = this.bySymbol.get(symbol);
    if (position === undefined) {
      position = new Position(symbol);
      this.bySymbol.set(symbol, position);
      this.list.push(position);
    }
    return position;
  }
}
