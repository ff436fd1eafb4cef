import { describe, expect, it } from 'vitest';
import { parseBookTicker, parseBookTickerText } from './parse-book-ticker.js';

const payload = {
  u: 400900217,
  s: 'BNBUSDT',
  b: '25.35190000',
  B: '31.21000000',
  a: '25.36520000',
  A: '40.66000000',
};

describe('parseBookTicker', () => {
  it('turns a bookTicker payload into a quote stamped with the receive time', () => {
    expect(parseBookTicker(payload, 1_700_000_000_123)).toEqual({
      kind: 'quote',
      quote: {
        symbol: 'BNBUSDT',
        updateId: 400900217,
        bidPrice: '25.35190000',
        bidQty: '31.21000000',
        askPrice: '25.36520000',
        askQty: '40.66000000',
        receiveTime: 1_700_000_000_123,
      },
    });
  });

  it('reads the combined-stream envelope and checks its stream name', () => {
    const frame = { stream: 'bnbusdt@bookTicker', data: payload };
    expect(parseBookTicker(frame, 1).kind).toBe('quote');
    expect(parseBookTicker({ ...frame, stream: 'btcusdt@bookTicker' }, 1)).toEqual({
      kind: 'rejected',
      reason: 'symbol_mismatch',
      detail: 'stream btcusdt@bookTicker carries BNBUSDT',
    });
  });

  it('keeps exact decimal strings, and ignores unknown fields', () => {
    const r = parseBookTicker(
      { ...payload, b: '0.00000001', a: '123456789.12345678', extra: [1] },
      1,
    );
    expect(r.kind === 'quote' && [r.quote.bidPrice, r.quote.askPrice]).toEqual([
      '0.00000001',
      '123456789.12345678',
    ]);
  });

  it.each([
    [null, 'not_an_object', 'null'],
    [[1], 'not_an_object', 'array'],
    [{ code: -1121, msg: 'Invalid symbol.' }, 'error_payload', 'code -1121: Invalid symbol.'],
    [{ ...payload, e: 'trade' }, 'unknown_event', 'e="trade"'],
    [{ ...payload, s: undefined }, 'missing_field', 's'],
    [{ ...payload, A: undefined }, 'missing_field', 'A'],
    [{ ...payload, s: 'bnb-usdt' }, 'invalid_field', 's'],
    [{ ...payload, u: '400900217' }, 'invalid_field', 'u'],
    [{ ...payload, u: -1 }, 'invalid_field', 'u'],
    [{ ...payload, u: 2 ** 53 }, 'invalid_field', 'u'],
    [{ ...payload, b: 25.3519 }, 'invalid_field', 'b'],
    [{ ...payload, B: '1e3' }, 'invalid_field', 'B'],
    [{ ...payload, a: '-25' }, 'invalid_field', 'a'],
    [{ ...payload, A: '' }, 'invalid_field', 'A'],
    [{ ...payload, b: '0.00000000', B: '0.00000000' }, 'non_positive', 'b=0.00000000'],
    [{ ...payload, A: '0' }, 'non_positive', 'A=0'],
    [{ ...payload, b: '25.36520000' }, 'crossed_book', 'b=25.36520000 a=25.36520000'],
    [{ ...payload, b: '26' }, 'crossed_book', 'b=26 a=25.36520000'],
    [{ stream: 'bnbusdt@bookTicker' }, 'missing_field', 'data'],
    [{ stream: 'bnbusdt@bookTicker', data: 'x' }, 'invalid_field', 'data is not an object'],
  ])('refuses %j: %s', (value, reason, detail) => {
    expect(parseBookTicker(value, 1)).toEqual({ kind: 'rejected', reason, detail });
  });

  it('refuses a bad receive time instead of throwing', () => {
    expect(parseBookTicker(payload, NaN)).toMatchObject({ reason: 'invalid_field' });
  });

  it('parses frame text, refusing what is not JSON', () => {
    expect(parseBookTickerText(JSON.stringify(payload), 1).kind).toBe('quote');
    expect(parseBookTickerText('{"u":1,', 1)).toEqual({
      kind: 'rejected',
      reason: 'invalid_json',
      detail: '{"u":1,',
    });
  });
});
