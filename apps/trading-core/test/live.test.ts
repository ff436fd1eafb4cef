import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, sample, waitForStatus } from './support/app-process.js';

// Every command that touches the database runs as a process, as an operator
// runs it, on both backends: PostgreSQL (DATABASE_URL) and embedded PGlite.

const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DATABASE = 'trade_app_live_test';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Where the app stores, and how the test reads what it stored once the app has exited. */
interface Backend {
  readonly name: string;
  readonly env: (dataDir: string) => Record<string, string>;
  /** Rows of one table per symbol: count, lowest and highest trade id. */
  readonly query: <T>(dataDir: string, sql: string) => Promise<T[]>;
  readonly prepare: () => Promise<void>;
}

// The password is ignored by the trust auth here, and must never be printed.
const PASSWORD = 'pw-never-shown-9431';

function postgresUrl(): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${DATABASE}`;
  url.username = url.username || 'postgres';
  url.password = PASSWORD;
  return url.toString();
}

const BACKENDS: Backend[] = [
  {
    name: 'embedded PGlite',
    env: (dataDir) => ({ DATA_DIR: dataDir }),
    async query<T>(dataDir: string, sql: string) {
      const db = await PGlite.create(join(dataDir, 'pglite'));
      try {
        return (await db.query<T>(sql)).rows;
      } finally {
        await db.close();
      }
    },
    prepare: () => Promise.resolve(),
  },
  {
    name: 'PostgreSQL',
    env: (dataDir) => ({ DATA_DIR: dataDir, DATABASE_URL: postgresUrl(), REDIS_URL }),
    async query<T>(_dataDir: string, sql: string) {
      const db = new pg.Client({ connectionString: postgresUrl() });
      await db.connect();
      try {
        return (await db.query(sql)).rows as T[];
      } finally {
        await db.end();
      }
    },
    async prepare() {
      const admin = new pg.Client({ connectionString: ADMIN_URL });
      await admin.connect();
      await admin.query(`drop database if exists ${DATABASE} with (force)`);
      await admin.query(`create database ${DATABASE}`);
      await admin.end();
      const redis = new Redis(REDIS_URL);
      await redis.del('tick:SOLUSDT', 'tick:BNBUSDT');
      redis.disconnect();
    },
  },
];

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'trading-core-live-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function runUntil(args: string[], env: Record<string, string>, ticks: number) {
  const run = launch(args, env);
  const url = await run.metricsUrl();
  await waitForStatus(`${url}/ready`, 200);
  while ((await sample(url, 'trading_ticks_processed_total')) < ticks) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const exposition = await (await fetch(`${url}/metrics`)).text();
  run.child.kill('SIGTERM');
  expect(await run.exited).toBe(0);
  expect(run.logs().find((r) => r.msg === 'stopped')).toBeDefined();
  return { run, exposition };
}

/** Everything a process printed: it must never hold the password. */
function printed(run: ReturnType<typeof launch>): string {
  const { stdout, stderr } = run.output();
  return stdout + stderr;
}

describe.each(BACKENDS)('trading-core commands on $name', (backend) => {
  it('live --sim stores every tick once and trades; migrate and backtest run on what it stored', async () => {
    await backend.prepare();
    const dataDir = join(root, backend.name.replace(/\W/g, ''));
    const env: Record<string, string> = { ...backend.env(dataDir), SYMBOLS: 'SOLUSDT,BNBUSDT' };
    const first = await runUntil(
      ['live', '--paper-trading', '--sim', '--sim-rate', '300'],
      env,
      500,
    );
    const logs = first.run.logs();
    expect(logs.some((r) => String(r.msg).startsWith('SIMULATED exchange'))).toBe(true);
    const started = logs.find((r) => String(r.msg).startsWith('metrics served on'));
    expect(started).toMatchObject({ paperTrading: 'sma' });
    expect(started!.database).toBe(
      env.DATABASE_URL
        ? `postgres://postgres:***@127.0.0.1:5432/${DATABASE}`
        : `embedded PGlite in ${join(dataDir, 'pglite')}`,
    );
    expect(started!.cache).toBe(env.REDIS_URL ? REDIS_URL : 'memory');

    type Range = { symbol: string; n: string; lo: string; hi: string };
    const ranges = (after: Record<string, number> = {}) => {
      const newer = Object.entries(after).map(
        ([symbol, id]) => `(symbol = '${symbol}' and trade_id > ${id})`,
      );
      return backend.query<Range>(
        dataDir,
        `select symbol, count(*)::text as n, min(trade_id)::text as lo, max(trade_id)::text as hi
           from tick_data where ${newer.length > 0 ? newer.join(' or ') : 'true'}
          group by symbol order by symbol`,
      );
    };
    const firstRun = await ranges();
    expect(firstRun.map((r) => r.symbol)).toEqual(['BNBUSDT', 'SOLUSDT']);
    // Consecutive ids, no hole and no repeat: every trade the stream sent is there once.
    for (const row of firstRun) expect(Number(row.hi) - Number(row.lo) + 1).toBe(Number(row.n));

    // A restart on the same data: a fresh simulator continues after the stored trade ids.
    const second = await runUntil(['live', '--sim', '--sim-rate', '300'], env, 200);
    const firstMax = Object.fromEntries(firstRun.map((r) => [r.symbol, Number(r.hi)]));
    const secondRun = await ranges(firstMax);
    expect(secondRun.map((r) => r.symbol)).toEqual(['BNBUSDT', 'SOLUSDT']);
    for (const row of secondRun) expect(Number(row.hi) - Number(row.lo) + 1).toBe(Number(row.n));

    // Live made the one-minute candles of its ticks true when it stopped (migrate, below, would too).
    const candles = launch(['candles', '--symbol', 'solusdt', '--interval', '1m', '--json'], env);
    expect(await candles.exited).toBe(0);
    const read = JSON.parse(candles.output().stdout) as {
      candles: { openTime: number; trades: number }[];
    };
    expect(read.candles.reduce((sum, c) => sum + c.trades, 0)).toBe(
      [...firstRun, ...secondRun]
        .filter((r) => r.symbol === 'SOLUSDT')
        .reduce((sum, r) => sum + Number(r.n), 0),
    );
    expect(read.candles.every((c) => c.openTime % 60_000 === 0)).toBe(true);

    const migrate = launch(['migrate'], env);
    expect(await migrate.exited).toBe(0);
    expect(migrate.logs().find((r) => r.msg === 'database migrated')).toMatchObject({
      applied: [],
    });
    const stored = (symbol: string) =>
      [...firstRun, ...secondRun]
        .filter((r) => r.symbol === symbol)
        .reduce((sum, r) => sum + Number(r.n), 0);
    const fills = await backend.query<{ n: string }>(
      dataDir,
      'select count(*)::text as n from paper_trades',
    );
    expect(Number(fills[0]!.n)).toBeGreaterThan(0);

    const backtest = launch(
      ['backtest', '--strategy', 'sma', '--symbol', 'solusdt', '--json'],
      env,
    );
    expect(await backtest.exited).toBe(0);
    const summary = JSON.parse(backtest.output().stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({
      strategy: 'sma',
      symbols: ['SOLUSDT'],
      ticksSkipped: 0,
      aborted: false,
      // Every stored tick of the symbol, read back by the backtest.
      ticks: stored('SOLUSDT'),
    });
    expect(summary.sharpe).toMatchObject({ period: 'hour' });

    const text = launch(['backtest', '--strategy', 'rsi', '--symbol', 'BNBUSDT'], env);
    expect(await text.exited).toBe(0);
    expect(text.output().stdout).toMatch(/^backtest rsi on BNBUSDT\n {2}period /);
    expect(text.output().stdout).toContain('  max drawdown  ');

    for (const run of [first.run, second.run, candles, migrate, backtest, text]) {
      expect(printed(run)).not.toContain(PASSWORD);
    }
    expect(first.exposition).not.toContain(PASSWORD);

    if (env.REDIS_URL) {
      const redis = new Redis(REDIS_URL);
      try {
        expect(await redis.llen('tick:SOLUSDT')).toBeGreaterThan(0);
      } finally {
        await redis.del('tick:SOLUSDT', 'tick:BNBUSDT');
        redis.disconnect();
      }
    }
  });
});
