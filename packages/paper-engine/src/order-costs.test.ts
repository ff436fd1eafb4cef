import type { SymbolRules } from '@trade/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { orderRules } from './exchange-rules.js';
import { parseLiquidity } from './liquidity.js';
import type { MarketLiquidity } from './market-view.js';
import { decimalString, exact, fromBps, type Exact } from './money.js';
import {
  costRates,
  priceBuy,
  priceSell,
  type OrderVenue,
  type Pricing,
  type PricedOrder,
} from './order-costs.js';

function venue(
  options: {
    market?: string;
    liquidity?: MarketLiquidity;
    rules?: Partial<SymbolRules>;
    feeBps?: number;
    slippageBps?: number;
  } = {},
): OrderVenue {
  return {
    marketPrice: exact(options.market ?? '100'),
    liquidity: options.liquidity && parseLiquidity(options.liquidity),
    rules: orderRules(
      options.rules && {
        symbol: 'BTCUSDT',
        tickSize: '0',
        stepSize: '0.00000001',
        minQty: '0',
        minNotional: '0',
        ...options.rules,
      },
    ),
    rates: costRates(options.feeBps ?? 0, options.slippageBps ?? 0),
  };
}

/** The order's amounts as strings, for exact comparisons. */
function text(pricing: Pricing) {
  if (!pricing.ok) throw new Error(`expected a priced order, got ${pricing.reason}`);
  const o: PricedOrder = pricing.order;
  const s = (x: Exact) => decimalString(x);
  return {
    price: s(o.price),
    quantity: s(o.quantity),
    notional: s(o.notional),
    cashAmount: s(o.cashAmount),
    fee: s(o.fee),
    slippageCost: s(o.slippageCost),
    source: o.source,
    levels: o.levels,
    partial: o.partial,
  };
}

function failure(pricing: Pricing) {
  if (pricing.ok) throw new Error('expected a refusal');
  const s = (x: Exact | undefined) => (x === undefined ? undefined : decimalString(x));
  return {
    reason: pricing.reason,
    quantity: s(pricing.quantity),
    price: s(pricing.price),
    minimum: s(pricing.minimum),
  };
}

const ASKS: MarketLiquidity = {
  levels: [
    ['100.10', '0.5'],
    ['100.20', '1'],
    ['100.40', '2'],
  ],
};
const BIDS: MarketLiquidity = {
  levels: [
    ['99.9', '1'],
    ['99.8', '1'],
    ['99.5', '3'],
  ],
};

describe('priceBuy', () => {
  it('spends at most the budget, fee included, at the last price moved up by the slippage', () => {
    // 1001 / (100.5 x 1.001) = 9.9502487562...: cut to 8 decimals.
    const order = text(priceBuy(exact('1001'), venue({ feeBps: 10, slippageBps: 50 })));
    expect(order).toEqual({
      price: '100.5',
      quantity: '9.95024875',
      notional: '999.999999375',
      cashAmount: '999.99999938',
      fee: '1',
      slippageCost: '4.97512438',
      source: 'last',
      levels: 1,
      partial: false,
    });
  });

  it('property: never spends more than the budget, and one step more would not fit', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000_000_000 }),
        fc.integer({ min: 1, max: 100_000_000 }),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 100 }),
        fc.constantFrom('0.00000001', '0.001', '0.05', '1'),
        (priceUnits, budgetCents, feeBps, slippageBps, stepSize) => {
          const market = decimalString(exact(priceUnits).div(10_000));
          const budget = exact(budgetCents).div(100);
          const at = venue({ market, feeBps, slippageBps, rules: { stepSize } });
          const pricing = priceBuy(budget, at);
          if (!pricing.ok) {
            expect(pricing.reason).toBe('zero_quantity');
            return;
          }
          const { quantity, price, cashAmount, fee } = pricing.order;
          expect(cashAmount.plus(fee).lte(budget)).toBe(true);
          expect(quantity.mod(exact(stepSize)).isZero()).toBe(true);
          const more = price.times(quantity.plus(stepSize)).times(exact(1).plus(fromBps(feeBps)));
          expect(more.gt(budget.minus('0.00000001'))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('fills a whole BUY at a quote’s ask, without slippage', () => {
    const order = text(priceBuy(exact('1000'), venue({ liquidity: { touch: '101.25' } })));
    expect(order).toMatchObject({
      price: '101.25',
      quantity: '9.8765432',
      notional: '999.999999',
      slippageCost: '0',
      source: 'quote',
    });
  });

  it('walks three levels and fills at their exact volume-weighted price', () => {
    // 0.5 x 100.10 + 1 x 100.20 + 1 x 100.40 = 250.65 for 2.5 units: 100.26 each.
    const order = text(priceBuy(exact('250.65'), venue({ liquidity: ASKS })));
    expect(order).toEqual({
      price: '100.26',
      quantity: '2.5',
      notional: '250.65',
      cashAmount: '250.65',
      fee: '0',
      slippageCost: '0.4',
      source: 'book',
      levels: 3,
      partial: false,
    });
  });

  it('fills what the visible depth holds when the budget buys more', () => {
    const order = text(priceBuy(exact('10000'), venue({ liquidity: ASKS })));
    expect(order).toMatchObject({ quantity: '3.5', notional: '351.05', levels: 3, partial: true });
  });

  it('rounds the quantity down to the step and refuses what falls under the minimums', () => {
    const rules = { stepSize: '0.00100000', minQty: '0.01000000', minNotional: '10.00000000' };
    const at = venue({ liquidity: { touch: '100' }, rules });
    expect(text(priceBuy(exact('12.3456'), at))).toMatchObject({ quantity: '0.123' });
    expect(failure(priceBuy(exact('5'), at))).toEqual({
      reason: 'below_min_notional',
      quantity: '0.05',
      price: '100',
      minimum: '10',
    });
    expect(failure(priceBuy(exact('0.5'), at))).toMatchObject({
      reason: 'below_min_qty',
      quantity: '0.005',
      minimum: '0.01',
    });
    // Cut to zero by the step: still under the minimum quantity.
    expect(failure(priceBuy(exact('0.05'), at))).toMatchObject({
      reason: 'below_min_qty',
      quantity: '0',
    });
    expect(
      failure(
        priceBuy(
          exact('0.05'),
          venue({ liquidity: { touch: '100' }, rules: { stepSize: '0.001' } }),
        ),
      ).reason,
    ).toBe('zero_quantity');
  });

  it('puts the slipped last price on a tick boundary: up for a BUY, down for a SELL', () => {
    const at = venue({ market: '100.003', slippageBps: 5, rules: { tickSize: '0.01' } });
    // 100.003 x 1.0005 = 100.0530015 and 100.003 x 0.9995 = 99.9529985.
    expect(text(priceBuy(exact('1000'), at)).price).toBe('100.06');
    expect(text(priceSell(exact('1'), at)).price).toBe('99.95');
    // A quote's price is taken as it is.
    const quoted = venue({ liquidity: { touch: '100.003' }, rules: { tickSize: '0.01' } });
    expect(text(priceBuy(exact('1000'), quoted)).price).toBe('100.003');
  });

  it('refuses an order when its side of the book is empty', () => {
    expect(failure(priceBuy(exact('1000'), venue({ liquidity: { levels: [] } })))).toMatchObject({
      reason: 'no_liquidity',
    });
  });
});

describe('priceSell', () => {
  it('takes the fee from the proceeds at the price moved down by the slippage', () => {
    const order = text(
      priceSell(exact('10'), venue({ market: '110', feeBps: 10, slippageBps: 100 })),
    );
    expect(order).toMatchObject({
      price: '108.9',
      quantity: '10',
      notional: '1089',
      fee: '1.089',
      slippageCost: '11',
      source: 'last',
    });
  });

  it('walks the bids; a price that does not terminate is rounded half-even at 18 places', () => {
    // 99.9 + 99.8 + 0.2 x 99.5 = 219.6 for 2.2 units.
    const order = text(priceSell(exact('2.2'), venue({ liquidity: BIDS })));
    expect(order).toMatchObject({
      price: '99.818181818181818182',
      notional: '219.6',
      levels: 3,
      slippageCost: '0.18',
      partial: false,
    });
  });

  it('sells what the bids hold when they hold less, and rounds down to the step', () => {
    expect(text(priceSell(exact('10'), venue({ liquidity: BIDS })))).toMatchObject({
      quantity: '5',
      partial: true,
    });
    const stepped = venue({ liquidity: { touch: '100' }, rules: { stepSize: '0.001' } });
    expect(text(priceSell(exact('1.23456'), stepped)).quantity).toBe('1.234');
  });
});
