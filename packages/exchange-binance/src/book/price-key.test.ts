import { describe, expect, it } from 'vitest';
import { comparePriceKeys, quantityState, readPriceKey, type PriceKey } from './price-key.js';

function key(price: string): PriceKey {
  const out = { int: NaN, frac: NaN };
  expect(readPriceKey(price, out)).toBe(true);
  return out;
}

function compare(a: string, b: string): number {
  return Math.sign(comparePriceKeys(key(a), key(b)));
}

describe('readPriceKey orders decimal strings exactly', () => {
  it('tells apart prices a float cannot', () => {
    expect(Number('123456789.12345677')).toBe(Number('123456789.12345678'));
    expect(compare('123456789.12345677', '123456789.12345678')).toBe(-1);
    expect(compare('0.00000001', '0.00000002')).toBe(-1);
    expect(compare('0.1', '0.09999999')).toBe(1);
    expect(compare('999999999999999', '999999999999998.999999999999999')).toBe(1);
  });

  it('makes spellings of one price one key', () => {
    expect(compare('25.3519', '25.35190000')).toBe(0);
    expect(compare('1', '1.0')).toBe(0);
    expect(compare('007.5', '7.50')).toBe(0);
  });

  it('agrees with BigInt arithmetic on random prices', () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
    const random = () => {
      const int = String(next() % 1_000_000);
      const decimals = next() % 9;
      const frac = String(next()).padStart(10, '0').slice(0, decimals);
      return decimals === 0 ? int : `${int}.${frac}`;
    };
    const scaled = (p: string) => {
      const [i, f = ''] = p.split('.');
      return BigInt(i! + f.padEnd(8, '0'));
    };
    for (let n = 0; n < 2000; n++) {
      const a = random();
      const b = n % 10 === 0 ? a : random();
      const expected = scaled(a) < scaled(b) ? -1 : scaled(a) > scaled(b) ? 1 : 0;
      expect(compare(a, b), `${a} vs ${b}`).toBe(expected);
    }
  });

  it.each(['', '.5', '5.', '-1', '1e5', '1.2.3', ' 1', '0x10', '1,5', '1234567890123456'])(
    'refuses %j',
    (price) => {
      expect(readPriceKey(price, { int: 0, frac: 0 })).toBe(false);
    },
  );

  it('refuses a 16th significant decimal, but not trailing zeros', () => {
    expect(readPriceKey('1.0000000000000001', { int: 0, frac: 0 })).toBe(false);
    expect(readPriceKey('1.1000000000000000000', { int: 0, frac: 0 })).toBe(true);
    expect(readPriceKey(12, { int: 0, frac: 0 })).toBe(false);
  });
});

describe('quantityState', () => {
  it.each([
    ['0', 'zero'],
    ['0.00000000', 'zero'],
    ['0.00000001', 'positive'],
    ['31.21000000', 'positive'],
    ['', 'invalid'],
    ['1.', 'invalid'],
    ['.1', 'invalid'],
    ['1.2.3', 'invalid'],
    ['-1', 'invalid'],
    [1, 'invalid'],
  ])('%j is %s', (qty, state) => {
    expect(quantityState(qty)).toBe(state);
  });
});
