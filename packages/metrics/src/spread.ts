import { positiveDecimal, type DecimalString } from '@trade/core';

// Digits of the basis-point value kept after the point before it becomes a
// number: enough that even a spread of 1e-12 bps keeps a double's precision.
const FRACTION_DIGITS = 24;

/**
 * The bid-ask spread in basis points, `(ask - bid) / ((ask + bid) / 2) x 10^4`,
 * from the exchange's decimal strings: the difference is taken exactly (two
 * close prices as JavaScript numbers can lose most of it), only the result is
 * rounded to a number, for `trading_spread_bps`. A crossed book (ask below
 * bid) gives a negative spread. Throws `InvalidInputError` (`@trade/core`)
 * when either price is not a decimal string greater than zero.
 *
 * @example
 * ```ts
 * const { symbol, bidPrice, askPrice } = quote;
 * metrics.bestBidPrice.set({ symbol }, Number(bidPrice));
 * metrics.bestAskPrice.set({ symbol }, Number(askPrice));
 * metrics.spreadBps.set({ symbol }, spreadBps(bidPrice, askPrice)); // "25.3519", "25.3652" -> 5.24477...
 * ```
 */
export function spreadBps(bid: DecimalString, ask: DecimalString): number {
  const [bidUnits, askUnits] = toCommonScale(
    positiveDecimal(bid, 'bid'),
    positiveDecimal(ask, 'ask'),
  );
  const scaled =
    ((askUnits - bidUnits) * 20_000n * 10n ** BigInt(FRACTION_DIGITS)) / (askUnits + bidUnits);
  // Parsed from text, so the one rounding to a double is the correct one.
  return Number(`${scaled}e-${FRACTION_DIGITS}`);
}

/** Both decimals as integers of the same smallest unit, e.g. "1.5", "2.25" -> 150n, 225n. */
function toCommonScale(a: DecimalString, b: DecimalString): [bigint, bigint] {
  const [aWhole, aFraction = ''] = a.split('.');
  const [bWhole, bFraction = ''] = b.split('.');
  const digits = Math.max(aFraction.length, bFraction.length);
  return [
    BigInt(aWhole! + aFraction.padEnd(digits, '0')),
    BigInt(bWhole! + bFraction.padEnd(digits, '0')),
  ];
}
