import { createTick, type Tick } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { TickChannel } from './tick-channel.js';

const tick = (tradeId: number): Tick =>
  createTick({
    symbol: 'BTCUSDT',
    tradeId,
    price: '1',
    quantity: '1',
    isBuyerMaker: false,
    tradeTime: tradeId,
  });
const ids = (ticks: readonly Tick[]) => ticks.map((t) => t.tradeId);
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

function channel(capacity: number, room = () => Infinity) {
  const taken: Tick[] = [];
  const ch = new TickChannel({ capacity, room, take: (chunk) => taken.push(...chunk) });
  return { ch, taken };
}

describe('TickChannel', () => {
  it('refuses offers beyond its capacity and hands ticks on, in order, on a later turn', async () => {
    const { ch, taken } = channel(3);
    expect([1, 2, 3, 4].map((id) => ch.offer(tick(id)))).toEqual([true, true, true, false]);
    expect(ch.length).toBe(3);
    expect(taken).toEqual([]);
    await nextTurn();
    expect(ids(taken)).toEqual([1, 2, 3]);
    expect(ch.length).toBe(0);
  });

  it('resolves whenWritable once ticks have moved on', async () => {
    const { ch } = channel(1);
    expect(ch.offer(tick(1))).toBe(true);
    let writable = false;
    void ch.whenWritable().then(() => (writable = true));
    await Promise.resolve();
    expect(writable).toBe(false);
    await nextTurn();
    await Promise.resolve();
    expect(writable).toBe(true);
  });

  it('holds ticks while the consumer has no room, and goes on after resume()', async () => {
    let room = 0;
    const { ch, taken } = channel(10, () => room);
    ch.offer(tick(1));
    ch.offer(tick(2));
    await nextTurn();
    expect(taken).toEqual([]);
    room = 1;
    ch.resume();
    await nextTurn();
    expect(ids(taken)).toEqual([1]);
    room = 0;
    await nextTurn();
    expect(ids(taken)).toEqual([1]);
  });

  it('drain() moves every tick now, whatever the room', () => {
    const { ch, taken } = channel(10, () => 0);
    ch.offer(tick(1));
    ch.offer(tick(2));
    ch.drain();
    expect(ids(taken)).toEqual([1, 2]);
  });

  it('after close() refuses offers and releases whoever waits to offer', async () => {
    const { ch } = channel(1, () => 0);
    ch.offer(tick(1));
    const waiting = ch.whenWritable();
    ch.close();
    await waiting;
    expect(ch.offer(tick(2))).toBe(false);
  });
});
