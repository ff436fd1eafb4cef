import type { Side } from '@trade/core';
import type { OrderRules } from './exchange-rules.js';
import { quantityFor, take, type Level, type Liquidity, type Taken } from './liquidity.js';
import {
  MONEY_UNIT,
  ONE,
  ZERO,
  ceilToStep,
  floorToStep,
  fromBps,
  roundMoney,
  roundPrice,
  type Exact,
} from './money.js';
import type { FillSource } from './strategy.js';

/** A portfolio's cost rates as exact fractions of the notional (`bps / 10 000`). */
export interface CostRates {
  readonly feeRate: Exact;
  readonly slippageRate: Exact;
  /** `1 + feeRate`: what a BUY pays per unit of notional. */
  readonly buyCost: Exact;
  /** `1 + slippageRate` and `1 - slippageRate`: the last price's factor for a BUY and a SELL. */
  readonly buySlip: Exact;
  readonly sellSlip: Exact;
}

/** The {@link CostRates} of `feeBps` and `slippageBps`. */
export function costRates(feeBps: number, slippageBps: number): CostRates {
  const feeRate = fromBps(feeBps);
  const slippageRate = fromBps(slippageBps);
  return {
    feeRate,
    slippageRate,
    buyCost: ONE.plus(feeRate),
    buySlip: ONE.plus(slippageRate),
    sellSlip: ONE.minus(slippageRate),
  };
}

/** Where an order is priced: the market it meets and the rules it must keep. */
export interface OrderVenue {
  /** The last trade price: what the order fills at, with slippage, without liquidity. */
  readonly marketPrice: Exact;
  /** The levels of a quote or book; undefined: the last price with slippage. */
  readonly liquidity: Liquidity | undefined;
  readonly rules: OrderRules;
  readonly rates: CostRates;
}

/** An order priced against the market: what it executes at and what that costs. */
export interface PricedOrder {
  /** The volume-weighted price of the levels taken (see `roundPrice`). */
  readonly price: Exact;
  readonly quantity: Exact;
  /** Sum of price x quantity over the levels taken, exact. */
  readonly notional: Exact;
  /** The notional as cash moves by it: half-even at 8 decimals. */
  readonly cashAmount: Exact;
  /** `notional x feeRate`, half-even at 8 decimals. */
  readonly fee: Exact;
  /** What cash moves by: `cashAmount + fee` paid for a BUY, `cashAmount - fee` received for a SELL. */
  readonly cashFlow: Exact;
  /** The price the order would have got without slippage: the best level's, or the last trade's. */
  readonly referencePrice: Exact;
  /** `|notional - referencePrice x quantity|`, half-even at 8 decimals. */
  readonly slippageCost: Exact;
  readonly source: FillSource;
  /** Levels the order reached (1 for a touch or the last price). */
  readonly levels: number;
  /** The visible depth ran out before the order did: it filled what there was. */
  readonly partial: boolean;
}

/** Why an order could not be priced. */
export type PricingFailure =
  'zero_quantity' | 'no_liquidity' | 'below_min_qty' | 'below_min_notional';

/** A priced order, or why not with what was found (for the strategy). */
export type Pricing =
  | { readonly ok: true; readonly order: PricedOrder }
  | {
      readonly ok: false;
      readonly reason: PricingFailure;
      readonly quantity: Exact;
      readonly price: Exact | undefined;
      /** The rule's minimum for `below_min_qty` / `below_min_notional`. */
      readonly minimum: Exact | undefined;
    };

/**
 * A BUY that spends at most `budget`, fee included: the most the levels
 * sell for `budget / (1 + feeRate)`, rounded down to the step. Rounding the
 * notional and the fee may add up to one unit of the 8th decimal; when that
 * overshoots, the quantity is taken again for a budget one unit smaller,
 * which cannot.
 */
export function priceBuy(budget: Exact, venue: OrderVenue): Pricing {
  const { levels, source, reference } = levelsOf('BUY', venue);
  let priced = buyWithin(budget, levels, venue);
  if (priced !== undefined && priced.cashFlow.gt(budget)) {
    priced = buyWithin(budget.minus(MONEY_UNIT), levels, venue);
  }
  if (priced === undefined || !priced.taken.quantity.gt(ZERO)) {
    return refused(levels, priced?.taken.quantity ?? ZERO, venue);
  }
  const { taken, fee, cashAmount, cashFlow, partial } = priced;
  return checked(
    'BUY',
    taken,
    { levels, source, reference, fee, cashAmount, cashFlow, partial },
    venue,
  );
}

/** What `budget` (fees included) buys from `levels`, cut to the step; undefined if nothing. */
function buyWithin(budget: Exact, levels: readonly Level[], venue: OrderVenue) {
  if (!budget.gt(ZERO)) return undefined;
  const wanted = quantityFor(levels, budget, venue.rates.buyCost, venue.rules.stepSize);
  const taken = take(levels, wanted.quantity);
  const fee = roundMoney(taken.notional.times(venue.rates.feeRate));
  const cashAmount = roundMoney(taken.notional);
  const cashFlow = cashAmount.plus(fee);
  return { taken, fee, cashAmount, cashFlow, partial: wanted.exhausted };
}

/** A SELL of `quantity` (rounded down to the step) into the levels; the fee is on the proceeds. */
export function priceSell(quantity: Exact, venue: OrderVenue): Pricing {
  const { levels, source, reference } = levelsOf('SELL', venue);
  const step = venue.rules.stepSize;
  const wanted = floorToStep(quantity, step);
  if (wanted.isZero()) return refused(levels, wanted, venue);
  let taken = take(levels, wanted);
  const partial = taken.quantity.lt(wanted);
  if (partial) {
    const stepped = floorToStep(taken.quantity, step);
    if (!stepped.eq(taken.quantity)) taken = take(levels, stepped);
  }
  if (taken.quantity.isZero()) return refused(levels, taken.quantity, venue);
  const fee = roundMoney(taken.notional.times(venue.rates.feeRate));
  const cashAmount = roundMoney(taken.notional);
  const cashFlow = cashAmount.minus(fee);
  return checked(
    'SELL',
    taken,
    { levels, source, reference, fee, cashAmount, cashFlow, partial },
    venue,
  );
}

interface Priced {
  readonly levels: readonly Level[];
  readonly source: FillSource;
  readonly reference: Exact;
  readonly fee: Exact;
  readonly cashAmount: Exact;
  readonly cashFlow: Exact;
  readonly partial: boolean;
}

/** The taken order against the exchange's minimums, priced when it passes. */
function checked(side: Side, taken: Taken, priced: Priced, venue: OrderVenue): Pricing {
  const { quantity, notional } = taken;
  const price = taken.levels === 1 ? priced.levels[0]!.price : roundPrice(notional.div(quantity));
  const { minQty, minNotional } = venue.rules;
  if (quantity.lt(minQty)) {
    return { ok: false, reason: 'below_min_qty', quantity, price, minimum: minQty };
  }
  if (notional.lt(minNotional)) {
    return { ok: false, reason: 'below_min_notional', quantity, price, minimum: minNotional };
  }
  const atReference = priced.reference.times(quantity);
  const slippage = side === 'BUY' ? notional.minus(atReference) : atReference.minus(notional);
  return {
    ok: true,
    order: {
      price,
      quantity,
      notional,
      cashAmount: priced.cashAmount,
      fee: priced.fee,
      cashFlow: priced.cashFlow,
      referencePrice: priced.reference,
      slippageCost: roundMoney(slippage.abs()),
      source: priced.source,
      levels: taken.levels,
      partial: priced.partial,
    },
  };
}

/** A quantity of zero: no liquidity on the side, or too little to reach a step. */
function refused(levels: readonly Level[], quantity: Exact, venue: OrderVenue): Pricing {
  const best = levels[0];
  if (best === undefined) {
    return { ok: false, reason: 'no_liquidity', quantity, price: undefined, minimum: undefined };
  }
  const minQty = venue.rules.minQty;
  // A quantity cut to zero by a step larger than the minimum is still under the minimum.
  if (!minQty.isZero() && quantity.lt(minQty)) {
    return { ok: false, reason: 'below_min_qty', quantity, price: best.price, minimum: minQty };
  }
  return { ok: false, reason: 'zero_quantity', quantity, price: best.price, minimum: undefined };
}

/**
 * The levels an order takes: those of the liquidity given, or the last price
 * moved against the taker by the slippage (on a tick boundary when the
 * rules have one: up for a BUY, down for a SELL), of unbounded depth.
 */
function levelsOf(
  side: Side,
  venue: OrderVenue,
): { levels: readonly Level[]; source: FillSource; reference: Exact } {
  const liquidity = venue.liquidity;
  if (liquidity !== undefined) {
    const best = liquidity.levels[0];
    return {
      levels: liquidity.levels,
      source: liquidity.source,
      reference: best === undefined ? venue.marketPrice : best.price,
    };
  }
  const { marketPrice, rates, rules } = venue;
  const tick = rules.tickSize;
  const price =
    side === 'BUY'
      ? ceilToStep(marketPrice.times(rates.buySlip), tick)
      : floorToStep(marketPrice.times(rates.sellSlip), tick);
  return { levels: [{ price, quantity: null }], source: 'last', reference: marketPrice };
}
