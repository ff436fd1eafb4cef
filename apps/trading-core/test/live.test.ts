import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, sample, waitForStatus } from './support/app-process.js';

const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DATABASE = 'trade_app_live_test';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'trading-core-live-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function runUntil(args: string[], env: Record<string, string>, ticks: number) {
  const run = launch(args, env);
  const url = await run.metricsUrl();
  await waitForStatus(`${url}/ready`, 200);
  while ((await sample(url, 'trading_ticks_processed_total')) < ticks) {
    await new Promise((r) => setTimeout(r, 100));
  }
  run.child.kill('SIGTERM');
  expect(await run.exited).toBe(0);
  const stopped = run.logs().find((r) => r.msg === 'stopped');
  expect(stopped).toBeDefined();
  return { run, stored: Number(stopped!.stored) };
}

describe('trading-core live --sim', () => {
  it('runs the whole pipeline on embedded defaults, then backtests what it stored', async () => {
    const env = { DATA_DIR: dataDir, SYMBOLS: 'BTCUSDT,ETHUSDT' };
    const { run, stored } = await runUntil(
      ['live', '--paper-trading', '--sim', '--sim-rate', '200'],
      env,
      300,
    );
    expect(stored).toBeGreaterThanOrEqual(300);
    const logs = run.logs();
    expect(logs.some((r) => String(r.msg).startsWith('SIMULATED exchange'))).toBe(true);
    expect(logs.find((r) => String(r.msg).startsWith('metrics served on'))).toMatchObject({
      database: `embedded PGlite in ${join(dataDir, 'pglite')}`,
      cache: 'memory',
      paperTrading: 'sma',
    });

    // A restart on the same data directory continues after the stored trade ids.
    const again = await runUntil(['live', '--sim', '--sim-rate', '200'], env, 100);
    expect(again.stored).toBeGreaterThanOrEqual(100);

    const migrate = launch(['migrate'], env);
    expect(await migrate.exited).toBe(0);

    const backtest = launch(
      ['backtest', '--strategy', 'sma', '--symbol', 'btcusdt', '--json'],
      env,
    );
    expect(await backtest.exited).toBe(0);
    const summary = JSON.parse(backtest.output().stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({
      strategy: 'sma',
      symbols: ['BTCUSDT'],
      ticksSkipped: 0,
      aborted: false,
    });
    expect(summary.ticks).toBeGreaterThan(100);
    expect(summary.sharpe).toMatchObject({ period: 'hour' });

    const text = launch(['backtest', '--strategy', 'rsi', '--symbol', 'ETHUSDT'], env);
    expect(await text.exited).toBe(0);
    expect(text.output().stdout).toMatch(/^backtest rsi on ETHUSDT\n {2}period /);
    expect(text.output().stdout).toContain('  max drawdown  ');
  });

  it('stores every tick exactly once in PostgreSQL and fills Redis and paper_trades', async () => {
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`drop database if exists ${DATABASE} with (force)`);
    await admin.query(`create database ${DATABASE}`);
    await admin.end();
    const databaseUrl = new URL(ADMIN_URL);
    databaseUrl.pathname = `/${DATABASE}`;
    const redis = new Redis(REDIS_URL);
    await redis.del('tick:SOLUSDT', 'tick:BNBUSDT');
    const db = new pg.Client({ connectionString: databaseUrl.toString() });
    try {
      const { run, stored } = await runUntil(
        ['live', '--paper-trading', '--sim', '--sim-rate', '300', '--symbols', 'SOLUSDT,BNBUSDT'],
        { DATA_DIR: join(dataDir, 'pg'), DATABASE_URL: databaseUrl.toString(), REDIS_URL },
        500,
      );
      expect(run.output().stdout).toContain(`postgres://postgres@127.0.0.1:5432/${DATABASE}`);

      await db.connect();
      const { rows } = await db.query<{ symbol: string; n: string; lo: string; hi: string }>(
        'select symbol, count(*) as n, min(trade_id) as lo, max(trade_id) as hi from tick_data group by symbol order by symbol',
      );
      expect(rows.map((r) => r.symbol)).toEqual(['BNBUSDT', 'SOLUSDT']);
      // Consecutive ids, no hole and no repeat: every trade the stream sent is there once.
      for (const row of rows) expect(Number(row.hi) - Number(row.lo) + 1).toBe(Number(row.n));
      expect(rows.reduce((sum, r) => sum + Number(r.n), 0)).toBe(stored);

      const fills = await db.query<{ n: string }>('select count(*) as n from paper_trades');
      expect(Number(fills.rows[0]!.n)).toBeGreaterThan(0);

      expect(await redis.llen('tick:SOLUSDT')).toBeGreaterThan(0);
    } finally {
      await db.end().catch(() => undefined);
      await redis.del('tick:SOLUSDT', 'tick:BNBUSDT');
      redis.disconnect();
    }
  });
});
