import { createTick, type Logger, type Tick } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { DiskQueue, type DiskQueueOptions } from './disk-queue.js';
import { Progress } from './progress.js';

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

/** Appends fail while `full()` says so; inserts answer from `answers`, then true. */
function setup(options: Partial<DiskQueueOptions> & { full?: () => boolean } = {}) {
  const attempts: Tick[][] = [];
  const appended: Tick[][] = [];
  const inserted: Tick[][] = [];
  const messages: string[] = [];
  const state = { answers: [] as boolean[], stopping: false };
  const log = (_: object, message = '') => void messages.push(message);
  const logger: Logger = { debug: log, info: log, warn: log, error: log };
  const progress = new Progress();
  const abort = new AbortController();
  const disk = new DiskQueue({
    spool: {
      append: (batch) => {
        attempts.push([...batch]);
        if (options.full?.()) return Promise.reject(new Error('ENOSPC: no space left on device'));
        appended.push([...batch]);
        return Promise.resolve();
      },
      isEmpty: true,
      tickCount: 0,
      settled: () => Promise.resolve(),
    },
    writer: {
      insert: (batch) => {
        inserted.push([...batch]);
        return Promise.resolve(state.answers.shift() ?? true);
      },
      databaseError: 'down',
    },
    logger,
    retry: { initialMs: 1, maxMs: 1 },
    maxBufferedTicks: 1000,
    signal: abort.signal,
    progress,
    stopping: () => state.stopping,
    stopped: () => false,
    heldTicks: () => 7,
    onOffDisk: () => undefined,
    ...options,
  });
  return { disk, attempts, appended, inserted, messages, state, progress, abort };
}

describe('DiskQueue', () => {
  it('appends batches one at a time, in order, retrying a failed append while the batches behind it wait', async () => {
    let failures = 2;
    const { disk, attempts, appended } = setup({ full: () => failures-- > 0 });
    disk.push(ticks(1, 2), undefined);
    const last = disk.push(ticks(3, 1), undefined);
    expect([disk.length, disk.ticks]).toEqual([2, 3]);
    await last.settled;
    expect(ids(attempts)).toEqual([[1, 2], [1, 2], [1, 2], [3]]);
    expect(ids(appended)).toEqual([[1, 2], [3]]);
    expect([disk.length, disk.ticks, disk.spooled, disk.appendFailures]).toEqual([0, 0, 3, 2]);
    await disk.whenIdle();
  });

  it('is blocked while a whole bound waits and the disk fails, and resumes once an append succeeds', async () => {
    let full = true;
    const { disk, messages, progress } = setup({ maxBufferedTicks: 2, full: () => full });
    const failed = progress.next();
    const entry = disk.push(ticks(1, 2), undefined);
    await failed;
    expect(disk.room).toBe(0);
    expect(disk.health()).toMatchObject({
      blocked: true,
      reason: expect.stringMatching(/no space left on device.*; 7 ticks held in memory/) as string,
      spoolError: 'ENOSPC: no space left on device',
      databaseError: 'down',
    });
    full = false;
    await entry.settled;
    expect(disk.health()).toEqual({ blocked: false, databaseError: 'down' });
    expect(messages).toEqual([
      'market-data: the spool cannot be written; batches wait in memory, in order, and the append is retried',
      'market-data: ingest blocked: neither the database nor the spool takes ticks; the channel stops draining until one does',
      'market-data: the spool takes appends again',
      'market-data: ingest resumed',
    ]);
  });

  it('retries a failed append at once when told the spool has room again, not after its backoff', async () => {
    let full = true;
    // A backoff far longer than the test: only the wake can let the append through.
    const { disk, attempts, appended, progress, abort } = setup({
      maxBufferedTicks: 2,
      retry: { initialMs: 600_000, maxMs: 600_000 },
      full: () => full,
    });
    const failed = progress.next();
    const entry = disk.push(ticks(1, 2), undefined);
    await failed;
    expect(disk.health().blocked).toBe(true);
    full = false;
    disk.retryAppendNow();
    await entry.settled;
    expect(ids(attempts)).toEqual([
      [1, 2],
      [1, 2],
    ]);
    expect(ids(appended)).toEqual([[1, 2]]);
    expect(disk.health().blocked).toBe(false);
    abort.abort();
    await disk.whenIdle();
  });

  it('inserts the head straight from memory while its append is being retried', async () => {
    const { disk, inserted, progress, abort } = setup({ full: () => true });
    const failed = progress.next();
    const entry = disk.push(ticks(1, 3), undefined);
    await failed;
    expect(await disk.replayHead()).toBe(true);
    await entry.settled;
    expect(ids(inserted)).toEqual([[1, 2, 3]]);
    expect(disk.spoolEmpty).toBe(true);
    abort.abort();
    await disk.whenIdle();
  });

  it('at close, gives each batch the disk refuses one insert until one fails, and reports the rest as lost', async () => {
    const { disk, inserted, state, messages } = setup({ full: () => true });
    state.stopping = true;
    state.answers = [true, false];
    const original = { stored: false };
    disk.push(ticks(1, 2), undefined); // inserted
    disk.push(ticks(3, 2), undefined); // its insert fails: lost
    disk.push(ticks(5, 1), undefined); // no insert after a failed one: lost
    disk.push(ticks(6, 1), original); // lost, unless its original was stored
    disk.push(ticks(10, 1), undefined);
    await disk.whenIdle();
    original.stored = true;
    expect(ids(inserted)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(disk.reportLost()).toEqual({
      lost: [
        { symbol: 'BTCUSDT', fromId: 3, toId: 5, count: 3 },
        { symbol: 'BTCUSDT', fromId: 10, toId: 10, count: 1 },
      ],
      lostTicks: 4,
    });
    expect(messages.at(-1)).toBe('market-data: ticks neither stored nor spooled at stop');
  });
});
