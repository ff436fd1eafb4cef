import { isPositiveDecimalString, type Quote } from '@trade/core';
import { MAX_EPOCH_MS, SYMBOL } from './tick-rows.js';

/**
 * Why a quote cannot be stored, or `undefined` when it can. The checks are
 * what makes the array literals of {@link quoteArrays} safe to build by
 * joining: no value can contain a comma, brace, quote or backslash.
 */
export function quoteProblem(quote: Quote): string | undefined {
  if (typeof quote.symbol !== 'string' || !SYMBOL.test(quote.symbol)) return 'symbol';
  if (!Number.isSafeInteger(quote.updateId) || quote.updateId < 0) return 'updateId';
  if (!isPositiveDecimalString(quote.bidPrice)) return 'bidPrice';
  if (!isPositiveDecimalString(quote.bidQty)) return 'bidQty';
  if (!isPositiveDecimalString(quote.askPrice)) return 'askPrice';
  if (!isPositiveDecimalString(quote.askQty)) return 'askQty';
  if (
    !Number.isSafeInteger(quote.receiveTime) ||
    quote.receiveTime < 0 ||
    quote.receiveTime > MAX_EPOCH_MS
  ) {
    return 'receiveTime';
  }
  return undefined;
}

/**
 * The columns of `quote_data` as PostgreSQL array literals, one text
 * parameter each, decimals exactly as received; receive times as offsets
 * from the first quote's, which is the last parameter. Only for quotes
 * that passed {@link quoteProblem}.
 */
export function quoteArrays(quotes: readonly Quote[]): string[] {
  const n = quotes.length;
  const base = n > 0 ? quotes[0]!.receiveTime : 0;
  const symbols = new Array<string>(n);
  const ids = new Array<number>(n);
  const bidPrices = new Array<string>(n);
  const bidQtys = new Array<string>(n);
  const askPrices = new Array<string>(n);
  const askQtys = new Array<string>(n);
  const times = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const quote = quotes[i]!;
    symbols[i] = quote.symbol;
    ids[i] = quote.updateId;
    bidPrices[i] = quote.bidPrice;
    bidQtys[i] = quote.bidQty;
    askPrices[i] = quote.askPrice;
    askQtys[i] = quote.askQty;
    times[i] = quote.receiveTime - base;
  }
  const columns = [symbols, ids, bidPrices, bidQtys, askPrices, askQtys, times].map(
    (column) => `{${column.join(',')}}`,
  );
  columns.push(String(base));
  return columns;
}
