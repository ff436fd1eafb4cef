import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startBinanceSimulator, type BinanceSimulator } from '@trade/exchange-binance/sim';
import type pg from 'pg';
import { BenchDatabase, benchRedisUrl, clearTickCache } from '../bench-database.js';
import { median, percentile, type BenchSuite, type Figure } from '../harness.js';
import {
  commitLatencies,
  FIRST_ID,
  generatedTotal,
  POLL_MS,
  sustainedRate,
  verifyComplete,
} from '../tick-load.js';
import { ensureAppBuilt, startTradingCore, type AppProcess } from '../trading-core-process.js';

// The whole app as an operator runs it: the built `trading-core live
// --paper-trading` process, fed by the simulator in this process over
// loopback, storing into PostgreSQL, caching in Redis, paper trading on the
// stream and serving /metrics. Two runs, each on a fresh app process:
//
// 1. a fixed load (20k ticks/s over two symbols): latency from the
//    simulator's send to the committed row, the app's peak RSS (VmHWM), and
//    the scrape latency of /metrics under that load;
// 2. as fast as it goes (the simulator's 'max' rate follows the app's TCP
//    backpressure): the sustained rate, counted only once every generated
//    tick is committed.
//
// Latency is observed from outside, as ../tick-load.ts describes: an upper
// bound of the app's own figure.

const DATABASE = new BenchDatabase('trade_e2e_bench');
const SYMBOLS = ['E2EAUSDT', 'E2EBUSDT'];
const LOAD_RATE = Number(process.env.BENCH_E2E_RATE ?? 20_000);
const LOAD_SECONDS = Number(process.env.BENCH_E2E_LOAD_SECONDS ?? 30);
const WARMUP_SECONDS = Number(process.env.BENCH_E2E_WARMUP_SECONDS ?? 5);
const MAX_SECONDS = Number(process.env.BENCH_E2E_MAX_SECONDS ?? 20);
// 'max': the simulator writes as fast as the socket drains; a number: that many ticks/s in total.
const SUSTAIN_RATE =
  process.env.BENCH_E2E_SUSTAIN_RATE === undefined || process.env.BENCH_E2E_SUSTAIN_RATE === 'max'
    ? 'max'
    : Number(process.env.BENCH_E2E_SUSTAIN_RATE);
// Node flags for the app process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it.
const APP_NODE_ARGS = (process.env.BENCH_E2E_APP_NODE_ARGS ?? '').split(' ').filter(Boolean);
// A file the app's output is appended to (both runs), to read what it logged.
const APP_LOG = process.env.BENCH_E2E_APP_LOG;
const SCRAPE_EVERY_MS = 250;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function startApp(sim: BinanceSimulator, dataDir: string): Promise<AppProcess> {
  return startTradingCore({
    args: ['live', '--paper-trading'],
    env: {
      SYMBOLS: SYMBOLS.join(','),
      BINANCE_WS_URL: sim.url,
      BINANCE_REST_URL: sim.restUrl,
      DATABASE_URL: DATABASE.url,
      REDIS_URL: benchRedisUrl,
      DATA_DIR: dataDir,
    },
    nodeArgs: APP_NODE_ARGS,
    logFile: APP_LOG,
  });
}

async function scrapeLoop(url: string, until: () => boolean): Promise<number[]> {
  const times: number[] = [];
  while (!until()) {
    const start = performance.now();
    const response = await fetch(`${url}/metrics`);
    await response.text();
    times.push(performance.now() - start);
    await sleep(SCRAPE_EVERY_MS);
  }
  return times;
}

/** Run 1: a fixed load; latency, peak RSS and scrape latency. */
async function fixedLoad(dataDir: string): Promise<Figure[]> {
  const sim = await startBinanceSimulator({
    symbols: SYMBOLS,
    rate: 0,
    seed: 11,
    firstTradeId: FIRST_ID,
    // Trades only: the simulated order book would cost the shared cores and memory.
    bookUpdatesPerTrade: 0,
  });
  let db: pg.Client | undefined;
  let app: AppProcess | undefined;
  try {
    app = await startApp(sim, dataDir);
    db = await DATABASE.connect();
    const endAt = performance.now() + LOAD_SECONDS * 1000;
    const scrapes = scrapeLoop(app.url, () => performance.now() >= endAt);
    const latencies = await commitLatencies(sim, db, {
      rate: LOAD_RATE,
      seconds: LOAD_SECONDS,
      warmupSeconds: WARMUP_SECONDS,
    });
    const scrapeTimes = await scrapes;
    const peakRss = await app.peakRssMiB();
    const lost = await verifyComplete(db, sim);
    const generated = generatedTotal(sim);
    const exit = await app.stop();
    app = undefined;
    const load = `${LOAD_RATE.toLocaleString('en-US')} ticks/s for ${LOAD_SECONDS} s`;
    return [
      {
        name: `receipt -> committed row p50 at ${LOAD_RATE / 1000}k ticks/s`,
        measured: median(latencies),
        unit: 'ms',
        note: `${latencies.length.toLocaleString('en-US')} ticks after ${WARMUP_SECONDS} s warm-up, from send, polled every ${POLL_MS} ms`,
      },
      {
        name: `receipt -> committed row p99 at ${LOAD_RATE / 1000}k ticks/s`,
        measured: percentile(latencies, 99),
        unit: 'ms',
        target: { op: '<=', value: 250 },
        note: `max ${Math.round(percentile(latencies, 100))} ms`,
      },
      {
        name: `peak RSS of the app at ${LOAD_RATE / 1000}k ticks/s`,
        measured: peakRss,
        unit: 'MiB',
        target: { op: '<=', value: 200 },
        note: `VmHWM over ${load}, start-up included`,
      },
      {
        name: `GET /metrics under load, median`,
        measured: median(scrapeTimes),
        unit: 'ms',
        note: `${scrapeTimes.length} scrapes every ${SCRAPE_EVERY_MS} ms; no target in issue 7`,
      },
      {
        name: `GET /metrics under load, p99`,
        measured: percentile(scrapeTimes, 99),
        unit: 'ms',
      },
      {
        name: `ticks lost at ${LOAD_RATE / 1000}k ticks/s`,
        measured: lost,
        unit: 'ticks',
        target: { op: '<=', value: 0 },
        note: `${generated.toLocaleString('en-US')} generated; app exit code ${exit}`,
      },
    ];
  } finally {
    await app?.stop();
    await db?.end().catch(() => undefined);
    await sim.close();
  }
}

/** Run 2: as fast as the app takes them; the rate counts only committed ticks. */
async function maxRate(dataDir: string): Promise<Figure[]> {
  const sim = await startBinanceSimulator({
    symbols: SYMBOLS,
    rate: SUSTAIN_RATE === 'max' ? 'max' : 0,
    seed: 12,
    firstTradeId: FIRST_ID,
    // Trades only: the simulated order book would cost the shared cores and memory.
    bookUpdatesPerTrade: 0,
    retain: 20_000_000,
  });
  let db: pg.Client | undefined;
  let app: AppProcess | undefined;
  try {
    // The simulator generates from the moment the app subscribes; the clock
    // starts at the first trade's time.
    const started = await startApp(sim, dataDir);
    app = started;
    db = await DATABASE.connect();
    const run = await sustainedRate(sim, db, {
      rate: SUSTAIN_RATE,
      seconds: MAX_SECONDS,
      cpuSeconds: () => started.cpuSeconds(),
    });
    await app.stop();
    app = undefined;
    const { generated, seconds, cpuSeconds: cpu } = run;
    return [
      {
        name: 'sustained end-to-end rate, every tick committed',
        measured: generated / seconds,
        unit: 'ticks/s',
        target: { op: '>=', value: 100_000 },
        note: `simulator rate ${SUSTAIN_RATE === 'max' ? "'max'" : `${SUSTAIN_RATE.toLocaleString('en-US')} ticks/s`}: ${generated.toLocaleString('en-US')} ticks generated in ${Math.round(run.generatingSeconds * 10) / 10} s, all committed ${Math.round(run.drainSeconds * 10) / 10} s later; app CPU ${Math.round((cpu / seconds) * 100)}% of one core`,
      },
      {
        // The baseline of the next performance push: what one tick costs the app, all stages.
        name: 'app CPU per committed tick at max rate',
        measured: (cpu * 1e6) / generated,
        unit: 'us',
        note: `user + system CPU of the app process from subscription until the last tick was committed (${cpu.toFixed(1)} s over ${generated.toLocaleString('en-US')} ticks); the bench's simulator shares the 2 cores`,
      },
      {
        name: 'ticks lost at max rate',
        measured: run.lost,
        unit: 'ticks',
        target: { op: '<=', value: 0 },
      },
    ];
  } finally {
    await app?.stop();
    await db?.end().catch(() => undefined);
    await sim.close();
  }
}

export const suite: BenchSuite = {
  name: 'end-to-end',
  async run() {
    ensureAppBuilt();
    const dirs: string[] = [];
    const dataDir = async () => {
      const dir = await mkdtemp(join(tmpdir(), 'trade-e2e-bench-'));
      dirs.push(dir);
      return dir;
    };
    try {
      await DATABASE.fresh();
      await clearTickCache(SYMBOLS);
      const load = await fixedLoad(await dataDir());
      await DATABASE.fresh();
      await clearTickCache(SYMBOLS);
      const max = await maxRate(await dataDir());
      return [...max, ...load];
    } finally {
      for (const dir of dirs) {
        // The spool must be empty: anything left there was not committed.
        const left = await readdir(join(dir, 'spool')).catch(() => []);
        if (left.some((f) => f.endsWith('.spool'))) console.warn(`spool not empty in ${dir}`);
        await rm(dir, { recursive: true, force: true });
      }
      await DATABASE.drop();
      await clearTickCache(SYMBOLS);
    }
  },
};
