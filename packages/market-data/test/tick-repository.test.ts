import { createTick, type Tick } from '@trade/core';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dayOf, listPartitions, migrateToLatest, TickRepository } from '../src/index.js';
import { openBackend, type Backend, type BackendName } from './backends.js';
import { makeTicks } from './helpers.js';

const tick = (over: Partial<Parameters<typeof createTick>[0]> = {}): Tick =>
  createTick({
    symbol: 'BTCUSDT',
    tradeId: 1,
    price: '43250.01000000',
    quantity: '0.00100000',
    isBuyerMaker: false,
    tradeTime: 1_700_000_000_000,
    receiveTime: 1_700_000_000_004,
    ...over,
  });

describe.each<BackendName>(['postgresql', 'pglite'])('TickRepository on %s', (backendName) => {
  let backend: Backend;
  let repository: TickRepository;

  beforeAll(async () => {
    backend = await openBackend(backendName);
    repository = new TickRepository(backend.db);
  });
  afterAll(async () => backend?.close());
  beforeEach(async () => backend.truncate());

  it('creates tick_data and paper_trades as the design says, idempotently', async () => {
    expect(await migrateToLatest(backend.db)).toEqual([]);
    const { rows: columns } = await sql<{
      table_name: string;
      column_name: string;
      data_type: string;
    }>`
      select table_name, column_name, data_type from information_schema.columns
      where table_schema = current_schema() and table_name in ('tick_data', 'paper_trades')
      order by table_name, ordinal_position`.execute(backend.db);
    const shape = (table: string) =>
      columns.filter((c) => c.table_name === table).map((c) => `${c.column_name} ${c.data_type}`);
    expect(shape('tick_data')).toEqual([
      'symbol text',
      'trade_id bigint',
      'price numeric',
      'quantity numeric',
      'side text',
      'is_buyer_maker boolean',
      'timestamp timestamp with time zone',
    ]);
    const { rows: collation } = await sql<{ collation_name: string }>`
      select collation_name from information_schema.columns
      where table_schema = current_schema() and table_name = 'tick_data' and column_name = 'symbol'`.execute(
      backend.db,
    );
    expect(collation[0]!.collation_name).toBe('C');
    expect(shape('paper_trades')).toEqual([
      'id bigint',
      'strategy text',
      'symbol text',
      'side text',
      'price numeric',
      'quantity numeric',
      'fee numeric',
      'cash_after numeric',
      'position_after numeric',
      'timestamp timestamp with time zone',
    ]);
    const { rows: indexes } = await sql<{ indexdef: string }>`
      select indexdef from pg_indexes where tablename = 'tick_data' order by indexname`.execute(
      backend.db,
    );
    expect(
      indexes.map((i) => i.indexdef.replace(/ ON (ONLY )?\S+\.?tick_data/, ' ON tick_data')),
    ).toEqual([
      'CREATE INDEX tick_data_symbol_timestamp_idx ON tick_data USING btree (symbol, "timestamp" DESC)',
      // A unique key of a table partitioned by time holds the time (DESIGN.md).
      'CREATE UNIQUE INDEX tick_data_symbol_trade_id_timestamp_key ON tick_data USING btree (symbol, trade_id, "timestamp")',
    ]);
    // Partitioned by range on timestamp, today's and tomorrow's partitions made by the migration.
    const { rows: partitioning } = await sql<{ strategy: string; key: string }>`
      select partstrat as strategy, pg_get_partkeydef(partrelid) as key
      from pg_partitioned_table where partrelid = 'tick_data'::regclass`.execute(backend.db);
    expect(partitioning).toEqual([{ strategy: 'r', key: 'RANGE ("timestamp")' }]);
    const today = dayOf(Date.now());
    const days = (await listPartitions(backend.db, 'tick_data')).map((p) => p.day);
    expect(days).toEqual(expect.arrayContaining([today, today + 1]));
    await expect(
      sql`insert into tick_data values ('BTCUSDT', 1, 1, 1, 'HOLD', true, now())`.execute(
        backend.db,
      ),
    ).rejects.toThrow(/check/);
  });

  it('keeps prices and quantities exactly, trailing zeros and 16 significant digits included', async () => {
    const exact = [
      tick({ tradeId: 1, price: '43250.01000000', quantity: '0.0000000012345678' }),
      tick({ tradeId: 2, price: '0.00000001', quantity: '1234567890.123456' }),
      tick({ tradeId: 3, price: '99999999999999999999.99999999999999999999', quantity: '1' }),
      tick({ tradeId: 4, price: '1.1000', quantity: '9007199254740993' }),
    ];
    await repository.insertTicks(exact);
    const back = await repository.latestTicks('BTCUSDT', 10);
    expect(back.map((t) => [t.tradeId, t.price, t.quantity])).toEqual(
      exact.map((t) => [t.tradeId, t.price, t.quantity]).reverse(),
    );
    const { rows } = await sql<{ ok: boolean }>`
      select bool_and(price::text = p and quantity::text = q) as ok
      from tick_data join (values (1::int8, '43250.01000000', '0.0000000012345678'))
        as v(i, p, q) on trade_id = v.i`.execute(backend.db);
    expect(rows[0]!.ok).toBe(true);
  });

  it('stores each (symbol, trade id) once, across batches and within one', async () => {
    const batch = makeTicks(100, { startId: 1 });
    expect(await repository.insertTicks(batch)).toEqual({
      inserted: 100,
      duplicates: 0,
      rejected: [],
    });
    const again = [...batch.slice(50), ...makeTicks(10, { startId: 101 }), batch[0]!, batch[0]!];
    expect(await repository.insertTicks(again)).toEqual({
      inserted: 10,
      duplicates: 52,
      rejected: [],
    });
    const otherSymbol = makeTicks(5, { startId: 1, symbol: 'ETHUSDT' });
    expect((await repository.insertTicks(otherSymbol)).inserted).toBe(5);
    expect(await repository.countTicks()).toBe(115);
    expect(await repository.countTicks('BTCUSDT')).toBe(110);
  });

  it('writes new rows with a plain insert and a replay with ON CONFLICT DO NOTHING', async () => {
    const fresh = new TickRepository(backend.db);
    const kinds = () =>
      backend.sql
        .filter((s) => /^insert into tick_data/.test(s))
        .map((s) => (/on conflict/i.test(s) ? 'skip-stored' : 'plain'));
    const first = makeTicks(100, { startId: 1 });
    expect(await fresh.insertTicks(first)).toEqual({ inserted: 100, duplicates: 0, rejected: [] });
    expect(kinds()).toEqual(['plain']);
    // A replay: the plain insert meets stored rows and writes nothing; the batch goes again.
    backend.sql.length = 0;
    const replay = [...first.slice(90), ...makeTicks(5, { startId: 101 })];
    expect(await fresh.insertTicks(replay)).toEqual({ inserted: 5, duplicates: 10, rejected: [] });
    expect(kinds()).toEqual(['plain', 'skip-stored']);
    // The next batch is expected to overlap too, until one holds only new rows.
    backend.sql.length = 0;
    await fresh.insertTicks(makeTicks(5, { startId: 106 }));
    await fresh.insertTicks(makeTicks(5, { startId: 111 }));
    expect(kinds()).toEqual(['skip-stored', 'plain']);
    expect(await fresh.countTicks()).toBe(115);
  });

  it('sends a batch in key order without its repeats', async () => {
    const btc = makeTicks(4, { startId: 1 });
    const eth = makeTicks(3, { startId: 1, symbol: 'ETHUSDT' });
    const result = await repository.insertTicks([
      eth[2]!,
      btc[3]!,
      eth[0]!,
      btc[1]!,
      btc[0]!,
      btc[2]!,
      eth[1]!,
      btc[1]!,
    ]);
    expect(result).toEqual({ inserted: 7, duplicates: 1, rejected: [] });
    const { rows } = await sql<{ symbol: string; trade_id: string }>`
      select symbol, trade_id from tick_data order by ctid`.execute(backend.db);
    expect(rows.map((r) => `${r.symbol}:${r.trade_id}`)).toEqual([
      'BTCUSDT:1',
      'BTCUSDT:2',
      'BTCUSDT:3',
      'BTCUSDT:4',
      'ETHUSDT:1',
      'ETHUSDT:2',
      'ETHUSDT:3',
    ]);
  });

  it('writes a batch far beyond 65,535 parameters in one statement', async () => {
    const big = makeTicks(70_000, { startId: 1 });
    backend.statements = 0;
    const result = await repository.insertTicks(big);
    expect(backend.statements).toBe(1);
    expect(result.inserted).toBe(70_000);
    expect(await repository.countTicks()).toBe(70_000);
  });

  it('refuses bad ticks without sinking the batch', async () => {
    const good = makeTicks(20, { startId: 1 });
    const badPrice = { ...good[3]!, tradeId: 1000, price: '1e5' };
    const badSide = {
      ...good[4]!,
      tradeId: 1001,
      side: good[4]!.side === 'BUY' ? 'SELL' : 'BUY',
    } as Tick;
    const result = await repository.insertTicks([...good, badPrice, badSide]);
    expect(result.inserted).toBe(20);
    expect(result.rejected.map((r) => [r.tick.tradeId, r.reason])).toEqual([
      [1000, 'invalid price'],
      [1001, 'invalid side'],
    ]);
  });

  it('isolates rows the database itself refuses and stores the rest', async () => {
    await sql`alter table tick_data add constraint test_price_cap check (price < 100000)`.execute(
      backend.db,
    );
    try {
      const ticks = makeTicks(1000, { startId: 1 });
      const refused = new Set([17, 500, 999]);
      const mixed = ticks.map((t, i) => (refused.has(i) ? { ...t, price: '250000.5' } : t));
      const result = await repository.insertTicks(mixed);
      expect(result.inserted).toBe(997);
      expect(result.rejected.map((r) => r.tick.tradeId).sort((a, b) => a - b)).toEqual([
        18, 501, 1000,
      ]);
      expect(result.rejected[0]!.reason).toMatch(/test_price_cap/);
      expect(await repository.countTicks()).toBe(997);
    } finally {
      await sql`alter table tick_data drop constraint test_price_cap`.execute(backend.db);
    }
  });

  it('streams a time range oldest first across pages, ties on the same millisecond included', async () => {
    const ticks: Tick[] = [];
    for (let i = 0; i < 50; i++) {
      // Three trades share each millisecond.
      ticks.push(
        tick({
          tradeId: 100 + i,
          tradeTime: 1_700_000_000_000 + Math.floor(i / 3),
          price: `${100 + i}`,
        }),
      );
    }
    await repository.insertTicks([...ticks].reverse());
    await repository.insertTicks(makeTicks(5, { symbol: 'ETHUSDT', startId: 1 }));

    const all: Tick[] = [];
    for await (const t of repository.ticks('BTCUSDT', { pageSize: 7 })) all.push(t);
    expect(all.map((t) => t.tradeId)).toEqual(ticks.map((t) => t.tradeId));
    expect(all[0]).toEqual({ ...ticks[0]!, receiveTime: ticks[0]!.tradeTime });

    const ranged: number[] = [];
    for await (const t of repository.ticks('BTCUSDT', {
      from: 1_700_000_000_002,
      to: new Date(1_700_000_000_005),
      pageSize: 2,
    })) {
      ranged.push(t.tradeId);
    }
    expect(ranged).toEqual([106, 107, 108, 109, 110, 111, 112, 113, 114]);
  });

  it('reads the latest N newest first', async () => {
    await repository.insertTicks(makeTicks(30, { startId: 1 }));
    const latest = await repository.latestTicks('BTCUSDT', 5);
    expect(latest.map((t) => t.tradeId)).toEqual([30, 29, 28, 27, 26]);
    expect(await repository.latestTicks('NOPEUSDT', 5)).toEqual([]);
  });

  it('builds OHLC candles aligned on the interval', async () => {
    const at = (tradeId: number, ms: number, price: string, quantity: string) =>
      tick({ tradeId, tradeTime: 1_700_000_020_000 + ms, price, quantity });
    await repository.insertTicks([
      at(1, 0, '10.5', '1.25'),
      at(2, 10_000, '12.0', '0.75'),
      at(3, 19_999, '9.00', '2'),
      at(4, 20_000, '11', '0.1'),
      at(5, 59_000, '11.25', '0.2'),
    ]);
    // 1_700_000_020_000 is 40 s into a minute: that minute holds ticks 1-3.
    const candles = await repository.candles('BTCUSDT', { intervalMs: 60_000 });
    expect(candles).toEqual([
      {
        openTime: 1_699_999_980_000,
        open: '10.5',
        high: '12.0',
        low: '9.00',
        close: '9.00',
        volume: '4.00',
        trades: 3,
      },
      {
        openTime: 1_700_000_040_000,
        open: '11',
        high: '11.25',
        low: '11',
        close: '11.25',
        volume: '0.3',
        trades: 2,
      },
    ]);
    const ranged = await repository.candles('BTCUSDT', {
      intervalMs: 10_000,
      from: 1_700_000_030_000,
    });
    expect(ranged.map((c) => [c.openTime, c.trades])).toEqual([
      [1_700_000_030_000, 2],
      [1_700_000_040_000, 1],
      [1_700_000_070_000, 1],
    ]);
    await expect(repository.candles('BTCUSDT', { intervalMs: 0 })).rejects.toThrow(/intervalMs/);
  });

  it('tells the last stored trade id of each symbol', async () => {
    await repository.insertTicks([
      ...makeTicks(10, { symbol: 'BTCUSDT', startId: 500 }),
      ...makeTicks(3, { symbol: 'ETHUSDT', startId: 9_007_199_254_740_000 }),
    ]);
    const latest = await repository.latestTradeIds(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);
    expect([...latest]).toEqual([
      ['BTCUSDT', 509],
      ['ETHUSDT', 9_007_199_254_740_002],
    ]);
    expect((await repository.latestTradeIds([])).size).toBe(0);
  });
});

describe('TickRepository with commits in order, on postgresql', () => {
  let backend: Backend;
  let repository: TickRepository;

  beforeAll(async () => {
    backend = await openBackend('postgresql');
    repository = new TickRepository(backend.db);
  });
  afterAll(async () => backend?.close());
  beforeEach(async () => backend.truncate());

  /** Resolves once a session of the test database holds an open, idle transaction. */
  async function transactionWaiting(): Promise<void> {
    for (;;) {
      const { rows } = await sql<{ n: number }>`
        select count(*)::int as n from pg_stat_activity
        where datname = current_database() and state = 'idle in transaction'`.execute(backend.db);
      if (rows[0]!.n > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it('inserts at once but commits only after the batch before it', async () => {
    let previousDone!: () => void;
    const previous = new Promise<void>((resolve) => (previousDone = resolve));
    const second = repository.insertTicks(makeTicks(100, { startId: 101 }), {
      commitAfter: previous,
    });
    await transactionWaiting();
    expect(await repository.countTicks()).toBe(0);
    expect(backend.sql.filter((s) => /^insert/i.test(s.trim()))).toHaveLength(1);
    previousDone();
    expect(await second).toEqual({ inserted: 100, duplicates: 0, rejected: [] });
    expect(await repository.countTicks()).toBe(100);
  });

  it('writes nothing when the batch before it failed', async () => {
    const failed = Promise.reject(new Error('previous batch failed'));
    failed.catch(() => undefined); // awaited only once the insert is done
    await expect(
      repository.insertTicks(makeTicks(10, { startId: 1 }), { commitAfter: failed }),
    ).rejects.toThrow('previous batch failed');
    expect(await repository.countTicks()).toBe(0);
  });

  it('skips stored rows of a replay, still after the batch before it', async () => {
    const stored = makeTicks(50, { startId: 1 });
    await repository.insertTicks(stored);
    let previousDone!: () => void;
    const previous = new Promise<void>((resolve) => (previousDone = resolve));
    const replay = repository.insertTicks([...stored, ...makeTicks(10, { startId: 51 })], {
      commitAfter: previous,
    });
    // The plain insert meets the stored rows and is rolled back; the rest waits.
    while (!backend.sql.includes('rollback')) await new Promise((r) => setTimeout(r, 10));
    expect(await repository.countTicks()).toBe(50);
    expect(backend.sql.some((s) => /on conflict/i.test(s))).toBe(false);
    previousDone();
    expect(await replay).toEqual({ inserted: 10, duplicates: 50, rejected: [] });
    expect(backend.sql.filter((s) => /on conflict/i.test(s))).toHaveLength(1);
    expect(await repository.countTicks()).toBe(60);
  });
});
