import { InvalidInputError } from './errors.js';

/** An exchange symbol in upper case, e.g. `BTCUSDT`. */
export type TradingSymbol = string;

const SYMBOL = /^[A-Z0-9]{2,30}$/;

/**
 * Upper-cases and validates a symbol: 2 to 30 letters or digits.
 *
 * @example
 * ```ts
 * normalizeSymbol('btcusdt') // 'BTCUSDT'
 * ```
 */
export function normalizeSymbol(value: unknown, field = 'symbol'): TradingSymbol {
  const upper = typeof value === 'string' ? value.trim().toUpperCase() : value;
  if (typeof upper !== 'string' || !SYMBOL.test(upper)) {
    throw new InvalidInputError(field, value, '2 to 30 letters or digits, e.g. BTCUSDT');
  }
  return upper;
}
