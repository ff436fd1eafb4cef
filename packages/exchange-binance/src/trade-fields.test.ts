import { describe, expect, it } from 'vitest';
import { checkTrade, type TradeFieldNames } from './trade-fields.js';

const REST_ROW: TradeFieldNames = {
  symbol: 'symbol',
  id: 'id',
  price: 'price',
  quantity: 'qty',
  time: 'time',
  isBuyerMaker: 'isBuyerMaker',
};
const row = { id: 7, price: '1.5', qty: '2', time: 1_700_000_000_000, isBuyerMaker: false };

describe('checkTrade reads a trade wherever its fields are named', () => {
  it('builds the tick from a REST row, for the symbol asked', () => {
    expect(checkTrade(row, REST_ROW, 5, 'BTCUSDT')).toEqual({
      kind: 'tick',
      tick: {
        symbol: 'BTCUSDT',
        tradeId: 7,
        price: '1.5',
        quantity: '2',
        side: 'BUY',
        isBuyerMaker: false,
        tradeTime: 1_700_000_000_000,
        receiveTime: 5,
      },
    });
  });

  it.each([
    [{ ...row, price: undefined }, 'missing_field', 'price'],
    [{ ...row, qty: 2 }, 'invalid_field', 'qty'],
    [{ ...row, price: '0.000' }, 'non_positive', 'price=0.000'],
    [{ ...row, time: 1 }, 'implausible_time', 'time=1'],
  ])('names the REST field it refuses (%j)', (fields, reason, detail) => {
    expect(checkTrade(fields, REST_ROW, 5, 'BTCUSDT')).toEqual({
      kind: 'rejected',
      reason,
      detail,
    });
  });

  it('checks the symbol found in the fields when none is given', () => {
    expect(checkTrade(row, REST_ROW, 5)).toMatchObject({
      reason: 'missing_field',
      detail: 'symbol',
    });
    expect(checkTrade({ ...row, symbol: 'btc' }, REST_ROW, 5)).toMatchObject({
      reason: 'invalid_field',
    });
  });
});
