import type { Tick } from '@trade/core';
import {
  MarketDataService,
  TickCache,
  TickRepository,
  createPostgresDb,
  migrateToLatest,
} from '@trade/market-data';
import { Redis } from 'ioredis';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { median, type BenchSuite, type Figure } from '../harness.js';
import { chunks, writeInOrder } from '../ordered-writes.js';

// Repository insert rate into PostgreSQL with both indexes in place, beside a
// naive per-row INSERT, a multi-row VALUES insert and PostgreSQL's own \copy
// of the same rows, all in one run on one machine; then the service end to
// end and the cache update of a 1000-tick batch. The repository is measured
// as the app runs it (two writers, commits in order) and with one writer.
const ROWS = Number(process.env.BENCH_MD_ROWS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_MD_RUNS ?? 5);
const BATCH = 5_000; // the service's default batch size
const WRITERS = 2; // the app's writers on PostgreSQL
const PER_ROW_ROWS = Number(process.env.BENCH_MD_PER_ROW_ROWS ?? 20_000);
const SERVER_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DATABASE = 'trade_market_data_bench';

const INSERT_COLUMNS = 'symbol, trade_id, price, quantity, side, is_buyer_maker, timestamp';

/** Deterministic ticks over two symbols, decimals as the exchange writes them. */
function syntheticTicks(count: number, firstId = 1): Tick[] {
  const ticks: Tick[] = new Array<Tick>(count);
  const t0 = Date.UTC(2026, 0, 1);
  for (let i = 0; i < count; i++) {
    const maker = (i * 7) % 3 === 0;
    ticks[i] = {
      symbol: i & 1 ? 'ETHUSDT' : 'BTCUSDT',
      tradeId: firstId + (i >> 1),
      price: `${(i & 1 ? 2_300 : 43_000) + ((i * 37) % 1000)}.${String((i * 13) % 100).padStart(2, '0')}000000`,
      quantity: `0.${String(((i * 7919) % 99_999_999) + 1).padStart(8, '0')}`,
      side: maker ? 'SELL' : 'BUY',
      isBuyerMaker: maker,
      tradeTime: t0 + i * 3,
      receiveTime: t0 + i * 3 + 5,
    };
  }
  return ticks;
}

async function databaseUrl(): Promise<string> {
  const admin = new pg.Client({ connectionString: SERVER_URL });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [
      DATABASE,
    ]);
    if (!rowCount) await admin.query(`create database ${DATABASE}`);
  } finally {
    await admin.end();
  }
  const url = new URL(SERVER_URL);
  url.pathname = `/${DATABASE}`;
  return url.href;
}

/** A load to time: `load` writes `rows` rows into an empty `tick_data`. */
interface Load {
  readonly rows: number;
  readonly load: () => Promise<void>;
}

/**
 * Rows per second of each load: the median of RUNS rounds on an emptied
 * table, after one untimed round (JIT, pool connections, server caches).
 * Each round runs every load in turn, so loads compared side by side see
 * the same moments of a shared machine.
 */
async function rates(pool: pg.Pool, loads: readonly Load[], runs = RUNS): Promise<number[]> {
  const measured = loads.map(() => [] as number[]);
  for (let run = -1; run < runs; run++) {
    for (const [i, { rows, load }] of loads.entries()) {
      await pool.query('truncate tick_data');
      await pool.query('checkpoint').catch(() => undefined); // superuser only: a steadier start
      const started = performance.now();
      await load();
      const elapsed = (performance.now() - started) / 1000;
      const { rows: count } = await pool.query<{ n: string }>(
        'select count(*) as n from tick_data',
      );
      if (Number(count[0]!.n) !== rows)
        throw new Error(`expected ${rows} rows, found ${count[0]!.n}`);
      if (run >= 0) measured[i]!.push(rows / elapsed);
    }
  }
  return measured.map((r) => median(r));
}

/** {@link rates} of one load. */
async function rate(pool: pg.Pool, rows: number, load: () => Promise<void>): Promise<number> {
  return (await rates(pool, [{ rows, load }]))[0]!;
}

export const suite: BenchSuite = {
  name: 'market-data',
  async run() {
    const url = await databaseUrl();
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    await pool.query('drop schema public cascade; create schema public');
    const db = createPostgresDb({ pool });
    await migrateToLatest(db);
    const repository = new TickRepository(db);
    const ticks = syntheticTicks(ROWS);
    const batches = chunks(ticks, BATCH);
    const figures: Figure[] = [];

    // 1. The repository: one unnest statement per batch, in key order, as the
    // app runs it (two writers, commits in order), and with one writer; in
    // the same rounds, 2. the naive way: one INSERT per row, autocommit,
    // over enough rows for a steady rate.
    const perRowRows = Math.min(ROWS, PER_ROW_ROWS);
    const [repositoryRate, oneWriterRate, perRowRate] = (await rates(pool, [
      { rows: ROWS, load: () => writeInOrder(repository, batches, WRITERS) },
      { rows: ROWS, load: () => writeInOrder(repository, batches, 1) },
      {
        rows: perRowRows,
        async load() {
          for (const t of ticks.slice(0, perRowRows)) {
            await pool.query(
              `insert into tick_data (${INSERT_COLUMNS}) values ($1, $2, $3, $4, $5, $6, to_timestamp($7::float8 / 1000))
               on conflict (symbol, trade_id, timestamp) do nothing`,
              [t.symbol, t.tradeId, t.price, t.quantity, t.side, t.isBuyerMaker, t.tradeTime],
            );
          }
        },
      },
    ])) as [number, number, number];

    // 3. Multi-row VALUES: 1000 rows (7000 parameters) per statement.
    const valuesRows = Math.min(ROWS, 300_000);
    const valuesBatches = chunks(ticks.slice(0, valuesRows), 1000);
    const valuesRate = await rate(pool, valuesRows, async () => {
      for (const batch of valuesBatches) {
        const params: unknown[] = [];
        const tuples = batch.map((t) => {
          const n = params.push(
            t.symbol,
            t.tradeId,
            t.price,
            t.quantity,
            t.side,
            t.isBuyerMaker,
            t.tradeTime,
          );
          const p = (k: number) => `$${n - 7 + k}`;
          return `(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, to_timestamp(${p(7)}::float8 / 1000))`;
        });
        await pool.query(
          `insert into tick_data (${INSERT_COLUMNS}) values ${tuples.join(', ')}
           on conflict (symbol, trade_id, timestamp) do nothing`,
          params,
        );
      }
    });

    // 4. PostgreSQL's own bulk load: psql's \copy of the same rows from a CSV file.
    let copyRate: number | undefined;
    const dir = await mkdtemp(join(tmpdir(), 'bench-market-data-'));
    try {
      const csv = join(dir, 'ticks.csv');
      await writeFile(
        csv,
        ticks
          .map(
            (t) =>
              `${t.symbol},${t.tradeId},${t.price},${t.quantity},${t.side},${t.isBuyerMaker},${new Date(t.tradeTime).toISOString()}`,
          )
          .join('\n'),
      );
      copyRate = await rate(pool, ROWS, () => {
        execFileSync('psql', [
          url,
          '-qc',
          `\\copy tick_data (${INSERT_COLUMNS}) from '${csv}' csv`,
        ]);
        return Promise.resolve();
      });
    } catch (error) {
      console.warn(`  (\\copy not measured: ${(error as Error).message.split('\n')[0]})`);
    }

    // 5. Replaying batches already stored (a spool replayed after a crash): every row a conflict.
    await pool.query('truncate tick_data');
    const replayRows = Math.min(ROWS, 200_000);
    for (const batch of chunks(ticks.slice(0, replayRows), BATCH))
      await repository.insertTicks(batch);
    const replayTimes: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const started = performance.now();
      for (const batch of chunks(ticks.slice(0, replayRows), BATCH))
        await repository.insertTicks(batch);
      replayTimes.push(performance.now() - started);
    }
    const replayRate = replayRows / (median(replayTimes) / 1000);

    // 6. Batch size: the same load in batches of 1000, 2500, 5000, 10000 and
    // 20000, two writers, sizes taking turns in each round.
    const sweepRows = Math.min(ROWS, 500_000);
    const sizes = [1_000, 2_500, 5_000, 10_000, 20_000];
    const sweepRates = await rates(
      pool,
      sizes.map((size) => {
        const sized = chunks(ticks.slice(0, sweepRows), size);
        return { rows: sweepRows, load: () => writeInOrder(repository, sized, WRITERS) };
      }),
    );
    const sweep = sizes.map((size, i) => [size, sweepRates[i]!] as const);

    // 7. The service end to end: offer every tick as fast as the channel takes
    // them, resolve when stop() has every tick stored. With a memory bound
    // above the load nothing spills, so this is the pipeline's own rate...
    const serviceRows = Math.min(ROWS, 500_000);
    const serviceTicks = ticks.slice(0, serviceRows);
    const runService = async (maxBufferedTicks?: number) => {
      const spoolDir = await mkdtemp(join(dir, 'spool-'));
      const service = await MarketDataService.start({
        repository,
        spoolDir,
        writers: WRITERS,
        ...(maxBufferedTicks ? { maxBufferedTicks } : {}),
      });
      for (const tick of serviceTicks) while (!service.offer(tick)) await service.whenWritable();
      await service.stop();
      return service.stats();
    };
    const serviceRate = await rate(pool, serviceRows, async () => {
      const stats = await runService(serviceRows + BATCH);
      if (stats.spooled > 0) throw new Error(`service spooled ${stats.spooled} ticks`);
    });
    // ...and with the default bound (100,000 ticks) an offer loop this fast
    // outruns the database: the excess goes through the spool, to be
    // replayed. Rate at which ticks become durable (stored or spooled).
    const overloadRates: number[] = [];
    let overloadSpooled = 0;
    for (let run = 0; run < RUNS; run++) {
      await pool.query('truncate tick_data');
      const started = performance.now();
      const stats = await runService();
      overloadRates.push(serviceRows / ((performance.now() - started) / 1000));
      if (stats.stored + stats.spooled < serviceRows)
        throw new Error('ticks neither stored nor spooled');
      overloadSpooled = stats.spooled;
    }
    await rm(dir, { recursive: true, force: true });

    // 8. Cache: a 1000-tick batch into memory, and into memory + Redis (one MULTI pipeline).
    const prefix = `bench:market-data:${process.pid}:`;
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    await redis.ping(); // connected and ready: flush() must reach Redis, not count a failure
    const cacheTicks = syntheticTicks(1_000 * 520, 10_000_000);
    const cacheBatches = chunks(cacheTicks, 1_000);
    const timeBatches = async (update: (batch: Tick[]) => Promise<void> | void) => {
      const times: number[] = [];
      for (const [i, batch] of cacheBatches.entries()) {
        const started = process.hrtime.bigint();
        await update(batch);
        const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
        if (i >= 20) times.push(elapsed); // after a warm-up
      }
      return times;
    };
    const memory = new TickCache({ capacity: 1000 });
    const memoryTimes = await timeBatches((batch) => memory.add(batch));
    const redisCache = new TickCache({ redis, keyPrefix: prefix, capacity: 1000 });
    const redisTimes = await timeBatches(async (batch) => {
      redisCache.add(batch);
      await redisCache.flush();
    });
    const readTimes: number[] = [];
    for (let i = 0; i < 500; i++) {
      const started = process.hrtime.bigint();
      await redisCache.recent('BTCUSDT', 100);
      readTimes.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    await redisCache.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await db.destroy();

    figures.push(
      {
        name: `repository insert (unnest, batches of ${BATCH}, ${WRITERS} writers)`,
        measured: repositoryRate,
        unit: 'rows/s',
        target: { op: '>=', value: 150_000 },
        note: `${ROWS.toLocaleString('en-US')} rows into tick_data with both indexes, commits in order, as the app writes; median of ${RUNS} rounds`,
      },
      {
        name: 'repository vs naive per-row INSERT',
        measured: repositoryRate / perRowRate,
        unit: 'x',
        target: { op: '>=', value: 100 },
        note: `per-row: ${Math.round(perRowRate).toLocaleString('en-US')} rows/s over ${perRowRows.toLocaleString('en-US')} rows, autocommit, timed in the same rounds`,
      },
      {
        name: `repository insert, 1 writer`,
        measured: oneWriterRate,
        unit: 'rows/s',
        note: `${(oneWriterRate / perRowRate).toFixed(0)}x per-row; ${ROWS.toLocaleString('en-US')} rows, median of ${RUNS}`,
      },
      { name: 'naive per-row INSERT', measured: perRowRate, unit: 'rows/s' },
      {
        name: 'multi-row VALUES insert (1000 rows/statement)',
        measured: valuesRate,
        unit: 'rows/s',
        note: `${valuesRows.toLocaleString('en-US')} rows, 7000 parameters per statement; repository is ${(repositoryRate / valuesRate).toFixed(2)}x`,
      },
    );
    if (copyRate !== undefined) {
      figures.push({
        name: 'psql \\copy of the same rows (CSV, one session)',
        measured: copyRate,
        unit: 'rows/s',
        note: `no ON CONFLICT; the repository is ${(repositoryRate / copyRate).toFixed(2)}x it`,
      });
    }
    figures.push(
      {
        name: 'replay of stored batches (all conflicts)',
        measured: replayRate,
        unit: 'rows/s',
        note: `${replayRows.toLocaleString('en-US')} rows already stored, median of ${RUNS}`,
      },
      ...sweep.map(([size, r]) => ({
        name: `repository insert, batches of ${size}`,
        measured: r,
        unit: 'rows/s',
        note: `${sweepRows.toLocaleString('en-US')} rows, ${WRITERS} writers, median of ${RUNS} rounds`,
      })),
      {
        name: 'service end to end (offer -> stored)',
        measured: serviceRate,
        unit: 'rows/s',
        note: `${serviceRows.toLocaleString('en-US')} ticks offered flat out, ${WRITERS} writers, memory bound above the load, until stop() resolves`,
      },
      {
        name: 'service overload, default 100k memory bound',
        measured: median(overloadRates),
        unit: 'ticks/s',
        note: `offer -> stored or spooled (fsync'd); ${overloadSpooled.toLocaleString('en-US')} of ${serviceRows.toLocaleString('en-US')} went through the spool`,
      },
      {
        name: 'cache update, 1000-tick batch, memory + Redis (median)',
        measured: median(redisTimes),
        unit: 'ms',
        target: { op: '<=', value: 1 },
        note: `add() then flush(): until Redis acknowledged the MULTI; ${redisTimes.length} batches`,
      },
      {
        name: 'cache update, 1000-tick batch, memory only (median)',
        measured: median(memoryTimes),
        unit: 'ms',
      },
      {
        name: 'cache recent(symbol, 100) from memory (median)',
        measured: median(readTimes),
        unit: 'ms',
      },
    );
    return figures;
  },
};
