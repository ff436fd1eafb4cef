import { describe, expect, it } from 'vitest';
import { inKeyOrder } from './keyed-insert.js';

describe('inKeyOrder', () => {
  it('orders by symbol then id and keeps the first of each key', () => {
    const rows = [
      { s: 'ETHUSDT', id: 2, n: 'a' },
      { s: 'BTCUSDT', id: 3, n: 'b' },
      { s: 'BTCUSDT', id: 1, n: 'c' },
      { s: 'BTCUSDT', id: 3, n: 'd' },
      { s: 'ETHUSDT', id: 2, n: 'e' },
    ];
    expect(
      inKeyOrder(
        rows,
        (r) => r.s,
        (r) => r.id,
      ).map((r) => r.n),
    ).toEqual(['c', 'b', 'a']);
  });
});
