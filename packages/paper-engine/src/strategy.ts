import type { DecimalString, Side, Tick } from '@trade/core';

/** What a strategy asks for on one tick. */
export type SignalAction = Side | 'HOLD';

/**
 * A strategy's answer to a tick. `size` is a fraction in (0, 1], default 1:
 * for a BUY, of the amount the portfolio's sizing rule allows; for a SELL, of
 * the position held.
 */
export interface Signal {
  readonly action: SignalAction;
  readonly size?: number;
}

/** The signal that asks for nothing. Shared and frozen: return it instead of allocating. */
export const HOLD: Signal = Object.freeze({ action: 'HOLD' });
const BUY_ALL: Signal = Object.freeze({ action: 'BUY' });
const SELL_ALL: Signal = Object.freeze({ action: 'SELL' });

/** A BUY signal; `size` as in {@link Signal}. */
export function buySignal(size?: number): Signal {
  return size === undefined ? BUY_ALL : { action: 'BUY', size };
}

/** A SELL signal; `size` as in {@link Signal}. */
export function sellSignal(size?: number): Signal {
  return size === undefined ? SELL_ALL : { action: 'SELL', size };
}

/**
 * What a strategy sees of the portfolio for its symbol when a tick arrives,
 * after the tick's price has been marked. The engine reuses one object per
 * symbol: read it during the call, do not keep it.
 */
export interface StrategyContext {
  readonly symbol: string;
  /** Quantity held in `symbol` (long only: never negative). */
  readonly position: number;
  /** Average cost per unit of the position, buy fees included; 0 when flat. */
  readonly averageCost: number;
  /** Portfolio cash in the quote currency. */
  readonly cash: number;
}

/**
 * Why an order was refused. The exchange's rules: `below_min_qty` (the
 * quantity, rounded down to the step, is under `LOT_SIZE.minQty`),
 * `below_min_notional` (price x quantity under `NOTIONAL.minNotional`),
 * `invalid_rules` (the symbol's rules could not be read; logged).
 * `no_liquidity`: the book has no level on the order's side.
 */
export type RejectReason =
  | 'insufficient_cash'
  | 'no_position'
  | 'zero_quantity'
  | 'below_min_qty'
  | 'below_min_notional'
  | 'no_liquidity'
  | 'invalid_rules';

/** Every {@link RejectReason}, in a stable order (for counters). */
export const REJECT_REASONS: readonly RejectReason[] = Object.freeze([
  'insufficient_cash',
  'no_position',
  'zero_quantity',
  'below_min_qty',
  'below_min_notional',
  'no_liquidity',
  'invalid_rules',
]);

/** An order the portfolio refused, told back to the strategy that asked for it. */
export interface OrderRejection {
  readonly symbol: string;
  readonly side: Side;
  readonly reason: RejectReason;
  /** Quote amount the order needed (BUY) or 0 (SELL). */
  readonly required: number;
  /** Cash available when the order was refused. */
  readonly available: number;
  /** Trade time of the tick that triggered it, ms since the epoch. */
  readonly timestamp: number;
  /** The quantity it came to, rounded down to the step (when it was priced). */
  readonly quantity?: DecimalString;
  /** The price it would have filled at (when it was priced). */
  readonly price?: DecimalString;
  /** The rule it fell short of: `minQty` or `minNotional`. */
  readonly minimum?: DecimalString;
}

/**
 * Where a fill's price came from: the order book's levels (`book`), a
 * quote's touch (`quote`), or the last trade price with slippage (`last`).
 */
export type FillSource = 'book' | 'quote' | 'last';

/** A fill's amounts as the portfolio applied them: exact decimal strings. */
export interface ExactFill {
  readonly price: DecimalString;
  readonly quantity: DecimalString;
  /** Sum of price x quantity over the levels taken, unrounded. */
  readonly notional: DecimalString;
  readonly fee: DecimalString;
  readonly cashAfter: DecimalString;
  readonly positionAfter: DecimalString;
  /** Signed: `-` for a loss. */
  readonly realizedPnl: string;
}

/**
 * One executed order, as the portfolio applied it. The numbers are the
 * exact amounts of {@link ExecutedFill.exact} read as numbers.
 */
export interface ExecutedFill {
  readonly symbol: string;
  readonly side: Side;
  /** Execution price: the volume-weighted price of the levels taken. */
  readonly price: number;
  /**
   * The price it would have got without slippage: the best level's (the
   * touch) with a quote or book, else the last trade price.
   */
  readonly marketPrice: number;
  readonly quantity: number;
  /** `price * quantity` in the quote currency. */
  readonly notional: number;
  /** Fee charged, quote currency. */
  readonly fee: number;
  /** What slippage cost against `marketPrice`: `|price - marketPrice| * quantity`. */
  readonly slippageCost: number;
  /** Realized PnL of this fill (SELL only; 0 for a BUY), fees included. */
  readonly realizedPnl: number;
  readonly cashAfter: number;
  readonly positionAfter: number;
  readonly timestamp: number;
  readonly source: FillSource;
  /** How many levels of the book the order took (1 at a touch or the last price). */
  readonly levels: number;
  /** The book's visible depth ran out first: the order filled what it held. */
  readonly partial: boolean;
  readonly exact: ExactFill;
}

/**
 * One symbol's strategy instance. The engine creates one per symbol, so an
 * instance keeps its indicator state for a single symbol.
 *
 * @example
 * ```ts
 * const buyOnce: StrategyDefinition = {
 *   name: 'buy-once',
 *   warmUpTicks: 0,
 *   create: () => ({ onTick: (_tick, ctx) => (ctx.position === 0 ? buySignal() : HOLD) }),
 * };
 * ```
 */
export interface Strategy {
  /** Decides on one tick. Called synchronously in the hot path: do not allocate when holding. */
  onTick(tick: Tick, ctx: StrategyContext): Signal;
  /** Feeds older ticks (oldest first) into the indicators without trading. */
  warmUp?(ticks: readonly Tick[]): void;
  /** The order asked for on the last tick was executed. */
  onFill?(fill: ExecutedFill): void;
  /** The order asked for on the last tick was refused; the position did not change. */
  onRejected?(rejection: OrderRejection): void;
}

/** A named strategy with its options applied: makes one {@link Strategy} per symbol. */
export interface StrategyDefinition {
  /** Written to every fill, e.g. `sma`. */
  readonly name: string;
  /** How many recent ticks warm it up fully (0: none needed). */
  readonly warmUpTicks: number;
  /** The options it was built with, for logs and summaries. */
  readonly options?: Readonly<Record<string, number>>;
  create(symbol: string): Strategy;
}
