import type { BookLevel, BookTop, DecimalString, Quote, Side } from '@trade/core';
import { exact } from './money.js';

/**
 * What an order can take besides the last price: its side of the book
 * (asks for a BUY, bids for a SELL), best first, or a quote's touch.
 */
export type MarketLiquidity =
  | {
      /** Taken in turn; an order larger than they hold fills what they hold. */
      readonly levels: readonly BookLevel[];
      readonly touch?: undefined;
    }
  | {
      /** A quote's price on the order's side: the whole order fills there. */
      readonly touch: DecimalString;
      readonly levels?: undefined;
    };

/**
 * The latest quote and order book top of each symbol, as the stream
 * delivered them. Kept as received; parsed into decimals only when an order
 * asks for {@link MarketView.liquidity}, so holding them costs a map write.
 */
export class MarketView {
  private readonly quotes = new Map<string, Quote>();
  private readonly books = new Map<string, BookTop>();

  /** Keeps `quote` unless one with a higher or equal update id is known (a repeat). */
  addQuote(quote: Quote): boolean {
    const known = this.quotes.get(quote.symbol);
    if (known !== undefined && quote.updateId <= known.updateId) return false;
    this.quotes.set(quote.symbol, quote);
    return true;
  }

  /** Keeps `top` unless one with a higher or equal update id is known. */
  addBook(top: BookTop): boolean {
    const known = this.books.get(top.symbol);
    if (known !== undefined && top.updateId <= known.updateId) return false;
    this.books.set(top.symbol, top);
    return true;
  }

  /**
   * What a `side` order of `symbol` can take, or undefined without a quote
   * or book (the order then fills at the last price with slippage). A quote
   * received more than `maxQuoteAgeMs` before `at` is not used.
   *
   * Quotes and the book share the exchange's update ids. A book at least as
   * new as the quote gives its levels. A quote newer than the book is the
   * touch as it is now: its level comes first, then the book's levels beyond
   * its price (the ones before were taken since). A quote alone is a touch
   * of unknown depth: the whole order fills at its price.
   */
  liquidity(
    symbol: string,
    side: Side,
    at: number,
    maxQuoteAgeMs = Number.POSITIVE_INFINITY,
  ): MarketLiquidity | undefined {
    let quote = this.quotes.get(symbol);
    if (quote !== undefined && at - quote.receiveTime > maxQuoteAgeMs) quote = undefined;
    const book = this.books.get(symbol);
    const buy = side === 'BUY';
    if (book !== undefined) {
      const levels = buy ? book.asks : book.bids;
      if (quote === undefined || book.updateId >= quote.updateId) return { levels };
      const touch: BookLevel = buy
        ? [quote.askPrice, quote.askQty]
        : [quote.bidPrice, quote.bidQty];
      const price = exact(touch[0]);
      const beyond = levels.filter((l) => (buy ? price.lt(l[0]) : price.gt(l[0])));
      return { levels: [touch, ...beyond] };
    }
    if (quote === undefined) return undefined;
    return { touch: buy ? quote.askPrice : quote.bidPrice };
  }
}
