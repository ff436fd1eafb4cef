import { InvalidInputError, createQuote, type Quote } from '@trade/core';
import { readVersionedObject, refuse } from './codec-support.js';
import type { BusRecordKind, BusRejection } from './record-kind.js';
import { BOOK_TICKER_CHANNEL } from './subjects.js';

/** The layout version written in every quote message (`"v":1`); a decoder refuses others. */
export const QUOTE_MESSAGE_VERSION = 1;

/** What {@link decodeQuote} returns: a quote, or why there is none. */
export type DecodedQuote = { readonly ok: true; readonly quote: Quote } | BusRejection;

const FIELDS = [
  'symbol',
  'updateId',
  'bidPrice',
  'bidQty',
  'askPrice',
  'askQty',
  'receiveTime',
] as const;

const encoder = new TextEncoder();

/**
 * The bytes of a quote on the bus: one JSON object, prices and quantities
 * as the exchange's exact decimal strings, the receive time (the quote's
 * only time: spot bookTicker frames carry none) in epoch milliseconds, so
 * a replay carries the same time.
 *
 * @example
 * ```ts
 * new TextDecoder().decode(encodeQuote(quote))
 * // {"v":1,"symbol":"BTCUSDT","updateId":400900217,"bidPrice":"25.35190000","bidQty":"31.21000000",
 * //  "askPrice":"25.36520000","askQty":"40.66000000","receiveTime":1700000000002}
 * ```
 */
export function encodeQuote(quote: Quote): Uint8Array {
  return encoder.encode(
    JSON.stringify({
      v: QUOTE_MESSAGE_VERSION,
      symbol: quote.symbol,
      updateId: quote.updateId,
      bidPrice: quote.bidPrice,
      bidQty: quote.bidQty,
      askPrice: quote.askPrice,
      askQty: quote.askQty,
      receiveTime: quote.receiveTime,
    }),
  );
}

/**
 * Reads a quote back from a message, checked as `createQuote` checks one
 * (the receive time required). Never throws: a malformed message comes
 * back as `{ ok: false, reason, message }` with the reasons of
 * {@link decodeTick}.
 *
 * @example
 * ```ts
 * const decoded = decodeQuote(msg.data);
 * if (decoded.ok) handle(decoded.quote);
 * else logger.warn({ reason: decoded.reason }, decoded.message);
 * ```
 */
export function decodeQuote(data: Uint8Array): DecodedQuote {
  const read = readVersionedObject(data, QUOTE_MESSAGE_VERSION, FIELDS);
  if (!read.ok) return read;
  const { fields } = read;
  try {
    const quote = createQuote({
      symbol: fields.symbol as string,
      updateId: fields.updateId as number,
      bidPrice: fields.bidPrice as string,
      bidQty: fields.bidQty as string,
      askPrice: fields.askPrice as string,
      askQty: fields.askQty as string,
      receiveTime: fields.receiveTime as number,
    });
    return { ok: true, quote };
  } catch (error) {
    if (InvalidInputError.isInstance(error)) return refuse('invalid_field', error.message);
    throw error;
  }
}

/**
 * Quotes on the bus: channel `bookTicker`, message id by update id
 * (`binance:bookTicker:<SYMBOL>:<updateId>`), the body of {@link encodeQuote}.
 *
 * @example
 * ```ts
 * const publisher = await startRecordPublisher({ nc, kind: quoteKind, spool });
 * ```
 */
export const quoteKind: BusRecordKind<Quote> = Object.freeze({
  channel: BOOK_TICKER_CHANNEL,
  noun: 'quote',
  plural: 'quotes',
  encode: encodeQuote,
  decode: (data: Uint8Array) => {
    const decoded = decodeQuote(data);
    return decoded.ok ? { ok: true as const, record: decoded.quote } : decoded;
  },
  symbol: (quote: Quote) => quote.symbol,
  id: (quote: Quote) => quote.updateId,
});
