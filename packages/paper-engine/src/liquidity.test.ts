import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quantityFor, type Level } from './liquidity.js';
import { ZERO, decimalString, exact, floorToStep, step, type Exact, type Step } from './money.js';

/** quantityFor as first written: the quotient to the context's 64 digits, then down to the grid. */
function byFullQuotient(levels: readonly Level[], budget: Exact, factor: Exact, grid: Step) {
  let left = budget;
  let quantity = ZERO;
  for (const level of levels) {
    if (left.isZero()) break;
    const unitCost = level.price.times(factor);
    if (level.quantity !== null) {
      const cost = unitCost.times(level.quantity);
      if (cost.lte(left)) {
        quantity = quantity.plus(level.quantity);
        left = left.minus(cost);
        continue;
      }
    }
    return floorToStep(quantity.plus(left.div(unitCost)), grid);
  }
  return floorToStep(quantity, grid);
}

const decimal = (maxWhole: number, maxPlaces: number) =>
  fc
    .tuple(
      fc.integer({ min: 0, max: maxWhole }),
      fc.string({ unit: fc.constantFrom(...'0123456789'), maxLength: maxPlaces }),
    )
    .map(([whole, fraction]) => exact(fraction === '' ? String(whole) : `${whole}.${fraction}`));

describe('quantityFor', () => {
  it('buys whole levels while they fit, then part of the next, down to the grid', () => {
    const levels: Level[] = [
      { price: exact('100'), quantity: exact('0.5') },
      { price: exact('101'), quantity: null },
    ];
    const bought = quantityFor(levels, exact('100'), exact('1'), step(exact('0.001')));
    // 50 buys the first level; 50 / 101 = 0.49504... of the second.
    expect(decimalString(bought.quantity)).toBe('0.995');
    expect(bought.exhausted).toBe(false);
  });

  it('property: the short quotient rounds to the grid as the full one does', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            decimal(100_000, 8).filter((p) => p.gt(0)),
            fc.option(decimal(50, 12), { nil: null }),
          ),
          { minLength: 1, maxLength: 4 },
        ),
        decimal(10_000_000, 12).filter((b) => b.gt(0)),
        fc.constantFrom('1', '1.001', '1.00075'),
        fc.constantFrom('0.00000001', '0.001', '1', '5', '0.025', '0.0003', '0'),
        (raw, budget, factor, size) => {
          const levels = raw.map(([price, quantity]): Level => ({ price, quantity }));
          const grid = step(exact(size));
          const got = quantityFor(levels, budget, exact(factor), grid).quantity;
          expect(got.eq(byFullQuotient(levels, budget, exact(factor), grid))).toBe(true);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
