import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBinanceSimulator, type BinanceSimulator } from '@trade/exchange-binance/sim';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, waitForStatus, type AppProcess } from './support/app-process.js';
import { NatsServer } from './support/nats-server.js';

// Quotes and book snapshots over the bus: `collect` with every channel ->
// a private nats-server -> `store` -> PostgreSQL, compared with the
// simulator's truth field by field, through a NATS outage.

const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DATABASE = 'trade_app_bus_quotes_test';
const SYMBOLS = ['BQAUSDT', 'BQBUSDT'];

const databaseUrl = () => {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${DATABASE}`;
  return url.toString();
};

async function query<T extends pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'trading-core-bus-quotes-'));
  await query(ADMIN_URL, `drop database if exists ${DATABASE} with (force)`);
  await query(ADMIN_URL, `create database ${DATABASE}`);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await query(ADMIN_URL, `drop database if exists ${DATABASE} with (force)`);
});

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function stop(run: AppProcess): Promise<Record<string, unknown>> {
  run.child.kill('SIGTERM');
  expect(await run.exited).toBe(0);
  return run.logs().find((record) => record.msg === 'stopped')!;
}

describe('quotes and book snapshots over the bus', () => {
  it('collect -> JetStream -> store keeps every quote and snapshot exact, through a NATS outage', async () => {
    const nats = await NatsServer.launch();
    const sim: BinanceSimulator = await startBinanceSimulator({
      symbols: SYMBOLS,
      rate: 0,
      seed: 17,
      host: '127.0.0.1',
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      const collect = launch(
        ['collect', '--symbols', SYMBOLS.join(','), '--channels', 'trade,bookTicker,depth'],
        {
          NATS_URL: nats.url,
          BINANCE_WS_URL: sim.url,
          BINANCE_REST_URL: sim.restUrl,
          DATA_DIR: join(root, 'collect'),
          BOOK_SNAPSHOT_MS: '200',
        },
      );
      await waitForStatus(`${await collect.metricsUrl()}/ready`, 200);
      const store = launch(['store'], {
        NATS_URL: nats.url,
        DATABASE_URL: databaseUrl(),
        DATA_DIR: join(root, 'store'),
      });
      await waitForStatus(`${await store.metricsUrl()}/ready`, 200);
      timer = setInterval(() => sim.generate(3), 20);
      await new Promise((resolve) => setTimeout(resolve, 1_500));

      // NATS away for 2 s: the collector spools quotes and snapshots, then publishes them.
      await nats.stop();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      await nats.start();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      clearInterval(timer);
      timer = undefined;

      const lastQuote = (s: string) => sim.quoteTruth(s).at(-1)!.updateId;
      await until('every quote and the last book snapshot stored', async () => {
        const heads = await query<{ symbol: string; q: string | null; b: string | null }>(
          databaseUrl(),
          `select s.symbol,
                  (select max(update_id) from quote_data q where q.symbol = s.symbol)::text as q,
                  (select max(update_id) from book_snapshots b where b.symbol = s.symbol)::text as b
             from unnest($1::text[]) as s(symbol)`,
          [SYMBOLS],
        );
        return heads.every(
          (h) => h.q === String(lastQuote(h.symbol)) && h.b === String(sim.lastUpdateId(h.symbol)),
        );
      });
      const collected = await stop(collect);
      expect(collected).toMatchObject({ lost: 0, quotesAndBooks: { lost: 0, leftInSpool: 0 } });
      await stop(store);

      for (const symbol of SYMBOLS) {
        const quotes = await query<Record<string, string>>(
          databaseUrl(),
          `select update_id::text as "updateId", bid_price::text as "bidPrice", bid_qty::text as "bidQty",
                  ask_price::text as "askPrice", ask_qty::text as "askQty", symbol
             from quote_data where symbol = $1 order by update_id`,
          [symbol],
        );
        // No exchange fault: every quote it sent, once, exact.
        expect(quotes.map((q) => ({ ...q, updateId: Number(q.updateId) }))).toEqual(
          sim.quoteTruth(symbol).map((q) => ({ ...q })),
        );
        const snapshots = await query<{ update_id: string; bids: unknown; asks: unknown }>(
          databaseUrl(),
          'select update_id::text as update_id, bids, asks from book_snapshots where symbol = $1',
          [symbol],
        );
        expect(snapshots.length).toBeGreaterThan(5);
        for (const row of snapshots) {
          const book = sim.bookAt(symbol, Number(row.update_id), 20);
          expect({ bids: row.bids, asks: row.asks }).toEqual({ bids: book.bids, asks: book.asks });
        }
      }
    } finally {
      if (timer) clearInterval(timer);
      await sim.close();
      await nats.destroy();
    }
  }, 120_000);
});
