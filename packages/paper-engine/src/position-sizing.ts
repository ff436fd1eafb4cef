import { ConfigError } from '@trade/core';
import { rangeOption } from './options.js';

/**
 * How much a BUY spends, fee included: a fraction of the portfolio's equity
 * (marked to each symbol's last price), or a fixed quote amount.
 */
export type PositionSizing =
  | { readonly mode: 'fraction'; readonly fraction: number }
  | { readonly mode: 'notional'; readonly amount: number };

/** `sizing` checked, or a {@link ConfigError} naming the field that is wrong. */
export function checkSizing(sizing: PositionSizing): PositionSizing {
  if (sizing.mode === 'fraction') {
    const fraction = rangeOption(sizing.fraction, 'sizing.fraction', Number.NaN, {
      min: 0,
      max: 1,
      minExclusive: true,
    });
    return { mode: 'fraction', fraction };
  }
  if (sizing.mode === 'notional') {
    const amount = rangeOption(sizing.amount, 'sizing.amount', Number.NaN, {
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
      minExclusive: true,
    });
    return { mode: 'notional', amount };
  }
  throw new ConfigError(
    'sizing.mode',
    (sizing as { mode: unknown }).mode,
    "'fraction' or 'notional'",
  );
}
