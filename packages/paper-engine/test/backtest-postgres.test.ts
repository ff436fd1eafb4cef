import type { PaperFill, PaperFillWriter, Tick } from '@trade/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBacktest, type BacktestProgress } from '../src/backtest.js';
import { PaperEngine } from '../src/paper-engine.js';
import { strategyByName } from '../src/strategy-registry.js';
import { randomWalk } from './ticks.js';

// Ticks stored in a real PostgreSQL, in a table shaped like DESIGN.md's
// tick_data, streamed back by keyset pages into the backtest; fills written
// to a paper_trades table through the PaperFillWriter interface.
const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DATABASE = 'trade_paper_engine_test';

let pool: pg.Pool;

interface TickRow {
  symbol: string;
  trade_id: string;
  price: string;
  quantity: string;
  side: 'BUY' | 'SELL';
  is_buyer_maker: boolean;
  timestamp: Date;
}

/** Every stored tick of `symbol` in `[from, to]`, in trade-id order, `pageSize` rows per query. */
async function* streamTicks(
  symbol: string,
  range: { from?: Date; to?: Date; pageSize?: number } = {},
): AsyncGenerator<Tick> {
  const pageSize = range.pageSize ?? 2000;
  let after = -1;
  for (;;) {
    const { rows } = await pool.query<TickRow>(
      `select symbol, trade_id, price, quantity, side, is_buyer_maker, timestamp
         from tick_data
        where symbol = $1 and trade_id > $2
          and ($3::timestamptz is null or timestamp >= $3)
          and ($4::timestamptz is null or timestamp <= $4)
        order by trade_id
        limit $5`,
      [symbol, after, range.from ?? null, range.to ?? null, pageSize],
    );
    for (const row of rows) {
      yield {
        symbol: row.symbol,
        tradeId: Number(row.trade_id),
        price: row.price,
        quantity: row.quantity,
        side: row.side,
        isBuyerMaker: row.is_buyer_maker,
        tradeTime: row.timestamp.getTime(),
        receiveTime: row.timestamp.getTime(),
      };
    }
    if (rows.length < pageSize) return;
    after = Number(rows.at(-1)!.trade_id);
  }
}

class PgFillWriter implements PaperFillWriter {
  batches = 0;
  async write(fills: readonly PaperFill[]): Promise<void> {
    this.batches += 1;
    await pool.query(
      `insert into paper_trades
         (strategy, symbol, side, price, quantity, fee, cash_after, position_after, timestamp)
       select * from unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::numeric[],
                            $6::numeric[], $7::numeric[], $8::numeric[], $9::timestamptz[])`,
      [
        fills.map((f) => f.strategy),
        fills.map((f) => f.symbol),
        fills.map((f) => f.side),
        fills.map((f) => f.price),
        fills.map((f) => f.quantity),
        fills.map((f) => f.fee),
        fills.map((f) => f.cashAfter),
        fills.map((f) => f.positionAfter),
        fills.map((f) => new Date(f.timestamp).toISOString()),
      ],
    );
  }
}

async function insertTicks(ticks: readonly Tick[]): Promise<void> {
  for (let i = 0; i < ticks.length; i += 5000) {
    const page = ticks.slice(i, i + 5000);
    await pool.query(
      `insert into tick_data (symbol, trade_id, price, quantity, side, is_buyer_maker, timestamp)
       select * from unnest($1::text[], $2::bigint[], $3::numeric[], $4::numeric[], $5::text[],
                            $6::boolean[], $7::timestamptz[])
       on conflict (symbol, trade_id) do nothing`,
      [
        page.map((t) => t.symbol),
        page.map((t) => t.tradeId),
        page.map((t) => t.price),
        page.map((t) => t.quantity),
        page.map((t) => t.side),
        page.map((t) => t.isBuyerMaker),
        page.map((t) => new Date(t.tradeTime).toISOString()),
      ],
    );
  }
}

// 40 000 ticks over two symbols, 150 ms apart: more than the old 10k cap per symbol.
const stored = randomWalk(40_000, { symbols: ['BTCUSDT', 'ETHUSDT'], seed: 11, spacingMs: 150 });
const btc = stored.filter((t) => t.symbol === 'BTCUSDT');

beforeAll(async () => {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    const exists = await admin.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (exists.rowCount === 0) await admin.query(`create database ${DATABASE}`);
  } finally {
    await admin.end();
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${DATABASE}`;
  pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
  await pool.query('drop table if exists tick_data, paper_trades');
  await pool.query(`
    create table tick_data (
      symbol text not null,
      trade_id bigint not null,
      price numeric not null,
      quantity numeric not null,
      side text not null check (side in ('BUY', 'SELL')),
      is_buyer_maker boolean not null,
      timestamp timestamptz not null,
      unique (symbol, trade_id)
    )`);
  await pool.query('create index on tick_data (symbol, timestamp desc)');
  await pool.query(`
    create table paper_trades (
      id bigserial primary key,
      strategy text not null,
      symbol text not null,
      side text not null check (side in ('BUY', 'SELL')),
      price numeric not null,
      quantity numeric not null,
      fee numeric not null,
      cash_after numeric not null,
      position_after numeric not null,
      timestamp timestamptz not null
    )`);
  await insertTicks(stored);
});

afterAll(async () => {
  await pool?.query('drop table if exists tick_data, paper_trades');
  await pool?.end();
});

describe('backtest over ticks stored in PostgreSQL', () => {
  it('replays every stored tick of a symbol and gives what the live engine gives', async () => {
    const count = await pool.query<{ n: string }>(
      "select count(*) as n from tick_data where symbol = 'BTCUSDT'",
    );
    const expectedTicks = Number(count.rows[0]!.n);
    expect(expectedTicks).toBe(20_000);

    const progress: BacktestProgress[] = [];
    const writer = new PgFillWriter();
    const summary = await runBacktest({
      ticks: streamTicks('BTCUSDT'),
      strategy: strategyByName('sma', { fast: 5, slow: 20 }),
      portfolio: { initialCash: 10_000, sizing: { mode: 'fraction', fraction: 0.5 } },
      expectedTicks,
      progressEvery: 5000,
      onProgress: (p) => void progress.push(p),
      fillWriter: writer,
      fillBatch: { maxBatch: 200 },
    });

    // The same ticks from memory through the live engine.
    const live: PaperFill[] = [];
    const engine = new PaperEngine({
      strategy: strategyByName('sma', { fast: 5, slow: 20 }),
      portfolio: { initialCash: 10_000, sizing: { mode: 'fraction', fraction: 0.5 } },
      onFill: (f) => void live.push(f),
    });
    btc.forEach((t) => engine.onTick(t));

    expect(summary.ticks).toBe(20_000);
    expect(summary.symbols).toEqual(['BTCUSDT']);
    expect(summary.from).toBe(new Date(btc[0]!.tradeTime).toISOString());
    expect(summary.to).toBe(new Date(btc.at(-1)!.tradeTime).toISOString());
    expect(summary.trades).toBe(live.length);
    expect(summary.trades).toBeGreaterThan(100);
    expect(summary.buys - summary.sells).toBeGreaterThanOrEqual(0);
    expect(summary.buys - summary.sells).toBeLessThanOrEqual(1);
    expect(summary.finalEquity).toBe(engine.state().portfolio.equity);
    expect(summary.totalReturn).toBeCloseTo(summary.finalEquity / 10_000 - 1, 12);
    expect(summary.feesPaid).toBeCloseTo(engine.state().portfolio.feesPaid, 9);
    expect(summary.maxDrawdown).toBeGreaterThan(0);
    expect(summary.maxDrawdown).toBeLessThan(1);
    // 20 000 ticks 300 ms apart span 100 minutes: two hourly periods.
    expect(summary.sharpe).toMatchObject({ period: 'hour', periods: 2 });
    expect(summary.winRate).toBe(summary.roundTrips.wins / summary.roundTrips.closed);
    expect(progress.map((p) => [p.ticks, p.fraction, p.done])).toEqual([
      [5000, 0.25, false],
      [10_000, 0.5, false],
      [15_000, 0.75, false],
      [20_000, 1, false],
      [20_000, 1, true],
    ]);

    // Every fill is in paper_trades, numeric columns exactly as the engine wrote them.
    const { rows } = await pool.query<Record<string, string | Date>>(
      `select strategy, symbol, side, price::text, quantity::text, fee::text,
              cash_after::text, position_after::text, timestamp
         from paper_trades order by id`,
    );
    expect(writer.batches).toBeGreaterThan(1);
    expect(
      rows.map((r) => ({
        strategy: r.strategy,
        symbol: r.symbol,
        side: r.side,
        price: r.price,
        quantity: r.quantity,
        fee: r.fee,
        cashAfter: r.cash_after,
        positionAfter: r.position_after,
        timestamp: (r.timestamp as Date).getTime(),
      })),
    ).toEqual(live);
  });

  it('replays only the requested time range', async () => {
    const from = new Date(btc[1000]!.tradeTime);
    const to = new Date(btc[2999]!.tradeTime);
    const summary = await runBacktest({
      ticks: streamTicks('BTCUSDT', { from, to, pageSize: 333 }),
      strategy: strategyByName('rsi'),
    });
    expect(summary).toMatchObject({
      ticks: 2000,
      from: from.toISOString(),
      to: to.toISOString(),
      strategy: 'rsi',
    });
    const inMemory = await runBacktest({
      ticks: btc.slice(1000, 3000),
      strategy: strategyByName('rsi'),
    });
    expect(summary).toEqual(inMemory);
  });
});
