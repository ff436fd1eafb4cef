import { createTick, type Tick } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { RecordQueue } from './record-queue.js';

const ticks = (from: number, count: number): Tick[] =>
  Array.from({ length: count }, (_, i) =>
    createTick({
      symbol: 'BTCUSDT',
      tradeId: from + i,
      price: '1.5',
      quantity: '2',
      isBuyerMaker: false,
      tradeTime: 1_700_000_000_000,
      receiveTime: 1_700_000_000_000,
    }),
  );
const ids = (list: readonly (Tick | undefined)[]) => list.map((t) => t?.tradeId);

describe('RecordQueue', () => {
  it('gives ticks back first in, first out, across compactions', () => {
    const queue = new RecordQueue<Tick>();
    queue.pushAll(ticks(0, 10_000));
    const out: (Tick | undefined)[] = [];
    for (let i = 0; i < 5_000; i++) out.push(queue.shift());
    out.push(...queue.take(3_000));
    queue.push(ticks(10_000, 1)[0]!);
    out.push(...queue.takeAll());
    expect(ids(out)).toEqual(Array.from({ length: 10_001 }, (_, i) => i));
    expect(queue.length).toBe(0);
    expect(queue.shift()).toBeUndefined();
  });

  it('puts ticks back at the head, in their order', () => {
    const queue = new RecordQueue<Tick>();
    queue.pushAll(ticks(0, 6));
    const taken = queue.take(3);
    queue.unshiftAll(taken);
    queue.shift();
    queue.unshiftAll(ticks(100, 2));
    expect(ids(queue.takeAll())).toEqual([100, 101, 1, 2, 3, 4, 5]);
  });
});
