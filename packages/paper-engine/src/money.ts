import { Decimal } from 'decimal.js';

/**
 * The decimal type of the accounting path: prices, quantities, fees and cash
 * of fills. Strategies and per-tick marking stay in numbers; this is used
 * only when an order is priced and applied.
 */
export type Exact = Decimal;

/**
 * Our own constructor, so no setting leaks to or from other users of
 * decimal.js. Additions and products of exchange values (at most ~40
 * significant digits) are exact under 64 digits of precision; only
 * quotients are cut there, truncated so that rounding one down to a step
 * never lands a step too high. Money is then rounded explicitly, half-even.
 */
const Dec = Decimal.clone({
  precision: 64,
  rounding: Decimal.ROUND_DOWN,
  toExpNeg: -9e15,
  toExpPos: 9e15,
});

/** Decimal places of cash and fees, rounded half-even. */
export const MONEY_DECIMALS = 8;
/**
 * A grid prices or quantities must sit on (a tick size, a step size). Most
 * are a power of ten, rounded to by decimal places, cheaper than dividing.
 */
export interface Step {
  /** Zero: no grid. */
  readonly size: Exact;
  /** `size` is `10^-places`; null when it is not a power of ten up to 1. */
  readonly places: number | null;
}

/** The {@link Step} of `size`. */
export function step(size: Exact): Step {
  const powerOfTen = /^(?:1|0\.0*1)$/.test(size.toFixed());
  return { size, places: powerOfTen ? size.decimalPlaces() : null };
}

/** Without exchange rules, the quantity a budget buys is cut (down) to this step: the exchange's precision. */
export const DEFAULT_QUANTITY_STEP: Step = step(new Dec('0.00000001'));
/** No grid. */
export const NO_STEP: Step = { size: new Dec(0), places: null };
/** A volume-weighted price that does not terminate sooner is rounded half-even at this place. */
export const PRICE_DECIMALS = 18;

/** One unit of the last decimal place of money. */
export const MONEY_UNIT: Exact = new Dec('0.00000001');
export const ZERO: Exact = new Dec(0);
export const ONE: Exact = new Dec(1);

const placeUnits: Exact[] = [];

/** `10^-places`: one unit of the last of `places` decimal places. */
export function placeUnit(places: number): Exact {
  let unit = placeUnits[places];
  if (unit === undefined) {
    unit = new Dec(`1e-${places}`);
    placeUnits[places] = unit;
  }
  return unit;
}

/** `value` as an exact decimal: a decimal string as written, a number by its shortest form. */
export function exact(value: Exact | string | number): Exact {
  return new Dec(value);
}

/** Cash or a fee: half-even at {@link MONEY_DECIMALS}. */
export function roundMoney(value: Exact): Exact {
  return value.toDecimalPlaces(MONEY_DECIMALS, Decimal.ROUND_HALF_EVEN);
}

/** A volume-weighted price: half-even at {@link PRICE_DECIMALS} (exact when it terminates sooner). */
export function roundPrice(value: Exact): Exact {
  return value.toDecimalPlaces(PRICE_DECIMALS, Decimal.ROUND_HALF_EVEN);
}

/** The largest multiple of `grid` not above `value` (non-negative; `value` itself without a grid). */
export function floorToStep(value: Exact, grid: Step): Exact {
  return toStep(value, grid, Decimal.ROUND_DOWN);
}

/** The smallest multiple of `grid` not below `value` (non-negative; `value` itself without a grid). */
export function ceilToStep(value: Exact, grid: Step): Exact {
  return toStep(value, grid, Decimal.ROUND_UP);
}

function toStep(value: Exact, grid: Step, rounding: Decimal.Rounding): Exact {
  if (grid.places !== null) {
    return value.decimalPlaces() <= grid.places
      ? value
      : value.toDecimalPlaces(grid.places, rounding);
  }
  return grid.size.isZero() ? value : value.toNearest(grid.size, rounding);
}

/** Plain notation, no exponent and no trailing zeros: what `paper_trades` stores. */
export function decimalString(value: Exact): string {
  return value.isZero() ? '0' : value.toFixed();
}

/** `bps / 10 000` exactly (a number of basis points as written, e.g. `7.5`). */
export function fromBps(bps: number): Exact {
  return new Dec(bps).div(10_000);
}
