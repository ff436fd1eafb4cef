import type { BookTop } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { OrderBookTruth, type BookDiff, type SimQuote } from './order-book-truth.js';
import { prng } from './prng.js';
import { resolveRules, type SimSymbolRulesOptions } from './symbol-rules.js';

const EIGHT_DECIMALS = /^\d+\.\d{8}$/;

function book(
  options: {
    seed?: number;
    retain?: number;
    levels?: number;
    anchorTicks?: number;
    rules?: SimSymbolRulesOptions;
  } = {},
) {
  return new OrderBookTruth({
    symbol: 'BTCUSDT',
    rules: resolveRules('BTCUSDT', options.rules),
    seed: options.seed ?? 1,
    firstUpdateId: 1_000,
    levels: options.levels ?? 200,
    retain: options.retain ?? 1_000_000,
    anchorTicks: options.anchorTicks ?? 4_325_001,
  });
}

/** Moves `b` `count` times along a random walk of the anchor, as trades would. */
function walk(b: OrderBookTruth, count: number, seed = 5, start = 4_325_001): number {
  const random = prng(seed);
  let anchor = start;
  for (let i = 0; i < count; i++) {
    anchor += Math.floor(random() * 5) - 2;
    b.move(anchor);
  }
  return anchor;
}

/** A whole book as a map of price to quantity per side, from a BookTop. */
function asMaps(top: BookTop) {
  return { bids: new Map(top.bids), asks: new Map(top.asks) };
}

function applyDiff(maps: ReturnType<typeof asMaps>, diff: BookDiff) {
  for (const [side, levels] of [
    [maps.bids, diff.bids],
    [maps.asks, diff.asks],
  ] as const) {
    for (const [price, qty] of levels) {
      if (Number(qty) === 0) side.delete(price);
      else side.set(price, qty);
    }
  }
}

const ALL = 10_000;

describe('OrderBookTruth', () => {
  it('starts around the anchor: levels on the tick and step, 8 decimals, uncrossed, best first', () => {
    const b = book({ levels: 300 });
    expect(b.updateId).toBe(999);
    const top = b.top(ALL);
    expect(top).toMatchObject({ symbol: 'BTCUSDT', updateId: 999 });
    expect(top.bids.length).toBe(300);
    expect(top.asks.length).toBe(300);
    for (const [price, qty] of [...top.bids, ...top.asks]) {
      expect(price).toMatch(EIGHT_DECIMALS);
      expect(qty).toMatch(EIGHT_DECIMALS);
      expect(price.endsWith('000000')).toBe(true); // tick 0.01
      expect(qty.endsWith('000')).toBe(true); // step 0.00001
      expect(Number(qty)).toBeGreaterThanOrEqual(0.00001);
    }
    const bids = top.bids.map(([p]) => Number(p));
    const asks = top.asks.map(([p]) => Number(p));
    expect(bids).toEqual([...bids].sort((x, y) => y - x));
    expect(asks).toEqual([...asks].sort((x, y) => x - y));
    expect(bids[0]).toBeLessThan(43_250.01);
    expect(asks[0]).toBeGreaterThan(43_250.01);
    expect(43_250.01 - bids[0]!).toBeLessThan(0.03);
  });

  it('gives each change the next update id and keeps the book uncrossed around the anchor', () => {
    const b = book();
    const random = prng(3);
    let anchor = 4_325_001;
    for (let i = 0; i < 5000; i++) {
      anchor += Math.floor(random() * 5) - 2;
      b.move(anchor);
      expect(b.updateId).toBe(1000 + i);
      const q = b.quote();
      expect(Number(q.bidPrice)).toBeLessThan(Number(q.askPrice));
    }
    const q = b.quote();
    // A few changes behind a fast walk at most: the best prices follow the trades.
    expect(Math.abs(Number(q.bidPrice) * 100 - anchor)).toBeLessThan(60);
    expect(Math.abs(Number(q.askPrice) * 100 - anchor)).toBeLessThan(60);
  });

  it('rebuilds the book at any update id exactly as it was live, across checkpoints', () => {
    const b = book();
    const random = prng(11);
    const wanted = new Set(Array.from({ length: 40 }, () => 1000 + Math.floor(random() * 20_000)));
    wanted
      .add(999)
      .add(1000)
      .add(1000 + 8191)
      .add(1000 + 8192)
      .add(1000 + 8193);
    const seen = new Map<number, BookTop>([[999, b.top(ALL)]]);
    const anchorRandom = prng(5);
    let anchor = 4_325_001;
    for (let i = 0; i < 20_000; i++) {
      anchor += Math.floor(anchorRandom() * 5) - 2;
      b.move(anchor);
      if (wanted.has(b.updateId)) seen.set(b.updateId, b.top(ALL));
    }
    for (const [id, top] of seen) expect(b.bookAt(id, ALL)).toEqual(top);
    expect(b.bookAt(b.updateId, 3)).toEqual(b.top(3));
    expect(b.bookAt(5000, 3).bids.length).toBe(3);
    expect(b.bookAt(5000).asks.length).toBe(20); // default depth
  });

  it('lists every change of the best bid or ask as a quote, as the listener heard them', () => {
    const b = book();
    const heard: SimQuote[] = [];
    b.onQuote(() => heard.push(b.quote()));
    walk(b, 10_000);
    expect(heard.length).toBeGreaterThan(1000);
    expect(b.quotes()).toEqual(heard);
    const from = heard[500]!.updateId;
    expect(b.quotes(from)).toEqual(heard.slice(500));
    // From an id that made no quote: the next one that did.
    const k = heard.findIndex((q, i) => heard[i + 1]!.updateId > q.updateId + 1);
    expect(b.quotes(heard[k]!.updateId + 1)[0]).toEqual(heard[k + 1]);
    for (const q of heard.slice(0, 50)) {
      const top = b.bookAt(q.updateId, 1);
      expect([q.bidPrice, q.bidQty, q.askPrice, q.askQty]).toEqual([
        ...top.bids[0]!,
        ...top.asks[0]!,
      ]);
    }
    b.onQuote(undefined);
    walk(b, 100);
    expect(b.quotes().length).toBeGreaterThan(heard.length);
  });

  it('merges the changes since an update id, which turn that book into the newest', () => {
    const b = book();
    walk(b, 3000);
    const from = b.updateId;
    const before = asMaps(b.top(ALL));
    walk(b, 9000, 6, 4_325_001);
    const diff = b.diffSince(from)!;
    expect(diff.firstUpdateId).toBe(from + 1);
    expect(diff.finalUpdateId).toBe(b.updateId);
    const prices = (levels: readonly (readonly [string, string])[]) =>
      levels.map(([p]) => Number(p));
    expect(prices(diff.bids)).toEqual(prices(diff.bids).sort((x, y) => y - x));
    expect(prices(diff.asks)).toEqual(prices(diff.asks).sort((x, y) => x - y));
    expect(new Set(diff.bids.map(([p]) => p)).size).toBe(diff.bids.length);
    applyDiff(before, diff);
    expect(before).toEqual(asMaps(b.top(ALL)));
    expect(b.diffSince(b.updateId)).toBeUndefined();
  });

  it('keeps at least `retain` changes and forgets older ones', () => {
    const b = book({ retain: 10_000 });
    walk(b, 50_000);
    expect(b.updateId - b.oldestUpdateId).toBeGreaterThanOrEqual(10_000);
    expect(b.updateId - b.oldestUpdateId).toBeLessThan(10_000 + 8192);
    expect(() => b.bookAt(b.oldestUpdateId - 1)).toThrow(/updateId/);
    expect(() => b.bookAt(b.updateId + 1)).toThrow(/generated so far/);
    expect(b.bookAt(b.oldestUpdateId).updateId).toBe(b.oldestUpdateId);
    expect(b.quotes()[0]!.updateId).toBeGreaterThan(b.oldestUpdateId);
    // A diff from before the retained changes starts at the oldest one: a gap.
    expect(b.diffSince(1000)!.firstUpdateId).toBe(b.oldestUpdateId + 1);
  });

  it('is the same book for the same seed and moves', () => {
    const run = (seed: number) => {
      const b = book({ seed });
      walk(b, 2000);
      return { top: b.top(ALL), quotes: b.quotes() };
    };
    expect(run(4)).toEqual(run(4));
    expect(run(4).top).not.toEqual(run(5).top);
  });

  it('puts prices on a wider tick and quantities on a coarser step', () => {
    const b = book({
      rules: { tickSize: '0.10', stepSize: '0.01', minQty: '0.05', maxQty: '100' },
      anchorTicks: 432_500,
    });
    walk(b, 3000, 5, 432_500);
    const top = b.top(ALL);
    for (const [price] of [...top.bids, ...top.asks]) {
      expect(price).toMatch(/^\d+\.\d0000000$/);
    }
    for (const [, qty] of [...top.bids, ...top.asks]) {
      expect(qty).toMatch(/^\d+\.\d{2}000000$/);
      expect(Number(qty)).toBeGreaterThanOrEqual(0.05);
      expect(Number(qty)).toBeLessThanOrEqual(100);
    }
  });

  it('draws a first update id from its sequence when none is given', () => {
    const make = () =>
      new OrderBookTruth({
        symbol: 'BTCUSDT',
        rules: resolveRules('BTCUSDT'),
        seed: 9,
        levels: 10,
        retain: 100,
        anchorTicks: 10_000,
      });
    const first = make().updateId + 1;
    expect(first).toBeGreaterThanOrEqual(1_000_000_000);
    expect(first).toBeLessThan(1_100_000_000);
    expect(make().updateId).toBe(first - 1);
  });
});
