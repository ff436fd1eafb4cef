import type { BookLevel } from '@trade/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DepthSync, type DepthSyncOptions } from './depth-sync.js';
import type { DepthSyncEvent } from './depth-sync-events.js';
import type { DepthDiff, DepthSnapshot } from './parse-depth.js';
import { RestWeightBudget } from './rest-weight-budget.js';

const SYMBOL = 'BNBUSDT';

function diff(U: number, u: number, bids: BookLevel[] = [], asks: BookLevel[] = []): DepthDiff {
  return {
    symbol: SYMBOL,
    firstUpdateId: U,
    finalUpdateId: u,
    eventTime: 1_700_000_000_000,
    bids,
    asks,
  };
}

function snapshot(lastUpdateId: number, bids: BookLevel[], asks: BookLevel[]): DepthSnapshot {
  return { symbol: SYMBOL, lastUpdateId, bids, asks };
}

/** A snapshot endpoint the test answers by hand. */
function handFetch() {
  const calls: {
    symbol: string;
    limit: number;
    at: number;
    signal: AbortSignal;
    resolve: (answer: unknown) => void;
    reject: (error: unknown) => void;
  }[] = [];
  const fetchSnapshot = (symbol: string, limit: number, signal: AbortSignal) =>
    new Promise<unknown>((resolve, reject) => {
      calls.push({ symbol, limit, at: Date.now(), signal, resolve, reject });
    });
  return { calls, fetchSnapshot };
}

function start(overrides: Partial<DepthSyncOptions> = {}) {
  const events: DepthSyncEvent[] = [];
  const hand = handFetch();
  const budget = new RestWeightBudget({ weightPerMinute: 6000 });
  const sync = new DepthSync({
    symbol: SYMBOL,
    fetchSnapshot: hand.fetchSnapshot,
    budget,
    onEvent: (e) => events.push(e),
    random: () => 0,
    ...overrides,
  });
  const kinds = () => events.map((e) => e.kind);
  return { sync, events, kinds, calls: hand.calls, budget };
}

const flush = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers({ now: 1_700_000_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('DepthSync follows Binance procedure', () => {
  it('buffers diffs, takes one snapshot, drops u <= lastUpdateId, replays the rest', async () => {
    const { sync, events, calls, budget } = start();
    sync.handleDiff(diff(157, 160, [['0.0024', '10']]));
    sync.handleDiff(diff(161, 165, [['0.0023', '5']], [['0.0026', '100']]));
    expect(sync.inSync).toBe(false);
    expect(sync.top()).toBeUndefined();
    await flush();
    expect(calls.map((c) => [c.symbol, c.limit])).toEqual([[SYMBOL, 1000]]);
    expect(budget.usedWeight).toBe(50);
    sync.handleDiff(diff(166, 166, [], [['0.0027', '1']]));
    calls[0]!.resolve(snapshot(160, [['0.0024', '10']], [['0.0026', '90']]));
    await flush();
    expect(events).toEqual([
      { kind: 'diff_applied', symbol: SYMBOL, updateId: 165, levelChanges: 2 },
      { kind: 'diff_applied', symbol: SYMBOL, updateId: 166, levelChanges: 1 },
      { kind: 'synced', symbol: SYMBOL, updateId: 166, snapshotUpdateId: 160, replayed: 2 },
    ]);
    expect(sync.top()).toEqual({
      symbol: SYMBOL,
      updateId: 166,
      bids: [
        ['0.0024', '10'],
        ['0.0023', '5'],
      ],
      asks: [
        ['0.0026', '100'],
        ['0.0027', '1'],
      ],
    });
    expect(sync.bestBid()).toEqual(['0.0024', '10']);
    expect(sync.bestAsk()).toEqual(['0.0026', '100']);
    expect(sync.stats).toMatchObject({ syncs: 1, resyncs: 0, diffsDropped: 1, diffsApplied: 2 });
  });

  it('retakes a snapshot older than the first buffered diff', async () => {
    const { sync, events, kinds, calls } = start();
    sync.handleDiff(diff(157, 160, [['1', '1']]));
    await flush();
    calls[0]!.resolve(snapshot(150, [['0.5', '1']], [['2', '1']]));
    await flush();
    expect(events).toEqual([
      {
        kind: 'snapshot_stale',
        symbol: SYMBOL,
        lastUpdateId: 150,
        firstUpdateId: 157,
        retryInMs: 250,
      },
    ]);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(250);
    expect(calls).toHaveLength(2);
    calls[1]!.resolve(snapshot(158, [['0.5', '1']], [['2', '1']]));
    await flush();
    expect(kinds()).toEqual(['snapshot_stale', 'diff_applied', 'synced']);
    expect(sync.top()?.bids).toEqual([
      ['1', '1'],
      ['0.5', '1'],
    ]);
    expect(sync.stats).toMatchObject({ staleSnapshots: 1, snapshotRequests: 2, resyncs: 0 });
  });

  it('ignores diffs older than the book, and applies one ending at its id', async () => {
    const { sync, events, calls } = start();
    sync.handleDiff(diff(10, 12));
    await flush();
    calls[0]!.resolve(snapshot(12, [['1', '1']], [['2', '1']]));
    await flush();
    events.length = 0;
    sync.handleDiff(diff(5, 11, [['1', '99']]));
    sync.handleDiff(diff(12, 12, [['1', '1']]));
    expect(events).toEqual([
      { kind: 'diff_ignored', symbol: SYMBOL, finalUpdateId: 11, bookUpdateId: 12 },
      { kind: 'diff_applied', symbol: SYMBOL, updateId: 12, levelChanges: 1 },
    ]);
    expect(sync.top()?.bids).toEqual([['1', '1']]);
    expect(sync.inSync).toBe(true);
  });

  it('resyncs exactly once on a gap, and the book then equals the fresh snapshot', async () => {
    const { sync, events, kinds, calls } = start();
    sync.handleDiff(diff(100, 101, [['10', '1']], [['11', '1']]));
    await flush();
    calls[0]!.resolve(snapshot(100, [['9', '1']], [['12', '1']]));
    await flush();
    expect(sync.updateId).toBe(101);
    // 102..103 never arrive.
    sync.handleDiff(diff(104, 105, [['10', '0']], [['11', '3']]));
    expect(sync.inSync).toBe(false);
    expect(sync.top()).toBeUndefined();
    sync.handleDiff(diff(106, 106, [['9.5', '2']]));
    await flush();
    expect(calls).toHaveLength(2);
    const fresh = snapshot(
      105,
      [['9', '4']],
      [
        ['11', '3'],
        ['12', '1'],
      ],
    );
    calls[1]!.resolve(fresh);
    await flush();
    const lost = {
      reason: 'gap',
      bookUpdateId: 101,
      firstUpdateId: 104,
      finalUpdateId: 105,
      detail: 'U=104 > 101 + 1: 2 updates missed',
    };
    expect(events.filter((e) => e.kind === 'desynced')).toEqual([
      { kind: 'desynced', symbol: SYMBOL, lost },
    ]);
    expect(events.filter((e) => e.kind === 'resynced')).toEqual([
      { kind: 'resynced', symbol: SYMBOL, updateId: 106, snapshotUpdateId: 105, replayed: 1, lost },
    ]);
    expect(kinds().filter((k) => k === 'synced')).toHaveLength(1);
    // The fresh snapshot plus 106, and nothing of the book before the gap.
    expect(sync.top()).toEqual({
      symbol: SYMBOL,
      updateId: 106,
      bids: [
        ['9.5', '2'],
        ['9', '4'],
      ],
      asks: [
        ['11', '3'],
        ['12', '1'],
      ],
    });
    expect(sync.stats).toMatchObject({ syncs: 1, resyncs: 1, snapshotRequests: 2 });
  });

  it('starts over when a gap shows among the buffered diffs after the snapshot', async () => {
    const { sync, kinds, calls } = start();
    sync.handleDiff(diff(10, 11));
    sync.handleDiff(diff(14, 15)); // 12..13 missed while buffering
    await flush();
    calls[0]!.resolve(snapshot(11, [['1', '1']], [['2', '1']]));
    await flush();
    expect(sync.inSync).toBe(false);
    expect(calls).toHaveLength(2);
    calls[1]!.resolve(snapshot(15, [['1', '2']], [['2', '2']]));
    await flush();
    // Never in sync before: this is the first sync, not a resync.
    expect(kinds()).toEqual(['synced']);
    expect(sync.stats).toMatchObject({ syncs: 1, resyncs: 0 });
    expect(sync.updateId).toBe(15);
  });

  it('retries a failed snapshot with backoff, honouring Retry-After for the whole budget', async () => {
    const { sync, events, calls, budget } = start();
    sync.handleDiff(diff(1, 1));
    await flush();
    calls[0]!.reject(new Error('socket hang up'));
    await flush();
    expect(events.at(-1)).toEqual({
      kind: 'snapshot_failed',
      symbol: SYMBOL,
      error: 'socket hang up',
      failures: 1,
      retryInMs: 1_000,
    });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toHaveLength(2);
    calls[1]!.reject(Object.assign(new Error('429'), { retryAfterMs: 7_000 }));
    await flush();
    expect(events.at(-1)).toMatchObject({ failures: 2, retryInMs: 7_000 });
    expect(budget.waitMs(5)).toBe(7_000);
    await vi.advanceTimersByTimeAsync(6_999);
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(3);
    calls[2]!.resolve(snapshot(1, [], []));
    await flush();
    expect(sync.inSync).toBe(true);
    expect(sync.stats.snapshotFailures).toBe(2);
  });

  it('refuses an invalid snapshot answer whole, and retries', async () => {
    const { sync, events, calls } = start({ limit: 2 });
    sync.handleDiff(diff(1, 1));
    await flush();
    expect(calls[0]!.limit).toBe(2);
    calls[0]!.resolve({
      lastUpdateId: 5,
      bids: [
        ['1', '1'],
        ['2', '1'],
      ],
      asks: [],
    });
    await flush();
    expect(events).toEqual([
      {
        kind: 'snapshot_failed',
        symbol: SYMBOL,
        error: 'depth BNBUSDT: bids[1] price 2 is out of order (best first, no repeats)',
        failures: 1,
        retryInMs: 1_000,
      },
    ]);
    await vi.advanceTimersByTimeAsync(1_000);
    calls[1]!.resolve({
      lastUpdateId: 5,
      bids: [
        ['1', '1'],
        ['0.5', '1'],
        ['0.4', '1'],
      ],
      asks: [],
    });
    await flush();
    expect(events.at(-1)).toMatchObject({ error: 'depth BNBUSDT: 3 bids, asked for at most 2' });
    await vi.advanceTimersByTimeAsync(2_000);
    calls[2]!.resolve({ ...snapshot(5, [], []), symbol: 'BTCUSDT' });
    await flush();
    expect(events.at(-1)).toMatchObject({ error: 'snapshot of BTCUSDT, asked for BNBUSDT' });
    await vi.advanceTimersByTimeAsync(4_000);
    // A raw REST answer (no symbol) is taken as the symbol asked.
    calls[3]!.resolve({ lastUpdateId: 5, bids: [['1', '1']], asks: [['2', '1']] });
    await flush();
    expect(sync.inSync).toBe(true);
  });

  it('never throws on bad input, and loses the book rather than guess', async () => {
    const { sync, events, calls } = start();
    sync.handleDiff(diff(1, 1));
    await flush();
    calls[0]!.resolve(snapshot(1, [['1', '1']], [['2', '1']]));
    await flush();
    events.length = 0;
    for (const bad of [null, 5, 'x', { ...diff(2, 2), symbol: 'BTCUSDT' }]) {
      expect(() => sync.handleDiff(bad as unknown as DepthDiff)).not.toThrow();
    }
    expect(sync.inSync).toBe(false);
    expect(events.map((e) => e.kind)).toEqual([
      'diff_rejected',
      'desynced',
      'diff_rejected',
      'diff_rejected',
      'diff_rejected',
    ]);
    expect(events[1]).toMatchObject({ lost: { reason: 'invalid_diff' } });
  });

  it('a misrouted diff costs the book nothing', async () => {
    const { sync, events, calls } = start();
    sync.handleDiff(diff(1, 1));
    await flush();
    calls[0]!.resolve(snapshot(1, [['1', '1']], [['2', '1']]));
    await flush();
    sync.handleDiff({ ...diff(2, 2), symbol: 'BTCUSDT' });
    expect(sync.inSync).toBe(true);
    expect(events.at(-1)).toEqual({
      kind: 'diff_rejected',
      symbol: SYMBOL,
      detail: 'diff of BTCUSDT, not BNBUSDT',
    });
  });

  it.each([
    ['a malformed level', diff(2, 2, [['1', 'lots']]), 'invalid_diff'],
    ['ids out of order', diff(3, 2), 'invalid_diff'],
    ['a crossed book', diff(2, 2, [['2.5', '1']]), 'crossed_book'],
  ])('resyncs after %s', async (_, bad, reason) => {
    const { sync, events, calls } = start();
    sync.handleDiff(diff(1, 1));
    await flush();
    calls[0]!.resolve(snapshot(1, [['1', '1']], [['2', '1']]));
    await flush();
    sync.handleDiff(bad);
    expect(sync.inSync).toBe(false);
    expect(events.find((e) => e.kind === 'desynced')).toMatchObject({ lost: { reason } });
    sync.handleDiff(diff(3, 3));
    await flush();
    calls[1]!.resolve(snapshot(3, [['1', '1']], [['2', '1']]));
    await flush();
    expect(events.at(-1)).toMatchObject({ kind: 'resynced', lost: { reason } });
    expect(sync.stats.resyncs).toBe(1);
  });

  it('bounds the buffer: the oldest diffs go, and the first U moves with them', async () => {
    const { sync, events, calls } = start({ maxBufferedDiffs: 2 });
    sync.handleDiff(diff(1, 1));
    sync.handleDiff(diff(2, 2));
    sync.handleDiff(diff(3, 3));
    await flush();
    calls[0]!.resolve(snapshot(2, [], []));
    await flush();
    expect(sync.stats).toMatchObject({ bufferOverflows: 1, inSync: true, updateId: 3 });
    expect(events.at(-1)).toMatchObject({ kind: 'synced', replayed: 1 });
  });

  it('asks for up to 5000 levels at weight 250, and refuses a bad limit', async () => {
    const { sync, calls, budget } = start({ limit: 5000 });
    sync.handleDiff(diff(1, 1));
    await flush();
    expect(calls[0]!.limit).toBe(5000);
    expect(budget.usedWeight).toBe(250);
    expect(() => start({ limit: 5001 })).toThrow(/limit/);
    expect(() => start({ limit: 0 })).toThrow(/limit/);
  });

  it('survives an onEvent handler that throws', async () => {
    const { sync, calls } = start({
      onEvent: () => {
        throw new Error('handler bug');
      },
    });
    sync.handleDiff(diff(1, 1));
    await flush();
    calls[0]!.resolve(snapshot(1, [], []));
    await flush();
    expect(sync.inSync).toBe(true);
  });

  it('close() aborts the snapshot in flight, uses no answer and leaves no timer', async () => {
    const { sync, calls, events } = start();
    sync.handleDiff(diff(1, 1));
    await flush();
    sync.close();
    expect(calls[0]!.signal.aborted).toBe(true);
    calls[0]!.resolve(snapshot(1, [], []));
    sync.handleDiff(diff(2, 2));
    await flush();
    expect(sync.inSync).toBe(false);
    expect(events).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('a resync storm over many symbols', () => {
  it('stays within the shared budget of 6000 weight per rolling minute', async () => {
    const budget = new RestWeightBudget({ weightPerMinute: 6000 });
    const requests: { at: number; weight: number }[] = [];
    const syncs: DepthSync[] = [];
    for (let i = 0; i < 300; i++) {
      const symbol = `SYM${i}USDT`;
      syncs.push(
        new DepthSync({
          symbol,
          budget,
          limit: 1000,
          random: () => 0,
          // Every answer is older than the stream: each symbol keeps asking again.
          fetchSnapshot: (s, limit) => {
            requests.push({ at: Date.now(), weight: limit > 500 ? 50 : 25 });
            return Promise.resolve({ symbol: s, lastUpdateId: 0, bids: [], asks: [] });
          },
        }),
      );
      syncs[i]!.handleDiff({ ...diff(100, 100), symbol });
    }
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    for (const s of syncs) s.close();
    // Each symbol would ask every few seconds: the budget holds them to 120 a minute.
    expect(requests.length).toBeGreaterThan(5 * 120 - 10);
    for (const r of requests) {
      const inWindow = requests.filter((o) => o.at > r.at - 60_000 && o.at <= r.at);
      expect(inWindow.reduce((sum, o) => sum + o.weight, 0)).toBeLessThanOrEqual(6000);
    }
  });
});
