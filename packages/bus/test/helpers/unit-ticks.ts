import { createTick, type Tick } from '@trade/core';

/** A BTCUSDT tick with trade id `id`, for unit tests. */
export const tick = (id: number): Tick =>
  createTick({
    symbol: 'BTCUSDT',
    tradeId: id,
    price: '1.5',
    quantity: '2',
    isBuyerMaker: false,
    tradeTime: 1_700_000_000_000,
    receiveTime: 1_700_000_000_000,
  });

/** `count` ticks with consecutive ids from `from`. */
export const ticks = (from: number, count: number): Tick[] =>
  Array.from({ length: count }, (_, i) => tick(from + i));
