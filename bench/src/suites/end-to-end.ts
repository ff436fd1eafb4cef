import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startBinanceSimulator, type BinanceSimulator } from '@trade/exchange-binance/sim';
import { Redis } from 'ioredis';
import pg from 'pg';
import { median, percentile, type BenchSuite, type Figure } from '../harness.js';

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
// Latency is observed from outside: every POLL_MS this process reads the
// newest committed trade id per symbol; the trades that became visible are
// charged (poll time - the time this process generated and sent them). That
// is receipt-to-commit plus loopback delivery plus up to one poll interval:
// an upper bound of the app's own figure.

const APP_DIR = fileURLToPath(new URL('../../../apps/trading-core/', import.meta.url));
// The app to run: this checkout's build unless BENCH_E2E_CLI names another (to compare two trees on one simulator).
const CLI = process.env.BENCH_E2E_CLI ?? join(APP_DIR, 'dist', 'cli.js');
const SERVER_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DATABASE = 'trade_e2e_bench';
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
const POLL_MS = 20;
const SCRAPE_EVERY_MS = 250;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Builds the app when its dist is missing or older than its sources: the bench runs what is checked out. */
function ensureAppBuilt(): void {
  const newestSource = (dir: string): number =>
    Math.max(
      0,
      ...execFileSync('find', [dir, '-type', 'f', '-name', '*.ts'], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)
        .map((file) => statSync(file).mtimeMs),
    );
  if (existsSync(CLI) && statSync(CLI).mtimeMs >= newestSource(join(APP_DIR, 'src'))) return;
  execFileSync('pnpm', ['--filter', 'trading-core', 'build'], { cwd: APP_DIR, stdio: 'ignore' });
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: SERVER_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function databaseUrl(): string {
  const url = new URL(SERVER_URL);
  url.pathname = `/${DATABASE}`;
  return url.toString();
}

async function freshDatabase(): Promise<void> {
  await admin(async (client) => {
    await client.query(`drop database if exists ${DATABASE} with (force)`);
    await client.query(`create database ${DATABASE}`);
  });
}

async function clearRedis(): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    await redis.del(...SYMBOLS.map((s) => `tick:${s}`));
  } finally {
    redis.disconnect();
  }
}

interface App {
  readonly child: ChildProcess;
  readonly url: string;
  /** Peak resident set of the app process so far, MiB. */
  peakRssMiB(): Promise<number>;
  stop(): Promise<number | null>;
}

async function startApp(sim: BinanceSimulator, dataDir: string): Promise<App> {
  const child = spawn(process.execPath, [...APP_NODE_ARGS, CLI, 'live', '--paper-trading'], {
    env: {
      ...process.env,
      SYMBOLS: SYMBOLS.join(','),
      BINANCE_WS_URL: sim.url,
      BINANCE_REST_URL: sim.restUrl,
      DATABASE_URL: databaseUrl(),
      REDIS_URL,
      DATA_DIR: dataDir,
      METRICS_HOST: '127.0.0.1',
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (data: Buffer) => {
      output = (output + data.toString()).slice(-20_000);
      const match = /metrics served on (http:\/\/[^\s/]+)\/metrics/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    if (APP_LOG) {
      const log = createWriteStream(APP_LOG, { flags: 'a' });
      child.stdout.pipe(log, { end: false });
      child.stderr.pipe(log, { end: false });
    }
    void exited.then((code) =>
      reject(new Error(`trading-core exited (${code}) before serving metrics: ${output}`)),
    );
  });
  for (;;) {
    const response = await fetch(`${url}/ready`).catch(() => undefined);
    if (response?.status === 200) break;
    await sleep(50);
  }
  return {
    child,
    url,
    async peakRssMiB() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const kib = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]);
      return kib / 1024;
    },
    stop() {
      if (child.exitCode !== null) return Promise.resolve(child.exitCode);
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** The newest committed trade id per symbol. */
async function committedHeads(db: pg.Client): Promise<Map<string, number>> {
  const { rows } = await db.query<{ symbol: string; head: string | null }>(
    `select s.symbol, (select max(trade_id) from tick_data t where t.symbol = s.symbol)::text as head
       from unnest($1::text[]) as s(symbol)`,
    [SYMBOLS],
  );
  return new Map(rows.map((r) => [r.symbol, r.head === null ? 0 : Number(r.head)]));
}

/** Checks that tick_data holds every generated trade once: count and consecutive ids per symbol. */
async function verifyComplete(db: pg.Client, sim: BinanceSimulator): Promise<number> {
  let lost = 0;
  for (const symbol of SYMBOLS) {
    const { rows } = await db.query<{ n: string; lo: string | null; hi: string | null }>(
      'select count(*)::text as n, min(trade_id)::text as lo, max(trade_id)::text as hi from tick_data where symbol = $1',
      [symbol],
    );
    const row = rows[0]!;
    const expected = generatedOf(sim, symbol);
    if (Number(row.n) !== Number(row.hi) - Number(row.lo) + 1)
      throw new Error(`${symbol}: ids are not consecutive`);
    lost += expected - Number(row.n);
  }
  return lost;
}

// Both runs number trades from FIRST_ID, so counts need no copy of the history.
const FIRST_ID = 1;

function generatedOf(sim: BinanceSimulator, symbol: string): number {
  return (sim.lastTradeId(symbol) ?? FIRST_ID - 1) - FIRST_ID + 1;
}

async function waitForHeads(db: pg.Client, sim: BinanceSimulator): Promise<number> {
  for (;;) {
    const heads = await committedHeads(db);
    if (SYMBOLS.every((s) => heads.get(s) === sim.lastTradeId(s))) return Date.now();
    await sleep(POLL_MS);
  }
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

/**
 * Generates `rate` trades per second over every symbol, in 5 ms steps sent
 * at once; `beforeStep` sees each step's send time before it is generated.
 * Returns the function that stops it.
 */
function pace(sim: BinanceSimulator, rate: number, beforeStep?: (at: number) => void): () => void {
  const perSymbolPerStep = rate / SYMBOLS.length / 200;
  let carry = 0;
  const start = performance.now();
  let stepsDone = 0;
  const timer = setInterval(() => {
    // Catch up on late timer turns so the rate holds.
    const due = Math.floor((performance.now() - start) / 5) + 1;
    for (; stepsDone < due; stepsDone++) {
      carry += perSymbolPerStep;
      const count = Math.floor(carry);
      carry -= count;
      if (count === 0) continue;
      beforeStep?.(performance.now());
      sim.generate(count);
    }
  }, 5);
  return () => clearInterval(timer);
}

/** Run 1: a fixed load; latency, peak RSS and scrape latency. */
async function fixedLoad(dataDir: string): Promise<Figure[]> {
  const sim = await startBinanceSimulator({
    symbols: SYMBOLS,
    rate: 0,
    seed: 11,
    firstTradeId: FIRST_ID,
  });
  const db = new pg.Client({ connectionString: databaseUrl() });
  let app: App | undefined;
  try {
    app = await startApp(sim, dataDir);
    await db.connect();
    // `sent[symbol]` keeps (first id, send time) of each step.
    const sent = new Map<string, { firstId: number; at: number }[]>(SYMBOLS.map((s) => [s, []]));
    const start = performance.now();
    const stopPacing = pace(sim, LOAD_RATE, (at) => {
      for (const symbol of SYMBOLS) {
        sent.get(symbol)!.push({ firstId: (sim.lastTradeId(symbol) ?? 0) + 1, at });
      }
    });
    const endAt = start + LOAD_SECONDS * 1000;
    const warmEnd = start + WARMUP_SECONDS * 1000;
    const scrapes = scrapeLoop(app.url, () => performance.now() >= endAt);

    const latencies: number[] = [];
    // Per symbol: the next trade id not yet seen committed, and the step it belongs to.
    const next = new Map<string, { id: number; step: number }>(
      SYMBOLS.map((s) => [s, { id: FIRST_ID, step: 0 }]),
    );
    let generationStopped = false;
    for (;;) {
      if (!generationStopped && performance.now() >= endAt) {
        stopPacing();
        generationStopped = true;
      }
      const heads = await committedHeads(db);
      const now = performance.now();
      for (const symbol of SYMBOLS) {
        const head = heads.get(symbol)!;
        const steps = sent.get(symbol)!;
        const cursor = next.get(symbol)!;
        // Charge each newly visible trade the time since its step was sent.
        while (cursor.id <= head && cursor.step < steps.length) {
          const step = steps[cursor.step]!;
          const stepLast = (steps[cursor.step + 1]?.firstId ?? sim.lastTradeId(symbol)! + 1) - 1;
          const upTo = Math.min(stepLast, head);
          if (step.at >= warmEnd) {
            for (let id = cursor.id; id <= upTo; id++) latencies.push(now - step.at);
          }
          cursor.id = upTo + 1;
          if (upTo === stepLast) cursor.step++;
        }
      }
      if (generationStopped && SYMBOLS.every((s) => heads.get(s) === sim.lastTradeId(s))) break;
      await sleep(POLL_MS);
    }
    const scrapeTimes = await scrapes;
    const peakRss = await app.peakRssMiB();
    const lost = await verifyComplete(db, sim);
    const generated = SYMBOLS.reduce((sum, s) => sum + generatedOf(sim, s), 0);
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
    await db.end().catch(() => undefined);
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
    retain: 20_000_000,
  });
  const db = new pg.Client({ connectionString: databaseUrl() });
  let app: App | undefined;
  try {
    // The simulator generates from the moment the app subscribes; the clock
    // starts at the first trade's time.
    app = await startApp(sim, dataDir);
    await db.connect();
    const cpu0 = await appCpuSeconds(app);
    const stopPacing = SUSTAIN_RATE === 'max' ? undefined : pace(sim, SUSTAIN_RATE);
    await sleep(MAX_SECONDS * 1000);
    stopPacing?.();
    // A stall silences every connection, which stops 'max' generation after
    // flushing what was generated to the socket; the app's watchdog (30 s)
    // outlasts the drain.
    if (SUSTAIN_RATE === 'max') sim.stall(10 * 60_000);
    const generatedAt = Date.now();
    const done = await waitForHeads(db, sim);
    const cpu = (await appCpuSeconds(app)) - cpu0;
    const lost = await verifyComplete(db, sim);
    const generated = SYMBOLS.reduce((sum, s) => sum + generatedOf(sim, s), 0);
    const start = await firstTradeTime(sim);
    const seconds = (done - start) / 1000;
    await app.stop();
    app = undefined;
    return [
      {
        name: 'sustained end-to-end rate, every tick committed',
        measured: generated / seconds,
        unit: 'ticks/s',
        target: { op: '>=', value: 100_000 },
        note: `simulator rate ${SUSTAIN_RATE === 'max' ? "'max'" : `${SUSTAIN_RATE.toLocaleString('en-US')} ticks/s`}: ${generated.toLocaleString('en-US')} ticks generated in ${Math.round((generatedAt - start) / 100) / 10} s, all committed ${Math.round((done - generatedAt) / 100) / 10} s later; app CPU ${Math.round((cpu / seconds) * 100)}% of one core`,
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
        measured: lost,
        unit: 'ticks',
        target: { op: '<=', value: 0 },
      },
    ];
  } finally {
    await app?.stop();
    await db.end().catch(() => undefined);
    await sim.close();
  }
}

/** Trade time of the first trade of the first symbol, ms since the epoch (over REST: no copy of the history). */
async function firstTradeTime(sim: BinanceSimulator): Promise<number> {
  const response = await fetch(
    `${sim.restUrl}/api/v3/historicalTrades?symbol=${SYMBOLS[0]}&fromId=${FIRST_ID}&limit=1`,
  );
  const [first] = (await response.json()) as { time: number }[];
  return first!.time;
}

/** User + system CPU seconds of the app process (/proc/<pid>/stat, clock ticks of 1/100 s). */
async function appCpuSeconds(app: App): Promise<number> {
  const stat = await readFile(`/proc/${app.child.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
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
      await freshDatabase();
      await clearRedis();
      const load = await fixedLoad(await dataDir());
      await freshDatabase();
      await clearRedis();
      const max = await maxRate(await dataDir());
      return [...max, ...load];
    } finally {
      for (const dir of dirs) {
        // The spool must be empty: anything left there was not committed.
        const left = await readdir(join(dir, 'spool')).catch(() => []);
        if (left.some((f) => f.endsWith('.spool'))) console.warn(`spool not empty in ${dir}`);
        await rm(dir, { recursive: true, force: true });
      }
      await admin((client) => client.query(`drop database if exists ${DATABASE} with (force)`));
      await clearRedis();
    }
  },
};
