import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeriesSampler } from './series-sampler.js';

/** Times in order, some repeated, and a value for each. */
const series = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 5_000 }), fc.double({ noNaN: true })), {
    minLength: 1,
    maxLength: 400,
  })
  .map((steps) => {
    let time = 1_700_000_000_000;
    return steps.map(([gap, value]) => ({ time: (time += gap), value }));
  });

describe('SeriesSampler', () => {
  it('keeps every point while they fit, one per bucket', () => {
    const sampler = new SeriesSampler(0, 10);
    for (let i = 0; i < 10; i++) sampler.add(1000 + i, i);
    expect(sampler.samples()).toEqual(
      Array.from({ length: 10 }, (_, i) => ({ time: 1000 + i, value: i })),
    );
  });

  it('keeps the last point of each everyMs bucket, and the first time seen', () => {
    const sampler = new SeriesSampler(1000, 100);
    for (const [time, value] of [
      [1200, 1],
      [1500, 2],
      [1999, 3],
      [2000, 4],
      [3100, 5],
      [3900, 6],
    ] as const) {
      sampler.add(time, value);
    }
    expect(sampler.samples()).toEqual([
      { time: 1200, value: 1 },
      { time: 1999, value: 3 },
      { time: 2000, value: 4 },
      { time: 3900, value: 6 },
    ]);
  });

  it('takes a time before the last as the last, so the series stays in order', () => {
    const sampler = new SeriesSampler(0, 10);
    sampler.add(2000, 1);
    sampler.add(1000, 2);
    sampler.add(3000, 3);
    expect(sampler.samples()).toEqual([
      { time: 2000, value: 2 },
      { time: 3000, value: 3 },
    ]);
  });

  it('stays within maxPoints with the first time, the last point, and only points it was given', () => {
    fc.assert(
      fc.property(
        series,
        fc.integer({ min: 2, max: 50 }),
        fc.integer({ min: 0, max: 3000 }),
        (points, max, everyMs) => {
          const sampler = new SeriesSampler(everyMs, max);
          for (const p of points) sampler.add(p.time, p.value);
          const kept = sampler.samples();
          expect(kept.length).toBeGreaterThan(0);
          expect(kept.length).toBeLessThanOrEqual(max);
          expect(kept[0]!.time).toBe(points[0]!.time);
          expect(kept.at(-1)).toEqual(points.at(-1));
          for (let i = 1; i < kept.length; i++) {
            expect(kept[i]!.time).toBeGreaterThan(kept[i - 1]!.time);
          }
          // Past the first, each point kept is the last one given at its time.
          for (const k of kept.slice(1)) {
            expect(points.findLast((p) => p.time === k.time)?.value).toBe(k.value);
          }
        },
      ),
    );
  });

  it('keeps a million points of one a second within 5 000, spread over the whole range', () => {
    const sampler = new SeriesSampler(1000, 5_000);
    const start = 1_700_000_000_000;
    for (let i = 0; i < 1_000_000; i++) sampler.add(start + i * 1000, i);
    const kept = sampler.samples();
    expect(kept.length).toBeLessThanOrEqual(5_000);
    // Buckets doubled until the points fit: more than half the budget is used.
    expect(kept.length).toBeGreaterThan(2_500);
    expect(kept[0]).toEqual({ time: start, value: 0 });
    expect(kept.at(-1)).toEqual({ time: start + 999_999_000, value: 999_999 });
    // Evenly: one point per bucket, all buckets as wide (the first and the last aside).
    const gaps = kept.slice(1).map((k, i) => k.time - kept[i]!.time);
    expect(new Set(gaps.slice(1, -1)).size).toBe(1);
  });
});
