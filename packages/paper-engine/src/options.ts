import { ConfigError } from '@trade/core';

/**
 * Reads a numeric option that may arrive as a number or as a CLI string.
 * Throws {@link ConfigError} naming `setting` when it is not a finite number.
 */
export function numberOption(value: unknown, setting: string): number | undefined {
  if (value === undefined) return undefined;
  const number =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value)
        ? Number(value)
        : Number.NaN;
  if (!Number.isFinite(number)) throw new ConfigError(setting, value, 'a finite number');
  return number;
}

/** An integer option within `[min, max]`, or `fallback` when absent. */
export function integerOption(
  value: unknown,
  setting: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const number = numberOption(value, setting) ?? fallback;
  if (!Number.isInteger(number) || number < min || number > max) {
    throw new ConfigError(setting, value, `an integer from ${min} to ${max}`);
  }
  return number;
}

/** A number option strictly above `above` and at most `max`, or `fallback` when absent. */
export function rangeOption(
  value: unknown,
  setting: string,
  fallback: number,
  range: { min: number; max: number; minExclusive?: boolean },
): number {
  const number = numberOption(value, setting) ?? fallback;
  const low = range.minExclusive ? number <= range.min : number < range.min;
  if (Number.isNaN(number) || low || number > range.max) {
    const lower = range.minExclusive ? `above ${range.min}` : `from ${range.min}`;
    throw new ConfigError(setting, value, `a number ${lower} up to ${range.max}`);
  }
  return number;
}
