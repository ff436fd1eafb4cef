import { createQuote, createTick, type BookTop, type Quote } from '@trade/core';
import { Migrator, sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BookSnapshotRepository,
  QuoteRepository,
  SymbolRulesRepository,
  TickRepository,
  migrateToLatest,
  type BookSnapshot,
  type MarketDataDatabase,
  type StoredBookTop,
} from '../src/index.js';
import { MIGRATIONS } from '../src/migrations.js';
import { openDatabase, type BackendName, type Database } from './scratch-database.js';

const T0 = 1_700_000_000_000;

const quote = (updateId: number, over: Partial<Parameters<typeof createQuote>[0]> = {}): Quote =>
  createQuote({
    symbol: 'BTCUSDT',
    updateId,
    bidPrice: '43250.01000000',
    bidQty: '0.50000000',
    askPrice: '43250.02000000',
    askQty: '1.25000000',
    receiveTime: T0 + updateId,
    ...over,
  });

const snapshot = (
  updateId: number,
  over: Partial<BookTop> = {},
  timestamp = T0 + updateId * 1000,
): BookSnapshot => ({
  top: {
    symbol: 'BTCUSDT',
    updateId,
    bids: [
      ['43250.01000000', '0.50000000'],
      ['43250.00000000', '0.00000001'],
      ['43249.9', '1234567890.123456'],
    ],
    asks: [
      ['43250.02000000', '1.25000000'],
      ['43250.1', '0.1'],
      ['123456789.12345678', '2'],
    ],
    ...over,
  },
  timestamp,
});

async function all<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

describe.each<BackendName>(['postgresql', 'pglite'])('quotes and book snapshots on %s', (name) => {
  let database: Database;
  let db: Kysely<MarketDataDatabase>;

  beforeAll(async () => {
    database = await openDatabase(name);
    db = database.db;
    await migrateToLatest(db);
  });
  afterAll(async () => database?.close());
  beforeEach(async () => {
    await sql`truncate quote_data, book_snapshots`.execute(db);
    database.sql.length = 0;
  });

  it('creates quote_data and book_snapshots as the design says', async () => {
    const { rows: columns } = await sql<{
      table_name: string;
      column_name: string;
      data_type: string;
      collation_name: string | null;
      is_nullable: string;
    }>`
      select table_name, column_name, data_type, collation_name, is_nullable
      from information_schema.columns
      where table_schema = current_schema() and table_name in ('quote_data', 'book_snapshots')
      order by table_name, ordinal_position`.execute(db);
    const shape = (table: string) =>
      columns
        .filter((c) => c.table_name === table)
        .map((c) => `${c.column_name} ${c.data_type}${c.collation_name === 'C' ? ' "C"' : ''}`);
    expect(shape('quote_data')).toEqual([
      'symbol text "C"',
      'update_id bigint',
      'bid_price numeric',
      'bid_qty numeric',
      'ask_price numeric',
      'ask_qty numeric',
      'timestamp timestamp with time zone',
    ]);
    expect(shape('book_snapshots')).toEqual([
      'symbol text "C"',
      'update_id bigint',
      'timestamp timestamp with time zone',
      'bids jsonb',
      'asks jsonb',
    ]);
    expect(columns.every((c) => c.is_nullable === 'NO')).toBe(true);
    const { rows: indexes } = await sql<{ indexdef: string }>`
      select indexdef from pg_indexes
      where tablename in ('quote_data', 'book_snapshots') order by indexname`.execute(db);
    expect(indexes.map((i) => i.indexdef.replace(/ ON (ONLY )?\S+\.(\w+)/, ' ON $2'))).toEqual([
      'CREATE INDEX book_snapshots_symbol_timestamp_idx ON book_snapshots USING btree (symbol, "timestamp" DESC)',
      'CREATE UNIQUE INDEX book_snapshots_symbol_update_id_key ON book_snapshots USING btree (symbol, update_id)',
      'CREATE INDEX quote_data_symbol_timestamp_idx ON quote_data USING btree (symbol, "timestamp" DESC)',
      // quote_data is partitioned by day on timestamp: its unique key holds the time.
      'CREATE UNIQUE INDEX quote_data_symbol_update_id_timestamp_key ON quote_data USING btree (symbol, update_id, "timestamp")',
    ]);
    expect(await migrateToLatest(db)).toEqual([]);
  });

  describe('QuoteRepository', () => {
    it('stores each (symbol, update id) once, within a batch and across batches', async () => {
      const quotes = new QuoteRepository(db);
      const batch = [
        quote(3),
        quote(1),
        quote(2),
        quote(1, { bidPrice: '1' }), // a repeat: the first one stays
        quote(2),
        quote(1, { symbol: 'ETHUSDT', receiveTime: T0 + 7 }),
      ];
      expect(await quotes.insert(batch)).toEqual({ inserted: 4, duplicates: 2, rejected: [] });
      expect(await quotes.insert(batch)).toEqual({ inserted: 0, duplicates: 6, rejected: [] });
      expect(await quotes.insert([quote(2), quote(4)])).toEqual({
        inserted: 1,
        duplicates: 1,
        rejected: [],
      });
      const { rows } = await sql<{ symbol: string; update_id: string; bid_price: string }>`
        select symbol, update_id, bid_price::text as bid_price from quote_data
        order by symbol, update_id`.execute(db);
      expect(rows.map((r) => [r.symbol, Number(r.update_id), r.bid_price])).toEqual([
        ['BTCUSDT', 1, '43250.01000000'],
        ['BTCUSDT', 2, '43250.01000000'],
        ['BTCUSDT', 3, '43250.01000000'],
        ['BTCUSDT', 4, '43250.01000000'],
        ['ETHUSDT', 1, '43250.01000000'],
      ]);
      expect(await quotes.latestUpdateIds(['BTCUSDT', 'ETHUSDT', 'XRPUSDT'])).toEqual(
        new Map([
          ['BTCUSDT', 4],
          ['ETHUSDT', 1],
        ]),
      );
    });

    it('writes new rows with a plain insert and a replay with ON CONFLICT DO NOTHING', async () => {
      const quotes = new QuoteRepository(db);
      const kinds = () =>
        database.sql
          .filter((s) => /insert into quote_data/.test(s))
          .map((s) => (/on conflict/i.test(s) ? 'skip-stored' : 'plain'));
      const first = Array.from({ length: 20 }, (_, i) => quote(i + 1));
      await quotes.insert(first);
      expect(kinds()).toEqual(['plain']);
      database.sql.length = 0;
      expect(await quotes.insert([...first.slice(15), quote(21)])).toEqual({
        inserted: 1,
        duplicates: 5,
        rejected: [],
      });
      expect(kinds()).toEqual(['plain', 'skip-stored']);
      database.sql.length = 0;
      await quotes.insert([quote(22)]);
      await quotes.insert([quote(23)]);
      expect(kinds()).toEqual(['skip-stored', 'plain']);
    });

    it('keeps decimals exactly as sent: numeric::text reads back the same string', async () => {
      const quotes = new QuoteRepository(db);
      const exact = [
        quote(1, { bidPrice: '0.00000001', bidQty: '123456789.12345678' }),
        quote(2, { bidPrice: '1234567890.123456', bidQty: '0.0000000012345678' }),
        quote(3, { askPrice: '9007199254740993', askQty: '1.1000' }),
        quote(4, { askPrice: '99999999999999999999.99999999999999999999', askQty: '1' }),
      ];
      expect((await quotes.insert(exact)).inserted).toBe(4);
      const { rows } = await sql<{
        update_id: string;
        bp: string;
        bq: string;
        ap: string;
        aq: string;
      }>`
        select update_id, bid_price::text as bp, bid_qty::text as bq,
          ask_price::text as ap, ask_qty::text as aq
        from quote_data order by update_id`.execute(db);
      expect(rows.map((r) => [Number(r.update_id), r.bp, r.bq, r.ap, r.aq])).toEqual(
        exact.map((q) => [q.updateId, q.bidPrice, q.bidQty, q.askPrice, q.askQty]),
      );
      expect(await all(quotes.quotesBetween('BTCUSDT', -Infinity, Infinity))).toEqual(
        exact.map((q) => ({ ...q })),
      );
    });

    it('reads a range in order, exactly, across pages, from inclusive and to exclusive', async () => {
      const quotes = new QuoteRepository(db);
      const stored = Array.from({ length: 57 }, (_, i) =>
        quote(1000 + i, {
          bidPrice: `${43_000 + i}.${String(i).padStart(8, '0')}`,
          askQty: `0.${String(i + 1).padStart(16, '0')}`,
          // Two quotes share each millisecond: update ids order them.
          receiveTime: T0 + Math.floor(i / 2),
        }),
      );
      const other = Array.from({ length: 5 }, (_, i) =>
        quote(1000 + i, { symbol: 'ETHUSDT', receiveTime: T0 + i }),
      );
      await quotes.insert([...stored].reverse().concat(other));
      const read = await all(quotes.quotesBetween('BTCUSDT', T0, T0 + 100, { pageSize: 5 }));
      expect(read).toEqual(stored.map((q) => ({ ...q })));
      const window = await all(quotes.quotesBetween('BTCUSDT', T0 + 3, T0 + 10, { pageSize: 2 }));
      expect(window.map((q) => q.updateId)).toEqual(
        stored
          .filter((q) => q.receiveTime >= T0 + 3 && q.receiveTime < T0 + 10)
          .map((q) => q.updateId),
      );
      expect(window).toHaveLength(14);
      expect(await all(quotes.quotesBetween('BTCUSDT', T0 + 100, Infinity))).toEqual([]);
      expect(await all(quotes.quotesBetween('XRPUSDT', -Infinity, Infinity))).toEqual([]);
      await expect(quotes.quotesBetween('BTCUSDT', Number.NaN, 0).next()).rejects.toThrow(/fromMs/);
    });

    it('rejects malformed quotes by field and stores the rest', async () => {
      const quotes = new QuoteRepository(db);
      const bad = { ...quote(2), bidPrice: '1e5' };
      const negative = { ...quote(3), updateId: -1 };
      const result = await quotes.insert([quote(1), bad, negative, quote(4)]);
      expect(result).toEqual({
        inserted: 2,
        duplicates: 0,
        rejected: [
          { quote: bad, reason: 'invalid bidPrice' },
          { quote: negative, reason: 'invalid updateId' },
        ],
      });
    });
  });

  describe('BookSnapshotRepository', () => {
    it('keeps the levels exactly, best first, as jsonb [["price","qty"],...]', async () => {
      const books = new BookSnapshotRepository(db);
      const stored = [
        snapshot(1),
        snapshot(2, { bids: [], asks: [['0.00000001', '16.0000000000000001']] }),
      ];
      expect(await books.insert(stored)).toEqual({ inserted: 2, duplicates: 0, rejected: [] });
      const { rows } = await sql<{ bids: string; asks: string; types: string }>`
        select bids::text as bids, asks::text as asks,
          jsonb_typeof(bids) || '/' || coalesce(jsonb_typeof(bids -> 0 -> 0), 'none') as types
        from book_snapshots where update_id = 1`.execute(db);
      expect(JSON.parse(rows[0]!.bids)).toEqual(stored[0]!.top.bids);
      expect(JSON.parse(rows[0]!.asks)).toEqual(stored[0]!.top.asks);
      expect(rows[0]!.types).toBe('array/string');
      const read = await all(books.snapshotsBetween('BTCUSDT', -Infinity, Infinity));
      expect(read).toEqual(
        stored.map((s): StoredBookTop => ({
          symbol: s.top.symbol,
          updateId: s.top.updateId,
          bids: s.top.bids,
          asks: s.top.asks,
          timestamp: s.timestamp,
        })),
      );
    });

    it('stores each (symbol, update id) once; a second insert adds nothing', async () => {
      const books = new BookSnapshotRepository(db);
      const batch = [
        snapshot(2),
        snapshot(1),
        snapshot(2, { bids: [['1', '1']] }),
        snapshot(1, { symbol: 'ETHUSDT' }),
      ];
      expect(await books.insert(batch)).toEqual({ inserted: 3, duplicates: 1, rejected: [] });
      expect(await books.insert(batch)).toEqual({ inserted: 0, duplicates: 4, rejected: [] });
      const read = await all(books.snapshotsBetween('BTCUSDT', -Infinity, Infinity));
      expect(read.map((t) => [t.updateId, t.bids[0]])).toEqual([
        [1, ['43250.01000000', '0.50000000']],
        [2, ['43250.01000000', '0.50000000']],
      ]);
    });

    it('reads a range in time order across pages', async () => {
      const books = new BookSnapshotRepository(db);
      const stored = Array.from({ length: 23 }, (_, i) => snapshot(100 + i));
      await books.insert([...stored].reverse());
      const read = await all(
        books.snapshotsBetween('BTCUSDT', T0 + 105_000, T0 + 120_000, { pageSize: 4 }),
      );
      expect(read.map((t) => t.updateId)).toEqual(Array.from({ length: 15 }, (_, i) => 105 + i));
      expect(read[0]!.timestamp).toBe(T0 + 105_000);
    });

    it('refuses levels that are not best first, malformed, or zero', async () => {
      const books = new BookSnapshotRepository(db);
      const bidsRising = snapshot(1, {
        bids: [
          ['100', '1'],
          ['100.5', '1'],
        ],
      });
      const asksRepeated = snapshot(2, {
        asks: [
          ['100.10', '1'],
          ['100.1', '1'],
        ],
      });
      const zeroQty = snapshot(3, { asks: [['101', '0.000']] });
      const notPair = snapshot(4, {
        bids: [['100', '1', '2'] as unknown as readonly [string, string]],
      });
      const result = await books.insert([bidsRising, asksRepeated, zeroQty, notPair, snapshot(5)]);
      expect(result.inserted).toBe(1);
      expect(result.rejected.map((r) => [r.snapshot.top.updateId, r.reason])).toEqual([
        [1, 'invalid bids'],
        [2, 'invalid asks'],
        [3, 'invalid asks'],
        [4, 'invalid bids'],
      ]);
    });
  });
});

describe.each<BackendName>(['postgresql', 'pglite'])('symbol rules on %s', (name) => {
  let database: Database;
  afterAll(async () => database?.close());

  it("keeps each symbol's latest rules as exact strings, one row per symbol", async () => {
    database = await openDatabase(name);
    await migrateToLatest(database.db);
    const rules = new SymbolRulesRepository(database.db);
    const btc = {
      symbol: 'BTCUSDT',
      tickSize: '0.01000000',
      stepSize: '0.00001000',
      minQty: '0.00001000',
      minNotional: '5.00000000',
    };
    await rules.save([btc, { ...btc, symbol: 'ETHUSDT', tickSize: '0.10000000' }]);
    await rules.save([{ ...btc, minNotional: '10.00000000' }]);
    const loaded = await rules.load(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);
    expect(loaded).toEqual(
      new Map([
        ['BTCUSDT', { ...btc, minNotional: '10.00000000' }],
        ['ETHUSDT', { ...btc, symbol: 'ETHUSDT', tickSize: '0.10000000' }],
      ]),
    );
    await expect(rules.save([{ ...btc, stepSize: '1e-5' }])).rejects.toThrow(/BTCUSDT\.stepSize/);
    expect((await rules.load(['BTCUSDT'])).get('BTCUSDT')?.stepSize).toBe('0.00001000');
  });
});

describe.each<BackendName>(['postgresql', 'pglite'])('migrations on %s', (name) => {
  it('upgrade a database that has only the older migrations, keeping its rows', async () => {
    const database = await openDatabase(name);
    try {
      const older = Object.fromEntries(Object.entries(MIGRATIONS).filter(([key]) => key < '0004'));
      const { error } = await new Migrator({
        db: database.db,
        provider: { getMigrations: () => Promise.resolve(older) },
      }).migrateToLatest();
      expect(error).toBeUndefined();
      const ticks = new TickRepository(database.db);
      const tick = createTick({
        symbol: 'BTCUSDT',
        tradeId: 7,
        price: '43250.01000000',
        quantity: '0.00100000',
        isBuyerMaker: false,
        tradeTime: T0,
      });
      expect((await ticks.insertTicks([tick])).inserted).toBe(1);

      expect(await migrateToLatest(database.db)).toEqual([
        '0004_quote_data',
        '0005_book_snapshots',
        '0006_symbol_rules',
        '0007_candles_1m',
        '0008_daily_partitions',
      ]);
      expect(await migrateToLatest(database.db)).toEqual([]);
      expect(await ticks.countTicks()).toBe(1);
      expect((await new QuoteRepository(database.db).insert([quote(1)])).inserted).toBe(1);
      expect((await new BookSnapshotRepository(database.db).insert([snapshot(1)])).inserted).toBe(
        1,
      );
    } finally {
      await database.close();
    }
  });
});
