import { PGlite } from '@electric-sql/pglite';
import { createQuote, createTick, type Quote, type Tick } from '@trade/core';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { CompiledQuery, Kysely, PostgresDialect } from 'kysely';
import { readdir, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ArchiveCheckError,
  ParquetArchive,
  type ArchivedTable,
  type ParquetArchiveOptions,
} from '../src/archive/index.js';
import {
  migrateToLatest,
  QuoteRepository,
  TickRepository,
  type MarketDataDatabase,
} from '../src/index.js';
import { PgliteDialect } from '../src/pglite-dialect.js';
import { tempDir } from './helpers.js';

type BackendName = 'postgresql' | 'pglite';

interface TestDatabase {
  readonly db: Kysely<MarketDataDatabase>;
  /** Every statement run, in order. */
  readonly sql: string[];
  close(): Promise<void>;
}

const serverUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

// A database of this file's own (PostgreSQL) or an embedded one (PGlite),
// migrated: nothing another test file runs at the same time can empty it.
async function openTestDatabase(name: BackendName): Promise<TestDatabase> {
  const statements: string[] = [];
  const log = (event: { level: string; query: { sql: string } }) => {
    if (event.level === 'query' || event.level === 'error') statements.push(event.query.sql);
  };
  let close: () => Promise<void>;
  let db: Kysely<MarketDataDatabase>;
  if (name === 'pglite') {
    const pglite = await PGlite.create();
    db = new Kysely<MarketDataDatabase>({ dialect: new PgliteDialect({ pglite }), log });
    close = async () => {
      await db.destroy();
      await pglite.close();
    };
  } else {
    const database = `trade_market_data_archive_${process.pid}`;
    await admin(`drop database if exists ${database}`);
    await admin(`create database ${database}`);
    const url = new URL(serverUrl);
    url.pathname = `/${database}`;
    const pool = new pg.Pool({ connectionString: url.href, max: 4 });
    db = new Kysely<MarketDataDatabase>({ dialect: new PostgresDialect({ pool }), log });
    close = async () => {
      await db.destroy();
      await admin(`drop database if exists ${database} with (force)`);
    };
  }
  await migrateToLatest(db);
  return { db, sql: statements, close };
}

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

const DAY_1 = '2024-03-01';
const DAY_2 = '2024-03-02';
const START_1 = Date.parse(`${DAY_1}T00:00:00Z`);
const START_2 = Date.parse(`${DAY_2}T00:00:00Z`);
const END_2 = START_2 + 86_400_000;

// Decimal text of every shape PostgreSQL keeps apart: fewer, exactly 8, and no
// decimals; values small enough that a JavaScript number holds them exactly
// (below 2^53 / 1e8), which the second reader's DECIMAL numbers need.
const PRICES = ['43250.01', '43250.1', '43251', '43249.12345678', '43250.00000000'];
const QUANTITIES = ['0.00123', '0.5', '1.00000000', '0.00000001', '12.3456'];

/** `count` ticks of `symbol` from `startId`, times rising from `startMs` by `stepMs`. */
function ticks(symbol: string, startId: number, startMs: number, count: number, stepMs = 997) {
  return Array.from({ length: count }, (_, i) =>
    createTick({
      symbol,
      tradeId: startId + i,
      price: PRICES[i % PRICES.length]!,
      quantity: QUANTITIES[(i * 3) % QUANTITIES.length]!,
      isBuyerMaker: i % 3 === 0,
      tradeTime: startMs + i * stepMs,
      receiveTime: startMs + i * stepMs + 7,
    }),
  );
}

function quotes(symbol: string, startId: number, startMs: number, count: number): Quote[] {
  return Array.from({ length: count }, (_, i) =>
    createQuote({
      symbol,
      updateId: startId + i,
      bidPrice: PRICES[i % PRICES.length]!,
      bidQty: QUANTITIES[i % QUANTITIES.length]!,
      askPrice: PRICES[(i + 2) % PRICES.length]!,
      askQty: QUANTITIES[(i + 1) % QUANTITIES.length]!,
      receiveTime: startMs + i * 1009,
    }),
  );
}

/** Each day's ticks of two symbols: at the day's first and last millisecond, a shared millisecond, and ids out of time order. */
function twoDaysOfTicks(): Tick[] {
  return [
    ...ticks('BTCUSDT', 1_000, START_1, 60),
    ...ticks('ETHUSDT', 5_000, START_1 + 500, 45),
    ...ticks('BTCUSDT', 2_000, START_2, 50),
    ...ticks('ETHUSDT', 6_000, START_2 + 250, 40),
    // Last millisecond of day 1, and an earlier trade with a higher id.
    ...ticks('BTCUSDT', 1_500, START_2 - 1, 1),
    ...ticks('BTCUSDT', 1_501, START_1 + 5_000, 1),
    // Same millisecond as trade 2000 (ordered by id).
    ...ticks('BTCUSDT', 2_500, START_2, 1),
  ];
}

/** Every decimal column's value as the second reader gives it, back to PostgreSQL's text. */
function decimalText(row: Record<string, unknown>, column: string): string {
  const value = row[column];
  if (typeof value === 'string') return value;
  const scale = row[`${column}_scale`];
  if (typeof value !== 'number' || typeof scale !== 'number') {
    throw new Error(`${column}: ${String(value)} with scale ${String(scale)}`);
  }
  return value.toFixed(scale);
}

interface TableShape {
  readonly id: string;
  readonly decimals: readonly string[];
  readonly plain: readonly string[];
}

const SHAPES: Record<ArchivedTable, TableShape> = {
  tick_data: { id: 'trade_id', decimals: ['price', 'quantity'], plain: ['side', 'is_buyer_maker'] },
  quote_data: {
    id: 'update_id',
    decimals: ['bid_price', 'bid_qty', 'ask_price', 'ask_qty'],
    plain: [],
  },
};

/** PostgreSQL's rows of `symbol` on `day`, every value as text, in (time, id) order. */
async function databaseRows(
  db: Kysely<MarketDataDatabase>,
  table: ArchivedTable,
  symbol: string,
  day: string,
): Promise<Record<string, string | boolean>[]> {
  const { id, decimals, plain } = SHAPES[table];
  const start = Date.parse(`${day}T00:00:00Z`);
  const { rows } = await db.executeQuery<Record<string, string | boolean>>(
    CompiledQuery.raw(
      `select ${id}::text as id,
         (extract(epoch from "timestamp") * 1000)::int8::text as ms,
         ${[...decimals.map((c) => `${c}::text as ${c}`), ...plain].join(', ')}
       from ${table}
       where symbol = $1 and "timestamp" >= $2::timestamptz and "timestamp" < $3::timestamptz
       order by "timestamp", ${id}`,
      [symbol, new Date(start).toISOString(), new Date(start + 86_400_000).toISOString()],
    ),
  );
  return rows;
}

/** A file's rows as hyparquet (not DuckDB) reads them, in the same text form. */
async function fileRows(table: ArchivedTable, file: string, symbol: string) {
  const { id, decimals, plain } = SHAPES[table];
  const rows = await parquetReadObjects({ file: await asyncBufferFromFile(file), compressors });
  return rows.map((row: Record<string, unknown>): Record<string, unknown> => {
    expect(row.symbol).toBe(symbol);
    expect(typeof row[id]).toBe('bigint');
    expect(typeof row.timestamp_ms).toBe('bigint');
    return {
      id: String(row[id]),
      ms: String(row.timestamp_ms),
      ...Object.fromEntries(decimals.map((c) => [c, decimalText(row, c)])),
      ...Object.fromEntries(plain.map((c) => [c, row[c]])),
    };
  });
}

/** The file's column types, by name, from its footer. */
async function columnTypes(file: string): Promise<Record<string, string>> {
  const metadata = await parquetMetadataAsync(await asyncBufferFromFile(file));
  const types: Record<string, string> = {};
  for (const element of metadata.schema.slice(1)) {
    const logical = element.logical_type;
    types[element.name] =
      logical?.type === 'DECIMAL'
        ? `${element.type} DECIMAL(${logical.precision},${logical.scale})`
        : [element.type, logical?.type ?? element.converted_type].filter(Boolean).join(' ');
  }
  return types;
}

async function collect<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const row of rows) all.push(row);
  return all;
}

/** Every file below `dir`, as paths relative to it, sorted. */
async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/** Rewrites the Parquet file `file` through DuckDB with `select` (reading `{file}`), keeping its name. */
async function rewriteParquet(file: string, select: string): Promise<void> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const duckdb = await DuckDBInstance.create(':memory:');
  const connection = await duckdb.connect();
  try {
    await connection.run(
      `COPY (${select.replace('{file}', `read_parquet('${file}')`)}) TO '${file}.rewritten' (FORMAT parquet)`,
    );
  } finally {
    connection.closeSync();
    duckdb.closeSync();
  }
  await rename(`${file}.rewritten`, file);
}

async function archiveError(promise: Promise<unknown>): Promise<ArchiveCheckError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!ArchiveCheckError.isInstance(error)) {
    throw new Error(`expected an ArchiveCheckError, got ${String(error)}`);
  }
  return error;
}

describe.each<BackendName>(['postgresql', 'pglite'])('ParquetArchive on %s', (backendName) => {
  let database: TestDatabase;
  let db: Kysely<MarketDataDatabase>;
  let dir: string;
  const opened: ParquetArchive[] = [];

  const openArchive = async (options: Partial<ParquetArchiveOptions> = {}) => {
    // A small page: every day here takes several round trips.
    const archive = await ParquetArchive.open({ dir, pageSize: 16, ...options });
    opened.push(archive);
    return archive;
  };

  beforeAll(async () => {
    database = await openTestDatabase(backendName);
    db = database.db;
  });
  afterAll(async () => database?.close());
  beforeEach(async () => {
    await db.executeQuery(CompiledQuery.raw('truncate tick_data, quote_data'));
    dir = await tempDir('parquet-archive-');
  });
  afterEach(async () => {
    for (const archive of opened.splice(0)) await archive.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes one file per symbol and day that a second reader finds equal to the database, and reads ticks back as TickRepository does', async () => {
    await new TickRepository(db).insertTicks(twoDaysOfTicks());
    const repository = new TickRepository(db);
    const before = {
      btc: await collect(repository.ticks('BTCUSDT', { from: START_1, to: END_2 })),
      eth: await collect(repository.ticks('ETHUSDT', { from: START_1, to: END_2 })),
      btcMiddle: await collect(
        repository.ticks('BTCUSDT', { from: START_1 + 30_000, to: START_2 + 20_000 }),
      ),
    };
    expect(before.btc).toHaveLength(113);
    const archive = await openArchive();
    database.sql.length = 0;

    expect(await archive.archiveDay(db, 'tick_data', DAY_1)).toMatchObject({
      table: 'tick_data',
      day: DAY_1,
      files: 2,
      rows: 62 + 45,
    });
    expect(await archive.days('tick_data')).toEqual([DAY_1]);
    const second = await archive.archiveDay(db, 'tick_data', DAY_2);
    expect(second).toMatchObject({ files: 2, rows: 51 + 40 });
    expect(second.bytes).toBeGreaterThan(0);

    expect(await filesBelow(dir)).toEqual([
      `tick_data/${DAY_1}/BTCUSDT.parquet`,
      `tick_data/${DAY_1}/ETHUSDT.parquet`,
      `tick_data/${DAY_2}/BTCUSDT.parquet`,
      `tick_data/${DAY_2}/ETHUSDT.parquet`,
    ]);
    expect(await archive.days('tick_data')).toEqual([DAY_1, DAY_2]);
    expect(await archive.days('quote_data')).toEqual([]);
    // Only day-bounded reads of the table: what daily partitions need.
    const onTicks = database.sql.filter((s) => s.includes('tick_data'));
    expect(onTicks.length).toBeGreaterThan(8);
    for (const statement of onTicks) {
      expect(statement).toMatch(
        /"timestamp" >= \$\d+::timestamptz and "timestamp" < \$\d+::timestamptz/,
      );
    }

    for (const day of [DAY_1, DAY_2]) {
      for (const symbol of ['BTCUSDT', 'ETHUSDT']) {
        const file = join(dir, 'tick_data', day, `${symbol}.parquet`);
        expect(await fileRows('tick_data', file, symbol)).toEqual(
          await databaseRows(db, 'tick_data', symbol, day),
        );
        expect(await columnTypes(file)).toMatchObject({
          symbol: 'BYTE_ARRAY UTF8',
          trade_id: 'INT64 INT_64',
          timestamp_ms: 'INT64 INT_64',
          price: 'INT64 DECIMAL(18,8)',
          quantity: 'INT64 DECIMAL(18,8)',
          price_scale: 'INT32 UINT_8',
          quantity_scale: 'INT32 UINT_8',
          side: 'BYTE_ARRAY UTF8',
          is_buyer_maker: 'BOOLEAN',
        });
      }
    }

    expect(await collect(archive.ticks('BTCUSDT', START_1, END_2))).toEqual(before.btc);
    expect(await collect(archive.ticks('ETHUSDT', START_1, END_2))).toEqual(before.eth);
    expect(await collect(archive.ticks('BTCUSDT', START_1 + 30_000, START_2 + 20_000))).toEqual(
      before.btcMiddle,
    );
    expect(await collect(archive.ticks('BTCUSDT', -Infinity, Infinity))).toEqual(before.btc);
    expect(await collect(archive.ticks('XRPUSDT', START_1, END_2))).toEqual([]);
  });

  it('archives quotes the same way and reads them back as QuoteRepository.quotesBetween does', async () => {
    const repository = new QuoteRepository(db);
    await repository.insert([
      ...quotes('BTCUSDT', 100, START_1 + 10, 40),
      ...quotes('ETHUSDT', 900, START_1 + 20, 30),
      ...quotes('BTCUSDT', 200, START_2, 35),
      ...quotes('ETHUSDT', 990, START_2 - 30_000, 60),
    ]);
    const before = await collect(repository.quotesBetween('ETHUSDT', START_1, END_2));
    const middle = await collect(
      repository.quotesBetween('BTCUSDT', START_1 + 20_000, START_2 + 9_000),
    );
    const archive = await openArchive();

    expect(await archive.archiveDay(db, 'quote_data', DAY_1)).toMatchObject({ files: 2 });
    expect(await archive.archiveDay(db, 'quote_data', DAY_2)).toMatchObject({ files: 2 });

    expect(await filesBelow(dir)).toEqual([
      `quote_data/${DAY_1}/BTCUSDT.parquet`,
      `quote_data/${DAY_1}/ETHUSDT.parquet`,
      `quote_data/${DAY_2}/BTCUSDT.parquet`,
      `quote_data/${DAY_2}/ETHUSDT.parquet`,
    ]);
    for (const day of [DAY_1, DAY_2]) {
      for (const symbol of ['BTCUSDT', 'ETHUSDT']) {
        const file = join(dir, 'quote_data', day, `${symbol}.parquet`);
        expect(await fileRows('quote_data', file, symbol)).toEqual(
          await databaseRows(db, 'quote_data', symbol, day),
        );
      }
    }
    expect(before).toHaveLength(90);
    expect(await collect(archive.quotes('ETHUSDT', START_1, END_2))).toEqual(before);
    expect(middle.length).toBeGreaterThan(10);
    expect(await collect(archive.quotes('BTCUSDT', START_1 + 20_000, START_2 + 9_000))).toEqual(
      middle,
    );
  });

  it('streams a day of many DuckDB chunks in order, and stops cleanly when the caller does', async () => {
    const repository = new TickRepository(db);
    await repository.insertTicks(ticks('BTCUSDT', 10_000, START_1, 7_000, 11));
    const before = await collect(repository.ticks('BTCUSDT', { from: START_1, to: START_2 }));
    const archive = await openArchive({ pageSize: 1_000 });
    expect(await archive.archiveDay(db, 'tick_data', DAY_1)).toMatchObject({ rows: 7_000 });

    expect(await collect(archive.ticks('BTCUSDT', START_1, START_2))).toEqual(before);
    const firstFive: Tick[] = [];
    for await (const tick of archive.ticks('BTCUSDT', START_1, START_2)) {
      firstFive.push(tick);
      if (firstFive.length === 5) break;
    }
    expect(firstFive).toEqual(before.slice(0, 5));
    expect(await collect(archive.ticks('BTCUSDT', START_1 + 11 * 6_000, START_2))).toEqual(
      before.slice(6_000),
    );
  });

  it('keeps decimals beyond DECIMAL(18,8) exact by writing that file as text', async () => {
    await new TickRepository(db).insertTicks([
      ...ticks('BTCUSDT', 1, START_1, 5),
      createTick({
        symbol: 'BTCUSDT',
        tradeId: 6,
        price: '12345678901.5',
        quantity: '0.123456789012',
        isBuyerMaker: true,
        tradeTime: START_1 + 60_000,
      }),
      ...ticks('ETHUSDT', 1, START_1, 5),
    ]);
    await new QuoteRepository(db).insert([
      createQuote({
        symbol: 'BTCUSDT',
        updateId: 7,
        bidPrice: '43250.000000000001',
        bidQty: '99999999999999.25',
        askPrice: '43250.02',
        askQty: '0.5',
        receiveTime: START_1 + 1,
      }),
    ]);
    const ticksBefore = await collect(new TickRepository(db).ticks('BTCUSDT', {}));
    const quotesBefore = await collect(
      new QuoteRepository(db).quotesBetween('BTCUSDT', -Infinity, Infinity),
    );
    const archive = await openArchive();

    await archive.archiveDay(db, 'tick_data', DAY_1);
    await archive.archiveDay(db, 'quote_data', DAY_1);

    const btc = join(dir, 'tick_data', DAY_1, 'BTCUSDT.parquet');
    expect(await columnTypes(btc)).toMatchObject({
      price: 'BYTE_ARRAY UTF8',
      quantity: 'BYTE_ARRAY UTF8',
    });
    expect(await fileRows('tick_data', btc, 'BTCUSDT')).toEqual(
      await databaseRows(db, 'tick_data', 'BTCUSDT', DAY_1),
    );
    // The other symbol's file is unaffected.
    const eth = join(dir, 'tick_data', DAY_1, 'ETHUSDT.parquet');
    expect(await columnTypes(eth)).toMatchObject({ price: 'INT64 DECIMAL(18,8)' });
    expect(await collect(archive.ticks('BTCUSDT', START_1, END_2))).toEqual(ticksBefore);
    expect(ticksBefore.at(-1)).toMatchObject({
      price: '12345678901.5',
      quantity: '0.123456789012',
    });
    expect(await collect(archive.quotes('BTCUSDT', START_1, END_2))).toEqual(quotesBefore);
    expect(quotesBefore[0]).toMatchObject({
      bidPrice: '43250.000000000001',
      bidQty: '99999999999999.25',
    });
  });

  it('refuses a file damaged between its write and its check, leaving nothing at its name', async () => {
    await new TickRepository(db).insertTicks([
      ...ticks('BTCUSDT', 1, START_1, 30),
      ...ticks('ETHUSDT', 1, START_1, 30),
    ]);
    const damaged: string[] = [];
    const archive = await openArchive({
      beforeCheck: async (file) => {
        if (!file.includes('ETHUSDT')) return;
        damaged.push(file);
        await truncate(file, 100);
      },
    });

    const error = await archiveError(archive.archiveDay(db, 'tick_data', DAY_1));

    expect(error).toMatchObject({
      table: 'tick_data',
      day: DAY_1,
      symbol: 'ETHUSDT',
      check: 'read',
      file: damaged[0],
    });
    expect(error.message).toContain('tick_data 2024-03-01 ETHUSDT');
    // BTCUSDT came first and passed; ETHUSDT left neither a file nor a temporary one.
    expect(await filesBelow(dir)).toEqual([`tick_data/${DAY_1}/BTCUSDT.parquet`]);
  });

  it.each([
    {
      damage: 'one price changed',
      select: `SELECT * REPLACE (CASE WHEN trade_id = 7 THEN CAST(price + 0.01 AS DECIMAL(18,8)) ELSE price END AS price) FROM {file}`,
      check: 'sum of price',
    },
    {
      damage: 'one row dropped',
      select: 'SELECT * FROM {file} WHERE trade_id <> 7',
      check: 'count',
    },
    {
      damage: 'one scale changed',
      select: `SELECT * REPLACE (CASE WHEN trade_id = 7 THEN CAST(quantity_scale + 1 AS UTINYINT) ELSE quantity_scale END AS quantity_scale) FROM {file}`,
      check: 'sum of scale of quantity',
    },
    {
      damage: 'one time moved',
      select: `SELECT * REPLACE (CASE WHEN trade_id = 7 THEN timestamp_ms + 1 ELSE timestamp_ms END AS timestamp_ms) FROM {file}`,
      check: 'sum of timestamp_ms',
    },
  ])('refuses a readable file with $damage (check: $check)', async ({ select, check }) => {
    await new TickRepository(db).insertTicks(ticks('BTCUSDT', 1, START_1, 20));
    const archive = await openArchive({ beforeCheck: (file) => rewriteParquet(file, select) });

    const error = await archiveError(archive.archiveDay(db, 'tick_data', DAY_1));

    expect(error.check).toBe(check);
    expect(error.expected).not.toBe(error.actual);
    expect(error.message).toContain(`${check}: expected ${error.expected}`);
    expect(await filesBelow(dir)).toEqual([]);
  });

  it('re-archiving a day backfilled after it was archived keeps the union, the database winning a shared id', async () => {
    const repository = new TickRepository(db);
    await repository.insertTicks(ticks('BTCUSDT', 1, START_1, 40));
    const archive = await openArchive();
    await archive.archiveDay(db, 'tick_data', DAY_1);
    const archived = await collect(archive.ticks('BTCUSDT', START_1, START_2));
    // The day is dropped, then a late backfill brings one new trade and one
    // already archived, with another price.
    await db.executeQuery(
      CompiledQuery.raw(
        `delete from tick_data where "timestamp" >= $1::timestamptz and "timestamp" < $2::timestamptz`,
        [new Date(START_1).toISOString(), new Date(START_2).toISOString()],
      ),
    );
    const late = createTick({ ...archived[10]!, tradeId: 41, tradeTime: START_1 + 12_345 });
    const changed = createTick({ ...archived[20]!, price: '40000.5' });
    await repository.insertTicks([late, changed]);

    expect(await archive.archiveDay(db, 'tick_data', DAY_1)).toMatchObject({ files: 1, rows: 41 });

    const expected = [...archived.filter((t) => t.tradeId !== changed.tradeId), late, changed]
      .map((t) => ({ ...t, receiveTime: t.tradeTime }))
      .sort((a, b) => a.tradeTime - b.tradeTime || a.tradeId - b.tradeId);
    expect(await collect(archive.ticks('BTCUSDT', START_1, START_2))).toEqual(expected);
    expect(await filesBelow(dir)).toEqual([`tick_data/${DAY_1}/BTCUSDT.parquet`]);
    const rows = await fileRows(
      'tick_data',
      join(dir, 'tick_data', DAY_1, 'BTCUSDT.parquet'),
      'BTCUSDT',
    );
    expect(rows.find((r) => r.id === String(changed.tradeId))?.price).toBe('40000.5');
  });

  it('a union with a value beyond DECIMAL(18,8) turns the whole file to exact text', async () => {
    const repository = new TickRepository(db);
    await repository.insertTicks(ticks('BTCUSDT', 1, START_1, 12));
    const archive = await openArchive();
    await archive.archiveDay(db, 'tick_data', DAY_1);
    const archived = await collect(archive.ticks('BTCUSDT', START_1, START_2));
    const late = createTick({
      ...archived[0]!,
      tradeId: 13,
      quantity: '0.000000000001',
      tradeTime: START_1 + 1,
    });
    await repository.insertTicks([late]);

    await archive.archiveDay(db, 'tick_data', DAY_1);

    const file = join(dir, 'tick_data', DAY_1, 'BTCUSDT.parquet');
    expect(await columnTypes(file)).toMatchObject({ price: 'BYTE_ARRAY UTF8' });
    expect(await fileRows('tick_data', file, 'BTCUSDT')).toEqual(
      await databaseRows(db, 'tick_data', 'BTCUSDT', DAY_1),
    );
    expect(await collect(archive.ticks('BTCUSDT', START_1, START_2))).toEqual(
      await collect(repository.ticks('BTCUSDT', { from: START_1, to: START_2 })),
    );
  });

  it('will not replace an earlier file it cannot read', async () => {
    await new TickRepository(db).insertTicks(ticks('BTCUSDT', 1, START_1, 10));
    const archive = await openArchive();
    await archive.archiveDay(db, 'tick_data', DAY_1);
    const file = join(dir, 'tick_data', DAY_1, 'BTCUSDT.parquet');
    await writeFile(file, 'not parquet');

    const error = await archiveError(archive.archiveDay(db, 'tick_data', DAY_1));

    expect(error).toMatchObject({ check: 'read existing file', symbol: 'BTCUSDT', file });
    expect(await readFile(file, 'utf8')).toBe('not parquet');
    expect(await filesBelow(dir)).toEqual([`tick_data/${DAY_1}/BTCUSDT.parquet`]);
  });

  it('a day without rows writes nothing', async () => {
    await new TickRepository(db).insertTicks(ticks('BTCUSDT', 1, START_1, 10));
    const archive = await openArchive();

    expect(await archive.archiveDay(db, 'tick_data', DAY_2)).toEqual({
      table: 'tick_data',
      day: DAY_2,
      files: 0,
      rows: 0,
      bytes: 0,
    });
    expect(await archive.archiveDay(db, 'quote_data', DAY_1)).toMatchObject({ files: 0 });
    expect(await filesBelow(dir)).toEqual([]);
    expect(await archive.days('tick_data')).toEqual([]);
    expect(await collect(archive.ticks('BTCUSDT', START_1, END_2))).toEqual([]);
  });

  it('refuses a day that is not a UTC day as YYYY-MM-DD', async () => {
    const archive = await openArchive();
    await expect(archive.archiveDay(db, 'tick_data', '2024-02-30')).rejects.toThrow(/invalid day/);
    await expect(archive.archiveDay(db, 'tick_data', '2024-3-01')).rejects.toThrow(/invalid day/);
  });
});
