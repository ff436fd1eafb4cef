import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createQuote, createTick, silentLogger, type Quote, type Tick } from '@trade/core';
import { DAY_MS, dayOf, dayText } from '@trade/market-data';
import type { BacktestSummary } from '@trade/paper-engine';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBacktestCommand } from '../src/commands/backtest.js';
import { runCandlesCommand } from '../src/commands/candles.js';
import { openStorage } from '../src/storage.js';
import { launch, waitForStatus } from './support/app-process.js';
import { OwnDatabase } from './support/own-database.js';

// RETENTION_DAYS with ARCHIVE_DIR, end to end: `live` drops the days wholly
// older than the retention at start, each only once written to Parquet and
// checked; the files hold exactly the ticks and quotes stored (read by
// hyparquet, a reader independent of the DuckDB writer); `backtest` and
// `candles` answer over the dropped days as they did before.

const database = new OwnDatabase('trade_app_storage_life_test');
const SYMBOL = 'SOLUSDT';
const DAYS = 6;
const PER_DAY = 400;

async function query<T>(text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

const today = dayOf(Date.now());
const firstDay = today - DAYS;

/** Ticks over the six days before today: prices that swing, so the SMA strategy trades. */
const ticks: Tick[] = Array.from({ length: DAYS * PER_DAY }, (_, i) => {
  const day = firstDay + Math.floor(i / PER_DAY);
  const swing = Math.round(Math.sin(i / 37) * 2000);
  return createTick({
    symbol: SYMBOL,
    tradeId: 1000 + i,
    price: ((150_000 + swing) / 1000).toFixed(3),
    quantity: `0.${String(((i * 7919) % 99_999_999) + 1).padStart(8, '0')}`,
    isBuyerMaker: i % 3 === 1,
    tradeTime: day * DAY_MS + (i % PER_DAY) * 200_000 + (i % 7),
  });
});
const quotes: Quote[] = ticks
  .filter((_, i) => i % 4 === 0)
  .map((t, i) =>
    createQuote({
      symbol: SYMBOL,
      updateId: 50_000 + i,
      bidPrice: (Number(t.price) - 0.01).toFixed(3),
      bidQty: '12.5',
      askPrice: (Number(t.price) + 0.01).toFixed(3),
      askQty: `0.${i + 1}`,
      receiveTime: t.tradeTime + 1,
    }),
  );

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'trading-core-storage-life-'));
  await database.fresh();
});
afterAll(async () => {
  await database.drop();
  await rm(root, { recursive: true, force: true });
});

async function capture(run: (out: NodeJS.WritableStream) => Promise<void>): Promise<string> {
  let printed = '';
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      printed += chunk.toString();
      done();
    },
  });
  await run(out);
  return printed;
}

describe('storage over time: retention with the Parquet archive', () => {
  it('live drops only archived and checked days; backtest and candles read them from the archive', async () => {
    const dataDir = join(root, 'data');
    const archiveDir = join(root, 'archive');
    const storage = await openStorage({
      databaseUrl: database.url,
      dataDir,
      logger: silentLogger,
    });
    try {
      expect((await storage.ticks.insertTicks(ticks)).inserted).toBe(ticks.length);
      expect((await storage.quotes.insert(quotes)).inserted).toBe(quotes.length);
      await storage.candles.refreshAll();
    } finally {
      await storage.close();
    }
    const config = { databaseUrl: database.url, dataDir, archiveDir };
    const backtest = (archive: string | undefined) =>
      capture((out) =>
        runBacktestCommand({
          strategy: 'sma',
          symbol: SYMBOL,
          from: undefined,
          to: undefined,
          json: true,
          storage: { ...config, archiveDir: archive },
          logger: silentLogger,
          signal: new AbortController().signal,
          out,
        }),
      ).then((text) => JSON.parse(text) as BacktestSummary);
    const candles = () =>
      capture((out) =>
        runCandlesCommand({
          symbol: SYMBOL,
          interval: '1h',
          from: undefined,
          to: undefined,
          json: true,
          storage: config,
          logger: silentLogger,
          out,
        }),
      );
    const before = await backtest(undefined);
    expect(before.ticks).toBe(ticks.length);
    expect(before.trades).toBeGreaterThan(0);
    const candlesBefore = await candles();

    // Three days kept: the days before today-3 are wholly older than now minus 3 days.
    const app = launch(['live', '--sim', '--sim-rate', '50'], {
      DATA_DIR: dataDir,
      DATABASE_URL: database.url,
      SYMBOLS: 'BNBUSDT',
      RETENTION_DAYS: '3',
      ARCHIVE_DIR: archiveDir,
    });
    const pass = await app.waitForLog(/^storage pass done/);
    const droppedDays = [firstDay, firstDay + 1, firstDay + 2].map(dayText);
    expect(pass.dropped).toBe(droppedDays.length * 2);
    expect(pass.failed).toBe(0);
    const url = await app.metricsUrl();
    await waitForStatus(`${url}/ready`, 200);
    const exposition = await (await fetch(`${url}/metrics`)).text();
    expect(exposition).toContain(
      `trading_storage_oldest_day_timestamp_seconds{table="tick_data"} ${((firstDay + 3) * DAY_MS) / 1000}`,
    );
    expect(exposition).toMatch(/trading_storage_partitions\{table="quote_data"\} \d+/);
    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(0);

    // The database holds the kept days whole and nothing of the dropped ones.
    const perDay = await query<{ day: string; n: string }>(
      `select to_char("timestamp" at time zone 'UTC', 'YYYY-MM-DD') as day, count(*)::text as n
       from tick_data where symbol = '${SYMBOL}' group by 1 order by 1`,
    );
    expect(perDay).toEqual(
      [3, 4, 5].map((d) => ({ day: dayText(firstDay + d), n: String(PER_DAY) })),
    );

    // Each dropped day is in the archive, one file per table, day and symbol, and a second
    // reader finds exactly the ticks and quotes that were stored, field by field.
    expect((await readdir(join(archiveDir, 'tick_data'))).sort()).toEqual(droppedDays);
    for (const day of droppedDays) {
      expect(await readdir(join(archiveDir, 'tick_data', day))).toEqual([`${SYMBOL}.parquet`]);
      const rows = await readParquet(join(archiveDir, 'tick_data', day, `${SYMBOL}.parquet`));
      const truth = ticks.filter((t) => dayText(dayOf(t.tradeTime)) === day);
      expect(rows.map(tickOfRow)).toEqual(truth.map(storedTick));
      const quoteRows = await readParquet(join(archiveDir, 'quote_data', day, `${SYMBOL}.parquet`));
      const quoteTruth = quotes.filter((q) => dayText(dayOf(q.receiveTime)) === day);
      expect(quoteRows.map(quoteOfRow)).toEqual(quoteTruth.map(storedQuote));
    }

    // Backtests and candles read the archived days as if they were stored.
    expect(await backtest(archiveDir)).toEqual(before);
    expect((await backtest(undefined)).ticks).toBe(3 * PER_DAY);
    expect(await candles()).toBe(candlesBefore);
  });
});

async function readParquet(path: string): Promise<Record<string, unknown>[]> {
  const file = await asyncBufferFromFile(path);
  return parquetReadObjects({ file, compressors });
}

/** A decimal as its exact value, for comparing text and numbers alike: no trailing zeros. */
const exact = (value: unknown): string => {
  const text = typeof value === 'number' ? value.toFixed(8) : String(value);
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
};

const int = (value: unknown) => Number(value);

const tickOfRow = (r: Record<string, unknown>) => ({
  symbol: String(r.symbol),
  tradeId: int(r.trade_id),
  price: exact(r.price),
  quantity: exact(r.quantity),
  isBuyerMaker: r.is_buyer_maker,
  tradeTime: int(r.timestamp_ms),
});
const storedTick = (t: Tick) => ({
  symbol: t.symbol,
  tradeId: t.tradeId,
  price: exact(t.price),
  quantity: exact(t.quantity),
  isBuyerMaker: t.isBuyerMaker,
  tradeTime: t.tradeTime,
});
const quoteOfRow = (r: Record<string, unknown>) => ({
  symbol: String(r.symbol),
  updateId: int(r.update_id),
  bid: [exact(r.bid_price), exact(r.bid_qty)],
  ask: [exact(r.ask_price), exact(r.ask_qty)],
  receiveTime: int(r.timestamp_ms),
});
const storedQuote = (q: Quote) => ({
  symbol: q.symbol,
  updateId: q.updateId,
  bid: [exact(q.bidPrice), exact(q.bidQty)],
  ask: [exact(q.askPrice), exact(q.askQty)],
  receiveTime: q.receiveTime,
});
