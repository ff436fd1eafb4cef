import { describe, expect, it } from 'vitest';
import { mergeByTime, timed } from './replay.js';

async function* slowly<T>(items: readonly T[], closed: { value: boolean }): AsyncGenerator<T> {
  try {
    for (const item of items) {
      await Promise.resolve();
      yield item;
    }
  } finally {
    closed.value = true;
  }
}

describe('mergeByTime', () => {
  it('interleaves sync and async inputs by time; the input listed first goes first at a tie', async () => {
    const seen: string[] = [];
    const closed = { value: false };
    const aborted = await mergeByTime([
      timed(
        [1, 5, 5, 9],
        (t) => t,
        (t) => void seen.push(`q${t}`),
      ),
      timed(
        slowly([0, 5, 7, 12], closed),
        (t) => t,
        (t) => void seen.push(`t${t}`),
      ),
    ]);
    expect(aborted).toBe(false);
    expect(seen).toEqual(['t0', 'q1', 'q5', 'q5', 't5', 't7', 'q9', 't12']);
  });

  it('stops when aborted and closes every input', async () => {
    const controller = new AbortController();
    const closed = { value: false };
    const seen: number[] = [];
    const aborted = await mergeByTime(
      [
        timed(
          slowly([1, 2, 3, 4], closed),
          (t) => t,
          (t) => {
            seen.push(t);
            if (t === 2) controller.abort();
          },
        ),
      ],
      controller.signal,
    );
    expect(aborted).toBe(true);
    expect(seen).toEqual([1, 2]);
    expect(closed.value).toBe(true);
  });
});
