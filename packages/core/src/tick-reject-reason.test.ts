import { describe, expect, it } from 'vitest';
import {
  FRAME_REJECT_REASONS,
  MIN_PLAUSIBLE_TRADE_TIME,
  TICK_REJECT_REASONS,
} from './tick-reject-reason.js';

describe('reject reasons', () => {
  it('are one closed set: every frame reason, then the REST and id-check ones, none twice', () => {
    expect(TICK_REJECT_REASONS.slice(0, FRAME_REJECT_REASONS.length)).toEqual([
      ...FRAME_REJECT_REASONS,
    ]);
    expect(TICK_REJECT_REASONS).toEqual(
      expect.arrayContaining([
        'oversized_frame',
        'implausible_time',
        'ahead_of_exchange',
        'invalid_rest_answer',
        'crossed_book',
      ]),
    );
    expect(FRAME_REJECT_REASONS).not.toContain('ahead_of_exchange');
    expect(FRAME_REJECT_REASONS).not.toContain('invalid_rest_answer');
    expect(new Set(TICK_REJECT_REASONS).size).toBe(TICK_REJECT_REASONS.length);
  });

  it('put the earliest plausible trade at 2017-01-01 UTC', () => {
    expect(new Date(MIN_PLAUSIBLE_TRADE_TIME).toISOString()).toBe('2017-01-01T00:00:00.000Z');
  });
});
