import type { BookLevel, BookTop } from '@trade/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DepthSync } from './depth-sync.js';
import type { DepthSyncEvent } from './depth-sync-events.js';
import type { DepthDiff } from './parse-depth.js';
import { RestWeightBudget } from './rest-weight-budget.js';

/** mulberry32: a small seeded generator, so a failure can be replayed. */
function seeded(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYMBOL = 'BNBUSDT';
/** Prices are ticks of 0.00000001, written with 8 decimals: 100000 is "0.00100000". */
const price = (tick: number) => `${Math.floor(tick / 1e8)}.${String(tick % 1e8).padStart(8, '0')}`;

/**
 * The exchange: a reference book (a Map per side, ticks as keys), one
 * level change set per update id, grouped into diff events of 1 to 4 ids.
 * It remembers its book at recent ids (what a snapshot returns, and what
 * the synced book is held against).
 */
class Exchange {
  readonly bids = new Map<number, string>();
  readonly asks = new Map<number, string>();
  id = 1000;
  center = 100_000;
  /** The reference book at each recent update id. */
  private readonly states = new Map<
    number,
    { bids: Map<number, string>; asks: Map<number, string> }
  >();

  constructor(private readonly random: () => number) {
    for (let i = 1; i <= 50; i++) {
      this.bids.set(this.center - i * 2, this.qty());
      this.asks.set(this.center + i * 2, this.qty());
    }
    this.remember();
  }

  private qty(): string {
    return (1 + this.random() * 1000).toFixed(8);
  }

  private remember(): void {
    this.states.set(this.id, { bids: new Map(this.bids), asks: new Map(this.asks) });
    this.states.delete(this.id - 40);
  }

  /** The book at a recent `id`, best first: what a snapshot (or a top) shows. */
  bookAt(id: number, n = Infinity): { bids: BookLevel[]; asks: BookLevel[] } {
    const state = this.states.get(id);
    if (state === undefined) throw new Error(`no state kept for id ${id}`);
    const sorted = (side: Map<number, string>, descending: boolean) =>
      [...side]
        .sort(([a], [b]) => (descending ? b - a : a - b))
        .slice(0, n)
        .map(([tick, qty]) => [price(tick), qty] as const);
    return { bids: sorted(state.bids, true), asks: sorted(state.asks, false) };
  }

  topAt(id: number): BookTop {
    return { symbol: SYMBOL, updateId: id, ...this.bookAt(id, 20) };
  }

  /** One update id's changes, applied to the reference book. */
  private step(into: { bids: Map<number, string>; asks: Map<number, string> }): void {
    this.id++;
    const set = (side: 'bids' | 'asks', tick: number, qty: string) => {
      if (qty === '0') this[side].delete(tick);
      else this[side].set(tick, qty);
      into[side].set(tick, qty);
    };
    if (this.random() < 0.01) {
      // The touch moves: levels now on the wrong side of the centre go.
      this.center += Math.floor(this.random() * 11) - 5;
      for (const tick of this.bids.keys()) if (tick >= this.center) set('bids', tick, '0');
      for (const tick of this.asks.keys()) if (tick < this.center) set('asks', tick, '0');
    }
    for (let k = 1 + Math.floor(this.random() * 3); k > 0; k--) {
      const isBid = this.random() < 0.5;
      const distance = Math.floor(-Math.log(1 - this.random()) * 15);
      const tick = isBid ? this.center - 1 - distance : this.center + distance;
      const side = isBid ? 'bids' : 'asks';
      const removing = this[side].has(tick) && this.random() < 0.35;
      set(side, tick, removing ? '0' : this.qty());
    }
    this.remember();
  }

  /** The next diff event: 1 to 4 update ids, each level at its last value. */
  nextDiff(): DepthDiff {
    const firstUpdateId = this.id + 1;
    const changes = { bids: new Map<number, string>(), asks: new Map<number, string>() };
    for (let n = 1 + Math.floor(this.random() * 4); n > 0; n--) this.step(changes);
    const levels = (side: Map<number, string>) =>
      [...side].map(([tick, qty]) => [price(tick), qty === '0' ? '0.00000000' : qty] as const);
    return {
      symbol: SYMBOL,
      firstUpdateId,
      finalUpdateId: this.id,
      eventTime: 1_700_000_000_000,
      bids: levels(changes.bids),
      asks: levels(changes.asks),
    };
  }
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_700_000_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('DepthSync against a reference book (seeded, randomized)', () => {
  it.each([1, 2, 3, 4, 5])(
    'seed %i: whenever in sync, its top 20 is the exchange top 20 at the same id',
    async (seed) => {
      const random = seeded(seed);
      const exchange = new Exchange(random);
      const pending: { dueStep: number; resolve: (answer: unknown) => void }[] = [];
      const events: DepthSyncEvent[] = [];
      let step = 0;
      const sync = new DepthSync({
        symbol: SYMBOL,
        budget: new RestWeightBudget({ weightPerMinute: 6000 }),
        random,
        onEvent: (e) => events.push(e),
        fetchSnapshot: () =>
          new Promise((resolve) => {
            // REST answers 0 to 5 steps later, with the book of a recent id: maybe
            // older than the stream, maybe newer than the diffs buffered so far.
            pending.push({ dueStep: step + Math.floor(random() * 6), resolve });
          }),
      });
      const history: DepthDiff[] = [];
      let dropped = 0;
      let checks = 0;
      const STEPS = 1000;
      for (step = 0; step < STEPS + 100; step++) {
        for (const p of pending.filter((q) => q.dueStep <= step)) {
          pending.splice(pending.indexOf(p), 1);
          const id = Math.max(1000, exchange.id - Math.floor(random() * 8));
          p.resolve({ lastUpdateId: id, ...exchange.bookAt(id) });
        }
        const diff = exchange.nextDiff();
        history.push(diff);
        // The last 100 steps lose nothing, so the run ends in sync.
        const calm = step >= STEPS;
        if (!calm && random() < 0.03) {
          dropped++;
        } else {
          sync.handleDiff(diff);
        }
        if (!calm && random() < 0.02 && history.length > 5) {
          sync.handleDiff(history[history.length - 2 - Math.floor(random() * 4)]!); // a repeat
        }
        await vi.advanceTimersByTimeAsync(100);
        if (sync.inSync) {
          const id = sync.updateId!;
          expect(sync.top(20), `seed ${seed} step ${step} id ${id}`).toEqual(exchange.topAt(id));
          checks++;
        }
      }
      expect(sync.inSync).toBe(true);
      expect(checks).toBeGreaterThan(STEPS / 2);
      const count = (kind: string) => events.filter((e) => e.kind === kind).length;
      expect(count('synced')).toBe(1);
      expect(count('desynced')).toBeGreaterThan(0);
      expect(count('desynced')).toBeLessThanOrEqual(dropped);
      expect(count('resynced')).toBe(count('desynced'));
      for (const e of events) {
        if (e.kind === 'resynced' || e.kind === 'desynced') expect(e.lost.reason).toBe('gap');
      }
      // The run went through every branch of the procedure.
      expect(sync.stats.staleSnapshots).toBeGreaterThan(0);
      expect(sync.stats.diffsDropped).toBeGreaterThan(0);
      expect(sync.stats.diffsIgnored).toBeGreaterThan(0);
      sync.close();
    },
    30_000,
  );
});
