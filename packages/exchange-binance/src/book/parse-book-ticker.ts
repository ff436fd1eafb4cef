import { createQuote, isDecimalString, type Quote } from '@trade/core';
import { parseJson, rejectBook, unwrapPayload, type BookReject } from './book-reject-reason.js';
import { comparePriceKeys, readPriceKey, type PriceKey } from './price-key.js';

/** A `bookTicker` payload turned into a quote, or why not. */
export type QuoteParse = { readonly kind: 'quote'; readonly quote: Quote } | BookReject;

const SYMBOL = /^[A-Z0-9]{2,30}$/;
const NON_ZERO_DIGIT = /[1-9]/;
const FIELDS = ['u', 'b', 'B', 'a', 'A'] as const;

const bid: PriceKey = { int: 0, frac: 0 };
const ask: PriceKey = { int: 0, frac: 0 };

/**
 * Reads a `<sym>@bookTicker` payload (`{"u":..,"s":..,"b":..,"B":..,"a":..,"A":..}`),
 * bare or in its combined-stream envelope, into a {@link Quote} stamped
 * with `receiveTime` (spot bookTicker frames carry no time). Never throws:
 * a payload that is not a quote comes back as a reason. Checked in order:
 * presence, types (decimal strings, a safe non-negative `u`), then
 * plausibility (prices and quantities above zero, bid below ask). Unknown
 * fields are ignored; an `e` other than `bookTicker` is `unknown_event`.
 *
 * @example
 * ```ts
 * const r = parseBookTicker(
 *   { u: 400900217, s: 'BNBUSDT', b: '25.35190000', B: '31.21000000', a: '25.36520000', A: '40.66000000' },
 *   Date.now(),
 * );
 * if (r.kind === 'quote') r.quote.bidPrice // '25.35190000'
 * ```
 */
export function parseBookTicker(value: unknown, receiveTime: number): QuoteParse {
  const unwrapped = unwrapPayload(value);
  if (unwrapped.kind === 'rejected') return unwrapped;
  const { data, stream } = unwrapped;
  if (data.e !== undefined && data.e !== 'bookTicker') {
    return rejectBook('unknown_event', `e=${JSON.stringify(data.e)}`);
  }
  const s = data.s;
  if (s === undefined) return rejectBook('missing_field', 's');
  for (const field of FIELDS) {
    if (data[field] === undefined) return rejectBook('missing_field', field);
  }
  if (typeof s !== 'string' || !SYMBOL.test(s)) return rejectBook('invalid_field', 's');
  const { u, b, B, a, A } = data;
  if (typeof u !== 'number' || !Number.isSafeInteger(u) || u < 0) {
    return rejectBook('invalid_field', 'u');
  }
  if (!isDecimalString(b) || !readPriceKey(b, bid)) return rejectBook('invalid_field', 'b');
  if (!isDecimalString(B)) return rejectBook('invalid_field', 'B');
  if (!isDecimalString(a) || !readPriceKey(a, ask)) return rejectBook('invalid_field', 'a');
  if (!isDecimalString(A)) return rejectBook('invalid_field', 'A');
  if (!Number.isSafeInteger(receiveTime) || receiveTime < 0) {
    return rejectBook('invalid_field', `receiveTime=${String(receiveTime)}`);
  }
  if (stream !== undefined && stream !== `${s.toLowerCase()}@bookTicker`) {
    return rejectBook('symbol_mismatch', `stream ${stream} carries ${s}`);
  }
  // An empty side is sent as zeros: no quote to record.
  if (!NON_ZERO_DIGIT.test(b)) return rejectBook('non_positive', `b=${b}`);
  if (!NON_ZERO_DIGIT.test(B)) return rejectBook('non_positive', `B=${B}`);
  if (!NON_ZERO_DIGIT.test(a)) return rejectBook('non_positive', `a=${a}`);
  if (!NON_ZERO_DIGIT.test(A)) return rejectBook('non_positive', `A=${A}`);
  if (comparePriceKeys(bid, ask) >= 0) return rejectBook('crossed_book', `b=${b} a=${a}`);
  try {
    const quote = createQuote({
      symbol: s,
      updateId: u,
      bidPrice: b,
      bidQty: B,
      askPrice: a,
      askQty: A,
      receiveTime,
    });
    return { kind: 'quote', quote };
  } catch (error) {
    // Every field was checked above; this guards the promise never to throw.
    return rejectBook('invalid_field', String(error));
  }
}

/** {@link parseBookTicker} for frame text: `invalid_json` when it is not JSON. */
export function parseBookTickerText(text: string, receiveTime: number): QuoteParse {
  const parsed = parseJson(text);
  return parsed.kind === 'rejected' ? parsed : parseBookTicker(parsed.value, receiveTime);
}
