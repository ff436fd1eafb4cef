import type { Quote } from '@trade/core';
import {
  lastIntRead,
  match,
  skipInt,
  skipPositiveDecimal,
  type LatinSliceable,
} from '../frame-parser.js';
import { comparePriceKeys, readPriceKey, type PriceKey } from './price-key.js';

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

const PREFIX = ascii('{"stream":"');
const AFTER_STREAM = ascii('@bookTicker","data":{"u":');
const AFTER_ID = ascii(',"s":"');
const AFTER_SYMBOL = ascii('","b":"');
const AFTER_BID = ascii('","B":"');
const AFTER_BID_QTY = ascii('","a":"');
const AFTER_ASK = ascii('","A":"');
const END = ascii('"}}');
const AT = 0x40;

const bid: PriceKey = { int: 0, frac: 0 };
const ask: PriceKey = { int: 0, frac: 0 };

/**
 * A combined-stream `bookTicker` frame in exactly Binance's layout
 * (`{"stream":"bnbusdt@bookTicker","data":{"u":..,"s":"BNBUSDT","b":"..","B":"..","a":"..","A":".."}}`),
 * read from the bytes without `JSON.parse`: the quote when every field is
 * valid (a symbol of 2-30 capitals and digits matching the stream, a safe
 * `u`, prices and quantities above zero, bid below ask), `undefined`
 * otherwise, and the caller falls back to `parseBookTickerText`, which
 * gives the same answer for every frame this accepts.
 */
export function fastBookTicker(b: Buffer, receiveTime: number): Quote | undefined {
  if (!match(b, 0, PREFIX)) return undefined;
  let i = PREFIX.length;
  const streamStart = i;
  while (i < b.length && b[i] !== AT) {
    const c = b[i]!;
    if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39))) return undefined;
    i++;
  }
  const streamEnd = i;
  if (!match(b, i, AFTER_STREAM)) return undefined;
  i = skipInt(b, i + AFTER_STREAM.length);
  if (i < 0) return undefined;
  const updateId = lastIntRead();
  if (updateId < 0 || !match(b, i, AFTER_ID)) return undefined;
  i += AFTER_ID.length;
  const symbolStart = i;
  while (i < b.length) {
    const c = b[i]!;
    if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39))) break;
    i++;
  }
  const symbolLength = i - symbolStart;
  if (symbolLength < 2 || symbolLength > 30 || streamEnd - streamStart !== symbolLength) {
    return undefined;
  }
  for (let k = 0; k < symbolLength; k++) {
    const c = b[symbolStart + k]!;
    if (b[streamStart + k] !== (c >= 0x41 ? c + 32 : c)) return undefined;
  }
  const symbolEnd = i;
  if (!match(b, i, AFTER_SYMBOL)) return undefined;
  const bidStart = i + AFTER_SYMBOL.length;
  const bidEnd = skipPositiveDecimal(b, bidStart);
  if (bidEnd < 0 || !match(b, bidEnd, AFTER_BID)) return undefined;
  const bidQtyStart = bidEnd + AFTER_BID.length;
  const bidQtyEnd = skipPositiveDecimal(b, bidQtyStart);
  if (bidQtyEnd < 0 || !match(b, bidQtyEnd, AFTER_BID_QTY)) return undefined;
  const askStart = bidQtyEnd + AFTER_BID_QTY.length;
  const askEnd = skipPositiveDecimal(b, askStart);
  if (askEnd < 0 || !match(b, askEnd, AFTER_ASK)) return undefined;
  const askQtyStart = askEnd + AFTER_ASK.length;
  const askQtyEnd = skipPositiveDecimal(b, askQtyStart);
  if (askQtyEnd < 0 || !match(b, askQtyEnd, END) || askQtyEnd + END.length !== b.length) {
    return undefined;
  }
  if (!Number.isSafeInteger(receiveTime) || receiveTime < 0) return undefined;
  const bytes = b as LatinSliceable;
  const bidPrice = bytes.latin1Slice(bidStart, bidEnd);
  const askPrice = bytes.latin1Slice(askStart, askEnd);
  // Prices the book cannot order exactly, or a crossed book: the full parser says why.
  if (!readPriceKey(bidPrice, bid) || !readPriceKey(askPrice, ask)) return undefined;
  if (comparePriceKeys(bid, ask) >= 0) return undefined;
  return Object.freeze({
    symbol: bytes.latin1Slice(symbolStart, symbolEnd),
    updateId,
    bidPrice,
    bidQty: bytes.latin1Slice(bidQtyStart, bidQtyEnd),
    askPrice,
    askQty: bytes.latin1Slice(askQtyStart, askQtyEnd),
    receiveTime,
  });
}
