import { describe, expect, it } from 'vitest';
import { gapReadiness } from './gap-readiness.js';
import { resumeBeforeGaps } from './open-gaps-file.js';

describe('gapReadiness', () => {
  it('fails only for a gap open longer than the limit, and forgets gaps that closed', () => {
    let now = 0;
    let gaps = [{ symbol: 'BTCUSDT', fromId: 10, toId: 19 }];
    const check = gapReadiness(
      () => gaps,
      30_000,
      () => now,
    );
    expect(check().ok).toBe(true);
    now = 29_999;
    expect(check().ok).toBe(true);
    now = 30_000;
    expect(check()).toEqual({
      ok: false,
      reason: 'gaps not backfilled: BTCUSDT trade ids 10-19 missing for 30 s',
    });
    // Filled: ready again; a new gap starts its own clock.
    gaps = [{ symbol: 'BTCUSDT', fromId: 40, toId: 41 }];
    expect(check().ok).toBe(true);
    now = 50_000;
    expect(check().ok).toBe(true);
  });
});

describe('resumeBeforeGaps', () => {
  it('resumes a symbol before its oldest recorded gap, others where they were', () => {
    const resume = new Map([
      ['BTCUSDT', 500],
      ['ETHUSDT', 900],
    ]);
    const out = resumeBeforeGaps(resume, [
      { symbol: 'BTCUSDT', fromId: 300, toId: 310 },
      { symbol: 'BTCUSDT', fromId: 100, toId: 120 },
      { symbol: 'ETHUSDT', fromId: 950, toId: 960 },
    ]);
    expect(Object.fromEntries(out)).toEqual({ BTCUSDT: 99, ETHUSDT: 900 });
  });
});
