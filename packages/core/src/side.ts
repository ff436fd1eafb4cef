/** The taker's side of a trade. */
export type Side = 'BUY' | 'SELL';

/** Both sides, in a fixed order. */
export const SIDES: readonly Side[] = ['BUY', 'SELL'];

/** True when `value` is `'BUY'` or `'SELL'`. */
export function isSide(value: unknown): value is Side {
  return value === 'BUY' || value === 'SELL';
}

/**
 * Binance's rule: when the buyer is the maker (`m: true`) the taker sold.
 */
export function sideFromBuyerMaker(isBuyerMaker: boolean): Side {
  return isBuyerMaker ? 'SELL' : 'BUY';
}
