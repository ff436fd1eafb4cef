import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

describe('Backoff', () => {
  it('doubles from 250 ms to a 30 s cap, and resets', () => {
    const backoff = new Backoff({}, () => 0);
    const delays = Array.from({ length: 10 }, () => backoff.next());
    expect(delays).toEqual([250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    backoff.reset();
    expect(backoff.next()).toBe(250);
  });

  it('takes up to the jitter fraction off each delay', () => {
    expect(new Backoff({ jitter: 0.5 }, () => 1).next()).toBe(125);
    expect(new Backoff({ jitter: 0.5 }, () => 0.5).next()).toBe(188);
  });
});
