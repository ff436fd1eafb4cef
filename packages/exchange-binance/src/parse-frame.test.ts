import { describe, expect, it } from 'vitest';
import { FrameParser } from './frame-parser.js';
import { MAX_FRAME_BYTES, parseFrameText } from './parse-frame.js';

// Shapes copied from Binance's documentation and live captures.
const COMBINED =
  '{"stream":"btcusdt@trade","data":{"e":"trade","E":1672515782136,"s":"BTCUSDT","t":12345,"p":"43250.01000000","q":"0.00123000","T":1672515782134,"m":true,"M":true}}';
const COMBINED_WITH_BA =
  '{"stream":"bnbbtc@trade","data":{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","b":88,"a":50,"T":1672515782136,"m":false,"M":true}}';
const RAW =
  '{"e":"trade","E":1672515782136,"s":"ETHUSDT","t":99,"p":"2250.10","q":"1.2345678912345678","T":1672515782130,"m":false,"M":true}';
const AGG =
  '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1672515782136,"s":"BTCUSDT","a":26129,"p":"0.01633102","q":"4.70443515","f":27781,"l":27781,"T":1498793709153,"m":true,"M":true}}';

const parser = new FrameParser('trade');
const buf = (text: string) => Buffer.from(text, 'utf8');

describe('FrameParser fast path', () => {
  it('reads a combined trade frame exactly, SELL when m is true', () => {
    const r = parser.parse(buf(COMBINED), 42);
    expect(r).toEqual({
      kind: 'tick',
      tick: {
        symbol: 'BTCUSDT',
        tradeId: 12345,
        price: '43250.01000000',
        quantity: '0.00123000',
        side: 'SELL',
        isBuyerMaker: true,
        tradeTime: 1672515782134,
        receiveTime: 42,
      },
    });
    expect(parser.fast(buf(COMBINED), 42)).toBeDefined();
  });

  it('tolerates the older b/a fields, and raw (unwrapped) frames', () => {
    const withBa = parser.fast(buf(COMBINED_WITH_BA), 1);
    expect(withBa).toMatchObject({ symbol: 'BNBBTC', tradeId: 12345, side: 'BUY', price: '0.001' });
    const raw = parser.fast(buf(RAW), 1);
    // 16 significant digits stay exact because they stay strings.
    expect(raw).toMatchObject({ symbol: 'ETHUSDT', tradeId: 99, quantity: '1.2345678912345678' });
  });

  it('reads aggTrade frames when configured for them', () => {
    const agg = new FrameParser('aggTrade').fast(buf(AGG), 1);
    expect(agg).toMatchObject({ symbol: 'BTCUSDT', tradeId: 26129, quantity: '4.70443515' });
    expect(parser.parse(buf(AGG), 1)).toMatchObject({ kind: 'rejected', reason: 'unknown_event' });
  });

  it('reuses the string of a known symbol, and still reads unknown ones', () => {
    const interning = new FrameParser('trade', ['ETHUSDT', 'BTCUSDT']);
    const known = interning.fast(buf(COMBINED), 1);
    expect(known?.symbol).toBe('BTCUSDT');
    expect(interning.fast(buf(COMBINED_WITH_BA), 1)?.symbol).toBe('BNBBTC');
    expect(interning.fast(buf(RAW), 1)?.symbol).toBe('ETHUSDT');
  });

  it('falls back to the full parser for unknown fields, other key orders and whitespace', () => {
    const extra = COMBINED.replace('"M":true', '"M":true,"X":"new"');
    const reordered =
      '{"data":{"s":"BTCUSDT","e":"trade","t":7,"p":"1.0","q":"2","T":1672515782134,"m":false},"stream":"btcusdt@trade"}';
    const spaced = COMBINED.replace('"t":12345', '"t": 12345');
    for (const text of [extra, reordered, spaced]) {
      expect(parser.fast(buf(text), 1)).toBeUndefined();
      expect(parser.parse(buf(text), 1).kind).toBe('tick');
    }
  });
});

describe('validation and rejected reasons', () => {
  const cases: [string, string][] = [
    ['not json{', 'invalid_json'],
    ['[1,2]', 'not_an_object'],
    ['42', 'not_an_object'],
    ['null', 'not_an_object'],
    ['{"code":-1121,"msg":"Invalid symbol."}', 'error_payload'],
    ['{"stream":"btcusdt@trade"}', 'missing_field'],
    ['{"stream":"btcusdt@trade","data":5}', 'invalid_field'],
    ['{"stream":"btcusdt@depth","data":{"e":"depthUpdate","s":"BTCUSDT"}}', 'unknown_event'],
    ['{"data":{"s":"BTCUSDT"}}', 'missing_field'],
    [COMBINED.replace('"t":12345,', ''), 'missing_field'],
    [COMBINED.replace('"p":"43250.01000000"', '"p":43250.01'), 'invalid_field'],
    [COMBINED.replace('"p":"43250.01000000"', '"p":"-1"'), 'invalid_field'],
    [COMBINED.replace('"p":"43250.01000000"', '"p":"1e5"'), 'invalid_field'],
    [COMBINED.replace('"q":"0.00123000"', '"q":"0.00000000"'), 'non_positive'],
    [COMBINED.replace('"p":"43250.01000000"', '"p":"0"'), 'non_positive'],
    [COMBINED.replace('"t":12345', '"t":"12345"'), 'invalid_field'],
    [COMBINED.replace('"t":12345', '"t":1.5'), 'invalid_field'],
    [COMBINED.replace('"t":12345', '"t":99999999999999999'), 'invalid_field'],
    [COMBINED.replace('"m":true', '"m":1'), 'invalid_field'],
    [COMBINED.replace('"T":1672515782134', '"T":-1'), 'invalid_field'],
    // Before 2017-01-01: Binance did not trade yet.
    [COMBINED.replace('"T":1672515782134', '"T":1483228799999'), 'implausible_time'],
    [COMBINED.replace('"T":1672515782134', '"T":0'), 'implausible_time'],
    [COMBINED.replace('"s":"BTCUSDT"', '"s":"btc-usdt"'), 'invalid_field'],
    [COMBINED.replace('"stream":"btcusdt@trade"', '"stream":"ethusdt@trade"'), 'symbol_mismatch'],
  ];

  it.each(cases)('%s -> %s', (text, reason) => {
    const r = parser.parse(buf(text), 1);
    expect(r).toMatchObject({ kind: 'rejected', reason });
    expect(parser.fast(buf(text), 1)).toBeUndefined();
  });

  it('takes the first plausible trade time, 2017-01-01T00:00:00Z', () => {
    const first = COMBINED.replace('"T":1672515782134', '"T":1483228800000');
    expect(parser.fast(buf(first), 1)?.tradeTime).toBe(1483228800000);
    expect(parser.parse(first, 1)).toMatchObject({ kind: 'tick' });
  });

  it('rejects a frame over 1 MiB by its size, before decoding it, and reads one at 1 MiB', () => {
    const frame = (bytes: number) => {
      const head = '{"stream":"btcusdt@trade","data":{"e":"kline","x":"';
      return `${head}${'x'.repeat(bytes - head.length - 3)}"}}`;
    };
    expect(buf(frame(MAX_FRAME_BYTES + 1)).length).toBe(MAX_FRAME_BYTES + 1);
    for (const data of [buf(frame(MAX_FRAME_BYTES + 1)), frame(MAX_FRAME_BYTES + 1)]) {
      expect(parser.parse(data, 1)).toMatchObject({ kind: 'rejected', reason: 'oversized_frame' });
    }
    expect(parser.parseFast(buf(frame(MAX_FRAME_BYTES + 1)), 1)).toMatchObject({
      reason: 'oversized_frame',
    });
    expect(parser.parseFast(buf(frame(MAX_FRAME_BYTES)), 1)).toMatchObject({
      reason: 'unknown_event',
    });
  });

  it('recognises replies, error replies and serverShutdown', () => {
    expect(parser.parse('{"result":null,"id":3}', 1)).toEqual({
      kind: 'reply',
      id: 3,
      result: null,
    });
    expect(parser.parse('{"error":{"code":2,"msg":"Invalid request"},"id":4}', 1)).toEqual({
      kind: 'reply',
      id: 4,
      error: { code: 2, msg: 'Invalid request' },
    });
    expect(parser.parse('{"e":"serverShutdown","E":1}', 1)).toEqual({ kind: 'shutdown' });
    expect(
      parser.parse('{"stream":"btcusdt@trade","data":{"e":"serverShutdown","E":1}}', 1),
    ).toEqual({ kind: 'shutdown' });
  });
});

describe('fast path agrees with the full parser', () => {
  // Deterministic mutations of real frames: every frame the fast path accepts
  // must give exactly what JSON.parse + validation gives.
  function* mutations(text: string): Generator<string> {
    const alphabet = '0123456789.,:"{}-eEabmtTpqsS \\x';
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let n = 0; n < 4000; n++) {
      const chars = [...text];
      const edits = 1 + Math.floor(rand() * 3);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(rand() * chars.length);
        const op = rand();
        const c = alphabet[Math.floor(rand() * alphabet.length)]!;
        if (op < 0.4) chars[at] = c;
        else if (op < 0.7) chars.splice(at, 1);
        else chars.splice(at, 0, c);
      }
      yield chars.join('');
    }
  }

  it.each([COMBINED, COMBINED_WITH_BA, RAW])('for thousands of mutations of %s', (base) => {
    let accepted = 0;
    for (const text of mutations(base)) {
      const fast = parser.fast(buf(text), 9);
      if (fast === undefined) continue;
      accepted++;
      expect(parseFrameText(text, 'trade', 9)).toEqual({ kind: 'tick', tick: fast });
    }
    expect(accepted).toBeGreaterThan(0);
  });
});
