import { describe, expect, it } from 'vitest';
import { EquityTracker } from './performance.js';

const HOUR = 3_600_000;
const t0 = Date.UTC(2024, 0, 1);

describe('EquityTracker', () => {
  it('measures the largest fall from a peak', () => {
    const tracker = new EquityTracker(100);
    [110, 99, 120, 90, 130, 125].forEach((equity, i) => tracker.record(t0 + i, equity));
    // 120 -> 90 is 25%; 110 -> 99 only 10%.
    expect(tracker.maxDrawdown()).toBeCloseTo(0.25, 12);
  });

  it('computes a Sharpe ratio over hourly closes and annualises it over 8760 hours', () => {
    const tracker = new EquityTracker(100, 'hour');
    // Hour 0 closes at 110 (+10%), hour 1 at 99 (-10%), hour 2 at 108.9 (+10%).
    tracker.record(t0 + 10, 105);
    tracker.record(t0 + 20, 110);
    tracker.record(t0 + HOUR + 5, 99);
    tracker.record(t0 + 2 * HOUR, 108.9);
    const sharpe = tracker.sharpe();
    const returns = [0.1, -0.1, 0.1];
    const mean = 0.1 / 3;
    const sd = Math.sqrt(returns.reduce((a, r) => a + (r - mean) ** 2, 0) / 2);
    expect(sharpe.period).toBe('hour');
    expect(sharpe.periods).toBe(3);
    expect(sharpe.perPeriod).toBeCloseTo(mean / sd, 10);
    expect(sharpe.annualizationFactor).toBeCloseTo(Math.sqrt(8760), 10);
    expect(sharpe.annualized).toBeCloseTo((mean / sd) * Math.sqrt(8760), 8);
    expect(sharpe.riskFreeRate).toBe(0);
  });

  it('counts hours without ticks as zero returns', () => {
    const tracker = new EquityTracker(100, 'hour');
    tracker.record(t0, 110); // hour 0: +10%
    tracker.record(t0 + 3 * HOUR, 99); // hours 1 and 2: 0%; hour 3: -10%
    const returns = [0.1, 0, 0, -0.1];
    const mean = 0;
    const sd = Math.sqrt(returns.reduce((a, r) => a + (r - mean) ** 2, 0) / 3);
    const sharpe = tracker.sharpe();
    expect(sharpe.periods).toBe(4);
    expect(sharpe.perPeriod).toBeCloseTo(mean / sd, 12);
  });

  it('has no Sharpe ratio with one period or without variation', () => {
    const one = new EquityTracker(100, 'day');
    one.record(t0, 120);
    expect(one.sharpe()).toMatchObject({ annualized: null, perPeriod: null, periods: 1 });
    const flat = new EquityTracker(100, 'minute');
    for (let i = 0; i < 5; i++) flat.record(t0 + i * 60_000, 100);
    expect(flat.sharpe()).toMatchObject({ annualized: null, periods: 5 });
  });
});
