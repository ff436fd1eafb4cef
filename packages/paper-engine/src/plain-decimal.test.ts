import { isDecimalString } from '@trade/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plainDecimal } from './plain-decimal.js';

describe('plainDecimal', () => {
  it.each([
    [0, '0'],
    [43250.01, '43250.01'],
    [1.5e-7, '0.00000015'],
    [1.2345e-10, '0.00000000012345'],
    [1e21, '1000000000000000000000'],
    [1.5e22, '15000000000000000000000'],
  ])('writes %s as %s', (value, text) => expect(plainDecimal(value)).toBe(text));

  it('refuses negative and non-finite numbers', () => {
    expect(() => plainDecimal(-1)).toThrow(RangeError);
    expect(() => plainDecimal(Number.NaN)).toThrow(RangeError);
  });

  it('reads back as the same number', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e25, noNaN: true }), (value) => {
        expect(Number(plainDecimal(value))).toBe(value === 0 ? 0 : value);
      }),
    );
  });

  it('is a core decimal string for amounts a portfolio can hold', () => {
    // isDecimalString caps the length at 64 characters, which values below ~1e-40 exceed.
    fc.assert(
      fc.property(fc.double({ min: 1e-30, max: 1e20, noNaN: true }), (value) => {
        expect(isDecimalString(plainDecimal(value))).toBe(true);
      }),
    );
  });
});
