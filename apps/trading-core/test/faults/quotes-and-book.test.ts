import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { BinanceSimulator } from '@trade/exchange-binance/sim';
import {
  EXACT,
  PG_HOST,
  PG_PORT,
  databaseUrl,
  faultScenario,
  settle,
  sleep,
  startApp,
  until,
  type Exchange,
  type RunningApp,
} from './support.js';

// Quotes and the order book through faults: every stored quote and book
// snapshot is compared with the simulator's ground truth, field by field.

const SYMBOLS = ['QBKAUSDT', 'QBKBUSDT', 'QBKCUSDT', 'QBKDUSDT', 'QBKEUSDT', 'QBKFUSDT'];

const scenario = faultScenario(SYMBOLS);

async function query<T extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<T[]> {
  const db = new pg.Client({ connectionString: databaseUrl() });
  await db.connect();
  try {
    return (await db.query<T>(text, values)).rows;
  } finally {
    await db.end();
  }
}

interface QuoteRow {
  symbol: string;
  update_id: string;
  bid_price: string;
  bid_qty: string;
  ask_price: string;
  ask_qty: string;
}

const storedQuotes = (symbols: readonly string[]) =>
  query<QuoteRow>(
    `select symbol, update_id::text as update_id, bid_price::text as bid_price, bid_qty::text as bid_qty,
            ask_price::text as ask_price, ask_qty::text as ask_qty
       from quote_data where symbol = any($1) order by symbol, update_id`,
    [symbols],
  );

/** Stored quotes that differ from the truth or that it never sent; and how many each symbol has. */
function compareQuotes(sim: BinanceSimulator, symbols: readonly string[], rows: QuoteRow[]) {
  const truth = new Map<string, ReturnType<BinanceSimulator['quoteTruth']>[number]>();
  for (const symbol of symbols) {
    for (const q of sim.quoteTruth(symbol)) truth.set(`${symbol}:${q.updateId}`, q);
  }
  const wrong: unknown[] = [];
  for (const row of rows) {
    const q = truth.get(`${row.symbol}:${row.update_id}`);
    const same =
      q !== undefined &&
      row.bid_price === q.bidPrice &&
      row.bid_qty === q.bidQty &&
      row.ask_price === q.askPrice &&
      row.ask_qty === q.askQty;
    if (!same) wrong.push({ stored: row, truth: q });
  }
  return { wrong, truth };
}

interface SnapshotRow {
  symbol: string;
  update_id: string;
  bids: [string, string][];
  asks: [string, string][];
}

const storedSnapshots = (symbols: readonly string[]) =>
  query<SnapshotRow>(
    `select symbol, update_id::text as update_id, bids, asks
       from book_snapshots where symbol = any($1) order by symbol, update_id`,
    [symbols],
  );

/** Waits until the app has stored the quote and the book snapshot of each symbol's last book change. */
async function waitBooksStored(exchange: Exchange, symbols: readonly string[]) {
  const { sim } = exchange;
  await until('the last quotes and book snapshots stored', async () => {
    const quotes = await query<{ symbol: string; hi: string }>(
      'select symbol, max(update_id)::text as hi from quote_data where symbol = any($1) group by symbol',
      [symbols],
    );
    const books = await query<{ symbol: string; hi: string }>(
      'select symbol, max(update_id)::text as hi from book_snapshots where symbol = any($1) group by symbol',
      [symbols],
    );
    return symbols.every(
      (s) =>
        quotes.find((r) => r.symbol === s)?.hi === String(sim.quoteTruth(s).at(-1)?.updateId) &&
        books.find((r) => r.symbol === s)?.hi === String(sim.lastUpdateId(s)),
    );
  });
}

const CHANNELS_ENV = { CHANNELS: 'trade,bookTicker,depth', BOOK_SNAPSHOT_MS: '200' };

describe('fault suite: quotes and the order book', () => {
  it('stores quotes and book snapshots equal to the truth through a drop, a dropped diff, serverShutdown and a restart', async () => {
    const symbols = SYMBOLS.slice(0, 2);
    const exchange = await scenario.exchange(symbols, 301);
    const dataDir = await scenario.dataDir();
    const { sim } = exchange;
    const start = () =>
      startApp(exchange, { symbols, dataDir, databaseUrl: databaseUrl(), env: CHANNELS_ENV });
    let run: RunningApp = await start();
    exchange.run(100);
    const connections = () => run.metric('trading_ws_connections_total');
    const reconnectedAfter = async (before: number) => {
      await until('a new connection', async () => (await connections()) > before);
      await until('the connection to be ready', () => sim.connections().length === 1);
    };
    await sleep(1_000);

    // A diff lost on the wire: the book must notice the gap and resync.
    sim.dropDepthDiff(symbols[0]);
    await until(
      'the resync',
      async () => (await run.metric(`trading_book_resyncs_total{symbol="${symbols[0]}"}`)) >= 1,
    );
    // No resync of the other symbol: its series is absent (NaN) or 0.
    expect((await run.metric(`trading_book_resyncs_total{symbol="${symbols[1]}"}`)) || 0).toBe(0);

    // An abrupt drop, then serverShutdown.
    let before = await connections();
    sim.drop();
    await reconnectedAfter(before);
    await sleep(500);
    before = await connections();
    sim.serverShutdown(300);
    await reconnectedAfter(before);
    await sleep(500);
    expect(await run.metric('trading_quotes_received_total')).toBeGreaterThan(0);
    expect(await run.metric('trading_book_updates_total')).toBeGreaterThan(0);

    // A restart on the same data directory while the market moves on.
    exchange.pause();
    expect(await run.stop()).toBe(0);
    exchange.run(100);
    await sleep(300);
    run = await start();
    await sleep(1_000);

    // A clean window: from here every quote must be stored.
    await until('the app to stream again', () => sim.connections().length === 1);
    await sleep(300);
    const cleanFrom = Object.fromEntries(symbols.map((s) => [s, sim.lastUpdateId(s)]));
    await sleep(1_500);
    exchange.pause();
    await waitBooksStored(exchange, symbols);

    const { comparison, exitCode } = await settle(exchange, run, symbols);
    expect(exitCode).toBe(0);
    expect(comparison).toMatchObject(EXACT);

    const quotes = await storedQuotes(symbols);
    const { wrong, truth } = compareQuotes(sim, symbols, quotes);
    expect(wrong).toEqual([]);
    for (const symbol of symbols) {
      const stored = new Set(quotes.filter((q) => q.symbol === symbol).map((q) => q.update_id));
      const missing = sim
        .quoteTruth(symbol, cleanFrom[symbol]! + 1)
        .filter((q) => !stored.has(String(q.updateId)));
      expect(missing, `${symbol}: quotes of the clean window not stored`).toEqual([]);
    }
    expect(quotes.length).toBeGreaterThan(truth.size / 2);

    const snapshots = await storedSnapshots(symbols);
    for (const symbol of symbols) {
      const own = snapshots.filter((s) => s.symbol === symbol);
      // Every 200 ms over several seconds of a moving book.
      expect(own.length).toBeGreaterThan(10);
      for (const row of own) {
        const book = sim.bookAt(symbol, Number(row.update_id), 20);
        expect({ bids: row.bids, asks: row.asks }, `${symbol} at ${row.update_id}`).toEqual({
          bids: book.bids,
          asks: book.asks,
        });
        expect(row.bids).toHaveLength(20);
      }
    }
  });

  it('fills paper orders at the touch: a buy at the ask, a sell at the bid, on the step', async () => {
    const symbols = SYMBOLS.slice(2, 4);
    const exchange = await scenario.exchange(symbols, 302);
    const dataDir = await scenario.dataDir();
    const { sim } = exchange;
    const run = await startApp(exchange, {
      symbols,
      dataDir,
      databaseUrl: databaseUrl(),
      env: { CHANNELS: 'trade,bookTicker' },
    });
    exchange.run(200);
    const fillCount = async () =>
      Number(
        (
          await query<{ n: string }>(
            'select count(*) as n from paper_trades where symbol = any($1)',
            [symbols],
          )
        )[0]!.n,
      );
    await until('paper fills', async () => (await fillCount()) >= 10);
    const { comparison, exitCode } = await settle(exchange, run, symbols);
    expect(exitCode).toBe(0);
    expect(comparison).toMatchObject(EXACT);

    const fills = await query<{ symbol: string; side: string; price: string; quantity: string }>(
      'select symbol, side, price::text as price, quantity::text as quantity from paper_trades where symbol = any($1) order by id',
      [symbols],
    );
    expect(fills.length).toBeGreaterThanOrEqual(10);
    for (const symbol of symbols) {
      // The same decimal whatever its trailing zeros: the engine writes 43250.22 for 43250.22000000.
      const plain = (d: string) => (d.includes('.') ? d.replace(/0+$/, '').replace(/\.$/, '') : d);
      const asks = new Set(sim.quoteTruth(symbol).map((q) => plain(q.askPrice)));
      const bids = new Set(sim.quoteTruth(symbol).map((q) => plain(q.bidPrice)));
      const step = sim.symbolRules(symbol).stepSize;
      const stepDecimals = step.replace(/0+$/, '').split('.')[1]?.length ?? 0;
      for (const fill of fills.filter((f) => f.symbol === symbol)) {
        expect(
          fill.side === 'BUY' ? asks : bids,
          `${symbol} ${fill.side} at ${fill.price}`,
        ).toContain(plain(fill.price));
        // Rounded down to the step: no more decimals than the step has.
        expect(fill.quantity.split('.')[1]?.replace(/0+$/, '').length ?? 0).toBeLessThanOrEqual(
          stepDecimals,
        );
      }
    }
  });

  it('spools quotes and book snapshots while PostgreSQL is away, then stores every one', async () => {
    const symbols = SYMBOLS.slice(4, 6);
    const exchange = await scenario.exchange(symbols, 303);
    const dataDir = await scenario.dataDir();
    const { sim } = exchange;
    const proxy = scenario.proxy(PG_PORT, PG_HOST);
    const port = await proxy.start();
    const run = await startApp(exchange, {
      symbols,
      dataDir,
      databaseUrl: databaseUrl(port, '127.0.0.1'),
      env: CHANNELS_ENV,
    });
    exchange.run(100);
    await sleep(1_000);

    await proxy.stop();
    const spoolFiles = async (kind: string) =>
      (await readdir(join(dataDir, 'spool', kind)).catch(() => [])).filter((f) =>
        f.endsWith('.spool'),
      );
    await until(
      'quotes and snapshots in their spools',
      async () => (await spoolFiles('quotes')).length > 0 && (await spoolFiles('books')).length > 0,
    );
    await sleep(2_000);
    await proxy.start();

    await sleep(1_000);
    exchange.pause();
    await waitBooksStored(exchange, symbols);
    const { comparison, exitCode } = await settle(exchange, run, symbols);
    expect(exitCode).toBe(0);
    expect(comparison).toMatchObject(EXACT);

    // No fault on the exchange side: every quote it sent is stored, exactly.
    const quotes = await storedQuotes(symbols);
    const { wrong, truth } = compareQuotes(sim, symbols, quotes);
    expect(wrong).toEqual([]);
    expect(quotes).toHaveLength(truth.size);
    for (const row of await storedSnapshots(symbols)) {
      const book = sim.bookAt(row.symbol, Number(row.update_id), 20);
      expect({ bids: row.bids, asks: row.asks }).toEqual({ bids: book.bids, asks: book.asks });
    }
    expect(await spoolFiles('quotes')).toEqual([]);
  });
});
