import { createQuote } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { decodeQuote, encodeQuote, quoteKind, type DecodedQuote } from './quote-codec.js';

const quote = createQuote({
  symbol: 'BTCUSDT',
  updateId: 9_007_199_254_740_991,
  bidPrice: '43250.01000000',
  bidQty: '1234.567890123456',
  askPrice: '43250.02000000',
  askQty: '0.00000001',
  receiveTime: 1_700_000_000_123,
});

const bytes = (text: string) => new TextEncoder().encode(text);
const fields = JSON.parse(new TextDecoder().decode(encodeQuote(quote))) as Record<string, unknown>;
const withFields = (changes: Record<string, unknown>) =>
  bytes(JSON.stringify({ ...fields, ...changes }));
const reason = (decoded: DecodedQuote) => (decoded.ok ? 'ok' : decoded.reason);

describe('the quote codec', () => {
  it('writes one JSON object with the exact decimal strings and the receive time, and reads the same quote back', () => {
    expect(new TextDecoder().decode(encodeQuote(quote))).toBe(
      '{"v":1,"symbol":"BTCUSDT","updateId":9007199254740991,"bidPrice":"43250.01000000",' +
        '"bidQty":"1234.567890123456","askPrice":"43250.02000000","askQty":"0.00000001",' +
        '"receiveTime":1700000000123}',
    );
    expect(decodeQuote(encodeQuote(quote))).toEqual({ ok: true, quote });
    expect(decodeQuote(withFields({ extra: true }))).toEqual({ ok: true, quote });
  });

  it('is the kind of the bookTicker channel, its id the update id', () => {
    expect(quoteKind.channel).toBe('bookTicker');
    expect(quoteKind.id(quote)).toBe(quote.updateId);
    expect(quoteKind.decode(encodeQuote(quote))).toEqual({ ok: true, record: quote });
  });

  it('reports a malformed message with the reasons of the tick codec instead of throwing', () => {
    expect(reason(decodeQuote(bytes('{"v":1,')))).toBe('invalid_json');
    expect(reason(decodeQuote(new Uint8Array([0xff])))).toBe('invalid_json');
    expect(reason(decodeQuote(bytes('"quote"')))).toBe('not_an_object');
    expect(reason(decodeQuote(withFields({ v: 2 })))).toBe('unknown_version');
    expect(decodeQuote(withFields({ receiveTime: undefined }))).toEqual({
      ok: false,
      reason: 'missing_field',
      message: 'no receiveTime',
    });
    expect(reason(decodeQuote(withFields({ bidPrice: 43250.01 })))).toBe('invalid_field');
    expect(reason(decodeQuote(withFields({ askQty: '0' })))).toBe('invalid_field');
    expect(reason(decodeQuote(withFields({ updateId: -1 })))).toBe('invalid_field');
    expect(reason(decodeQuote(withFields({ receiveTime: 1.5 })))).toBe('invalid_field');
    expect(decodeQuote(withFields({ bidQty: '1e3' }))).toEqual({
      ok: false,
      reason: 'invalid_field',
      message: 'invalid bidQty: expected a decimal string greater than zero, got "1e3"',
    });
  });
});
