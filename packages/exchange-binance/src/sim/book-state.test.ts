import { describe, expect, it } from 'vitest';
import { BookSide, BookState } from './book-state.js';

describe('BookSide', () => {
  it('keeps keys ascending with the best last, and says when the best level changed', () => {
    const side = new BookSide();
    expect(side.set(10, 5)).toBe(true); // first level: the best
    expect(side.set(8, 1)).toBe(false); // behind it
    expect(side.set(12, 2)).toBe(true); // a better one
    expect(side.set(9, 3)).toBe(false);
    expect(side.keys).toEqual([8, 9, 10, 12]);
    expect(side.qtys).toEqual([1, 3, 5, 2]);
    expect(side.set(12, 4)).toBe(true); // the best's quantity
    expect(side.set(9, 7)).toBe(false);
    expect(side.set(9, 7)).toBe(false); // no change at all
    expect(side.set(12, 0)).toBe(true); // the best goes
    expect(side.set(8, 0)).toBe(false); // the worst goes
    expect(side.set(11, 0)).toBe(false); // not there: nothing
    expect(side.keys).toEqual([9, 10]);
    expect(side.qtys).toEqual([7, 5]);
  });

  it('finds keys, or where they would go', () => {
    const side = new BookSide([1, 3, 5], [1, 1, 1]);
    expect(side.find(3)).toBe(1);
    expect(side.find(0)).toBe(-1);
    expect(side.find(4)).toBe(-3);
    expect(side.find(9)).toBe(-4);
  });
});

describe('BookState', () => {
  it('routes positive keys to bids and negative ones to asks, and snapshots by value', () => {
    const book = new BookState();
    book.apply(100, 1);
    book.apply(-102, 2);
    book.apply(-101, 3); // a lower ask: the better one
    const snapshot = book.snapshot();
    book.apply(100, 0);
    expect(book.bids.keys).toEqual([]);
    expect(book.asks.keys).toEqual([-102, -101]);
    const copy = BookState.from(snapshot);
    expect(copy.bids.keys).toEqual([100]);
    expect(copy.asks.qtys).toEqual([2, 3]);
  });
});
