import { createQuote, createTick, silentLogger, type Quote, type Tick } from '@trade/core';
import { createTradingMetrics } from '@trade/metrics';
import { Migrator, sql, type Kysely } from 'kysely';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CandleRepository,
  DAY_MS,
  dayOf,
  dayText,
  listPartitions,
  migrateToLatest,
  partitionName,
  QuoteRepository,
  StorageRetention,
  TickRepository,
  type DayArchive,
  type MarketDataDatabase,
} from '../src/index.js';
import { MIGRATIONS } from '../src/migrations.js';
import { openDatabase, type BackendName, type Database } from './scratch-database.js';

const DAY0 = dayOf(Date.parse('2024-03-01T00:00:00Z'));

/** `perDay` ticks of `symbol` on each of `days` days from DAY0, ids rising, decimals varied. */
function ticksOverDays(symbol: string, days: number, perDay: number): Tick[] {
  const ticks: Tick[] = [];
  for (let d = 0; d < days; d++) {
    for (let i = 0; i < perDay; i++) {
      const id = d * perDay + i + 1;
      // Spread over the day, the first and last millisecond included.
      const offset = i === perDay - 1 ? DAY_MS - 1 : Math.floor((i * DAY_MS) / perDay);
      ticks.push(
        createTick({
          symbol,
          tradeId: id,
          price: `${(40_000 + ((id * 7919) % 5000)).toString()}.${String(id % 100000000).padStart(8, '0')}`,
          quantity: `0.${String(((id * 104729) % 99999999) + 1).padStart(8, '0')}`,
          isBuyerMaker: id % 3 === 0,
          tradeTime: (DAY0 + d) * DAY_MS + offset,
        }),
      );
    }
  }
  return ticks;
}

function quotesOverDays(symbol: string, days: number, perDay: number): Quote[] {
  const quotes: Quote[] = [];
  for (let d = 0; d < days; d++) {
    for (let i = 0; i < perDay; i++) {
      const id = d * perDay + i + 1;
      quotes.push(
        createQuote({
          symbol,
          updateId: id,
          bidPrice: `${100 + (id % 50)}.${String(id).padStart(4, '0')}`,
          bidQty: `${id % 17}.5`,
          askPrice: `${101 + (id % 50)}.${String(id).padStart(4, '0')}`,
          askQty: `0.000${id}`,
          receiveTime: (DAY0 + d) * DAY_MS + Math.floor((i * DAY_MS) / perDay),
        }),
      );
    }
  }
  return quotes;
}

/** Every row of `table` as text, in key order: what "every row kept" compares. */
async function allRows(db: Kysely<MarketDataDatabase>, table: string): Promise<string[]> {
  const { rows } = await sql<{ row: string }>`
    select t::text as row from ${sql.table(table)} t order by 1`.execute(db);
  return rows.map((r) => r.row);
}

async function totals(db: Kysely<MarketDataDatabase>, table: string, sums: string[]) {
  const { rows } = await sql<Record<string, string>>`
    select count(*)::text as rows, ${sql.raw(sums.map((c) => `sum(${c})::text as ${c}`).join(', '))}
    from ${sql.table(table)}`.execute(db);
  return rows[0];
}

async function migrateUpTo(db: Kysely<MarketDataDatabase>, last: string): Promise<void> {
  const older = Object.fromEntries(Object.entries(MIGRATIONS).filter(([key]) => key <= last));
  const { error } = await new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(older) },
  }).migrateToLatest();
  expect(error).toBeUndefined();
}

/** Counts per UTC day of `table`'s rows. */
async function rowsPerDay(db: Kysely<MarketDataDatabase>, table: string) {
  const { rows } = await sql<{ day: string; n: string }>`
    select to_char("timestamp" at time zone 'UTC', 'YYYY-MM-DD') as day, count(*)::text as n
    from ${sql.table(table)} group by 1 order by 1`.execute(db);
  return Object.fromEntries(rows.map((r) => [r.day, Number(r.n)]));
}

describe.each<BackendName>(['postgresql', 'pglite'])('daily partitions on %s', (name) => {
  let database: Database | undefined;
  afterEach(async () => {
    await database?.close();
    database = undefined;
  });

  it('migrates tick_data and quote_data holding 40 days into daily partitions, every row kept', async () => {
    database = await openDatabase(name);
    const { db } = database;
    await migrateUpTo(db, '0007_candles_1m');
    const ticks = [...ticksOverDays('BTCUSDT', 40, 60), ...ticksOverDays('ETHUSDT', 40, 25)];
    const quotes = quotesOverDays('BTCUSDT', 40, 20);
    expect((await new TickRepository(db).insertTicks(ticks)).inserted).toBe(ticks.length);
    expect((await new QuoteRepository(db).insert(quotes)).inserted).toBe(quotes.length);
    const tickRows = await allRows(db, 'tick_data');
    const quoteRows = await allRows(db, 'quote_data');
    const tickTotals = await totals(db, 'tick_data', ['price', 'quantity', 'trade_id']);
    const quoteTotals = await totals(db, 'quote_data', ['bid_price', 'ask_qty', 'update_id']);

    expect(await migrateToLatest(db)).toEqual(['0008_daily_partitions']);

    expect(await allRows(db, 'tick_data')).toEqual(tickRows);
    expect(await allRows(db, 'quote_data')).toEqual(quoteRows);
    expect(await totals(db, 'tick_data', ['price', 'quantity', 'trade_id'])).toEqual(tickTotals);
    expect(await totals(db, 'quote_data', ['bid_price', 'ask_qty', 'update_id'])).toEqual(
      quoteTotals,
    );
    expect(tickTotals?.rows).toBe(String(ticks.length));
    const today = dayOf(Date.now());
    const expectedDays = [...Array.from({ length: 40 }, (_, d) => DAY0 + d), today, today + 1];
    for (const table of ['tick_data', 'quote_data'] as const) {
      expect((await listPartitions(db, table)).map((p) => p.day)).toEqual(expectedDays);
    }
    // Each row sits in the partition of its UTC day.
    const { rows: misplaced } = await sql<{ n: string }>`
      select count(*)::text as n from tick_data
      where tableoid::regclass::text <> 'tick_data_' || to_char("timestamp" at time zone 'UTC', 'YYYYMMDD')`.execute(
      db,
    );
    expect(misplaced[0]!.n).toBe('0');
    // The new unique key still stores a repeated trade once.
    const again = await new TickRepository(db).insertTicks(ticks.slice(0, 500));
    expect(again).toEqual({ inserted: 0, duplicates: 500, rejected: [] });
    expect(await allRows(db, 'tick_data')).toEqual(tickRows);
  });

  it('makes the partition of any day a tick or quote needs, and again after it was dropped', async () => {
    database = await openDatabase(name);
    const { db } = database;
    await migrateToLatest(db);
    const ticks = new TickRepository(db);
    const at = (iso: string, tradeId: number) =>
      createTick({
        symbol: 'BTCUSDT',
        tradeId,
        price: '1.5',
        quantity: '2',
        isBuyerMaker: false,
        tradeTime: Date.parse(iso),
      });
    const batch = [
      at('2019-01-01T00:00:00.000Z', 1),
      at('2019-01-01T23:59:59.999Z', 2),
      at('2031-07-04T12:00:00Z', 3),
      at(new Date().toISOString(), 4),
    ];
    expect(await ticks.insertTicks(batch)).toEqual({ inserted: 4, duplicates: 0, rejected: [] });
    const days = (await listPartitions(db, 'tick_data')).map((p) => dayText(p.day));
    expect(days).toEqual(expect.arrayContaining(['2019-01-01', '2031-07-04']));
    expect(days).not.toContain('2019-01-02');

    // Dropped behind the repository's back (retention in another process): made again.
    await sql`drop table tick_data_20190101`.execute(db);
    const late = [at('2019-01-01T10:00:00Z', 5)];
    expect(await ticks.insertTicks(late)).toEqual({ inserted: 1, duplicates: 0, rejected: [] });
    expect(await rowsPerDay(db, 'tick_data')).toMatchObject({ '2019-01-01': 1 });

    const quotes = new QuoteRepository(db);
    const old = createQuote({
      symbol: 'BTCUSDT',
      updateId: 9,
      bidPrice: '1',
      bidQty: '1',
      askPrice: '2',
      askQty: '1',
      receiveTime: Date.parse('2020-02-29T12:00:00Z'),
    });
    expect((await quotes.insert([old])).inserted).toBe(1);
    expect((await listPartitions(db, 'quote_data')).map((p) => dayText(p.day))).toContain(
      '2020-02-29',
    );
  });

  it('drops exactly the days wholly older than the retention, after making their candles true', async () => {
    database = await openDatabase(name);
    const { db } = database;
    await migrateToLatest(db);
    const ticks = ticksOverDays('BTCUSDT', 6, 48);
    const quotes = quotesOverDays('BTCUSDT', 6, 10);
    await new TickRepository(db).insertTicks(ticks);
    await new QuoteRepository(db).insert(quotes);
    const candles = new CandleRepository(db);
    const registry = new Registry();
    const metrics = createTradingMetrics({ registry, runtimeMetrics: false });
    // Now is 10:00 on the sixth day: with 3 days kept, the cutoff is 10:00 on the third,
    // so the first two days (wholly older) go and the third (partly newer) stays.
    const now = (DAY0 + 5) * DAY_MS + 10 * 3_600_000;
    const retention = new StorageRetention({
      db,
      logger: silentLogger,
      retentionDays: 3,
      candles,
      metrics,
      now: () => now,
    });
    const report = await retention.run();
    const dropped = [dayText(DAY0), dayText(DAY0 + 1)];
    expect(report.dropped).toEqual([
      ...dropped.map((day) => ({ table: 'tick_data', day })),
      ...dropped.map((day) => ({ table: 'quote_data', day })),
    ]);
    expect(report.failed).toEqual([]);
    const kept = Object.fromEntries([2, 3, 4, 5].map((d) => [dayText(DAY0 + d), ticks.length / 6]));
    expect(await rowsPerDay(db, 'tick_data')).toEqual(kept);
    expect(Object.keys(await rowsPerDay(db, 'quote_data'))).toEqual(Object.keys(kept));
    const partitions = (await listPartitions(db, 'tick_data')).map((p) => p.day);
    expect(partitions[0]).toBe(DAY0 + 2);
    // The dropped days' candles were made from their ticks before they went.
    const dayCandles = await candles.candles('BTCUSDT', '1d', { to: (DAY0 + 2) * DAY_MS });
    expect(dayCandles.map((c) => c.trades)).toEqual([48, 48]);
    const text = await registry.metrics();
    expect(text).toContain(`trading_storage_partitions{table="tick_data"} ${partitions.length}`);
    expect(text).toContain(
      `trading_storage_oldest_day_timestamp_seconds{table="quote_data"} ${((DAY0 + 2) * DAY_MS) / 1000}`,
    );
    // A second pass finds nothing more to drop.
    expect((await retention.run()).dropped).toEqual([]);
  });

  it('keeps a day whose archive fails and drops the others once archived', async () => {
    database = await openDatabase(name);
    const { db } = database;
    await migrateToLatest(db);
    await new TickRepository(db).insertTicks(ticksOverDays('BTCUSDT', 3, 10));
    const archived: string[] = [];
    const archive: DayArchive = {
      archiveDay(_db, table, day) {
        if (table === 'tick_data' && day === dayText(DAY0 + 1)) {
          return Promise.reject(new Error('check failed: count 9 != 10'));
        }
        archived.push(`${table} ${day}`);
        return Promise.resolve({ rows: table === 'tick_data' ? 10 : 0, files: 1, bytes: 100 });
      },
    };
    const retention = new StorageRetention({
      db,
      logger: silentLogger,
      retentionDays: 1,
      archive,
      now: () => (DAY0 + 4) * DAY_MS + 1,
    });
    const report = await retention.run();
    expect(report.failed).toEqual([
      { table: 'tick_data', day: dayText(DAY0 + 1), error: 'check failed: count 9 != 10' },
    ]);
    expect(await rowsPerDay(db, 'tick_data')).toEqual({ [dayText(DAY0 + 1)]: 10 });
    expect(archived).toContain(`tick_data ${dayText(DAY0)}`);
    expect(archived).toContain(`tick_data ${dayText(DAY0 + 2)}`);
  });

  it('leaves the candles of a day archived before alone when a late tick made it again', async () => {
    database = await openDatabase(name);
    const { db } = database;
    await migrateToLatest(db);
    const ticks = new TickRepository(db);
    const candles = new CandleRepository(db);
    const day = ticksOverDays('BTCUSDT', 1, 10);
    await ticks.insertTicks(day);
    await candles.refreshBetween(DAY0 * DAY_MS, (DAY0 + 1) * DAY_MS);
    const whole = await candles.candles('BTCUSDT', '1d');
    expect(whole.map((c) => c.trades)).toEqual([10]);
    // The day was archived and dropped; a late tick of it makes its partition again.
    await sql`drop table ${sql.table(partitionName('tick_data', DAY0))}`.execute(db);
    const late = createTick({
      symbol: 'BTCUSDT',
      tradeId: 11,
      price: '1.5',
      quantity: '2',
      isBuyerMaker: false,
      tradeTime: DAY0 * DAY_MS + 5,
    });
    expect((await ticks.insertTicks([late])).inserted).toBe(1);
    const archive: DayArchive = {
      archiveDay: () => Promise.resolve({ rows: 11, files: 1, bytes: 100 }),
      days: (table) => Promise.resolve(table === 'tick_data' ? [dayText(DAY0)] : []),
    };
    const retention = new StorageRetention({
      db,
      logger: silentLogger,
      retentionDays: 1,
      archive,
      candles,
      now: () => (DAY0 + 3) * DAY_MS,
    });
    expect((await retention.run()).dropped).toContainEqual({
      table: 'tick_data',
      day: dayText(DAY0),
      archivedRows: 11,
    });
    expect(await candles.candles('BTCUSDT', '1d')).toEqual(whole);
  });
});
