/**
 * Prices are ordered exactly, without float error: a price string is read
 * into its integer part and its fraction scaled to
 * {@link MAX_PRICE_FRACTION_DIGITS} digits, both exact JavaScript integers,
 * and keys compare as pairs. `"123456789.12345677"` and
 * `"123456789.12345678"` differ, where `Number()` would make them one.
 */
export interface PriceKey {
  /** The integer part, e.g. `25` for `"25.3519"`. */
  int: number;
  /** The fraction scaled to 15 digits, e.g. `351_900_000_000_000` for `"25.3519"`. */
  frac: number;
}

/** Integer parts up to 15 digits stay exact as numbers (2^53 is about 9e15). */
export const MAX_PRICE_INTEGER_DIGITS = 15;
/** Binance prices have at most 8 decimals; up to 15 are ordered exactly. */
export const MAX_PRICE_FRACTION_DIGITS = 15;

const ZERO = 48;
const NINE = 57;
const DOT = 46;
/** 10^k for k in 0..15, exact. */
const INT_LIMIT = 10 ** MAX_PRICE_INTEGER_DIGITS;
const POW10 = Array.from({ length: MAX_PRICE_FRACTION_DIGITS + 1 }, (_, k) => 10 ** k);

/**
 * Reads `price` into `out`: false (and `out` unspecified) when it is not a
 * plain decimal (digits, an optional `.` followed by digits) within the
 * supported digits. Leading and trailing zeros do not change the key:
 * `"25.3519"` and `"25.35190000"` are the same price.
 */
export function readPriceKey(price: unknown, out: PriceKey): boolean {
  if (typeof price !== 'string') return false;
  const length = price.length;
  let int = 0;
  let i = 0;
  for (; i < length; i++) {
    const c = price.charCodeAt(i);
    if (c === DOT) break;
    if (c < ZERO || c > NINE) return false;
    int = int * 10 + (c - ZERO);
  }
  // Leading zeros are harmless ("007"); only a value of at most 15 digits is exact.
  if (i === 0 || int >= INT_LIMIT) return false;
  let frac = 0;
  if (i < length) {
    const digits = length - i - 1;
    if (digits === 0) return false;
    let kept = 0;
    for (let j = i + 1; j < length; j++) {
      const c = price.charCodeAt(j);
      if (c < ZERO || c > NINE) return false;
      if (kept < MAX_PRICE_FRACTION_DIGITS) {
        frac = frac * 10 + (c - ZERO);
        kept++;
      } else if (c !== ZERO) {
        return false; // a 16th significant decimal cannot be ordered exactly
      }
    }
    frac *= POW10[MAX_PRICE_FRACTION_DIGITS - kept]!;
  }
  out.int = int;
  out.frac = frac;
  return true;
}

/** Negative, zero or positive as price `a` is below, equal to or above price `b`. */
export function comparePriceKeys(a: PriceKey, b: PriceKey): number {
  return a.int !== b.int ? a.int - b.int : a.frac - b.frac;
}

/**
 * Whether a quantity string is zero (`"0"`, `"0.00000000"`), positive, or
 * not a plain decimal at all. One pass over its characters, no allocation.
 */
export function quantityState(qty: unknown): 'zero' | 'positive' | 'invalid' {
  if (typeof qty !== 'string') return 'invalid';
  const length = qty.length;
  if (length === 0 || length > 64) return 'invalid';
  let positive = false;
  let dot = -1;
  for (let i = 0; i < length; i++) {
    const c = qty.charCodeAt(i);
    if (c === DOT) {
      if (dot !== -1 || i === 0 || i === length - 1) return 'invalid';
      dot = i;
    } else if (c < ZERO || c > NINE) {
      return 'invalid';
    } else if (c !== ZERO) {
      positive = true;
    }
  }
  return positive ? 'positive' : 'zero';
}
