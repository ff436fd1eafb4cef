/**
 * Writes a finite non-negative number as a plain decimal string (no sign, no
 * exponent), with the shortest digits that read back as the same number:
 * `Number(plainDecimal(x)) === x`. A fill's amounts are stored this way, so the
 * trade log holds exactly what the engine computed.
 *
 * @example
 * ```ts
 * plainDecimal(1.5e-7) // '0.00000015'
 * plainDecimal(43250)  // '43250'
 * ```
 */
export function plainDecimal(value: number): string {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`plainDecimal takes a finite non-negative number, got ${value}`);
  }
  const text = String(value);
  const e = text.indexOf('e');
  if (e === -1) return text;
  const exponent = Number(text.slice(e + 1));
  const mantissa = text.slice(0, e);
  const point = mantissa.indexOf('.');
  const digits = point === -1 ? mantissa : mantissa.slice(0, point) + mantissa.slice(point + 1);
  const pointAt = (point === -1 ? mantissa.length : point) + exponent;
  if (pointAt <= 0) return `0.${'0'.repeat(-pointAt)}${digits}`;
  if (pointAt >= digits.length) return digits + '0'.repeat(pointAt - digits.length);
  return `${digits.slice(0, pointAt)}.${digits.slice(pointAt)}`;
}
