import type { Side } from '@trade/core';
import { priceBuy, priceSell, type PricedOrder } from './order-costs.js';
import { rangeOption } from './options.js';
import { checkSizing, type PositionSizing } from './position-sizing.js';
import type { ExecutedFill, OrderRejection, RejectReason } from './strategy.js';

/** Options of {@link Portfolio}. */
export interface PortfolioOptions {
  /** Starting cash in the quote currency. Default 10 000. */
  initialCash?: number;
  /** Default `{ mode: 'fraction', fraction: 0.1 }`. */
  sizing?: PositionSizing;
  /** Fee in basis points of the notional, charged on BUY and SELL. Default 10 (0.1%). */
  feeBps?: number;
  /** Price moved against the taker, basis points: BUY pays more, SELL gets less. Default 5. */
  slippageBps?: number;
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
  readonly rejections: Readonly<Record<RejectReason, number>>;
  readonly roundTrips: RoundTripStats;
  readonly positions: readonly PositionSnapshot[];
}

/** What {@link Portfolio.execute} did: a fill, or a refusal that changed nothing. */
export type OrderResult =
  | { readonly ok: true; readonly fill: ExecutedFill }
  | { readonly ok: false; readonly rejection: OrderRejection };

class Position implements PositionState {
  quantity = 0;
  costBasis = 0;
  lastPrice = Number.NaN;
  realizedPnl = 0;
  /** Realized PnL of the round trip in progress. */
  tripPnl = 0;

  constructor(readonly symbol: string) {}
}

/** An order {@link Portfolio} has applied, as `filled()` reports it. */
interface Filled {
  readonly position: Position;
  readonly side: Side;
  readonly order: PricedOrder;
  /** The price the order was executed against, before slippage. */
  readonly marketPrice: number;
  /** 0 for a BUY. */
  readonly realizedPnl: number;
  readonly timestamp: number;
}

/**
 * Cash and per-symbol long positions with average cost, fees and slippage.
 * A BUY spends what the sizing rule gives (fee included) and is refused when
 * cash does not cover it; a SELL is refused when nothing is held. A refused
 * order changes nothing. Amounts are JavaScript numbers; fills carry them
 * exactly as applied.
 *
 * @example
 * ```ts
 * const portfolio = new Portfolio({ initialCash: 10_000, feeBps: 10, slippageBps: 5 });
 * // BUY the whole sizing budget (size 1) against a market price of 40 000
 * const result = portfolio.execute('BTCUSDT', 'BUY', 40_000, 1, Date.now());
 * if (!result.ok) console.log(result.rejection.reason);
 * portfolio.mark('BTCUSDT', 41_000);
 * portfolio.snapshot().equity;
 * ```
 */
export class Portfolio {
  readonly initialCash: number;
  readonly sizing: PositionSizing;
  /** `feeBps / 10 000`. */
  readonly feeRate: number;
  /** `slippageBps / 10 000`. */
  readonly slippageRate: number;
  private cashBalance: number;
  private readonly bySymbol = new Map<string, Position>();
  private readonly list: Position[] = [];
  private fees = 0;
  private slippage = 0;
  private fillCount = 0;
  private readonly rejected: Record<RejectReason, number> = {
    insufficient_cash: 0,
    no_position: 0,
    zero_quantity: 0,
  };
  private tripsClosed = 0;
  private tripsWon = 0;

  constructor(options: PortfolioOptions = {}) {
    this.initialCash = rangeOption(options.initialCash, 'initialCash', 10_000, {
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
      minExclusive: true,
    });
    this.sizing = checkSizing(options.sizing ?? { mode: 'fraction', fraction: 0.1 });
    this.feeRate = rangeOption(options.feeBps, 'feeBps', 10, { min: 0, max: 1000 }) / 10_000;
    this.slippageRate =
      rangeOption(options.slippageBps, 'slippageBps', 5, { min: 0, max: 1000 }) / 10_000;
    this.cashBalance = this.initialCash;
  }

  /** Cash in the quote currency; never negative. */
  get cash(): number {
    return this.cashBalance;
  }

  /** Fees charged on every fill so far, quote currency. */
  get feesPaid(): number {
    return this.fees;
  }

  /** What slippage has cost on every fill so far, quote currency. */
  get slippageCost(): number {
    return this.slippage;
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

  /** Cash plus every position marked to its symbol's last price. */
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
    let total = 0;
    for (const position of this.list) total += position.realizedPnl;
    return total;
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
   * Executes an order against `marketPrice` (the symbol is marked to it first).
   * `size` in (0, 1]: of the sizing rule's budget for a BUY, of the position
   * for a SELL; above 1 counts as 1, zero or below is refused.
   */
  execute(
    symbol: string,
    side: Side,
    marketPrice: number,
    size: number,
    timestamp: number,
  ): OrderResult {
    const position = this.slot(symbol);
    position.lastPrice = marketPrice;
    if (!(size > 0)) return this.reject(symbol, side, 'zero_quantity', 0, timestamp);
    const fraction = size < 1 ? size : 1;
    return side === 'BUY'
      ? this.buy(position, marketPrice, fraction, timestamp)
      : this.sell(position, marketPrice, fraction, timestamp);
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
      feesPaid: this.fees,
      slippageCost: this.slippage,
      fills: this.fillCount,
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
    };
  }

  private buy(
    position: Position,
    marketPrice: number,
    fraction: number,
    timestamp: number,
  ): OrderResult {
    const sizing = this.sizing;
    const budget =
      (sizing.mode === 'fraction' ? sizing.fraction * this.equity() : sizing.amount) * fraction;
    const cash = this.cashBalance;
    if (budget > cash) {
      return this.reject(position.symbol, 'BUY', 'insufficient_cash', budget, timestamp);
    }
    const order = priceBuy(marketPrice, budget, this);
    if (!(order.quantity > 0)) {
      return this.reject(position.symbol, 'BUY', 'zero_quantity', budget, timestamp);
    }
    if (position.quantity === 0) position.tripPnl = 0;
    position.quantity += order.quantity;
    position.costBasis += budget;
    this.cashBalance = cash - budget;
    return this.filled({ position, side: 'BUY', order, marketPrice, realizedPnl: 0, timestamp });
  }

  private sell(
    position: Position,
    marketPrice: number,
    fraction: number,
    timestamp: number,
  ): OrderResult {
    const held = position.quantity;
    if (held <= 0) return this.reject(position.symbol, 'SELL', 'no_position', 0, timestamp);
    const quantity = fraction === 1 ? held : held * fraction;
    if (!(quantity > 0)) {
      return this.reject(position.symbol, 'SELL', 'zero_quantity', 0, timestamp);
    }
    const order = priceSell(marketPrice, quantity, this);
    const closing = quantity === held;
    const cost = closing ? position.costBasis : (position.costBasis / held) * quantity;
    const realizedPnl = order.notional - order.fee - cost;
    position.quantity = closing ? 0 : held - quantity;
    position.costBasis = closing ? 0 : position.costBasis - cost;
    position.realizedPnl += realizedPnl;
    position.tripPnl += realizedPnl;
    this.cashBalance += order.notional - order.fee;
    if (closing) {
      this.tripsClosed += 1;
      if (position.tripPnl > 0) this.tripsWon += 1;
    }
    return this.filled({ position, side: 'SELL', order, marketPrice, realizedPnl, timestamp });
  }

  /** Counts an applied order and describes it; cash and position are already updated. */
  private filled({
    position,
    side,
    order,
    marketPrice,
    realizedPnl,
    timestamp,
  }: Filled): OrderResult {
    this.fees += order.fee;
    this.slippage += order.slippageCost;
    this.fillCount += 1;
    return {
      ok: true,
      fill: {
        symbol: position.symbol,
        side,
        price: order.price,
        marketPrice,
        quantity: order.quantity,
        notional: order.notional,
        fee: order.fee,
        slippageCost: order.slippageCost,
        realizedPnl,
        cashAfter: this.cashBalance,
        positionAfter: position.quantity,
        timestamp,
      },
    };
  }

  private reject(
    symbol: string,
    side: Side,
    reason: RejectReason,
    required: number,
    timestamp: number,
  ): OrderResult {
    this.rejected[reason] += 1;
    return {
      ok: false,
      rejection: { symbol, side, reason, required, available: this.cashBalance, timestamp },
    };
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
