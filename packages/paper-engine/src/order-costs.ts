/** A portfolio's cost rates as fractions of the notional (`bps / 10 000`). */
export interface CostRates {
  readonly feeRate: number;
  readonly slippageRate: number;
}

/** An order priced against the market: what it executes at and what that costs. */
export interface PricedOrder {
  /** Execution price after slippage. */
  readonly price: number;
  readonly quantity: number;
  /** `price * quantity`, quote currency. */
  readonly notional: number;
  readonly fee: number;
  /** `|price - marketPrice| * quantity`. */
  readonly slippageCost: number;
}

/**
 * A BUY that spends exactly `budget`, fee included: the price moves up by the
 * slippage, and the fee is carved out of the budget before units are bought.
 */
export function priceBuy(marketPrice: number, budget: number, rates: CostRates): PricedOrder {
  const price = marketPrice * (1 + rates.slippageRate);
  const notional = budget / (1 + rates.feeRate);
  const quantity = notional / price;
  return {
    price,
    quantity,
    notional,
    fee: budget - notional,
    slippageCost: (price - marketPrice) * quantity,
  };
}

/** A SELL of `quantity` units: the price moves down by the slippage, the fee is on the proceeds. */
export function priceSell(marketPrice: number, quantity: number, rates: CostRates): PricedOrder {
  const price = marketPrice * (1 - rates.slippageRate);
  const notional = price * quantity;
  return {
    price,
    quantity,
    notional,
    fee: notional * rates.feeRate,
    slippageCost: (marketPrice - price) * quantity,
  };
}
