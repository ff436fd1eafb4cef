import { InvalidInputError } from '@trade/core';
import { describe, expect, it } from 'vitest';
import {
  bookSnapshotKind,
  checkBookSnapshot,
  compareDecimals,
  decodeBookSnapshot,
  encodeBookSnapshot,
  type BusBookSnapshot,
  type DecodedBookSnapshot,
} from './book-snapshot-codec.js';

const snapshot: BusBookSnapshot = {
  top: {
    symbol: 'ETHUSDT',
    updateId: 1_027_024,
    bids: [
      ['2000.10000000', '1.234567890123456'],
      ['2000.09', '0.00000001'],
    ],
    asks: [
      ['2000.11000000', '12.00000000'],
      ['2000.2', '3'],
    ],
  },
  timestamp: 1_700_000_000_007,
};

const bytes = (text: string) => new TextEncoder().encode(text);
const fields = JSON.parse(new TextDecoder().decode(encodeBookSnapshot(snapshot))) as Record<
  string,
  unknown
>;
const withFields = (changes: Record<string, unknown>) =>
  bytes(JSON.stringify({ ...fields, ...changes }));
const reason = (decoded: DecodedBookSnapshot) => (decoded.ok ? 'ok' : decoded.reason);

describe('the book snapshot codec', () => {
  it('writes the levels as [["price","qty"],...] exactly, best first, and reads the same snapshot back', () => {
    expect(new TextDecoder().decode(encodeBookSnapshot(snapshot))).toBe(
      '{"v":1,"symbol":"ETHUSDT","updateId":1027024,"timestamp":1700000000007,' +
        '"bids":[["2000.10000000","1.234567890123456"],["2000.09","0.00000001"]],' +
        '"asks":[["2000.11000000","12.00000000"],["2000.2","3"]]}',
    );
    const decoded = decodeBookSnapshot(encodeBookSnapshot(snapshot));
    expect(decoded).toEqual({ ok: true, snapshot });
    expect(decoded.ok && Object.isFrozen(decoded.snapshot.top.bids[0])).toBe(true);
  });

  it('takes an empty side, and is the kind of the depth channel, its id the book update id', () => {
    const empty = { ...snapshot, top: { ...snapshot.top, asks: [] } };
    expect(decodeBookSnapshot(encodeBookSnapshot(empty))).toEqual({ ok: true, snapshot: empty });
    expect(bookSnapshotKind.channel).toBe('depth');
    expect(bookSnapshotKind.id(snapshot)).toBe(1_027_024);
    expect(bookSnapshotKind.symbol(snapshot)).toBe('ETHUSDT');
  });

  it('reports a malformed message with the reasons of the tick codec instead of throwing', () => {
    expect(reason(decodeBookSnapshot(bytes('[')))).toBe('invalid_json');
    expect(reason(decodeBookSnapshot(bytes('[]')))).toBe('not_an_object');
    expect(reason(decodeBookSnapshot(withFields({ v: '1' })))).toBe('unknown_version');
    expect(reason(decodeBookSnapshot(withFields({ asks: undefined })))).toBe('missing_field');
    expect(reason(decodeBookSnapshot(withFields({ symbol: 'ethusdt' })))).toBe('invalid_field');
    expect(reason(decodeBookSnapshot(withFields({ updateId: 1.5 })))).toBe('invalid_field');
    expect(reason(decodeBookSnapshot(withFields({ timestamp: '0' })))).toBe('invalid_field');
    expect(reason(decodeBookSnapshot(withFields({ bids: {} })))).toBe('invalid_field');
    expect(reason(decodeBookSnapshot(withFields({ bids: [[1, '1']] })))).toBe('invalid_field');
    expect(reason(decodeBookSnapshot(withFields({ bids: [['1', '0']] })))).toBe('invalid_field');
    expect(reason(decodeBookSnapshot(withFields({ bids: [['1', '1', '1']] })))).toBe(
      'invalid_field',
    );
    expect(
      decodeBookSnapshot(
        withFields({
          bids: [
            ['2000.09', '1'],
            ['2000.1', '1'],
          ],
        }),
      ),
    ).toEqual({
      ok: false,
      reason: 'invalid_field',
      message:
        'invalid top.bids[1]: expected a price below 2000.09 (bids fall), got ["2000.1","1"]',
    });
    expect(
      reason(
        decodeBookSnapshot(
          withFields({
            asks: [
              ['5.10', '1'],
              ['5.1', '1'],
            ],
          }),
        ),
      ),
    ).toBe('invalid_field');
  });

  it('checks a snapshot offered for publishing, naming the bad field', () => {
    expect(checkBookSnapshot(snapshot)).toBe(snapshot);
    const bad = { ...snapshot, top: { ...snapshot.top, updateId: Number.NaN } };
    expect(() => checkBookSnapshot(bad)).toThrow(InvalidInputError);
    expect(() => checkBookSnapshot(bad)).toThrow(/top\.updateId/);
    expect(() => bookSnapshotKind.check!({ ...snapshot, timestamp: -1 })).toThrow(/timestamp/);
  });

  it('compares decimal strings by value', () => {
    expect(compareDecimals('1.10', '1.1')).toBe(0);
    expect(compareDecimals('10', '9.99')).toBe(1);
    expect(compareDecimals('0.001', '0.0011')).toBe(-1);
  });
});
