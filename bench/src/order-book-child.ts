import type { BookTop } from '@trade/core';
import {
  DepthSync,
  OrderBook,
  RestWeightBudget,
  parseDepthDiffText,
  type BookSnapshotInput,
  type DepthDiff,
} from '@trade/exchange-binance';

// The measuring half of the order-book suite, which runs it as `node
// --expose-gc --single-threaded-gc --import tsx order-book-child.ts`: its heap
// holds only the book code and the prepared stream, a gc() before each timed
// pass leaves no earlier round's garbage to collect on the clock, heapUsed
// after gc() is one book's, and the collector shares the measuring thread's
// core. Reads a BookBenchInput on stdin, writes a BookBenchOutput line on stdout.

/** One symbol's depth stream as the client receives it, from a snapshot on. */
export interface BookStreamInput {
  /** Levels a side of the snapshot, and the `limit` asked for it. */
  readonly levels: number;
  /** The `GET /api/v3/depth` answer's text. */
  readonly snapshotText: string;
  /** Combined-stream frames; the first ends at the snapshot's id (the procedure drops it). */
  readonly frames: readonly string[];
}

export interface BookBenchInput {
  readonly symbol: string;
  readonly rounds: number;
  readonly memoryRounds: number;
  readonly timing: BookStreamInput & {
    /** The book after the last frame, best 20 a side: every pass must end there. */
    readonly final: BookTop;
  };
  /** Streams whose synced book is weighed, by name. */
  readonly memory: Readonly<Record<string, BookStreamInput>>;
}

export const PASSES = [
  'DepthSync.handleDiff',
  'OrderBook.applyDiff',
  'parseDepthDiffText + handleDiff',
] as const;
export type PassName = (typeof PASSES)[number];

/** One timed pass: level changes applied, wall seconds, and the process's CPU seconds meanwhile. */
export interface Round {
  readonly changes: number;
  readonly seconds: number;
  readonly cpuSeconds: number;
}

export interface BookBenchOutput {
  /** Per pass, one entry per round. */
  readonly rounds: Record<PassName, Round[]>;
  /** Per memory stream: heap bytes of one synced book per round, and its levels (both sides). */
  readonly memory: Record<string, { bytes: number[]; levels: number }>;
}

const gc = (globalThis as { gc?: () => void }).gc;

function parsed(text: string): DepthDiff {
  const result = parseDepthDiffText(text);
  if (result.kind !== 'diff') throw new Error(`bench frame refused: ${result.detail}`);
  return result.diff;
}

/** A DepthSync in sync on `stream`'s snapshot (strings parsed anew), as the client keeps one per symbol. */
async function syncedBook(symbol: string, stream: BookStreamInput, budget: RestWeightBudget) {
  const counts = { applied: 0, lost: 0 };
  let synced!: () => void;
  const inSync = new Promise<void>((resolve) => (synced = resolve));
  const sync = new DepthSync({
    symbol,
    budget,
    limit: stream.levels,
    fetchSnapshot: () => Promise.resolve(JSON.parse(stream.snapshotText) as unknown),
    // The client's handler counts and forwards; this one counts.
    onEvent: (event) => {
      if (event.kind === 'diff_applied') counts.applied++;
      else if (event.kind === 'synced') synced();
      else if (event.kind === 'desynced') counts.lost++;
    },
  });
  sync.handleDiff(parsed(stream.frames[0]!));
  await inSync;
  return { sync, counts };
}

function timed(loop: () => number): Round {
  gc!();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const changes = loop();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { changes, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** The three ways of applying the stream: each syncs a fresh book, then times the diffs only. */
function passes(input: BookBenchInput): Record<PassName, () => Promise<Round>> {
  const { symbol, timing } = input;
  // Pre-built, as the issue asks: parsing is timed only in the third pass.
  const diffs = timing.frames.slice(1).map(parsed);
  const expected = JSON.stringify(timing.final);
  // 250 weight a snapshot at 5,000 levels: the bench syncs more often than a client may.
  const budget = new RestWeightBudget({ weightPerMinute: 1e9 });
  const check = (name: string, top: BookTop | undefined, ok = true) => {
    if (!ok || JSON.stringify(top) !== expected) {
      throw new Error(`order-book bench: ${name} does not end at the simulator's book`);
    }
  };
  const viaSync = (name: PassName, loop: (sync: DepthSync) => number) => async () => {
    const { sync, counts } = await syncedBook(symbol, timing, budget);
    const result = timed(() => loop(sync));
    check(name, sync.top(20), counts.lost === 0 && counts.applied === diffs.length);
    sync.close();
    return result;
  };
  return {
    'DepthSync.handleDiff': viaSync('DepthSync.handleDiff', (sync) => {
      let changes = 0;
      for (let i = 0; i < diffs.length; i++) {
        const diff = diffs[i]!;
        sync.handleDiff(diff);
        changes += diff.bids.length + diff.asks.length;
      }
      return changes;
    }),
    'OrderBook.applyDiff': () => {
      const book = new OrderBook(symbol);
      book.applySnapshot(JSON.parse(timing.snapshotText) as BookSnapshotInput);
      const result = timed(() => {
        let changes = 0;
        for (let i = 0; i < diffs.length; i++) changes += book.applyDiff(diffs[i]!);
        return changes;
      });
      check('OrderBook.applyDiff', book.top(20));
      return Promise.resolve(result);
    },
    'parseDepthDiffText + handleDiff': viaSync('parseDepthDiffText + handleDiff', (sync) => {
      let changes = 0;
      const frames = timing.frames;
      for (let i = 1; i < frames.length; i++) {
        const result = parseDepthDiffText(frames[i]!);
        if (result.kind !== 'diff') continue;
        sync.handleDiff(result.diff);
        changes += result.diff.bids.length + result.diff.asks.length;
      }
      return changes;
    }),
  };
}

async function timedRounds(input: BookBenchInput): Promise<BookBenchOutput['rounds']> {
  const run = passes(input);
  for (const name of PASSES) await run[name](); // warm-up: JIT, every code path
  const out: BookBenchOutput['rounds'] = {
    'DepthSync.handleDiff': [],
    'OrderBook.applyDiff': [],
    'parseDepthDiffText + handleDiff': [],
  };
  for (let round = 0; round < input.rounds; round++) {
    // Rotating order, so no pass always runs first.
    for (let i = 0; i < PASSES.length; i++) {
      const name = PASSES[(i + round) % PASSES.length]!;
      out[name].push(await run[name]());
    }
  }
  return out;
}

/** heapUsed after gc() with one synced book kept, less before it, per round. */
async function memory(input: BookBenchInput): Promise<BookBenchOutput['memory']> {
  const budget = new RestWeightBudget({ weightPerMinute: 1e9 });
  const heap = () => {
    gc!();
    gc!();
    return process.memoryUsage().heapUsed;
  };
  const book = async (stream: BookStreamInput) => {
    const { sync, counts } = await syncedBook(input.symbol, stream, budget);
    for (let i = 1; i < stream.frames.length; i++) sync.handleDiff(parsed(stream.frames[i]!));
    if (counts.lost > 0 || counts.applied !== stream.frames.length - 1) {
      throw new Error('order-book bench: a weighed book lost its sync');
    }
    return sync;
  };
  const out: BookBenchOutput['memory'] = {};
  for (const [name, stream] of Object.entries(input.memory)) {
    // Warm-up: the first books also leave optimized code behind.
    for (let w = 0; w < 2; w++) (await book(stream)).close();
    const bytes: number[] = [];
    let levels = 0;
    for (let r = 0; r < input.memoryRounds; r++) {
      const before = heap();
      const kept = await book(stream);
      bytes.push(heap() - before);
      const top = kept.top(Number.MAX_SAFE_INTEGER)!;
      levels = top.bids.length + top.asks.length;
      kept.close();
    }
    out[name] = { bytes, levels };
  }
  return out;
}

if (gc === undefined) throw new Error('order-book-child needs node --expose-gc');
let text = '';
for await (const chunk of process.stdin) text += (chunk as Buffer).toString('utf8');
const input = JSON.parse(text) as BookBenchInput;
const output: BookBenchOutput = { rounds: await timedRounds(input), memory: await memory(input) };
process.stdout.write(`${JSON.stringify(output)}\n`);
