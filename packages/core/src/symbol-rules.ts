import type { DecimalString } from './decimal.js';

/**
 * What the exchange allows an order of one symbol, from `exchangeInfo`'s
 * filters: `PRICE_FILTER.tickSize`, `LOT_SIZE.stepSize` and `minQty`,
 * `NOTIONAL.minNotional` (or the older `MIN_NOTIONAL`). Exact strings.
 */
export interface SymbolRules {
  readonly symbol: string;
  /** Prices are multiples of it. */
  readonly tickSize: DecimalString;
  /** Quantities are multiples of it. */
  readonly stepSize: DecimalString;
  /** The smallest quantity. */
  readonly minQty: DecimalString;
  /** The smallest price x quantity. */
  readonly minNotional: DecimalString;
}
