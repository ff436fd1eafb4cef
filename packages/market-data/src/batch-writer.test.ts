import { TradeError, createTick, silentLogger, type Tick } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { BatchWriter, type BatchWriterOptions } from './batch-writer.js';
import type { InsertTicksOptions, InsertTicksResult, RejectedTick } from './tick-repository.js';

const batch = (id: number): Tick[] => [
  createTick({
    symbol: 'BTCUSDT',
    tradeId: id,
    price: '1',
    quantity: '1',
    isBuyerMaker: false,
    tradeTime: id,
  }),
];

function writer(
  insertTicks: (ticks: readonly Tick[], options?: InsertTicksOptions) => Promise<InsertTicksResult>,
  options: Partial<BatchWriterOptions> = {},
) {
  const kept: RejectedTick[] = [];
  const w = new BatchWriter({
    repository: { insertTicks },
    logger: silentLogger,
    writers: 1,
    maxRetries: 2,
    retry: { initialMs: 1, maxMs: 1 },
    insertTimeoutMs: 10_000,
    signal: new AbortController().signal,
    keepRejected: (rejected) => {
      kept.push(...rejected);
      return Promise.resolve();
    },
    onWriteDone: () => undefined,
    ...options,
  });
  return { w, kept };
}

const ok = (ticks: readonly Tick[]): InsertTicksResult => ({
  inserted: ticks.length,
  duplicates: 0,
  rejected: [],
});

describe('BatchWriter', () => {
  it('retries a failed insert up to maxRetries, then tells settle it was not stored', async () => {
    let calls = 0;
    const { w } = writer(() => {
      calls += 1;
      return Promise.reject(new TradeError('down', { isRetryable: true }));
    });
    const outcome = new Promise<boolean>((resolve) =>
      w.write(batch(1), (stored) => {
        resolve(stored);
        return undefined;
      }),
    );
    expect(await outcome).toBe(false);
    expect(calls).toBe(3);
    await w.whenIdle();
    expect(w.idle).toBe(true);
    expect(w.databaseError).toBe('down');
  });

  it('counts what was stored and keeps what the database refused', async () => {
    const refused = batch(2)[0]!;
    const { w, kept } = writer((ticks) =>
      Promise.resolve({
        inserted: ticks.length - 1,
        duplicates: 0,
        rejected: [{ tick: refused, reason: 'bad' }],
      }),
    );
    expect(await w.insert([...batch(1), refused])).toBe(true);
    expect([w.stored, w.duplicates, w.rejected]).toEqual([1, 0, 1]);
    expect(kept).toEqual([{ tick: refused, reason: 'bad' }]);
    expect(w.databaseError).toBeUndefined();
  });

  it('with several writers, a batch commits only once the batch before it is durable', async () => {
    const commitAfters: (PromiseLike<unknown> | undefined)[] = [];
    const { w } = writer(
      (ticks, options) => {
        commitAfters.push(options?.commitAfter);
        // The first batch is refused: durable only once kept elsewhere.
        return commitAfters.length === 1
          ? Promise.reject(new Error('down'))
          : Promise.resolve(ok(ticks));
      },
      { writers: 2, maxRetries: 0 },
    );
    let keepFirst!: () => void;
    const firstKept = new Promise<void>((resolve) => (keepFirst = resolve));
    w.write(batch(1), () => firstKept);
    w.write(batch(2), () => undefined);
    expect(w.full).toBe(true);
    await w.whenIdle();
    const second = commitAfters[1];
    expect(second).toBeDefined();
    const settledEarly = await Promise.race([
      Promise.resolve(second).then(() => true),
      new Promise<boolean>((resolve) => setImmediate(() => resolve(false))),
    ]);
    expect(settledEarly).toBe(false);
    keepFirst();
    await second;
  });

  it('stops retrying once its signal fires', async () => {
    const abort = new AbortController();
    let calls = 0;
    const { w } = writer(
      () => {
        calls += 1;
        abort.abort();
        return Promise.reject(new Error('down'));
      },
      { signal: abort.signal, maxRetries: 5, retry: { initialMs: 60_000, maxMs: 60_000 } },
    );
    const stored = new Promise<boolean>((resolve) =>
      w.write(batch(1), (s) => {
        resolve(s);
        return undefined;
      }),
    );
    expect(await stored).toBe(false);
    expect(calls).toBe(1);
  });
});
