import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { priceBuy, priceSell } from './order-costs.js';

describe('priceBuy', () => {
  it('spends the budget exactly, fee included, at the price moved up by the slippage', () => {
    const order = priceBuy(100, 1001, { feeRate: 0.001, slippageRate: 0.005 });
    expect(order.price).toBeCloseTo(100.5, 12);
    expect(order.notional).toBeCloseTo(1000, 9);
    expect(order.fee).toBeCloseTo(1, 9);
    expect(order.quantity).toBeCloseTo(1000 / 100.5, 12);
    expect(order.slippageCost).toBeCloseTo(0.5 * order.quantity, 12);
  });

  it('never spends more than the budget', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-6, max: 1e7, noNaN: true }),
        fc.double({ min: 1e-3, max: 1e9, noNaN: true }),
        fc.double({ min: 0, max: 0.1, noNaN: true }),
        (marketPrice, budget, feeRate) => {
          const order = priceBuy(marketPrice, budget, { feeRate, slippageRate: 0 });
          expect(order.notional + order.fee).toBeCloseTo(budget, 6);
          expect(order.fee).toBeGreaterThanOrEqual(0);
        },
      ),
    );
  });
});

describe('priceSell', () => {
  it('takes the fee from the proceeds at the price moved down by the slippage', () => {
    const order = priceSell(110, 10, { feeRate: 0.001, slippageRate: 0.01 });
    expect(order.price).toBeCloseTo(108.9, 12);
    expect(order.quantity).toBe(10);
    expect(order.notional).toBeCloseTo(1089, 9);
    expect(order.fee).toBeCloseTo(1.089, 9);
    expect(order.slippageCost).toBeCloseTo(11, 9);
  });

  it('costs nothing without fee or slippage', () => {
    expect(priceSell(50, 2, { feeRate: 0, slippageRate: 0 })).toEqual({
      price: 50,
      quantity: 2,
      notional: 100,
      fee: 0,
      slippageCost: 0,
    });
  });
});
