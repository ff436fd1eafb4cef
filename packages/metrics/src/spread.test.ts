import { InvalidInputError } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { spreadBps } from './spread.js';

describe('spreadBps', () => {
  it('is (ask - bid) / ((ask + bid) / 2) x 10^4', () => {
    // 0.0133 / 25.35855 x 10^4 = 5.244779374215008...
    expect(spreadBps('25.35190000', '25.36520000')).toBeCloseTo(5.244779374215008, 12);
    expect(spreadBps('99', '101')).toBe(200);
    expect(spreadBps('0.00012300', '0.00012400')).toBeCloseTo(80.97165991902834, 11);
  });

  it('is zero for a locked book and negative for a crossed one', () => {
    expect(spreadBps('97000.01', '97000.01')).toBe(0);
    expect(spreadBps('101', '99')).toBe(-200);
  });

  it('keeps a spread far below what numbers can subtract', () => {
    // As numbers these two prices are 1.16e-9 apart (their step is 2.3e-10), not 1e-9.
    const bps = spreadBps('1234567.891234567', '1234567.891234568');
    // Exactly 8.10000006561000316...e-12; from numbers it would come out 9.43e-12.
    expect(Math.abs(bps / 8.10000006561e-12 - 1)).toBeLessThan(1e-12);
  });

  it('aligns prices of different scales', () => {
    expect(spreadBps('97000', '97000.01')).toBeCloseTo(0.001030927781910939, 15);
  });

  it('refuses a price that is not a decimal string greater than zero', () => {
    for (const [bid, ask] of [
      ['0', '1'],
      ['1', '0.00000000'],
      ['1e3', '1001'],
      ['-1', '1'],
      ['25.35', ''],
    ] as const) {
      expect(() => spreadBps(bid, ask)).toThrow(InvalidInputError);
    }
  });
});
