import { InvalidInputError } from './errors.js';

/**
 * A decimal number kept as the exchange wrote it (e.g. `"0.00012300"`), so
 * it reaches a `numeric` column exactly. A JavaScript number cannot hold
 * every 16-significant-digit quantity.
 */
export type DecimalString = string;

const DECIMAL = /^(?:0|[1-9]\d*)(?:\.\d+)?$/;
const NON_ZERO_DIGIT = /[1-9]/;

/** True when `value` is a plain non-negative decimal: digits, an optional fraction, no sign or exponent. */
export function isDecimalString(value: unknown): value is DecimalString {
  return typeof value === 'string' && value.length <= 64 && DECIMAL.test(value);
}

/** True when `value` is a decimal string greater than zero. */
export function isPositiveDecimalString(value: unknown): value is DecimalString {
  return isDecimalString(value) && NON_ZERO_DIGIT.test(value);
}

/**
 * Returns `value` when it is a decimal string greater than zero, and throws
 * {@link InvalidInputError} naming `field` otherwise.
 */
export function positiveDecimal(value: unknown, field: string): DecimalString {
  if (!isPositiveDecimalString(value)) {
    throw new InvalidInputError(field, value, 'a decimal string greater than zero');
  }
  return value;
}
