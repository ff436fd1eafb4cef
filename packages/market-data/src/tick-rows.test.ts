import { createTick, type Tick } from '@trade/core';
import { describe, expect, it } from 'vitest';
import {
  fromTuple,
  inKeyOrder,
  textArrayLiteral,
  tickArrays,
  tickProblem,
  toTuple,
} from './tick-rows.js';

const valid = createTick({
  symbol: 'BTCUSDT',
  tradeId: 42,
  price: '43250.01000000',
  quantity: '0.0000000012345678',
  isBuyerMaker: true,
  tradeTime: 1_700_000_000_000,
  receiveTime: 1_700_000_000_005,
});

describe('tick rows', () => {
  it.each<[string, Partial<Tick>]>([
    ['symbol', { symbol: 'BTC,USDT' }],
    ['symbol', { symbol: 'btcusdt' }],
    ['tradeId', { tradeId: 1.5 }],
    ['price', { price: '1}' }],
    ['quantity', { quantity: '0' }],
    ['side', { side: 'BUY' }],
    ['tradeTime', { tradeTime: 1e16 }],
  ])('names the bad %s', (field, patch) => {
    expect(tickProblem({ ...valid, ...patch })).toBe(field);
  });

  it('passes a valid tick and builds one array literal per column', () => {
    expect(tickProblem(valid)).toBeUndefined();
    expect(
      tickArrays([
        valid,
        { ...valid, tradeId: 43, isBuyerMaker: false, side: 'BUY', tradeTime: 1_700_000_000_007 },
        { ...valid, tradeId: 44, tradeTime: 1_699_999_999_998 },
      ]),
    ).toEqual([
      '{BTCUSDT,BTCUSDT,BTCUSDT}',
      '{42,43,44}',
      '{43250.01000000,43250.01000000,43250.01000000}',
      '{0.0000000012345678,0.0000000012345678,0.0000000012345678}',
      '{t,f,t}',
      '{0,7,-2}',
      '1700000000000',
    ]);
  });

  it('quotes arbitrary text for a text[] literal', () => {
    expect(textArrayLiteral(['a', 'b "c"', 'd\\e', '{x,y}', 'NULL'])).toBe(
      '{"a","b \\"c\\"","d\\\\e","{x,y}","NULL"}',
    );
  });

  it('round-trips through the spool tuple', () => {
    expect(fromTuple(toTuple(valid))).toEqual(valid);
  });

  it('orders a batch by symbol then trade id, keeping the first of each repeated key', () => {
    const t = (symbol: string, tradeId: number, price = '1') => ({
      ...valid,
      symbol,
      tradeId,
      price,
    });
    const batch = [
      t('ETHUSDT', 7),
      t('BTCUSDT', 5),
      t('ETHUSDT', 8),
      t('BTCUSDT', 3, 'first'),
      t('BTCUSDT', 3, 'second'),
      t('ETHUSDT', 8, 'again'),
      t('BTCUSDT', 4),
    ];
    expect(inKeyOrder(batch).map((x) => [x.symbol, x.tradeId, x.price])).toEqual([
      ['BTCUSDT', 3, 'first'],
      ['BTCUSDT', 4, '1'],
      ['BTCUSDT', 5, '1'],
      ['ETHUSDT', 7, '1'],
      ['ETHUSDT', 8, '1'],
    ]);
    const ascending = [t('BTCUSDT', 1), t('BTCUSDT', 2), t('BTCUSDT', 2), t('BTCUSDT', 9)];
    expect(inKeyOrder(ascending).map((x) => x.tradeId)).toEqual([1, 2, 9]);
    expect(inKeyOrder([])).toEqual([]);
  });
});
