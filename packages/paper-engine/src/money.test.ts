import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  NO_STEP,
  ceilToStep,
  decimalString,
  exact,
  floorToStep,
  fromBps,
  roundMoney,
  roundPrice,
  step,
} from './money.js';

describe('money', () => {
  it('reads decimal strings exactly and writes them plainly, without trailing zeros', () => {
    expect(decimalString(exact('43250.01000000'))).toBe('43250.01');
    expect(decimalString(exact('0.00000001'))).toBe('0.00000001');
    expect(decimalString(exact('0.00000000'))).toBe('0');
    expect(decimalString(exact(1e21))).toBe('1000000000000000000000');
    // 36 significant digits: no number holds them.
    const long = '123456789012345678.123456789012345678';
    expect(decimalString(exact(long))).toBe(long);
  });

  it('property: every decimal string reads back as itself, trailing zeros aside', () => {
    const digits = (min: number, max: number) =>
      fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e15 }), digits(0, 20), (whole, fraction) => {
        const text = fraction === '' ? String(whole) : `${whole}.${fraction}`;
        const normal = text.includes('.') ? text.replace(/\.?0+$/, '') : text;
        expect(decimalString(exact(text))).toBe(normal);
      }),
    );
  });

  it('adds and multiplies without the float noise of numbers', () => {
    expect(0.1 + 0.2).toBe(0.30000000000000004);
    expect(decimalString(exact(0.1).plus(exact(0.2)))).toBe('0.3');
    expect(1.1 * 1.1).toBe(1.2100000000000002);
    expect(decimalString(exact('1.1').times(exact('1.1')))).toBe('1.21');
    expect(decimalString(fromBps(7.5))).toBe('0.00075');
  });

  it('rounds money half-even at 8 places', () => {
    const round = (text: string) => decimalString(roundMoney(exact(text)));
    expect(round('0.000000005')).toBe('0');
    expect(round('0.000000015')).toBe('0.00000002');
    expect(round('0.000000025')).toBe('0.00000002');
    expect(round('0.0000000250001')).toBe('0.00000003');
    expect(round('-0.000000015')).toBe('-0.00000002');
    expect(round('1927.45579000000002')).toBe('1927.45579');
    expect(decimalString(roundPrice(exact(1).div(exact(3))))).toBe('0.333333333333333333');
  });

  it('rounds to a grid down or up: by decimal places for a power of ten, else by division', () => {
    expect(step(exact('0.00100000')).places).toBe(3);
    expect(step(exact('1')).places).toBe(0);
    expect(step(exact('0.05')).places).toBeNull();
    expect(step(exact('10')).places).toBeNull();
    const value = exact('1.23456789');
    const at = (size: string, up: boolean) =>
      decimalString((up ? ceilToStep : floorToStep)(value, step(exact(size))));
    expect(at('0.001', false)).toBe('1.234');
    expect(at('0.001', true)).toBe('1.235');
    expect(at('0.05', false)).toBe('1.2');
    expect(at('0.05', true)).toBe('1.25');
    expect(at('1', true)).toBe('2');
    expect(decimalString(floorToStep(exact('17'), step(exact('5'))))).toBe('15');
    expect(floorToStep(value, NO_STEP)).toBe(value);
    expect(decimalString(floorToStep(exact('1.5'), step(exact('0.5'))))).toBe('1.5');
  });
});
