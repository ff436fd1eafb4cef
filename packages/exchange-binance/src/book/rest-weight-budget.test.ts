import { describe, expect, it } from 'vitest';
import { depthSnapshotWeight, RestWeightBudget } from './rest-weight-budget.js';

describe('depthSnapshotWeight', () => {
  it.each([
    [1, 5],
    [100, 5],
    [101, 25],
    [500, 25],
    [501, 50],
    [1000, 50],
    [1001, 250],
    [5000, 250],
  ])('limit %i weighs %i', (limit, weight) => {
    expect(depthSnapshotWeight(limit)).toBe(weight);
  });
});

describe('RestWeightBudget', () => {
  it('spends at most its weight in any rolling minute', () => {
    let now = 0;
    const budget = new RestWeightBudget({ weightPerMinute: 6000, now: () => now });
    for (let i = 0; i < 120; i++) {
      expect(budget.waitMs(50)).toBe(0);
      budget.spend(50);
    }
    expect(budget.usedWeight).toBe(6000);
    expect(budget.waitMs(50)).toBe(60_000);
    expect(budget.waitMs(5)).toBe(60_000);
    now = 59_999;
    expect(budget.waitMs(50)).toBe(1);
    now = 60_000;
    expect(budget.waitMs(50)).toBe(0);
    expect(budget.usedWeight).toBe(0);
  });

  it('waits only as long as it takes enough old weight to leave the window', () => {
    let now = 0;
    const budget = new RestWeightBudget({ weightPerMinute: 1000, now: () => now });
    budget.spend(250); // leaves at 60 s
    now = 10_000;
    budget.spend(250); // leaves at 70 s
    now = 20_000;
    budget.spend(500); // leaves at 80 s
    now = 30_000;
    expect(budget.waitMs(250)).toBe(30_000);
    expect(budget.waitMs(500)).toBe(40_000);
    expect(budget.waitMs(1000)).toBe(50_000);
  });

  it('lets a request heavier than the whole budget go alone into an empty window', () => {
    let now = 0;
    const budget = new RestWeightBudget({ weightPerMinute: 100, now: () => now });
    expect(budget.waitMs(250)).toBe(0);
    budget.spend(250);
    now = 1_000;
    expect(budget.waitMs(250)).toBe(59_000);
  });

  it('holds every request until a time the exchange gave', () => {
    let now = 1_000;
    const budget = new RestWeightBudget({ now: () => now });
    budget.holdUntil(31_000);
    budget.holdUntil(5_000); // an earlier hold does not shorten it
    expect(budget.waitMs(5)).toBe(30_000);
    now = 31_000;
    expect(budget.waitMs(5)).toBe(0);
  });

  it('defaults to 3000 a minute, leaving room for trade backfill', () => {
    expect(new RestWeightBudget().weightPerMinute).toBe(3000);
  });
});
