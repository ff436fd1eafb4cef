import { createTick } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { decodeTick, encodeTick, type DecodedTick } from './tick-codec.js';

const tick = createTick({
  symbol: 'BTCUSDT',
  tradeId: 9_007_199_254_740_991,
  price: '43250.01000000',
  quantity: '1234.567890123456',
  isBuyerMaker: true,
  tradeTime: 1_700_000_000_000,
  receiveTime: 1_700_000_000_002,
});

const bytes = (text: string) => new TextEncoder().encode(text);
const fields = JSON.parse(new TextDecoder().decode(encodeTick(tick))) as Record<string, unknown>;
const withFields = (changes: Record<string, unknown>) =>
  bytes(JSON.stringify({ ...fields, ...changes }));
const reason = (decoded: DecodedTick) => (decoded.ok ? 'ok' : decoded.reason);

describe('the tick codec', () => {
  it('writes one JSON object with the exact decimal strings, and reads the same tick back', () => {
    expect(new TextDecoder().decode(encodeTick(tick))).toBe(
      '{"v":1,"symbol":"BTCUSDT","tradeId":9007199254740991,"price":"43250.01000000",' +
        '"quantity":"1234.567890123456","isBuyerMaker":true,"tradeTime":1700000000000,' +
        '"receiveTime":1700000000002}',
    );
    expect(decodeTick(encodeTick(tick))).toEqual({ ok: true, tick });
    const decoded = decodeTick(encodeTick(tick));
    expect(decoded.ok && decoded.tick.side).toBe('SELL');
  });

  it('ignores fields it does not know', () => {
    expect(decodeTick(withFields({ side: 'SELL', extra: [1, 2] }))).toEqual({ ok: true, tick });
  });

  it('reports a malformed message with a reason instead of throwing', () => {
    expect(reason(decodeTick(bytes('{"v":1,')))).toBe('invalid_json');
    expect(reason(decodeTick(new Uint8Array([0xff, 0xfe])))).toBe('invalid_json');
    expect(reason(decodeTick(bytes('[1,2]')))).toBe('not_an_object');
    expect(reason(decodeTick(bytes('null')))).toBe('not_an_object');
    expect(reason(decodeTick(withFields({ v: 2 })))).toBe('unknown_version');
    expect(reason(decodeTick(withFields({ v: undefined })))).toBe('unknown_version');
    expect(reason(decodeTick(withFields({ receiveTime: undefined })))).toBe('missing_field');
    expect(reason(decodeTick(withFields({ price: '-1' })))).toBe('invalid_field');
    expect(reason(decodeTick(withFields({ price: 43250.01 })))).toBe('invalid_field');
    expect(reason(decodeTick(withFields({ tradeId: 1.5 })))).toBe('invalid_field');
    expect(reason(decodeTick(withFields({ symbol: 'BTC USDT' })))).toBe('invalid_field');
    expect(decodeTick(withFields({ quantity: '0' }))).toEqual({
      ok: false,
      reason: 'invalid_field',
      message: 'invalid quantity: expected a decimal string greater than zero, got "0"',
    });
    expect(decodeTick(withFields({ tradeTime: undefined }))).toEqual({
      ok: false,
      reason: 'missing_field',
      message: 'no tradeTime',
    });
  });
});
