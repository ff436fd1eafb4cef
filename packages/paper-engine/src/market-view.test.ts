import { createQuote, type BookTop, type Quote } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { MarketView } from './market-view.js';

function quote(updateId: number, bid: string, ask: string, receiveTime = 1000): Quote {
  return createQuote({
    symbol: 'BTCUSDT',
    updateId,
    bidPrice: bid,
    bidQty: '0.4',
    askPrice: ask,
    askQty: '0.3',
    receiveTime,
  });
}

const book: BookTop = {
  symbol: 'BTCUSDT',
  updateId: 10,
  bids: [
    ['99.9', '1'],
    ['99.8', '2'],
    ['99.7', '3'],
  ],
  asks: [
    ['100.1', '1'],
    ['100.2', '2'],
    ['100.3', '3'],
  ],
};

describe('MarketView', () => {
  it('knows nothing of a symbol until a quote or book arrives', () => {
    expect(new MarketView().liquidity('BTCUSDT', 'BUY', 0)).toBeUndefined();
  });

  it('gives a quote’s ask to a BUY and its bid to a SELL, and drops repeats by update id', () => {
    const view = new MarketView();
    expect(view.addQuote(quote(5, '99.5', '100.5'))).toBe(true);
    expect(view.addQuote(quote(5, '1', '2'))).toBe(false);
    expect(view.addQuote(quote(4, '1', '2'))).toBe(false);
    expect(view.liquidity('BTCUSDT', 'BUY', 1000)).toEqual({ touch: '100.5' });
    expect(view.liquidity('BTCUSDT', 'SELL', 1000)).toEqual({ touch: '99.5' });
    expect(view.liquidity('ETHUSDT', 'SELL', 1000)).toBeUndefined();
  });

  it('ignores a quote older than the limit at the order’s time', () => {
    const view = new MarketView();
    view.addQuote(quote(5, '99.5', '100.5', 1000));
    expect(view.liquidity('BTCUSDT', 'BUY', 3000, 2000)).toEqual({ touch: '100.5' });
    expect(view.liquidity('BTCUSDT', 'BUY', 3001, 2000)).toBeUndefined();
  });

  it('gives the book’s levels when the book is as new as the quote or newer', () => {
    const view = new MarketView();
    view.addQuote(quote(9, '99.5', '100.5'));
    view.addBook(book);
    expect(view.liquidity('BTCUSDT', 'BUY', 1000)).toEqual({ levels: book.asks });
    expect(view.liquidity('BTCUSDT', 'SELL', 1000)).toEqual({ levels: book.bids });
    expect(view.addBook({ ...book, updateId: 10, asks: [] })).toBe(false);
  });

  it('puts a newer quote’s touch before the book’s levels beyond it', () => {
    const view = new MarketView();
    view.addBook(book);
    view.addQuote(quote(11, '99.8', '100.2'));
    // The levels at 100.1 and 99.9 were taken since the book: the quote is the touch now.
    expect(view.liquidity('BTCUSDT', 'BUY', 1000)).toEqual({
      levels: [
        ['100.2', '0.3'],
        ['100.3', '3'],
      ],
    });
    expect(view.liquidity('BTCUSDT', 'SELL', 1000)).toEqual({
      levels: [
        ['99.8', '0.4'],
        ['99.7', '3'],
      ],
    });
  });
});
