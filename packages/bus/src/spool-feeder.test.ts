import { describe, expect, it } from 'vitest';
import { tick, ticks } from '../test/helpers/unit-ticks.js';
import { SpoolFeeder, type BusSpool } from './spool-feeder.js';

/** Appends that succeed or fail as told, recorded by tick id. */
function fakeSpool() {
  const appends: number[][] = [];
  const state = { fail: false };
  const spool: BusSpool = {
    append: async (batch) => {
      await new Promise((resolve) => setImmediate(resolve));
      if (state.fail) throw new Error('disk full (test)');
      appends.push(batch.map((t) => t.tradeId));
    },
    next: () => Promise.resolve(undefined),
    ack: () => Promise.resolve(),
    isEmpty: true,
    tickCount: 0,
  };
  return { spool, appends, state };
}

describe('SpoolFeeder', () => {
  it('appends in order, in batches of what piled up, at most batchTicks each', async () => {
    const { spool, appends } = fakeSpool();
    const appended: number[] = [];
    const feeder = new SpoolFeeder({
      spool,
      batchTicks: 3,
      retry: {},
      onAppended: (count) => appended.push(count),
      onAppendFailed: () => undefined,
    });
    feeder.pushOne(tick(1));
    feeder.push(ticks(2, 6));
    expect(feeder.length).toBe(7);
    expect(feeder.busy).toBe(true);
    expect(await feeder.finish()).toEqual([]);
    expect(appends).toEqual([[1], [2, 3, 4], [5, 6, 7]]);
    expect(appended).toEqual([1, 3, 3]);
    expect(feeder.length).toBe(0);
  });

  it('keeps a refused batch at the head and tries it again; takeAll() hands back what waits', async () => {
    const { spool, appends, state } = fakeSpool();
    state.fail = true;
    const failures: number[] = [];
    const feeder = new SpoolFeeder({
      spool,
      batchTicks: 10,
      retry: { initialMs: 5, maxMs: 5 },
      onAppended: () => undefined,
      onAppendFailed: (_, count) => failures.push(count),
    });
    feeder.push(ticks(1, 4));
    while (failures.length < 2) await new Promise((resolve) => setTimeout(resolve, 1));
    expect(feeder.failing).toBe(true);
    feeder.push(ticks(5, 2));
    await feeder.settled();
    expect(feeder.length).toBe(6);
    expect(feeder.takeAll().map((t) => t.tradeId)).toEqual([1, 2, 3, 4, 5, 6]);
    state.fail = false;
    feeder.push(ticks(7, 1));
    expect(await feeder.finish()).toEqual([]);
    expect(appends).toEqual([[7]]);
    expect(feeder.failing).toBe(false);
  });

  it('at finish, tries each batch once more and gives back what the spool refused', async () => {
    const { spool, state } = fakeSpool();
    state.fail = true;
    const feeder = new SpoolFeeder({
      spool,
      batchTicks: 2,
      retry: { initialMs: 60_000 },
      onAppended: () => undefined,
      onAppendFailed: () => undefined,
    });
    feeder.push(ticks(1, 5));
    const lost = await feeder.finish();
    expect(lost.map((t) => t.tradeId)).toEqual([1, 2, 3, 4, 5]);
    expect(feeder.length).toBe(0);
  });
});
