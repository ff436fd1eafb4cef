import { describe, expect, it } from 'vitest';
import { InvalidInputError } from './errors.js';
import { createQuote } from './quote.js';

const input = {
  symbol: 'btcusdt',
  updateId: 400900217,
  bidPrice: '25.35190000',
  bidQty: '31.21000000',
  askPrice: '25.36520000',
  askQty: '40.66000000',
  receiveTime: 1_700_000_000_000,
};

describe('createQuote', () => {
  it('keeps the decimals exactly as received and upper-cases the symbol', () => {
    const quote = createQuote(input);
    expect(quote).toEqual({ ...input, symbol: 'BTCUSDT' });
    expect(Object.isFrozen(quote)).toBe(true);
  });

  it.each([
    ['updateId', -1],
    ['updateId', 1.5],
    ['bidPrice', '1e5'],
    ['askQty', '0'],
    ['receiveTime', -5],
  ])('refuses a bad %s, naming it', (field, value) => {
    expect(() => createQuote({ ...input, [field]: value })).toThrow(InvalidInputError);
    expect(() => createQuote({ ...input, [field]: value })).toThrow(field);
  });
});
