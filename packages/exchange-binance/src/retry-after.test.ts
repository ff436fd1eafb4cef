import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from './retry-after.js';

describe('parseRetryAfter', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');

  it('reads delta-seconds', () => {
    expect(parseRetryAfter('2', now)).toBe(2000);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfter(['7'], now)).toBe(7000);
  });

  it('reads an HTTP date as the time left until it', () => {
    expect(parseRetryAfter('Wed, 01 May 2024 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 01 May 2024 11:59:00 GMT', now)).toBeUndefined();
  });

  it('ignores what it cannot read, without throwing', () => {
    for (const value of [null, undefined, '', '0', '-5', 'soon', '1e999', []]) {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    }
  });
});
