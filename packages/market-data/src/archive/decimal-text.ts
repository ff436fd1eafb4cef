// Exact arithmetic on the decimal text both databases print, for comparing
// and combining their aggregates without a JavaScript number in between.

const DECIMAL_TEXT = /^(-?)(\d+)(?:\.(\d*))?$/;

interface Scaled {
  readonly units: bigint;
  readonly scale: number;
}

function parse(text: string): Scaled {
  const match = DECIMAL_TEXT.exec(text.trim());
  if (match === null) throw new TypeError(`not a plain decimal: ${JSON.stringify(text)}`);
  const [, sign = '', whole = '0', fraction = ''] = match;
  const units = BigInt(`${whole}${fraction}`);
  return { units: sign === '-' ? -units : units, scale: fraction.length };
}

function format({ units, scale }: Scaled): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale).replace(/0+$/, '');
  const text = fraction === '' ? whole : `${whole}.${fraction}`;
  return negative && text !== '0' ? `-${text}` : text;
}

/**
 * The canonical form of a decimal: no trailing zeros after the point, no
 * point without digits after it, no negative zero. `"12.3400"` and
 * `"12.34"` both give `"12.34"`; `null` stays `null` (an aggregate of no rows).
 */
export function canonicalDecimal(text: string | null): string | null {
  return text === null ? null : format(parse(text));
}

/** The exact sum of two decimals; `null` counts as nothing. */
export function addDecimals(a: string | null, b: string | null): string | null {
  if (a === null) return canonicalDecimal(b);
  if (b === null) return canonicalDecimal(a);
  const x = parse(a);
  const y = parse(b);
  const scale = Math.max(x.scale, y.scale);
  const units = x.units * 10n ** BigInt(scale - x.scale) + y.units * 10n ** BigInt(scale - y.scale);
  return format({ units, scale });
}

/** The smaller (`sign` -1) or larger (`sign` 1) of two decimals; `null` counts as nothing. */
export function extremeDecimal(a: string | null, b: string | null, sign: 1 | -1): string | null {
  if (a === null) return canonicalDecimal(b);
  if (b === null) return canonicalDecimal(a);
  const difference = parse(addDecimals(a, negate(b))!).units;
  return canonicalDecimal(difference > 0n === sign > 0 ? a : b);
}

function negate(text: string): string {
  return text.startsWith('-') ? text.slice(1) : `-${text}`;
}
