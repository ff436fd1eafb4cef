import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tick } from '@trade/core';
import { formatPrice, formatQuantity } from '@trade/exchange-binance/sim';
import {
  CandleRepository,
  createPostgresDb,
  DailyPartitions,
  DAY_MS,
  dayOf,
  dayText,
  migrateToLatest,
  ParquetArchive,
  partitionName,
  TickRepository,
} from '@trade/market-data';
import pg from 'pg';
import { BenchDatabase } from '../bench-database.js';
import { median, type BenchSuite, type Figure } from '../harness.js';
import { chunks, writeInOrder } from '../ordered-writes.js';

// Storage over time (DESIGN.md): the insert rate into daily partitions with
// 50M ticks already stored against an empty table, in the same run; bytes
// per tick in PostgreSQL (the plain table of before and the partitions of
// now) and in the Parquet archive; the archive's write-and-check rate; and
// one day of one-minute candles read back.
//
// The 50M-tick database takes minutes to fill: it is kept between runs
// (`trade_bench_storage_full`, about 10 GB) and refilled only when it holds
// fewer ticks than asked. BENCH_STORAGE_DROP=1 drops it at the end.
const STORED = Number(process.env.BENCH_STORAGE_STORED ?? 50_000_000);
const ROWS = Number(process.env.BENCH_STORAGE_ROWS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_STORAGE_RUNS ?? 3);
const CANDLE_READS = 51;
const BATCH = 5_000;
const WRITERS = 2;
const SYMBOLS = ['BTCUSDT', 'ETHUSDT'] as const;
const STORED_PER_DAY = 1_000_000;
/** Trade ids of the timed rows start here, above every stored one. */
const TIMED_FIRST_ID = 1_000_000_000;

/**
 * Ticks as the simulator makes them (its random walk in cents, its quantity
 * law, its formatting), `count` over the two symbols, spread evenly over UTC
 * day `day` with ids from `firstId`.
 */
function simulatorTicks(count: number, day: number, firstId: number, seed = 1): Tick[] {
  let state = seed >>> 0 || 1;
  const random = () => {
    // xorshift32: deterministic, fast
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4_294_967_296;
  };
  const cents = [4_325_001, 230_045];
  const spacing = Math.max(1, Math.floor(DAY_MS / count));
  const ticks = new Array<Tick>(count);
  for (let i = 0; i < count; i++) {
    const s = i & 1;
    cents[s] = Math.max(1, cents[s]! + (Math.floor(random() * 5) - 2));
    const r = random();
    const maker = random() < 0.5;
    const time = day * DAY_MS + Math.min(DAY_MS - 1, i * spacing);
    ticks[i] = {
      symbol: SYMBOLS[s]!,
      tradeId: firstId + (i >> 1),
      price: formatPrice(cents[s]),
      quantity: formatQuantity(1 + Math.floor(r * r * r * 200_000_000)),
      side: maker ? 'SELL' : 'BUY',
      isBuyerMaker: maker,
      tradeTime: time,
      receiveTime: time,
    };
  }
  return ticks;
}

interface Opened {
  readonly db: ReturnType<typeof createPostgresDb>;
  readonly pool: pg.Pool;
}

function open(database: BenchDatabase): Opened {
  const pool = new pg.Pool({ connectionString: database.url, max: WRITERS + 2 });
  return { db: createPostgresDb({ pool }), pool };
}

async function count(pool: pg.Pool, from = 'tick_data'): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`select count(*)::text as n from ${from}`);
  return Number(rows[0]!.n);
}

/**
 * Fills `tick_data` with `STORED` ticks over the days before yesterday,
 * one million a day, server side; kept for the next run.
 */
async function fillStored({ db, pool }: Opened, log: (line: string) => void): Promise<void> {
  const days = Math.ceil(STORED / STORED_PER_DAY);
  const first = dayOf(Date.now()) - 2 - days;
  const partitions = new DailyPartitions(db, 'tick_data');
  const held = await count(pool);
  if (held >= STORED) return;
  await pool.query('truncate tick_data');
  const started = performance.now();
  for (let d = 0; d < days; d++) {
    const day = first + d;
    await partitions.ensure([day]);
    const rows = Math.min(STORED_PER_DAY, STORED - d * STORED_PER_DAY);
    const half = rows >> 1;
    // Two symbols, ids consecutive per symbol, prices a walk-like wave, times across the day.
    await pool.query(
      `insert into tick_data (symbol, trade_id, price, quantity, side, is_buyer_maker, timestamp)
       select s.symbol, $1::int8 + g,
         (43000 + (g % 997) - (g % 89)) * 1.00000000 + (g % 100) / 100.0,
         ((g * 7919) % 99999999 + 1) / 100000000.0,
         case when g % 2 = 0 then 'SELL' else 'BUY' end, g % 2 = 0,
         timestamptz 'epoch' + ($2::int8 + g * $3::int8) * interval '1 millisecond'
       from generate_series(0, $4::int8 - 1) g cross join (values ('BTCUSDT'), ('ETHUSDT')) s(symbol)`,
      [d * half, day * DAY_MS, Math.floor(DAY_MS / half), half],
    );
    if (d % 5 === 4) log(`  filled ${((d + 1) * 2 * half).toLocaleString('en-US')} ticks`);
  }
  await pool.query('vacuum analyze tick_data');
  log(`  filled in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

/** Rows per second of the app's write path (two writers, commits in order) for `ticks`. */
async function insertRate({ db, pool }: Opened, ticks: readonly Tick[]): Promise<number> {
  const repository = new TickRepository(db);
  await pool.query('checkpoint').catch(() => undefined);
  const started = performance.now();
  await writeInOrder(repository, chunks(ticks, BATCH), WRITERS);
  const seconds = (performance.now() - started) / 1000;
  return ticks.length / seconds;
}

/** Bytes per row of `tables` (heap, TOAST and indexes). */
async function bytesPerRow(pool: pg.Pool, tables: readonly string[], rows: number) {
  const { rows: sizes } = await pool.query<{ bytes: string }>(
    `select coalesce(sum(pg_total_relation_size(t::regclass)), 0)::text as bytes from unnest($1::text[]) t`,
    [tables],
  );
  return Number(sizes[0]!.bytes) / rows;
}

export const suite: BenchSuite = {
  name: 'storage',
  async run(): Promise<Figure[]> {
    const log = (line: string) => console.log(line);
    const full = new BenchDatabase('trade_bench_storage_full');
    const empty = new BenchDatabase('trade_bench_storage_empty');
    await empty.fresh();
    const exists = await full
      .connect()
      .then((c) => c.end())
      .then(
        () => true,
        () => false,
      );
    if (!exists) await full.fresh();
    const [fullDb, emptyDb] = [open(full), open(empty)];
    const archiveRoot = await mkdtemp(join(tmpdir(), 'bench-storage-archive-'));
    try {
      await migrateToLatest(fullDb.db);
      await migrateToLatest(emptyDb.db);
      log(`  ${STORED.toLocaleString('en-US')} ticks stored in ${full.name} (filled once, kept)`);
      await fillStored(fullDb, log);
      // The timed rows of an earlier run (another day's "today") are not part of what is stored.
      await fullDb.pool.query('delete from tick_data where trade_id >= $1', [TIMED_FIRST_ID]);
      const stored = await count(fullDb.pool);
      const today = dayOf(Date.now());
      const todays = partitionName('tick_data', today);

      // 1. Insert rate: the same ticks of today into each database, rounds alternating.
      const rates = { empty: [] as number[], full: [] as number[] };
      for (let run = -1; run < RUNS; run++) {
        const ticks = simulatorTicks(ROWS, today, TIMED_FIRST_ID + (run + 1) * ROWS, run + 2);
        for (const [name, opened] of [
          ['empty', emptyDb],
          ['full', fullDb],
        ] as const) {
          await opened.pool.query(`truncate ${todays}`);
          const rate = await insertRate(opened, ticks);
          if (run >= 0) rates[name].push(rate);
        }
      }
      const emptyRate = median(rates.empty);
      const fullRate = median(rates.full);

      // 2. Bytes per tick: today's partition as the app wrote it, and the same
      // rows in the plain table of before (unique on (symbol, trade_id)).
      const rows = await count(emptyDb.pool, todays);
      const partitioned = await bytesPerRow(emptyDb.pool, [todays], rows);
      await emptyDb.pool.query(`drop table if exists tick_data_plain`);
      await emptyDb.pool.query(
        `create table tick_data_plain (like tick_data including defaults including constraints)`,
      );
      await emptyDb.pool.query(
        `alter table tick_data_plain add constraint tick_data_plain_key unique (symbol, trade_id)`,
      );
      await emptyDb.pool.query(
        `create index tick_data_plain_symbol_timestamp_idx on tick_data_plain (symbol, "timestamp" desc)`,
      );
      await emptyDb.pool.query(
        `insert into tick_data_plain select * from tick_data order by symbol, trade_id`,
      );
      const plain = await bytesPerRow(emptyDb.pool, ['tick_data_plain'], rows);
      await emptyDb.pool.query(`drop table tick_data_plain`);

      // 3. The archive: today's ticks to Parquet, read back and checked.
      const archiveRates: number[] = [];
      let parquetBytes = 0;
      let archived = 0;
      for (let run = 0; run < RUNS; run++) {
        const dir = join(archiveRoot, String(run));
        const archive = await ParquetArchive.open({ dir });
        try {
          const started = performance.now();
          const day = await archive.archiveDay(emptyDb.db, 'tick_data', dayText(today));
          archiveRates.push(day.rows / ((performance.now() - started) / 1000));
          parquetBytes = day.bytes;
          archived = day.rows;
        } finally {
          await archive.close();
        }
        await rm(dir, { recursive: true, force: true });
      }

      // 4. One day of one-minute candles of one symbol, from a year of two symbols' candles.
      const candles = new CandleRepository(fullDb.db);
      const year = 365;
      const { rows: held } = await fullDb.pool.query<{ n: string }>(
        `select count(*)::text as n from candles_1m`,
      );
      if (Number(held[0]!.n) < year * 1440 * SYMBOLS.length) {
        await fullDb.pool.query(`truncate candles_1m`);
        await fullDb.pool.query(
          `insert into candles_1m (symbol, bucket, open, high, low, close, volume, trades)
           select s.symbol, timestamptz 'epoch' + ($1::int8 * 86400 + m * 60) * interval '1 second',
             43000.01 + m % 97, 43100.5 + m % 89, 42900.25 + m % 83, 43050.75 + m % 79, 12.34567891 + m % 7, 100 + m % 50
           from generate_series(0, $2::int8 * 1440 - 1) m cross join (values ('BTCUSDT'), ('ETHUSDT')) s(symbol)`,
          [today - year, year],
        );
        await fullDb.pool.query('vacuum analyze candles_1m');
      }
      const dayStart = (today - 30) * DAY_MS;
      const reads: number[] = [];
      let minutes = 0;
      for (let i = 0; i < CANDLE_READS; i++) {
        const started = performance.now();
        minutes = (
          await candles.candles('BTCUSDT', '1m', { from: dayStart, to: dayStart + DAY_MS })
        ).length;
        reads.push(performance.now() - started);
      }
      if (minutes !== 1440) throw new Error(`expected 1440 one-minute candles, read ${minutes}`);

      const ratio = fullRate / emptyRate;
      return [
        {
          name: `insert rate, ${(STORED / 1e6).toLocaleString('en-US')}M ticks stored / empty table`,
          measured: ratio,
          unit: 'x',
          target: { op: '>=', value: 0.8 },
          note: `${fullRate.toFixed(0)} vs ${emptyRate.toFixed(0)} ticks/s (${stored.toLocaleString('en-US')} stored over daily partitions); ${ROWS.toLocaleString('en-US')} simulator ticks of today through TickRepository, ${WRITERS} writers, batches of ${BATCH}; median of ${RUNS} alternating rounds`,
        },
        {
          name: 'PostgreSQL bytes per tick, before (one table)',
          measured: plain,
          unit: 'B/tick',
          note: `${rows.toLocaleString('en-US')} simulator ticks, heap and both indexes, unique on (symbol, trade_id)`,
        },
        {
          name: 'PostgreSQL bytes per tick, after (daily partition)',
          measured: partitioned,
          unit: 'B/tick',
          note: `the same ticks as the app wrote them, unique on (symbol, trade_id, timestamp); ${(partitioned / plain).toFixed(2)}x before`,
        },
        {
          name: 'Parquet archive bytes per tick',
          measured: parquetBytes / archived,
          unit: 'B/tick',
          target: { op: '<=', value: 20 },
          note: `${archived.toLocaleString('en-US')} simulator ticks of one day, one zstd file per symbol; ${(partitioned / (parquetBytes / archived)).toFixed(0)}x smaller than PostgreSQL`,
        },
        {
          name: 'archive and check rate',
          measured: median(archiveRates),
          unit: 'ticks/s',
          note: `ParquetArchive.archiveDay: read from PostgreSQL, written, read back and checked against PostgreSQL's sums; median of ${RUNS}`,
        },
        {
          name: 'one day of 1m candles, one symbol',
          measured: median(reads),
          unit: 'ms',
          target: { op: '<=', value: 20 },
          note: `CandleRepository.candles('1m'), 1440 rows of a year of two symbols' candles; median of ${CANDLE_READS} reads`,
        },
      ];
    } finally {
      await rm(archiveRoot, { recursive: true, force: true });
      await fullDb.db.destroy();
      await emptyDb.db.destroy();
      await empty.drop();
      if (process.env.BENCH_STORAGE_DROP === '1') await full.drop();
    }
  },
};
