import { InvalidInputError, type BookLevel } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { OrderBook } from './order-book.js';

const snapshot = {
  lastUpdateId: 100,
  bids: [
    ['4.00000000', '431.00000000'],
    ['3.99000000', '9.00000000'],
  ] as BookLevel[],
  asks: [
    ['4.00000200', '12.00000000'],
    ['4.01000000', '18.00000000'],
  ] as BookLevel[],
};

describe('OrderBook', () => {
  it('is empty before a snapshot', () => {
    const book = new OrderBook('BNBUSDT');
    expect(book.top()).toEqual({ symbol: 'BNBUSDT', updateId: 0, bids: [], asks: [] });
    expect(book.bestBid()).toBeUndefined();
    expect(book.isCrossed()).toBe(false);
  });

  it('applies a snapshot and shows it best first, exact strings', () => {
    const book = new OrderBook('BNBUSDT');
    book.applySnapshot(snapshot);
    expect(book.top()).toEqual({
      symbol: 'BNBUSDT',
      updateId: 100,
      bids: snapshot.bids,
      asks: snapshot.asks,
    });
    expect(book.bestBid()).toEqual(['4.00000000', '431.00000000']);
    expect(book.bestAsk()).toEqual(['4.00000200', '12.00000000']);
    expect([book.bidCount, book.askCount]).toEqual([2, 2]);
  });

  it('applies a diff: new totals, zero removes, removing an absent level is fine', () => {
    const book = new OrderBook('BNBUSDT');
    book.applySnapshot(snapshot);
    const changes = book.applyDiff({
      finalUpdateId: 105,
      bids: [
        ['4.00000000', '0.00000000'],
        ['3.99000000', '1.50000000'],
        ['3.98', '2'],
        ['1.00000000', '0'],
      ],
      asks: [['4.00000100', '0.00000001']],
    });
    expect(changes).toBe(5);
    expect(book.top()).toEqual({
      symbol: 'BNBUSDT',
      updateId: 105,
      bids: [
        ['3.99000000', '1.50000000'],
        ['3.98', '2'],
      ],
      asks: [
        ['4.00000100', '0.00000001'],
        ['4.00000200', '12.00000000'],
        ['4.01000000', '18.00000000'],
      ],
    });
  });

  it('orders prices a float would confuse, and keeps their strings', () => {
    const book = new OrderBook('X');
    book.applySnapshot({ lastUpdateId: 1, bids: [], asks: [] });
    book.applyDiff({
      finalUpdateId: 2,
      bids: [
        ['123456789.12345677', '1'],
        ['123456789.12345678', '2'],
        ['0.00000001', '3'],
      ],
      asks: [
        ['123456789.12345680', '5'],
        ['123456789.12345679', '4'],
      ],
    });
    expect(book.top(2)).toEqual({
      symbol: 'X',
      updateId: 2,
      bids: [
        ['123456789.12345678', '2'],
        ['123456789.12345677', '1'],
      ],
      asks: [
        ['123456789.12345679', '4'],
        ['123456789.12345680', '5'],
      ],
    });
    book.applyDiff({ finalUpdateId: 3, bids: [['123456789.12345678', '0']], asks: [] });
    expect(book.bestBid()).toEqual(['123456789.12345677', '1']);
  });

  it('treats two spellings of a price as one level, keeping the newest spelling', () => {
    const book = new OrderBook('X');
    book.applySnapshot({ lastUpdateId: 1, bids: [['1.50', '1']], asks: [] });
    book.applyDiff({ finalUpdateId: 2, bids: [['1.5', '2']], asks: [] });
    expect(book.top().bids).toEqual([['1.5', '2']]);
    book.applyDiff({ finalUpdateId: 3, bids: [['1.500', '0']], asks: [] });
    expect(book.bidCount).toBe(0);
  });

  it('sorts a snapshot given in any order, skipping zero levels and repeats', () => {
    const book = new OrderBook('X');
    book.applySnapshot({
      lastUpdateId: 9,
      bids: [
        ['1', '1'],
        ['3', '3'],
        ['2', '0'],
        ['3.0', '4'],
      ],
      asks: [
        ['9', '1'],
        ['5', '1'],
      ],
    });
    expect(book.bidCount).toBe(2);
    expect(book.top().bids[1]).toEqual(['1', '1']);
    expect(book.top().asks).toEqual([
      ['5', '1'],
      ['9', '1'],
    ]);
  });

  it('tells a crossed book', () => {
    const book = new OrderBook('X');
    book.applySnapshot(snapshot);
    expect(book.isCrossed()).toBe(false);
    book.applyDiff({ finalUpdateId: 101, bids: [['4.00000200', '1']], asks: [] });
    expect(book.isCrossed()).toBe(true);
  });

  it('throws InvalidInputError on a malformed level', () => {
    const book = new OrderBook('X');
    book.applySnapshot(snapshot);
    expect(() => book.applyDiff({ finalUpdateId: 101, bids: [['x', '1']], asks: [] })).toThrow(
      InvalidInputError,
    );
    expect(() =>
      book.applyDiff({ finalUpdateId: 101, bids: [['4.00000000', '-1']], asks: [] }),
    ).toThrow(InvalidInputError);
    expect(() =>
      book.applySnapshot({ lastUpdateId: 1, bids: [['1', '1']], asks: [['1e2', '1']] }),
    ).toThrow(InvalidInputError);
    expect(book.top()).toEqual({ symbol: 'X', updateId: 0, bids: [], asks: [] });
  });

  it('matches a Map-and-sort reference model over many random changes', () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const scaled = (p: string) => {
      const [i, f = ''] = p.split('.');
      return BigInt(i! + f.padEnd(8, '0'));
    };
    const model = { bids: new Map<string, string>(), asks: new Map<string, string>() };
    const modelTop = (side: Map<string, string>, descending: boolean, n: number) =>
      [...side]
        .sort(([a], [b]) => {
          const d = scaled(a) - scaled(b);
          const sign = d < 0n ? -1 : d > 0n ? 1 : 0;
          return descending ? -sign : sign;
        })
        .slice(0, n);
    const book = new OrderBook('X');
    book.applySnapshot({ lastUpdateId: 0, bids: [], asks: [] });
    for (let id = 1; id <= 3000; id++) {
      const bids: BookLevel[] = [];
      const asks: BookLevel[] = [];
      for (let k = Math.floor(random() * 8); k >= 0; k--) {
        const isBid = random() < 0.5;
        // Near the touch mostly: ticks of 0.00000001 around 1000, bids below asks.
        const distance = Math.floor(-Math.log(1 - random()) * 20);
        const tick = isBid ? 100_000_000_000 - 1 - distance : 100_000_000_000 + distance;
        const price = `${Math.floor(tick / 1e8)}.${String(tick % 1e8).padStart(8, '0')}`;
        const qty = random() < 0.3 ? '0.00000000' : (random() * 100).toFixed(8);
        (isBid ? bids : asks).push([price, qty]);
        const side = isBid ? model.bids : model.asks;
        if (qty === '0.00000000') side.delete(price);
        else side.set(price, qty);
      }
      book.applyDiff({ finalUpdateId: id, bids, asks });
      if (id % 50 === 0) {
        expect(book.top(20)).toEqual({
          symbol: 'X',
          updateId: id,
          bids: modelTop(model.bids, true, 20),
          asks: modelTop(model.asks, false, 20),
        });
        expect([book.bidCount, book.askCount]).toEqual([model.bids.size, model.asks.size]);
      }
    }
  });
  it('stays ordered through deep changes, chunk splits and merges, down to empty', () => {
    let seed = 9;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const model = new Map<number, string>(); // ticks of 0.01 -> qty, asks only
    const price = (tick: number) => (tick / 100).toFixed(2);
    const snapshotLevels: BookLevel[] = [];
    for (let tick = 10_000; tick < 13_000; tick++) {
      model.set(tick, '1');
      snapshotLevels.push([price(tick), '1']);
    }
    const book = new OrderBook('X');
    book.applySnapshot({ lastUpdateId: 1, bids: [], asks: snapshotLevels });
    const expectModel = () => {
      const asks = [...model]
        .sort(([a], [b]) => a - b)
        .map(([tick, qty]) => [price(tick), qty] as const);
      expect(book.top(asks.length + 5).asks).toEqual(asks);
      expect(book.askCount).toBe(model.size);
    };
    for (let round = 0; round < 40; round++) {
      const asks: BookLevel[] = [];
      for (let k = 0; k < 200; k++) {
        const tick = 9_000 + Math.floor(random() * 5_000);
        // Late rounds mostly remove, to drive chunks through their merges.
        const remove = random() < (round < 20 ? 0.4 : 0.9);
        const qty = remove ? '0' : String(1 + Math.floor(random() * 9));
        asks.push([price(tick), qty]);
        if (remove) model.delete(tick);
        else model.set(tick, qty);
      }
      book.applyDiff({ finalUpdateId: round + 2, bids: [], asks });
      expectModel();
    }
    book.applyDiff({
      finalUpdateId: 100,
      bids: [],
      asks: [...model.keys()].map((tick) => [price(tick), '0.00'] as const),
    });
    model.clear();
    expectModel();
    expect(book.bestAsk()).toBeUndefined();
  });
  it('keeps order when the worst levels dwindle and merge with better ones', () => {
    const level = (i: number) => [`${100 + i}.5`, String(i + 1)] as const;
    const asks = Array.from({ length: 64 }, (_, i) => level(i));
    const book = new OrderBook('X');
    book.applySnapshot({ lastUpdateId: 1, bids: [], asks });
    // The 20 worst asks go, one diff at a time, then come back.
    for (let i = 63; i >= 44; i--) {
      book.applyDiff({ finalUpdateId: 2, bids: [], asks: [[level(i)[0], '0']] });
    }
    expect(book.top(100).asks).toEqual(asks.slice(0, 44));
    for (let i = 44; i < 64; i++) book.applyDiff({ finalUpdateId: 3, bids: [], asks: [level(i)] });
    expect(book.top(100).asks).toEqual(asks);
  });
});
