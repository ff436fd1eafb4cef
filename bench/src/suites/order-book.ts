import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BookTop } from '@trade/core';
import { median, type BenchSuite, type Figure } from '../harness.js';
import type { BookBenchInput, BookBenchOutput, PassName } from '../order-book-child.js';
// The simulator's own book (its seeded BookModel and the diff merging of its
// depth stream) is not part of the package's API; the bench uses its source
// so the diffs are the ones the simulator would send, without 100 ms frames.
import {
  OrderBookTruth,
  type BookDiff,
} from '../../../packages/exchange-binance/src/sim/order-book-truth.js';
import { prng } from '../../../packages/exchange-binance/src/sim/prng.js';
import { resolveRules } from '../../../packages/exchange-binance/src/sim/symbol-rules.js';

// Depth diffs applied per second on one core (the target: >= 2M level
// changes/s) and the heap of one symbol's synced book. The diffs come from
// the simulator's book model at 5,000 levels a side: most changes within a
// few levels of the touch, one in ten anywhere in the book, levels added and
// removed as well as changed, merged per level into diffs as one
// `@depth@100ms` event carries them. They are built (and parsed) before the
// clock starts; each round syncs a fresh book from the same snapshot and
// applies the same diffs. This process builds the stream; a child with
// --expose-gc measures (order-book-child.ts).

const SYMBOL = 'BTCUSDT';
const LEVELS = 5_000;
/**
 * Level changes per round. The model's book thins as it runs (a removal
 * always finds its level, an insert needs a free tick): 300k changes take it
 * from 5,000 to about 4,500 a side; 1M would end near 2,600 and 4,000.
 */
const CHANGES = Number(process.env.BENCH_BOOK_CHANGES ?? 300_000);
/** Book moves merged into one diff (several moves of one level become one change). */
const MOVES_PER_DIFF = Number(process.env.BENCH_BOOK_MOVES_PER_DIFF ?? 40);
const ROUNDS = Number(process.env.BENCH_BOOK_ROUNDS ?? 15);
const MEMORY_ROUNDS = Number(process.env.BENCH_BOOK_MEMORY_ROUNDS ?? 7);
/**
 * Diffs a book takes after its snapshot before it is weighed: 20 s of
 * `@depth@100ms`, few enough that the model's thinning leaves it near its size.
 */
const MEMORY_DIFFS = Number(process.env.BENCH_BOOK_MEMORY_DIFFS ?? 200);
const TARGET = 2_000_000;
const FIRST_EVENT_TIME = Date.UTC(2026, 11, 5);

/** One symbol's depth stream as the client receives it, from a snapshot on. */
interface DepthStream {
  /** Levels a side of the snapshot (and the `limit` asked). */
  levels: number;
  /** The `GET /api/v3/depth?limit=5000` answer's text. */
  snapshotText: string;
  /** A diff ending at the snapshot's id, so the sync procedure accepts the snapshot. */
  leadFrame: string;
  /** Combined-stream frames, in order, starting right after the snapshot. */
  frames: string[];
  /** The book after the last frame, best 20 a side. */
  final: BookTop;
  /** What the changes did: a quantity changed, a level added or removed, a zero for a level not held (added and removed within one diff). */
  mix: { updates: number; inserts: number; removals: number; absent: number };
  /** Levels a side after the last frame. */
  after: { bids: number; asks: number };
}

/** A frame as `<sym>@depth@100ms` sends it on a combined connection. */
function frameText(diff: BookDiff, i: number): string {
  return JSON.stringify({
    stream: `${SYMBOL.toLowerCase()}@depth@100ms`,
    data: {
      e: 'depthUpdate',
      E: FIRST_EVENT_TIME + i * 100,
      s: SYMBOL,
      U: diff.firstUpdateId,
      u: diff.finalUpdateId,
      b: diff.bids,
      a: diff.asks,
    },
  });
}

/**
 * The simulator's book of `levels` a side, moved as its trades move it (a
 * walk of -2..+2 cents per trade, one book change per trade), until the
 * frames after the snapshot hold `changes` level changes.
 */
function depthStream(levels: number, changes: number, seed: number): DepthStream {
  const rules = resolveRules(SYMBOL);
  let anchor = 4_325_001; // cents = ticks at the default 0.01 tick
  const truth = new OrderBookTruth({
    symbol: SYMBOL,
    rules,
    seed,
    levels,
    retain: 1 << 16,
    anchorTicks: anchor,
  });
  const walk = prng(seed + 1);
  const nextDiff = () => {
    const from = truth.updateId;
    for (let m = 0; m < MOVES_PER_DIFF; m++) {
      anchor += Math.floor(walk() * 5) - 2;
      truth.move(anchor);
    }
    return truth.diffSince(from)!;
  };
  const lead = nextDiff();
  const top = truth.top(levels);
  const snapshotText = JSON.stringify({
    lastUpdateId: top.updateId,
    bids: top.bids,
    asks: top.asks,
  });
  // What each change did to the book: kept per side by price string.
  const live = [new Set(top.bids.map(([p]) => p)), new Set(top.asks.map(([p]) => p))] as const;
  const mix = { updates: 0, inserts: 0, removals: 0, absent: 0 };
  const frames: string[] = [];
  for (let n = 0; n < changes;) {
    const diff = nextDiff();
    for (const [side, list] of [diff.bids, diff.asks].entries()) {
      const prices = live[side as 0 | 1];
      for (const [price, qty] of list) {
        if (!/[1-9]/.test(qty)) {
          if (prices.delete(price)) mix.removals++;
          else mix.absent++;
        } else if (prices.has(price)) {
          mix.updates++;
        } else {
          mix.inserts++;
          prices.add(price);
        }
      }
    }
    n += diff.bids.length + diff.asks.length;
    frames.push(frameText(diff, frames.length + 1));
  }
  return {
    levels,
    snapshotText,
    leadFrame: frameText(lead, 0),
    frames,
    final: truth.top(20),
    mix,
    after: { bids: live[0].size, asks: live[1].size },
  };
}

/** Runs the measuring child on `input` (see order-book-child.ts). */
async function measure(input: BookBenchInput): Promise<BookBenchOutput> {
  const here = dirname(fileURLToPath(import.meta.url));
  const child = spawn(
    process.execPath,
    // One core: the collector works on the measuring thread too, not on the other core.
    [
      '--expose-gc',
      '--single-threaded-gc',
      '--import',
      'tsx',
      join(here, '..', 'order-book-child.ts'),
    ],
    { cwd: join(here, '..', '..'), stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.stdin.end(JSON.stringify(input));
  const exitCode = await exited;
  if (exitCode !== 0) throw new Error(`order-book bench child exited with ${exitCode}`);
  return JSON.parse(output) as BookBenchOutput;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

export const suite: BenchSuite = {
  name: 'order-book',
  async run() {
    const stream = depthStream(LEVELS, CHANGES, 7);
    const small = depthStream(1_000, MEMORY_DIFFS * MOVES_PER_DIFF, 8);
    const weighed = (s: DepthStream) => ({
      levels: s.levels,
      snapshotText: s.snapshotText,
      frames: [s.leadFrame, ...s.frames.slice(0, MEMORY_DIFFS)],
    });
    const weighedStreams = { '5,000': weighed(stream), '1,000': weighed(small) };
    const applied: Record<string, number> = {};
    for (const [name, s] of Object.entries(weighedStreams)) applied[name] = s.frames.length - 1;
    const { rounds, memory } = await measure({
      symbol: SYMBOL,
      rounds: ROUNDS,
      memoryRounds: MEMORY_ROUNDS,
      timing: {
        levels: stream.levels,
        snapshotText: stream.snapshotText,
        frames: [stream.leadFrame, ...stream.frames],
        final: stream.final,
      },
      memory: weighedStreams,
    });

    const { mix, after } = stream;
    const total = mix.updates + mix.inserts + mix.removals + mix.absent;
    const diffs = stream.frames.length;
    const share = (n: number) => `${((100 * n) / total).toFixed(0)}%`;
    const shape =
      `${fmt(total)} changes in ${fmt(diffs)} diffs (${(total / diffs).toFixed(1)} levels each): ` +
      `${share(mix.updates)} quantity, ${share(mix.inserts)} new, ${share(mix.removals)} removed, ` +
      `${share(mix.absent)} removals of absent levels; ${fmt(after.bids)}/${fmt(after.asks)} levels at the end`;
    // Per CPU second of the process: on a shared machine a round that loses
    // its core for a while is not slower to apply; wall-clock rates are in the notes.
    const rate = (name: PassName) => median(rounds[name].map((r) => r.changes / r.cpuSeconds));
    const millions = (n: number) => (n / 1e6).toFixed(2);
    const how = (name: PassName) => {
      const all = rounds[name].map((r) => r.changes / r.cpuSeconds);
      const wall = median(rounds[name].map((r) => r.changes / r.seconds));
      const cpu = median(rounds[name].map((r) => r.cpuSeconds / r.seconds));
      return (
        `median of ${ROUNDS} rounds, ${millions(Math.min(...all))}-${millions(Math.max(...all))}M; ` +
        `per wall second ${millions(wall)}M, the process on CPU ${cpu.toFixed(2)}x wall`
      );
    };
    const sync = rate('DepthSync.handleDiff');
    const raw = rate('OrderBook.applyDiff');

    const figures: Figure[] = [
      {
        name: 'DepthSync.handleDiff, 5,000/side, per CPU second',
        measured: sync,
        unit: 'changes/s',
        target: { op: '>=', value: TARGET },
        note: `${how('DepthSync.handleDiff')}; ${shape}`,
      },
      {
        name: 'OrderBook.applyDiff (raw), per CPU second',
        measured: raw,
        unit: 'changes/s',
        note: `${how('OrderBook.applyDiff')}; DepthSync costs ${((100 * (raw - sync)) / raw).toFixed(0)}% of the raw rate`,
      },
      {
        name: 'parseDepthDiffText + handleDiff, per CPU second',
        measured: rate('parseDepthDiffText + handleDiff'),
        unit: 'changes/s',
        note: `${how('parseDepthDiffText + handleDiff')}; combined-stream frames, ${fmt(stream.frames.reduce((n, f) => n + f.length, 0) / diffs)} bytes each`,
      },
    ];
    for (const [levels, { bytes, levels: held }] of Object.entries(memory)) {
      const perBook = median(bytes);
      figures.push(
        {
          name: `heap of one synced book, ${levels} levels a side`,
          measured: perBook,
          unit: 'bytes',
          note: `median of ${MEMORY_ROUNDS} rounds (${bytes.map((b) => fmt(b / 1024)).join(', ')} KiB), ${fmt(held)} levels after ${fmt(applied[levels]!)} diffs; DepthSync + OrderBook, strings parsed anew, heapUsed after gc()`,
        },
        {
          name: `heap per level, ${levels} levels a side`,
          measured: perBook / held,
          unit: 'bytes',
        },
      );
    }
    return figures;
  },
};
