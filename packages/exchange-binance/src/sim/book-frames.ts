import type { BookLevel } from '@trade/core';
import type { BookDiff, SimQuote } from './order-book-truth.js';

// The text of the book's stream frames, as Binance writes them.

/**
 * A `<sym>@bookTicker` frame of `quote`, wrapped for a combined connection:
 * `{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}`.
 */
export function bookTickerFrame(quote: SimQuote, stream: string, combined: boolean): string {
  const data = `{"u":${quote.updateId},"s":"${quote.symbol}","b":"${quote.bidPrice}","B":"${quote.bidQty}","a":"${quote.askPrice}","A":"${quote.askQty}"}`;
  return combined ? `{"stream":"${stream}","data":${data}}` : data;
}

/**
 * A `<sym>@depth@100ms` (or `<sym>@depth`) frame of `diff` at `eventTime`:
 * `{"e":"depthUpdate","E":..,"s":"BNBUSDT","U":157,"u":160,"b":[["0.0024","10"]],"a":[...]}`.
 */
export function depthFrame(
  symbol: string,
  diff: BookDiff,
  eventTime: number,
  stream: string,
  combined: boolean,
): string {
  const data = `{"e":"depthUpdate","E":${eventTime},"s":"${symbol}","U":${diff.firstUpdateId},"u":${diff.finalUpdateId},"b":${levelsJson(diff.bids)},"a":${levelsJson(diff.asks)}}`;
  return combined ? `{"stream":"${stream}","data":${data}}` : data;
}

/** `[["price","qty"],...]`: the levels are decimal strings, so nothing needs escaping. */
export function levelsJson(levels: readonly BookLevel[]): string {
  let out = '[';
  for (let i = 0; i < levels.length; i++) {
    const [price, qty] = levels[i]!;
    out += `${i === 0 ? '' : ','}["${price}","${qty}"]`;
  }
  return `${out}]`;
}
