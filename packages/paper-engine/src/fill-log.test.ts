import type { PaperFill } from '@trade/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FillLog } from './fill-log.js';

function fill(timestamp: number): PaperFill {
  return {
    strategy: 'test',
    symbol: 'BTCUSDT',
    side: 'BUY',
    price: '100',
    quantity: '1',
    fee: '0',
    cashAfter: '0',
    positionAfter: '1',
    timestamp,
  };
}

/** Fails while `failing` is set; records when (fake time) each write was attempted. */
class FlakyWriter {
  failing = true;
  attempts: number[] = [];
  written: PaperFill[] = [];
  write(fills: readonly PaperFill[]): Promise<void> {
    this.attempts.push(Date.now());
    if (this.failing) return Promise.reject(new Error('database down'));
    this.written.push(...fills);
    return Promise.resolve();
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('FillLog retries', () => {
  it('waits longer after each failed write, up to maxMs, and starts over once one succeeds', async () => {
    vi.useFakeTimers({ now: 0 });
    const writer = new FlakyWriter();
    const log = new FillLog({
      writer,
      maxDelayMs: 50,
      retry: { initialMs: 100, maxMs: 400, jitter: 0 },
    });
    log.add(fill(1));
    await vi.advanceTimersByTimeAsync(50 + 100 + 200 + 400 + 400);
    expect(writer.attempts).toEqual([50, 150, 350, 750, 1150]);

    writer.failing = false;
    await vi.advanceTimersByTimeAsync(400);
    expect(writer.attempts.at(-1)).toBe(1550);
    expect(writer.written).toHaveLength(1);

    writer.failing = true;
    log.add(fill(2));
    await vi.advanceTimersByTimeAsync(50 + 100);
    expect(writer.attempts.slice(-2)).toEqual([1600, 1700]);
    await log.close().catch(() => undefined);
  });

  it('retries the first time within maxDelayMs by default', async () => {
    vi.useFakeTimers({ now: 0 });
    const writer = new FlakyWriter();
    const log = new FillLog({ writer, maxDelayMs: 1000 });
    log.add(fill(1));
    await vi.advanceTimersByTimeAsync(1000);
    expect(writer.attempts).toEqual([1000]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(writer.attempts).toHaveLength(2);
    expect(writer.attempts[1]! - 1000).toBeGreaterThanOrEqual(500);
    await log.close().catch(() => undefined);
  });

  it('does not let a full batch start a write before the retry delay while the writer fails', async () => {
    vi.useFakeTimers({ now: 0 });
    const writer = new FlakyWriter();
    const log = new FillLog({
      writer,
      maxBatch: 2,
      maxDelayMs: 10,
      retry: { initialMs: 1000, jitter: 0 },
    });
    log.add(fill(1));
    log.add(fill(2)); // full batch: written at once, and fails
    await vi.advanceTimersByTimeAsync(0);
    expect(writer.attempts).toEqual([0]);
    for (let i = 3; i <= 8; i++) log.add(fill(i));
    await vi.advanceTimersByTimeAsync(999);
    expect(writer.attempts).toEqual([0]);
    writer.failing = false;
    await vi.advanceTimersByTimeAsync(1);
    expect(writer.attempts.slice(0, 2)).toEqual([0, 1000]);
    expect(writer.written.map((f) => f.timestamp)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(log.pending).toBe(0);
  });

  it('writes at once on flush even while a retry is waiting', async () => {
    vi.useFakeTimers({ now: 0 });
    const writer = new FlakyWriter();
    const log = new FillLog({ writer, maxDelayMs: 10, retry: { initialMs: 60_000, jitter: 0 } });
    log.add(fill(1));
    await vi.advanceTimersByTimeAsync(10);
    writer.failing = false;
    await log.flush();
    expect(writer.attempts).toEqual([10, 10]);
    expect(writer.written).toHaveLength(1);
  });
});

describe('FillLog bound', () => {
  it('drops no fill while a healthy writer is busy, however many arrive meanwhile', async () => {
    const written: PaperFill[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    const writer = {
      async write(fills: readonly PaperFill[]): Promise<void> {
        if (calls++ === 0) await held; // the first write takes its time
        written.push(...fills);
      },
    };
    const dropped: number[] = [];
    const log = new FillLog({
      writer,
      maxBatch: 2,
      maxPending: 5,
      onDrop: (n) => dropped.push(n),
    });
    for (let i = 1; i <= 50; i++) log.add(fill(i));
    expect(log.pending).toBeGreaterThan(5); // past maxPending, and kept
    release();
    await log.close();
    expect(written.map((f) => f.timestamp)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect([log.droppedCount, dropped]).toEqual([0, []]);
  });

  it('keeps at most maxPending fills once a write has failed, dropping the oldest', async () => {
    const writer = new FlakyWriter();
    const log = new FillLog({
      writer,
      maxBatch: 2,
      maxPending: 5,
      retry: { initialMs: 60_000, jitter: 0 },
    });
    log.add(fill(1));
    log.add(fill(2)); // full batch: written at once, and fails
    await vi.waitFor(() => expect(writer.attempts).toHaveLength(1));
    for (let i = 3; i <= 20; i++) log.add(fill(i));
    expect(log.pending).toBe(5);
    expect(log.droppedCount).toBe(15);
    writer.failing = false;
    await log.close();
    expect(writer.written.map((f) => f.timestamp)).toEqual([16, 17, 18, 19, 20]);
  });
});
