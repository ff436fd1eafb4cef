import { describe, expect, it } from 'vitest';
import {
  parseDepthDiff,
  parseDepthDiffText,
  parseDepthSnapshot,
  type DepthDiff,
} from './parse-depth.js';

const event = {
  e: 'depthUpdate',
  E: 1_700_000_000_000,
  s: 'BNBUSDT',
  U: 157,
  u: 160,
  b: [['0.0024', '10']],
  a: [
    ['0.0026', '100'],
    ['0.0027', '0.00000000'],
  ],
};

describe('parseDepthDiff', () => {
  it('reads a depthUpdate payload into a typed diff', () => {
    expect(parseDepthDiff(event)).toEqual({
      kind: 'diff',
      diff: {
        symbol: 'BNBUSDT',
        firstUpdateId: 157,
        finalUpdateId: 160,
        eventTime: 1_700_000_000_000,
        bids: [['0.0024', '10']],
        asks: [
          ['0.0026', '100'],
          ['0.0027', '0.00000000'],
        ],
      } satisfies DepthDiff,
    });
  });

  it('reads the combined-stream envelope of @depth and @depth@100ms', () => {
    for (const stream of ['bnbusdt@depth', 'bnbusdt@depth@100ms', 'bnbusdt@depth@1000ms']) {
      expect(parseDepthDiff({ stream, data: event }).kind).toBe('diff');
    }
    expect(parseDepthDiff({ stream: 'btcusdt@depth@100ms', data: event })).toMatchObject({
      reason: 'symbol_mismatch',
    });
    expect(parseDepthDiff({ stream: 'bnbusdt@trade', data: event })).toMatchObject({
      reason: 'symbol_mismatch',
    });
  });

  it('keeps exact strings, takes empty sides, ignores extra fields and level elements', () => {
    const r = parseDepthDiff({
      ...event,
      b: [['123456789.12345678', '0.00000001', []]],
      a: [],
      pu: 3,
    });
    expect(r.kind === 'diff' && r.diff.bids).toEqual([['123456789.12345678', '0.00000001']]);
    expect(r.kind === 'diff' && r.diff.asks).toEqual([]);
  });

  it.each([
    [{ ...event, e: undefined }, 'missing_field', 'e'],
    [{ ...event, e: 'trade' }, 'unknown_event', 'e="trade"'],
    [{ ...event, U: undefined }, 'missing_field', 'U'],
    [{ ...event, b: undefined }, 'missing_field', 'b'],
    [{ ...event, s: 7 }, 'invalid_field', 's'],
    [{ ...event, E: '1700000000000' }, 'invalid_field', 'E'],
    [{ ...event, U: 1.5 }, 'invalid_field', 'U'],
    [{ ...event, u: 2 ** 53 }, 'invalid_field', 'u'],
    [{ ...event, U: 161 }, 'invalid_field', 'U=161 is after u=160'],
    [{ ...event, b: {} }, 'invalid_field', 'b is object, not an array'],
    [{ ...event, b: [['0.0024']] }, 'invalid_field', 'b[0] is not [price, qty]'],
    [{ ...event, a: [['1', '1'], '2'] }, 'invalid_field', 'a[1] is not [price, qty]'],
    [
      { ...event, b: [[0.0024, '10']] },
      'invalid_field',
      'b[0] price 0.0024 is not a decimal string',
    ],
    [
      { ...event, b: [['1e-3', '10']] },
      'invalid_field',
      'b[0] price "1e-3" is not a decimal string',
    ],
    [{ ...event, b: [['0.000', '10']] }, 'invalid_field', 'b[0] price 0.000 is not above zero'],
    [{ ...event, a: [['1', '-5']] }, 'invalid_field', 'a[0] quantity "-5" is not a decimal string'],
    [{ ...event, E: 5 }, 'implausible_time', 'E=5'],
    ['text', 'not_an_object', 'string'],
  ])('refuses %j: %s', (value, reason, detail) => {
    expect(parseDepthDiff(value)).toEqual({ kind: 'rejected', reason, detail });
  });

  it('parses frame text, refusing what is not JSON', () => {
    expect(parseDepthDiffText(JSON.stringify(event)).kind).toBe('diff');
    expect(parseDepthDiffText('nope')).toMatchObject({ reason: 'invalid_json' });
  });
});

const answer = {
  lastUpdateId: 1027024,
  bids: [
    ['4.00000000', '431.00000000'],
    ['3.99000000', '9.00000000'],
  ],
  asks: [
    ['4.00000200', '12.00000000'],
    ['4.01000000', '18.00000000'],
  ],
};
const asked = { symbol: 'BNBUSDT', limit: 5 };

describe('parseDepthSnapshot', () => {
  it('checks a REST depth answer and names the symbol asked', () => {
    expect(parseDepthSnapshot(answer, asked)).toEqual({
      kind: 'snapshot',
      snapshot: { symbol: 'BNBUSDT', ...answer },
    });
  });

  it('takes empty sides (a symbol nobody trades)', () => {
    expect(parseDepthSnapshot({ lastUpdateId: 1, bids: [], asks: [] }, asked).kind).toBe(
      'snapshot',
    );
  });

  it.each([
    ['not an object', [], 'answer is array, not an object'],
    ['no lastUpdateId', { ...answer, lastUpdateId: undefined }, 'lastUpdateId undefined'],
    [
      'an unsafe lastUpdateId',
      { ...answer, lastUpdateId: 2 ** 53 },
      'lastUpdateId 9007199254740992',
    ],
    ['a string lastUpdateId', { ...answer, lastUpdateId: '1' }, 'lastUpdateId "1"'],
    ['bids not a list', { ...answer, bids: null }, 'bids is null, not an array'],
    [
      'a non-decimal price',
      {
        ...answer,
        asks: [
          ['4.1', '1'],
          ['NaN', '1'],
        ],
      },
      'asks[1] price "NaN" is not a decimal string',
    ],
    [
      'a non-decimal quantity',
      { ...answer, bids: [['4', 1]] },
      'bids[0] quantity 1 is not a decimal string',
    ],
    [
      'bids not best first',
      {
        ...answer,
        bids: [
          ['3.99', '1'],
          ['4', '1'],
        ],
      },
      'bids[1] price 4 is out of order (best first, no repeats)',
    ],
    [
      'asks not best first',
      {
        ...answer,
        asks: [
          ['4.02', '1'],
          ['4.01', '1'],
        ],
      },
      'asks[1] price 4.01 is out of order (best first, no repeats)',
    ],
    [
      'a repeated price',
      {
        ...answer,
        asks: [
          ['4.01', '1'],
          ['4.010', '1'],
        ],
      },
      'asks[1] price 4.010 is out of order (best first, no repeats)',
    ],
    [
      'a crossed book',
      { ...answer, asks: [['4.00000000', '1']] },
      'crossed: best bid 4.00000000 is not below best ask 4.00000000',
    ],
    [
      'more levels than asked',
      {
        ...answer,
        bids: [
          ['6', '1'],
          ['5', '1'],
          ['3', '1'],
          ['2', '1'],
          ['1', '1'],
          ['0.5', '1'],
        ],
      },
      '6 bids, asked for at most 5',
    ],
  ])('refuses the whole answer for %s', (_, value, why) => {
    expect(parseDepthSnapshot(value, asked)).toEqual({
      kind: 'rejected',
      reason: 'invalid_rest_answer',
      detail: `depth BNBUSDT: ${why}`,
    });
  });
});
