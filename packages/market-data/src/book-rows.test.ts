import { describe, expect, it } from 'vitest';
import { bookSnapshotProblem, bookSnapshotsJson, compareDecimals } from './book-rows.js';

describe('compareDecimals', () => {
  it('compares by value, exactly, trailing zeros aside', () => {
    expect(compareDecimals('1.10', '1.1')).toBe(0);
    expect(compareDecimals('0.00000001', '0.0000001')).toBe(-1);
    expect(compareDecimals('10', '9.99999999')).toBe(1);
    expect(compareDecimals('0.12', '0.2')).toBe(-1);
    expect(compareDecimals('9007199254740993', '9007199254740992.9999')).toBe(1);
    expect(compareDecimals('5', '5.000')).toBe(0);
  });
});

describe('bookSnapshotProblem', () => {
  const top = {
    symbol: 'BTCUSDT',
    updateId: 1,
    bids: [
      ['2', '1'],
      ['1.5', '1'],
    ] as const,
    asks: [
      ['2.01', '1'],
      ['3', '1'],
    ] as const,
  };

  it('takes a book best first and names the first bad field otherwise', () => {
    expect(bookSnapshotProblem({ top, timestamp: 0 })).toBeUndefined();
    expect(bookSnapshotProblem({ top: { ...top, bids: [] }, timestamp: 0 })).toBeUndefined();
    expect(bookSnapshotProblem({ top: { ...top, symbol: 'btc,usdt' }, timestamp: 0 })).toBe(
      'symbol',
    );
    expect(bookSnapshotProblem({ top: { ...top, updateId: 1.5 }, timestamp: 0 })).toBe('updateId');
    expect(bookSnapshotProblem({ top, timestamp: -1 })).toBe('timestamp');
    expect(
      bookSnapshotProblem({ top: { ...top, bids: [...top.bids].reverse() }, timestamp: 0 }),
    ).toBe('bids');
    expect(
      bookSnapshotProblem({ top: { ...top, asks: [...top.asks].reverse() }, timestamp: 0 }),
    ).toBe('asks');
  });

  it('encodes levels as [["price","qty"],...] strings, as given', () => {
    expect(JSON.parse(bookSnapshotsJson([{ top, timestamp: 5 }]))).toEqual([
      { symbol: 'BTCUSDT', update_id: 1, ms: 5, bids: top.bids, asks: top.asks },
    ]);
  });
});
