import type { Logger, PaperFill } from '@trade/core';
import { createTradingMetrics } from '@trade/metrics';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FillWriteOutcome, FillWriter, RefusedFill } from '../src/fill-log.js';
import { PaperEngine } from '../src/paper-engine.js';
import { buySignal, sellSignal, type StrategyDefinition } from '../src/strategy.js';
import { ticksAt } from './ticks.js';

// A fill log whose table allows prices of 12 integer digits: a fill priced
// above that is refused by PostgreSQL (22003, numeric field overflow).
const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DATABASE = 'trade_paper_engine_test';
const TABLE = 'paper_fills_limited';

let pool: pg.Pool;

beforeAll(async () => {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    const exists = await admin.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (exists.rowCount === 0) {
      await admin.query(`create database ${DATABASE}`).catch((error: { code?: string }) => {
        if (error.code !== '42P04' && error.code !== '23505') throw error;
      });
    }
  } finally {
    await admin.end();
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${DATABASE}`;
  pool = new pg.Pool({ connectionString: url.href, max: 2 });
  await pool.query(`drop table if exists ${TABLE}`);
  await pool.query(`create table ${TABLE} (
    id bigint generated always as identity primary key,
    strategy text not null, symbol text not null, side text not null,
    price numeric(20, 8) not null, quantity numeric not null, fee numeric not null,
    cash_after numeric not null, position_after numeric not null, ms int8 not null)`);
});

afterAll(async () => {
  await pool?.query(`drop table if exists ${TABLE}`);
  await pool?.end();
});

const isDataError = (error: unknown) => /^2[23]/.test((error as { code?: string }).code ?? '');

/**
 * One statement per batch; when PostgreSQL refuses it for its data, the
 * fills go one by one and those refused are reported: what the market-data
 * PaperTradeRepository does, on a table with a limit.
 */
class LimitedTableWriter implements FillWriter {
  readonly batches: PaperFill[][] = [];

  async write(fills: readonly PaperFill[]): Promise<FillWriteOutcome> {
    this.batches.push([...fills]);
    try {
      await this.insert(fills);
      return {};
    } catch (error) {
      if (!isDataError(error)) throw error;
    }
    const refused: RefusedFill[] = [];
    for (const fill of fills) {
      try {
        await this.insert([fill]);
      } catch (error) {
        if (!isDataError(error)) throw error;
        refused.push({ fill, reason: (error as Error).message });
      }
    }
    return { refused };
  }

  private async insert(fills: readonly PaperFill[]): Promise<void> {
    const column = (pick: (f: PaperFill) => string | number) => fills.map(pick);
    await pool.query(
      `insert into ${TABLE}
         (strategy, symbol, side, price, quantity, fee, cash_after, position_after, ms)
       select * from unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::numeric[],
                            $6::numeric[], $7::numeric[], $8::numeric[], $9::int8[])`,
      [
        column((f) => f.strategy),
        column((f) => f.symbol),
        column((f) => f.side),
        column((f) => f.price),
        column((f) => f.quantity),
        column((f) => f.fee),
        column((f) => f.cashAfter),
        column((f) => f.positionAfter),
        column((f) => f.timestamp),
      ],
    );
  }
}

const flip: StrategyDefinition = {
  name: 'flip',
  warmUpTicks: 0,
  create: () => ({ onTick: (_t, ctx) => (ctx.position > 0 ? sellSignal() : buySignal()) }),
};

describe('PaperEngine with a fill the database refuses (real PostgreSQL)', () => {
  it('sets the refused fill aside, counted and logged once, and stores every later fill exactly', async () => {
    const metrics = createTradingMetrics({ registry: new Registry(), runtimeMetrics: false });
    const errors: { fields: object; message: string }[] = [];
    const logger: Logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: (fields, message = '') => void errors.push({ fields, message }),
    };
    const writer = new LimitedTableWriter();
    const offered: PaperFill[] = [];
    const engine = new PaperEngine({
      strategy: flip,
      portfolio: { initialCash: 10_000, feeBps: 10, slippageBps: 0 },
      fillWriter: writer,
      metrics,
      logger,
      fillBatch: { maxBatch: 4, maxDelayMs: 60_000 },
      onFill: (fill) => void offered.push(fill),
    });
    // The 8th tick's price is over the column's 12 integer digits. It is a SELL: a BUY
    // there would come to less than the 8 decimals of a unit, refused before it is a fill.
    const prices = [100, 101, 102, 103, 104, 105, 106, 1e13, 108, 109, 110, 111, 112, 113];
    for (const tick of ticksAt('BTCUSDT', prices)) {
      engine.onTick(tick);
      // Each full batch is written before the next tick: later batches follow the refused one.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await engine.close();

    expect(offered).toHaveLength(prices.length);
    const bad = offered[7]!;
    expect(bad.price).toBe('10000000000000');
    const { rows } = await pool.query<{
      strategy: string;
      symbol: string;
      side: PaperFill['side'];
      price: string;
      quantity: string;
      fee: string;
      cash_after: string;
      position_after: string;
      ms: string;
    }>(`select * from ${TABLE} order by id`);
    // Exactly the fills offered, the refused one excepted, in order. The
    // column's scale pads prices to 8 decimals: compare them as numbers.
    expect(
      rows.map((r) => ({
        strategy: r.strategy,
        symbol: r.symbol,
        side: r.side,
        price: Number(r.price),
        quantity: r.quantity,
        fee: r.fee,
        cashAfter: r.cash_after,
        positionAfter: r.position_after,
        timestamp: Number(r.ms),
      })),
    ).toEqual(offered.filter((f) => f !== bad).map((f) => ({ ...f, price: Number(f.price) })));
    // Offered to the writer once: not retried.
    expect(writer.batches.filter((batch) => batch.includes(bad))).toHaveLength(1);
    expect(writer.batches.flat()).toHaveLength(prices.length);
    const refused = await metrics.paperFillsRefused.get();
    expect(refused.values[0]?.value).toBe(1);
    expect(engine.state()).toMatchObject({ pendingFills: 0, refusedFills: 1 });
    expect(errors).toEqual([
      {
        message: 'paper fills refused by the writer; set aside, not retried',
        fields: { refused: [{ reason: 'numeric field overflow', fill: bad }] },
      },
    ]);
  });
});
