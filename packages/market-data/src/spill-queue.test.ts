import { createTick, silentLogger, type Tick } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { Progress } from './progress.js';
import { SpillQueue } from './spill-queue.js';

const ticks = (from: number, count: number): Tick[] =>
  Array.from({ length: count }, (_, i) =>
    createTick({
      symbol: 'BTCUSDT',
      tradeId: from + i,
      price: '1',
      quantity: '1',
      isBuyerMaker: false,
      tradeTime: from + i,
    }),
  );
const ids = (batches: readonly (readonly Tick[])[]) => batches.map((b) => b.map((t) => t.tradeId));

function setup(maxBufferedTicks: number) {
  const appended: Tick[][] = [];
  const writes: {
    batch: readonly Tick[];
    settle: (stored: boolean) => PromiseLike<void> | undefined;
  }[] = [];
  let wakes = 0;
  const spill = new SpillQueue({
    spool: {
      append: (batch) => {
        appended.push([...batch]);
        return Promise.resolve();
      },
      isEmpty: true,
      tickCount: 0,
      settled: () => Promise.resolve(),
    },
    writer: {
      write: (batch, settle) => void writes.push({ batch, settle }),
      insert: () => Promise.resolve(true),
      databaseError: undefined,
    },
    logger: silentLogger,
    retry: { initialMs: 1, maxMs: 1 },
    maxBufferedTicks,
    signal: new AbortController().signal,
    progress: new Progress(),
    stopping: () => false,
    stopped: () => false,
    openTicks: () => 1,
    onDiskFreed: () => undefined,
    wakeWriter: () => void (wakes += 1),
  });
  return { spill, appended, writes, wakes: () => wakes };
}

describe('SpillQueue', () => {
  it('keeps batches in memory within its bound and hands them to the writer in order', () => {
    const { spill, writes, wakes } = setup(10);
    spill.queueBatch(ticks(1, 2));
    spill.queueBatch(ticks(3, 2));
    expect([spill.hasQueued, spill.pending, spill.bufferedTicks, wakes()]).toEqual([
      true,
      true,
      5,
      2,
    ]);
    spill.writeNext();
    spill.writeNext();
    expect(spill.hasQueued).toBe(false);
    expect(ids(writes.map((w) => w.batch))).toEqual([
      [1, 2],
      [3, 4],
    ]);
    for (const write of writes) expect(write.settle(true)).toBeUndefined();
    expect([spill.pending, spill.bufferedTicks]).toEqual([false, 1]);
  });

  it('past its bound, sends a copy of the batch in flight and the queued ones to the disk, in order; a refused batch is kept once its copy is on disk', async () => {
    const { spill, appended, writes } = setup(3);
    spill.queueBatch(ticks(1, 2));
    spill.writeNext();
    spill.queueBatch(ticks(3, 2));
    expect(spill.hasQueued).toBe(false);
    expect([spill.disk.length, spill.disk.ticks]).toEqual([2, 4]);
    // The write ends at once; what it returns settles once the copy is on disk.
    const kept = writes[0]!.settle(false);
    expect(kept).toBeInstanceOf(Promise);
    await kept;
    expect(ids(appended)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    await spill.disk.whenIdle();
    expect([spill.pending, spill.disk.spooled]).toEqual([false, 4]);
  });
});
