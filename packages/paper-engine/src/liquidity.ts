import type { FillSource } from './strategy.js';
import type { MarketLiquidity } from './market-view.js';
import { ZERO, exact, floorToStep, placeUnit, type Exact, type Step } from './money.js';

/**
 * One price an order can take, best first. `quantity` null: as much as the
 * order wants (a quote's touch, or the last price with slippage).
 */
export interface Level {
  readonly price: Exact;
  readonly quantity: Exact | null;
}

/** The levels an order can take on its side, best first, and where they came from. */
export interface Liquidity {
  readonly source: Exclude<FillSource, 'last'>;
  readonly levels: readonly Level[];
}

/** `market` parsed: a book's levels (bounded), or a quote's touch (unbounded). */
export function parseLiquidity(market: MarketLiquidity): Liquidity {
  if (market.touch !== undefined) {
    return { source: 'quote', levels: [{ price: exact(market.touch), quantity: null }] };
  }
  return {
    source: 'book',
    levels: market.levels.map(([price, quantity]) => ({
      price: exact(price),
      quantity: exact(quantity),
    })),
  };
}

/** What an order took from a list of levels. */
export interface Taken {
  /** At most what was asked: less when the levels hold less. */
  readonly quantity: Exact;
  /** Sum of price x quantity over the levels taken, exact. */
  readonly notional: Exact;
  /** How many levels the order reached. */
  readonly levels: number;
}

/** Takes `quantity` from `levels` in order; stops where they run out. */
export function take(levels: readonly Level[], quantity: Exact): Taken {
  const only = levels.length === 1 ? levels[0]! : undefined;
  if (only?.quantity === null) return { quantity, notional: only.price.times(quantity), levels: 1 };
  let left = quantity;
  let notional = ZERO;
  let reached = 0;
  for (const level of levels) {
    if (left.isZero()) break;
    const taken = level.quantity === null || level.quantity.gte(left) ? left : level.quantity;
    notional = notional.plus(level.price.times(taken));
    left = left.minus(taken);
    reached += 1;
  }
  return { quantity: quantity.minus(left), notional, levels: reached };
}

/** What a budget buys walking levels: a quantity, and whether the levels ran out first. */
export interface Affordable {
  /** Rounded down to the grid. */
  readonly quantity: Exact;
  /** The levels' whole depth was less than the budget buys. */
  readonly exhausted: boolean;
}

/**
 * The most that `budget` buys walking `levels` when each unit at price `p`
 * costs `p x costFactor` (1 + the fee rate): whole levels while they fit,
 * then part of the next one; the sum rounded down to `grid`.
 */
export function quantityFor(
  levels: readonly Level[],
  budget: Exact,
  costFactor: Exact,
  grid: Step,
): Affordable {
  let left = budget;
  let quantity = ZERO;
  for (const level of levels) {
    if (left.isZero()) break;
    const unitCost = level.price.times(costFactor);
    if (level.quantity !== null) {
      const cost = unitCost.times(level.quantity);
      if (cost.lte(left)) {
        quantity = quantity.plus(level.quantity);
        left = left.minus(cost);
        continue;
      }
    }
    return { quantity: withPart(quantity, left, unitCost, grid), exhausted: false };
  }
  return { quantity: floorToStep(quantity, grid), exhausted: !left.isZero() };
}

/**
 * `quantity + left / unitCost` rounded down to `grid`. The quotient is cut
 * after the last decimal place of the grid and of `quantity`, which rounds
 * down to the grid as the exact sum does, and is several times cheaper to
 * divide than the context's 64 digits.
 */
function withPart(quantity: Exact, left: Exact, unitCost: Exact, grid: Step): Exact {
  if (grid.size.isZero()) return quantity.plus(left.div(unitCost));
  const places = Math.max(grid.places ?? grid.size.decimalPlaces(), quantity.decimalPlaces());
  const unit = placeUnit(places);
  const part = left.divToInt(unitCost.times(unit)).times(unit);
  const sum = quantity.isZero() ? part : quantity.plus(part);
  // A power-of-ten grid no finer than the cut: the sum already sits on it.
  return grid.places === places ? sum : floorToStep(sum, grid);
}
