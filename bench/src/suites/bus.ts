import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBinanceSimulator, type BinanceSimulator } from '@trade/exchange-binance/sim';
import type pg from 'pg';
import { BenchDatabase, benchRedisUrl, clearTickCache } from '../bench-database.js';
import { median, percentile, type BenchSuite, type Figure } from '../harness.js';
import { startNatsServer } from '../nats-server.js';
import {
  commitLatencies,
  FIRST_ID,
  generatedTotal,
  POLL_MS,
  sustainedRate,
  verifyComplete,
} from '../tick-load.js';
import {
  cpuSecondsOf,
  ensureAppBuilt,
  startTradingCore,
  type AppProcess,
} from '../trading-core-process.js';

// The bus against one process, on the same simulator load and the same
// PostgreSQL server (a fresh database for each run):
//
// - live: the built `trading-core live`, without --paper-trading: the bus
//   path has no paper engine (that is its own consumer, `paper`), so both
//   paths do the same work: exchange -> tick_data (and the Redis cache);
// - bus: `trading-core collect` (exchange -> JetStream) and `trading-core
//   store` (JetStream -> tick_data), over a private nats-server with file
//   storage in a temporary directory, a fresh stream each run.
//
// Two runs per path, as in the end-to-end suite (../tick-load.ts): as fast
// as it goes, counted once every generated tick is committed; and a fixed
// load (20k ticks/s), latency from the simulator's send to the committed
// row. Each round runs both paths (which goes first alternates); the
// figures are the medians over the rounds.

const DATABASE = new BenchDatabase('trade_bus_bench');
const SYMBOLS = ['BUSAUSDT', 'BUSBUSDT'];
const ROUNDS = Number(process.env.BENCH_BUS_ROUNDS ?? 3);
const LOAD_RATE = Number(process.env.BENCH_BUS_RATE ?? 20_000);
const LOAD_SECONDS = Number(process.env.BENCH_BUS_LOAD_SECONDS ?? 30);
const WARMUP_SECONDS = Number(process.env.BENCH_BUS_WARMUP_SECONDS ?? 5);
// Shorter than end-to-end's 20 s: at 'max' the collector takes ticks far faster than it
// publishes them (the rest goes through its spool), and the bus drains for minutes after.
const MAX_SECONDS = Number(process.env.BENCH_BUS_MAX_SECONDS ?? 10);
// 'max': the simulator writes as fast as the socket drains; a number: that many ticks/s in total.
const SUSTAIN_RATE =
  process.env.BENCH_BUS_SUSTAIN_RATE === undefined || process.env.BENCH_BUS_SUSTAIN_RATE === 'max'
    ? 'max'
    : Number(process.env.BENCH_BUS_SUSTAIN_RATE);
// Which runs and paths (while working on one of them): default all.
const RUNS = listOf(process.env.BENCH_BUS_RUNS, ['max', 'load']);
const PATHS = listOf(process.env.BENCH_BUS_PATHS, ['live', 'bus']) as PathName[];
// Node flags for every app process; BENCH_BUS_PROFILE_DIR=<dir>: a CPU profile of each in <dir>/<command>.
const APP_NODE_ARGS = (process.env.BENCH_BUS_APP_NODE_ARGS ?? '').split(' ').filter(Boolean);
const PROFILE_DIR = process.env.BENCH_BUS_PROFILE_DIR;
// A file the apps' output is appended to, to read what they logged.
const APP_LOG = process.env.BENCH_BUS_APP_LOG;
const TARGET_RATIO = 0.6;
const TARGET_P99_MS = 500;

type PathName = 'live' | 'bus';

function listOf(raw: string | undefined, all: string[]): string[] {
  const picked = (raw ?? all.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = picked.filter((p) => !all.includes(p));
  if (unknown.length > 0)
    throw new Error(`unknown ${unknown.join(', ')}: expected ${all.join(', ')}`);
  return picked;
}

/** One path's processes, started against a simulator. */
interface Pipeline {
  /** CPU seconds of each process so far. */
  cpuSeconds(): Promise<Record<string, number>>;
  /** Stops every process; their exit codes. */
  stop(): Promise<Record<string, number | null>>;
}

/** Where the runs' directories go; every one is checked and removed at the end. */
class Dirs {
  readonly #dirs: string[] = [];

  async make(prefix: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), `trade-bus-bench-${prefix}-`));
    this.#dirs.push(dir);
    return dir;
  }

  async removeAll(): Promise<void> {
    for (const dir of this.#dirs.splice(0)) {
      // The spools must be empty: anything left there was not committed (or published).
      for (const spool of ['spool', 'bus-spool']) {
        const left = await readdir(join(dir, spool)).catch(() => []);
        if (left.some((f) => f.endsWith('.spool'))) console.warn(`${spool} not empty in ${dir}`);
      }
      await rm(dir, { recursive: true, force: true });
    }
  }
}

async function start(command: string, env: Record<string, string>): Promise<AppProcess> {
  const nodeArgs = [...APP_NODE_ARGS];
  if (PROFILE_DIR) {
    const dir = join(PROFILE_DIR, command);
    await mkdir(dir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
  }
  return startTradingCore({
    args: [command],
    env: { SYMBOLS: SYMBOLS.join(','), ...env },
    nodeArgs,
    logFile: APP_LOG,
  });
}

/** Reads CPU seconds of processes. */
function cpuMeter(pids: Record<string, number>): () => Promise<Record<string, number>> {
  return async () => {
    const seconds: Record<string, number> = {};
    for (const [name, pid] of Object.entries(pids)) seconds[name] = await cpuSecondsOf(pid);
    return seconds;
  };
}

async function startLive(sim: BinanceSimulator, dirs: Dirs): Promise<Pipeline> {
  const live = await start('live', {
    BINANCE_WS_URL: sim.url,
    BINANCE_REST_URL: sim.restUrl,
    DATABASE_URL: DATABASE.url,
    REDIS_URL: benchRedisUrl,
    DATA_DIR: await dirs.make('live'),
  });
  return {
    cpuSeconds: cpuMeter({ live: live.child.pid! }),
    async stop() {
      return { live: await live.stop() };
    },
  };
}

async function startBus(sim: BinanceSimulator, dirs: Dirs): Promise<Pipeline> {
  const nats = await startNatsServer();
  const started: AppProcess[] = [];
  try {
    // The writer first: the simulator's 'max' generation starts when the collector subscribes.
    const store = await start('store', {
      NATS_URL: nats.url,
      DATABASE_URL: DATABASE.url,
      REDIS_URL: benchRedisUrl,
      DATA_DIR: await dirs.make('store'),
    });
    started.push(store);
    const collect = await start('collect', {
      NATS_URL: nats.url,
      BINANCE_WS_URL: sim.url,
      BINANCE_REST_URL: sim.restUrl,
      DATA_DIR: await dirs.make('collect'),
    });
    started.push(collect);
    return {
      cpuSeconds: cpuMeter({
        collect: collect.child.pid!,
        store: store.child.pid!,
        'nats-server': nats.pid,
      }),
      async stop() {
        const codes = { collect: await collect.stop(), store: await store.stop() };
        await nats.destroy();
        return codes;
      },
    };
  } catch (error) {
    for (const app of started) await app.stop();
    await nats.destroy();
    throw error;
  }
}

/** CPU microseconds per tick of each process, from two readings. */
function cpuPerTick(
  before: Record<string, number>,
  after: Record<string, number>,
  ticks: number,
): Record<string, number> {
  return Object.fromEntries(
    Object.keys(after).map((name) => [name, ((after[name]! - (before[name] ?? 0)) * 1e6) / ticks]),
  );
}

/** `name value, ...` of each process's median CPU microseconds per tick. */
function cpuNote(runs: readonly { cpuPerTick: Record<string, number> }[]): string {
  return Object.keys(runs[0]!.cpuPerTick)
    .map((name) => `${name} ${median(runs.map((r) => r.cpuPerTick[name]!)).toFixed(1)}`)
    .join(', ');
}

const STARTERS: Record<PathName, (sim: BinanceSimulator, dirs: Dirs) => Promise<Pipeline>> = {
  live: startLive,
  bus: startBus,
};

interface MaxResult {
  readonly rate: number;
  readonly generated: number;
  readonly generatingSeconds: number;
  readonly drainSeconds: number;
  /** CPU microseconds per committed tick, per process. */
  readonly cpuPerTick: Record<string, number>;
  readonly lost: number;
  readonly exits: Record<string, number | null>;
}

/** As fast as the path takes them; the rate counts only committed ticks. */
async function maxRate(path: PathName, round: number, dirs: Dirs): Promise<MaxResult> {
  await DATABASE.fresh();
  await clearTickCache(SYMBOLS);
  const sim = await startBinanceSimulator({
    symbols: SYMBOLS,
    rate: SUSTAIN_RATE === 'max' ? 'max' : 0,
    seed: 20 + round,
    firstTradeId: FIRST_ID,
    // Trades only: the simulated order book would cost the shared cores and memory.
    bookUpdatesPerTrade: 0,
    retain: 20_000_000,
  });
  let db: pg.Client | undefined;
  let pipeline: Pipeline | undefined;
  try {
    pipeline = await STARTERS[path](sim, dirs);
    db = await DATABASE.connect();
    let cpu0: Record<string, number> = {};
    let cpu1: Record<string, number> = {};
    const started = pipeline;
    const run = await sustainedRate(sim, db, {
      rate: SUSTAIN_RATE,
      seconds: MAX_SECONDS,
      // Kept per process; the sum is what sustainedRate sees.
      cpuSeconds: async () => {
        const now = await started.cpuSeconds();
        if (Object.keys(cpu0).length === 0) cpu0 = now;
        else cpu1 = now;
        return Object.values(now).reduce((a, b) => a + b, 0);
      },
    });
    const exits = await pipeline.stop();
    pipeline = undefined;
    return {
      rate: run.generated / run.seconds,
      generated: run.generated,
      generatingSeconds: run.generatingSeconds,
      drainSeconds: run.drainSeconds,
      cpuPerTick: cpuPerTick(cpu0, cpu1, run.generated),
      lost: run.lost,
      exits,
    };
  } finally {
    await pipeline?.stop();
    await db?.end().catch(() => undefined);
    await sim.close();
  }
}

interface LoadResult {
  /** CPU microseconds per tick, per process. */
  readonly cpuPerTick: Record<string, number>;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly charged: number;
  readonly generated: number;
  readonly lost: number;
  readonly exits: Record<string, number | null>;
}

/** A fixed load: latency from the simulator's send to the committed row. */
async function fixedLoad(path: PathName, round: number, dirs: Dirs): Promise<LoadResult> {
  await DATABASE.fresh();
  await clearTickCache(SYMBOLS);
  const sim = await startBinanceSimulator({
    symbols: SYMBOLS,
    rate: 0,
    seed: 40 + round,
    firstTradeId: FIRST_ID,
    // Trades only: the simulated order book would cost the shared cores and memory.
    bookUpdatesPerTrade: 0,
  });
  let db: pg.Client | undefined;
  let pipeline: Pipeline | undefined;
  try {
    pipeline = await STARTERS[path](sim, dirs);
    db = await DATABASE.connect();
    const cpu0 = await pipeline.cpuSeconds();
    const latencies = await commitLatencies(sim, db, {
      rate: LOAD_RATE,
      seconds: LOAD_SECONDS,
      warmupSeconds: WARMUP_SECONDS,
    });
    const cpu1 = await pipeline.cpuSeconds();
    const lost = await verifyComplete(db, sim);
    const exits = await pipeline.stop();
    pipeline = undefined;
    const generated = generatedTotal(sim);
    return {
      cpuPerTick: cpuPerTick(cpu0, cpu1, generated),
      p50: median(latencies),
      p99: percentile(latencies, 99),
      max: percentile(latencies, 100),
      charged: latencies.length,
      generated,
      lost,
      exits,
    };
  } finally {
    await pipeline?.stop();
    await db?.end().catch(() => undefined);
    await sim.close();
  }
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const list = (values: readonly number[], unit = '') =>
  values.map((v) => `${int(v)}${unit}`).join(', ');
const exitsOf = (results: readonly { exits: Record<string, number | null> }[]) =>
  [...new Set(results.flatMap((r) => Object.entries(r.exits).map(([k, v]) => `${k} ${v}`)))].join(
    ', ',
  );

function maxFigures(results: Partial<Record<PathName, MaxResult[]>>): Figure[] {
  const figures: Figure[] = [];
  const rate = SUSTAIN_RATE === 'max' ? "'max'" : `${int(SUSTAIN_RATE)} ticks/s`;
  for (const path of PATHS) {
    const runs = results[path]!;
    figures.push({
      name:
        path === 'live'
          ? 'live: sustained rate, every tick committed'
          : 'bus: sustained rate, every tick committed',
      measured: median(runs.map((r) => r.rate)),
      unit: 'ticks/s',
      note: `median of ${runs.length} (${list(runs.map((r) => r.rate))}); simulator ${rate} for ${MAX_SECONDS} s, ${int(median(runs.map((r) => r.generated)))} ticks, all committed ${median(runs.map((r) => r.drainSeconds)).toFixed(1)} s after the generation stopped; CPU us/tick: ${cpuNote(runs)}`,
    });
  }
  if (results.live && results.bus) {
    const ratios = results.bus.map((bus, i) => bus.rate / results.live![i]!.rate);
    figures.push({
      name: 'bus / live sustained rate',
      measured: median(ratios),
      unit: 'x',
      target: { op: '>=', value: TARGET_RATIO },
      note: `median of the rounds' ratios (${ratios.map((r) => r.toFixed(2)).join(', ')})`,
    });
  }
  for (const path of PATHS) {
    const runs = results[path]!;
    figures.push({
      name: `${path}: ticks lost at max rate`,
      measured: runs.reduce((sum, r) => sum + r.lost, 0),
      unit: 'ticks',
      target: { op: '<=', value: 0 },
      note: `over ${runs.length} run(s); exit codes: ${exitsOf(runs)}`,
    });
  }
  return figures;
}

function loadFigures(results: Partial<Record<PathName, LoadResult[]>>): Figure[] {
  const figures: Figure[] = [];
  const at = `${LOAD_RATE / 1000}k ticks/s`;
  // The bus first: its p99 is the target; live's is the reference.
  for (const path of [...PATHS].reverse()) {
    const runs = results[path]!;
    const charged = int(median(runs.map((r) => r.charged)));
    figures.push(
      {
        name: `${path}: receipt -> committed row p50 at ${at}`,
        measured: median(runs.map((r) => r.p50)),
        unit: 'ms',
        note: `median of ${runs.length} (${list(
          runs.map((r) => r.p50),
          ' ms',
        )}); ${charged} ticks each after ${WARMUP_SECONDS} s warm-up of ${LOAD_SECONDS} s, from send, polled every ${POLL_MS} ms; CPU us/tick: ${cpuNote(runs)}`,
      },
      {
        name: `${path}: receipt -> committed row p99 at ${at}`,
        measured: median(runs.map((r) => r.p99)),
        unit: 'ms',
        ...(path === 'bus' ? { target: { op: '<=' as const, value: TARGET_P99_MS } } : {}),
        note: `median of ${runs.length} (${list(
          runs.map((r) => r.p99),
          ' ms',
        )}); max ${list(
          runs.map((r) => r.max),
          ' ms',
        )}${path === 'live' ? '; for reference' : ''}`,
      },
    );
  }
  for (const path of PATHS) {
    const runs = results[path]!;
    figures.push({
      name: `${path}: ticks lost at ${at}`,
      measured: runs.reduce((sum, r) => sum + r.lost, 0),
      unit: 'ticks',
      target: { op: '<=', value: 0 },
      note: `over ${runs.length} run(s) of ${int(median(runs.map((r) => r.generated)))} ticks; exit codes: ${exitsOf(runs)}`,
    });
  }
  return figures;
}

export const suite: BenchSuite = {
  name: 'bus',
  async run() {
    ensureAppBuilt();
    const dirs = new Dirs();
    const max: Partial<Record<PathName, MaxResult[]>> = {};
    const load: Partial<Record<PathName, LoadResult[]>> = {};
    try {
      for (let round = 0; round < ROUNDS; round++) {
        // Alternating which path goes first, so a drift of the machine hits both alike.
        const order = round % 2 === 0 ? PATHS : [...PATHS].reverse();
        if (RUNS.includes('max')) {
          for (const path of order) {
            (max[path] ??= []).push(await maxRate(path, round, dirs));
            await dirs.removeAll();
          }
        }
        if (RUNS.includes('load')) {
          for (const path of order) {
            (load[path] ??= []).push(await fixedLoad(path, round, dirs));
            await dirs.removeAll();
          }
        }
      }
      return [
        ...(RUNS.includes('max') ? maxFigures(max) : []),
        ...(RUNS.includes('load') ? loadFigures(load) : []),
      ];
    } finally {
      await dirs.removeAll();
      await DATABASE.drop();
      await clearTickCache(SYMBOLS);
    }
  },
};
