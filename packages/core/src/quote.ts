import { positiveDecimal, type DecimalString } from './decimal.js';
import { InvalidInputError } from './errors.js';
import { normalizeSymbol, type TradingSymbol } from './symbol.js';

/**
 * The best bid and ask of a symbol as the exchange reported them (Binance
 * `<sym>@bookTicker`: `u`, `b`, `B`, `a`, `A`). Update ids rise per symbol;
 * one at or below the last seen is a repeat.
 */
export interface Quote {
  /** Upper-case symbol, e.g. `BTCUSDT`. */
  readonly symbol: TradingSymbol;
  /** The exchange's order book update id (`u`). */
  readonly updateId: number;
  /** Best bid price exactly as received. */
  readonly bidPrice: DecimalString;
  readonly bidQty: DecimalString;
  /** Best ask price exactly as received. */
  readonly askPrice: DecimalString;
  readonly askQty: DecimalString;
  /**
   * When this process received it, milliseconds since the epoch: spot
   * bookTicker frames carry no time, so this is the quote's time, kept
   * through the spool and the bus.
   */
  readonly receiveTime: number;
}

/** What {@link createQuote} takes. */
export interface QuoteInput {
  symbol: string;
  updateId: number;
  bidPrice: string;
  bidQty: string;
  askPrice: string;
  askQty: string;
  receiveTime?: number;
}

/**
 * Builds a validated, frozen {@link Quote}. Throws {@link InvalidInputError}
 * naming the first bad field.
 *
 * @example
 * ```ts
 * const quote = createQuote({ symbol: 'btcusdt', updateId: 400900217, bidPrice: '25.35190000',
 *   bidQty: '31.21000000', askPrice: '25.36520000', askQty: '40.66000000' });
 * quote.symbol // 'BTCUSDT'
 * ```
 */
export function createQuote(input: QuoteInput): Quote {
  const symbol = normalizeSymbol(input.symbol);
  if (!Number.isSafeInteger(input.updateId) || input.updateId < 0) {
    throw new InvalidInputError('updateId', input.updateId, 'a non-negative safe integer');
  }
  const receiveTime = input.receiveTime ?? Date.now();
  if (!Number.isSafeInteger(receiveTime) || receiveTime < 0) {
    throw new InvalidInputError('receiveTime', receiveTime, 'milliseconds since the epoch');
  }
  return Object.freeze({
    symbol,
    updateId: input.updateId,
    bidPrice: positiveDecimal(input.bidPrice, 'bidPrice'),
    bidQty: positiveDecimal(input.bidQty, 'bidQty'),
    askPrice: positiveDecimal(input.askPrice, 'askPrice'),
    askQty: positiveDecimal(input.askQty, 'askQty'),
    receiveTime,
  });
}
