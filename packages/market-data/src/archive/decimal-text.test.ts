import { describe, expect, it } from 'vitest';
import { addDecimals, canonicalDecimal, extremeDecimal } from './decimal-text.js';

describe('decimal text', () => {
  it('puts the text of both databases in one form', () => {
    expect(canonicalDecimal('43250.01000000')).toBe('43250.01');
    expect(canonicalDecimal('5.00000000')).toBe('5');
    expect(canonicalDecimal('-0.000')).toBe('0');
    expect(canonicalDecimal('0')).toBe('0');
    expect(canonicalDecimal('-12.50')).toBe('-12.5');
    expect(canonicalDecimal(null)).toBeNull();
    expect(() => canonicalDecimal('1e5')).toThrow(/not a plain decimal/);
  });

  it('adds exactly where a number would not', () => {
    expect(addDecimals('0.1', '0.2')).toBe('0.3');
    expect(addDecimals('9007199254740993.00000001', '0.000000000001')).toBe(
      '9007199254740993.000000010001',
    );
    expect(addDecimals('-1.5', '1.25')).toBe('-0.25');
    expect(addDecimals(null, '2.50')).toBe('2.5');
    expect(addDecimals('3', null)).toBe('3');
    expect(addDecimals(null, null)).toBeNull();
  });

  it('takes the smaller or larger', () => {
    expect(extremeDecimal('9223372036854775806', '9223372036854775807', 1)).toBe(
      '9223372036854775807',
    );
    expect(extremeDecimal('9223372036854775806', '9223372036854775807', -1)).toBe(
      '9223372036854775806',
    );
    expect(extremeDecimal('-2', '1', -1)).toBe('-2');
    expect(extremeDecimal(null, '7', 1)).toBe('7');
    expect(extremeDecimal('7', null, -1)).toBe('7');
  });
});
