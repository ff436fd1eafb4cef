import { describe, expect, it } from 'vitest';
import { InvalidInputError, TradeError } from './errors.js';
import { createTick } from './tick.js';

const valid = {
  symbol: 'btcusdt',
  tradeId: 12345,
  price: '43250.01000000',
  quantity: '0.0000000012345678',
  isBuyerMaker: true,
  tradeTime: 1_700_000_000_000,
  receiveTime: 1_700_000_000_005,
};

describe('createTick', () => {
  it('keeps decimals exactly as received and derives the side from the maker flag', () => {
    const tick = createTick(valid);
    expect(tick).toEqual({
      symbol: 'BTCUSDT',
      tradeId: 12345,
      price: '43250.01000000',
      quantity: '0.0000000012345678',
      side: 'SELL',
      isBuyerMaker: true,
      tradeTime: 1_700_000_000_000,
      receiveTime: 1_700_000_000_005,
    });
    expect(createTick({ ...valid, isBuyerMaker: false }).side).toBe('BUY');
    expect(Object.isFrozen(tick)).toBe(true);
  });

  it('stamps the receive time when none is given', () => {
    const before = Date.now();
    const { receiveTime: _omit, ...rest } = valid;
    const tick = createTick(rest);
    expect(tick.receiveTime).toBeGreaterThanOrEqual(before);
  });

  it.each([
    ['symbol', { symbol: 'BTC-USDT' }],
    ['tradeId', { tradeId: -1 }],
    ['tradeId', { tradeId: 1.5 }],
    ['price', { price: '0.000' }],
    ['price', { price: '-1' }],
    ['price', { price: '1e5' }],
    ['quantity', { quantity: 5 as unknown as string }],
    ['isBuyerMaker', { isBuyerMaker: 'yes' as unknown as boolean }],
    ['tradeTime', { tradeTime: Number.NaN }],
  ])('rejects a bad %s with an error naming it', (field, patch) => {
    const attempt = () => createTick({ ...valid, ...patch });
    expect(attempt).toThrow(InvalidInputError);
    try {
      attempt();
    } catch (error) {
      expect(InvalidInputError.isInstance(error)).toBe(true);
      expect(TradeError.isInstance(error)).toBe(true);
      expect((error as InvalidInputError).field).toBe(field);
      expect((error as Error).message).toContain(field);
    }
  });
});
