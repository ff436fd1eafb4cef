import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBinanceSimulator, type BinanceSimulator } from '@trade/exchange-binance/sim';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { TcpProxy } from '@trade/test-support';
import {
  killLaunched,
  launch,
  sample,
  waitForStatus,
  type AppProcess,
} from '../support/app-process.js';

export { TcpProxy };

// Shared by the fault scenarios: the app runs as its own process against a
// simulator in the test process (which holds the ground truth and injects
// the faults), real PostgreSQL and real Redis.

export const ADMIN_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const DATABASE = 'trade_app_faults_test';

const adminUrl = new URL(ADMIN_URL);
export const PG_HOST = adminUrl.hostname;
export const PG_PORT = Number(adminUrl.port || 5432);
const redisUrl = new URL(REDIS_URL);
export const REDIS_HOST = redisUrl.hostname;
export const REDIS_PORT = Number(redisUrl.port || 6379);

/** The URL of the fault suite's database on `host:port` (the server, or a proxy in front of it). */
export function databaseUrl(port = PG_PORT, host = PG_HOST): string {
  const url = new URL(ADMIN_URL);
  url.hostname = host;
  url.port = String(port);
  url.pathname = `/${DATABASE}`;
  return url.toString();
}

/** Drops and creates the suite's database: each file starts from nothing. */
export async function createDatabase(): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${DATABASE} with (force)`);
    await admin.query(`create database ${DATABASE}`);
  } finally {
    await admin.end();
  }
}

export async function dropDatabase(): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${DATABASE} with (force)`);
  } finally {
    await admin.end();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it holds; gives up with `what` after `timeoutMs` (a hang, not a speed limit). */
export async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * The simulator with generation driven by the test (`rate: 0` plus a timer),
 * so a scenario can stop the stream and let the app catch up before the
 * ground truth is compared.
 */
export interface Exchange {
  readonly sim: BinanceSimulator;
  /** Starts generating `perSecond` trades per symbol per second. */
  run(perSecond: number): void;
  /** Stops generating. */
  pause(): void;
  /** Every trade generated so far, all symbols. */
  truthCount(): number;
  close(): Promise<void>;
}

export async function startExchange(symbols: readonly string[], seed: number): Promise<Exchange> {
  const sim = await startBinanceSimulator({ symbols, rate: 0, seed, host: '127.0.0.1' });
  let timer: NodeJS.Timeout | undefined;
  const exchange: Exchange = {
    sim,
    run(perSecond) {
      exchange.pause();
      const every = 20;
      let carry = 0;
      timer = setInterval(() => {
        carry += (perSecond * every) / 1000;
        const count = Math.floor(carry);
        carry -= count;
        if (count > 0) sim.generate(count);
      }, every);
    },
    pause() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    truthCount: () => symbols.reduce((sum, s) => sum + sim.truth(s).length, 0),
    async close() {
      exchange.pause();
      await sim.close();
    },
  };
  return exchange;
}

/**
 * One run of the app pointed at `exchange`, with its metrics URL once ready.
 * Start generating after the first run is ready: with nothing stored, the app
 * has no position to resume from, so trades sent before it subscribed are
 * not its to store.
 */
export interface RunningApp {
  readonly app: AppProcess;
  readonly url: string;
  /** A sample of the app's exposition, e.g. `trading_ws_reconnects_total`. */
  metric(name: string): Promise<number>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export async function startApp(
  exchange: Exchange,
  options: {
    symbols: readonly string[];
    dataDir: string;
    databaseUrl: string;
    env?: Record<string, string>;
  },
): Promise<RunningApp> {
  const app = launch(['live', '--paper-trading'], {
    SYMBOLS: options.symbols.join(','),
    BINANCE_WS_URL: exchange.sim.url,
    BINANCE_REST_URL: exchange.sim.restUrl,
    DATABASE_URL: options.databaseUrl,
    REDIS_URL,
    DATA_DIR: options.dataDir,
    ...options.env,
  });
  const url = await app.metricsUrl();
  await waitForStatus(`${url}/ready`, 200);
  return {
    app,
    url,
    metric: (name) => sample(url, name),
    stop() {
      app.child.kill('SIGTERM');
      return app.exited;
    },
  };
}

export function tempDataDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'trading-core-faults-'));
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true });
}

/** What a fault scenario starts; each is released after its test. */
export interface FaultScenario {
  /** A simulated exchange for `symbols`, seeded, closed after the test. */
  exchange(symbols: readonly string[], seed: number): Promise<Exchange>;
  /** A fresh data directory, removed after the test. */
  dataDir(): Promise<string>;
  /** A proxy to a store, stopped after the test (start it yourself). */
  proxy(targetPort: number, targetHost: string): TcpProxy;
  /** Runs `release` after the test, before what was started earlier is released. */
  release(release: () => Promise<void>): void;
}

/**
 * The hooks every fault file needs, registered once: the database created
 * before the file and dropped after it; after each test, app processes left
 * behind killed, what the scenario started released, and the Redis keys of
 * `symbols` cleared.
 */
export function faultScenario(symbols: readonly string[]): FaultScenario {
  const releases: (() => Promise<void>)[] = [];
  beforeAll(createDatabase);
  afterEach(async () => {
    // Before what the scenario started is released under it.
    await killLaunched();
    for (const release of releases.splice(0).reverse()) await release();
    await clearRedis(symbols);
  });
  afterAll(dropDatabase);
  return {
    async exchange(exchangeSymbols, seed) {
      const exchange = await startExchange(exchangeSymbols, seed);
      releases.push(() => exchange.close());
      return exchange;
    },
    async dataDir() {
      const dir = await tempDataDir();
      releases.push(() => removeDir(dir));
      return dir;
    },
    proxy(targetPort, targetHost) {
      const proxy = new TcpProxy(targetPort, targetHost);
      releases.push(() => proxy.stop());
      return proxy;
    },
    release(release) {
      releases.push(release);
    },
  };
}

/** Deletes the `tick:<SYMBOL>` keys of `symbols`. */
export async function clearRedis(symbols: readonly string[]): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    await redis.del(...symbols.map((s) => `tick:${s}`));
  } finally {
    redis.disconnect();
  }
}

/** Rows of `tick_data` for `symbols`. */
export async function storedCount(symbols: readonly string[]): Promise<number> {
  const db = new pg.Client({ connectionString: databaseUrl() });
  await db.connect();
  try {
    const { rows } = await db.query<{ n: string }>(
      'select count(*) as n from tick_data where symbol = any($1)',
      [symbols],
    );
    return Number(rows[0]!.n);
  } finally {
    await db.end();
  }
}

/** What {@link compareWithTruth} found. */
export interface Comparison {
  /** Trades the simulator generated. */
  readonly expected: number;
  /** Rows in tick_data. */
  readonly stored: number;
  /** Trades with no row. */
  readonly lost: number;
  /** Rows beyond the first of a (symbol, trade id). */
  readonly duplicated: number;
  /** Rows whose price, quantity, side, maker flag or time differ from the trade. */
  readonly mismatched: number;
  /** Rows of trades the simulator never generated. */
  readonly unknown: number;
  /** The first differing row and its trade, for the failure message. */
  readonly firstMismatch?: { stored: unknown; truth: unknown };
  /** Ids of the lost trades per symbol (at most 1000 each). */
  readonly lostIds: Record<string, number[]>;
}

/**
 * Compares tick_data with the simulator's ground truth, field by field.
 * `numeric` without a declared scale keeps the scale it is given, and the
 * repository stores the wire's decimal strings as they are, so `price::text`
 * must equal the simulator's 8-decimal string character for character.
 */
export async function compareWithTruth(
  sim: BinanceSimulator,
  symbols: readonly string[],
  /** Compare only the trades up to this id per symbol (rows beyond count as unknown). */
  upTo: Readonly<Record<string, number>> = {},
): Promise<Comparison> {
  const db = new pg.Client({ connectionString: databaseUrl() });
  await db.connect();
  let rows: {
    symbol: string;
    trade_id: string;
    price: string;
    quantity: string;
    side: string;
    is_buyer_maker: boolean;
    time_ms: string;
  }[];
  try {
    ({ rows } = await db.query(
      `select symbol, trade_id::text as trade_id, price::text as price, quantity::text as quantity,
              side, is_buyer_maker, (extract(epoch from timestamp) * 1000)::bigint::text as time_ms
         from tick_data where symbol = any($1) order by symbol, trade_id`,
      [symbols],
    ));
  } finally {
    await db.end();
  }
  const seen = new Set<string>();
  let duplicated = 0;
  let mismatched = 0;
  let unknown = 0;
  let expected = 0;
  let firstMismatch: Comparison['firstMismatch'];
  const truthByKey = new Map<string, ReturnType<BinanceSimulator['truth']>[number]>();
  for (const symbol of symbols) {
    const last = upTo[symbol] ?? Number.POSITIVE_INFINITY;
    for (const trade of sim.truth(symbol)) {
      if (trade.id > last) break;
      truthByKey.set(`${symbol}:${trade.id}`, trade);
      expected++;
    }
  }
  for (const row of rows) {
    const key = `${row.symbol}:${row.trade_id}`;
    if (seen.has(key)) {
      duplicated++;
      continue;
    }
    seen.add(key);
    const trade = truthByKey.get(key);
    if (!trade) {
      unknown++;
      continue;
    }
    const same =
      row.price === trade.price &&
      row.quantity === trade.quantity &&
      row.is_buyer_maker === trade.isBuyerMaker &&
      row.side === (trade.isBuyerMaker ? 'SELL' : 'BUY') &&
      row.time_ms === String(trade.time);
    if (!same) {
      mismatched++;
      firstMismatch ??= { stored: row, truth: trade };
    }
  }
  const lostIds: Record<string, number[]> = {};
  let lost = 0;
  for (const [key, trade] of truthByKey) {
    if (seen.has(key)) continue;
    lost++;
    const list = (lostIds[trade.symbol] ??= []);
    if (list.length < 1000) list.push(trade.id);
  }
  return {
    expected,
    stored: rows.length,
    lost,
    duplicated,
    mismatched,
    unknown,
    ...(firstMismatch ? { firstMismatch } : {}),
    lostIds,
  };
}

/** The comparison every scenario ends with: nothing lost, nothing twice, every value exact. */
export const EXACT = { lost: 0, duplicated: 0, mismatched: 0, unknown: 0 } as const;

/**
 * Stops generating, waits until the app has stored every trade, stops it
 * (SIGTERM, exit 0) and returns the comparison with the ground truth.
 */
export async function settle(
  exchange: Exchange,
  run: RunningApp,
  symbols: readonly string[],
): Promise<{ comparison: Comparison; exitCode: number | null }> {
  exchange.pause();
  try {
    await until(
      `the app to store all ${exchange.truthCount()} trades`,
      async () => (await storedCount(symbols)) >= exchange.truthCount(),
      45_000,
    );
  } catch (error) {
    const comparison = await compareWithTruth(exchange.sim, symbols);
    throw new Error(`${(error as Error).message}: ${JSON.stringify(comparison)}`);
  }
  const exitCode = await run.stop();
  return { comparison: await compareWithTruth(exchange.sim, symbols), exitCode };
}

/** The newest stored trade id of each of `symbols` that has rows. */
export async function storedMax(symbols: readonly string[]): Promise<Record<string, number>> {
  const db = new pg.Client({ connectionString: databaseUrl() });
  await db.connect();
  try {
    const { rows } = await db.query<{ symbol: string; hi: string }>(
      'select symbol, max(trade_id)::text as hi from tick_data where symbol = any($1) group by symbol',
      [symbols],
    );
    return Object.fromEntries(rows.map((r) => [r.symbol, Number(r.hi)]));
  } finally {
    await db.end();
  }
}
