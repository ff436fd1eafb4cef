import { describe, expect, it } from 'vitest';
import { isDecimalString, isPositiveDecimalString } from './decimal.js';
import { normalizeSymbol } from './symbol.js';

describe('decimal strings', () => {
  it.each(['0', '0.0', '1', '43250.01000000', '0.00000001', '12345678.12345678'])(
    'accepts %s',
    (value) => expect(isDecimalString(value)).toBe(true),
  );
  it.each(['', '-1', '+1', '1e3', '.5', '5.', '01', '1,5', ' 1', 'NaN', 'Infinity', '0x10'])(
    'refuses %j',
    (value) => expect(isDecimalString(value)).toBe(false),
  );
  it('tells zero from positive', () => {
    expect(isPositiveDecimalString('0.00000000')).toBe(false);
    expect(isPositiveDecimalString('0.00000001')).toBe(true);
  });
});

describe('normalizeSymbol', () => {
  it('upper-cases and trims', () => expect(normalizeSymbol(' ethusdt ')).toBe('ETHUSDT'));
  it('names the field it was given', () =>
    expect(() => normalizeSymbol('', '--symbols')).toThrow(/--symbols/));
});
