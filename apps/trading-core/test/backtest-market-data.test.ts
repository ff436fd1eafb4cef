import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createQuote, createTick, silentLogger, type BookLevel, type Tick } from '@trade/core';
import type { BacktestSummary } from '@trade/paper-engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBacktestCommand } from '../src/commands/backtest.js';
import { openStorage } from '../src/storage.js';
import { OwnDatabase } from './support/own-database.js';

// `backtest` replays the stored quotes and book snapshots with the ticks, so
// orders fill as live: a BUY at the ask, a SELL at the bid, or walking the
// book; without them, at the last price with slippage as before. Run in
// process on both backends, on a database of its own.

const database = new OwnDatabase('trade_app_backtest_market_data_test');

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'trading-core-backtest-md-'));
  await database.fresh();
});
afterAll(async () => {
  await database.drop();
  await rm(root, { recursive: true, force: true });
});

const T0 = Date.UTC(2026, 0, 16, 12, 0, 0);
const FEE = 0.001; // the default 10 bps
const SLIPPAGE = 0.0005; // the default 5 bps

/**
 * Prices one a second from T0 that make the default SMA crossover (5 over 20)
 * BUY while rising, SELL while falling, and BUY again: flat at 100, up to
 * 110, down to 80, up to 120.
 */
const PRICES = [
  ...Array.from({ length: 25 }, () => 100),
  ...Array.from({ length: 10 }, (_, i) => 101 + i),
  ...Array.from({ length: 30 }, (_, i) => 109 - i),
  ...Array.from({ length: 40 }, (_, i) => 81 + i),
];
/** After the falling leg, before the second rise: the second quote's time. */
const SECOND_QUOTE_AT = T0 + 64_500;

const ticksOf = (symbol: string): Tick[] =>
  PRICES.map((price, i) =>
    createTick({
      symbol,
      tradeId: i + 1,
      price: price.toFixed(2),
      quantity: '1.00000000',
      isBuyerMaker: i % 2 === 0,
      tradeTime: T0 + i * 1000,
    }),
  );

const quote = (symbol: string, updateId: number, bid: string, ask: string, at: number) =>
  createQuote({
    symbol,
    updateId,
    bidPrice: bid,
    bidQty: '50.00000000',
    askPrice: ask,
    askQty: '50.00000000',
    receiveTime: at,
  });

/** Ticks only. */
const PLAIN = 'PLAINUSDT';
/** Ticks and two quotes: 95/105 from before the first tick, 89.5/90.5 from SECOND_QUOTE_AT. */
const QUOTED = 'QUOTEDUSDT';
/** Ticks and one book snapshot from before the first tick: 2 at 105 then 100 at 106 to buy. */
const BOOKED = 'BOOKEDUSDT';
const RULED = 'BTRULEUSDT';
const ASKS: BookLevel[] = [
  ['105.00000000', '2.00000000'],
  ['106.00000000', '100.00000000'],
];
const BIDS: BookLevel[] = [
  ['95.00000000', '100.00000000'],
  ['94.00000000', '100.00000000'],
];

const BACKENDS = [
  { name: 'PostgreSQL', databaseUrl: () => database.url as string | undefined },
  { name: 'embedded PGlite', databaseUrl: () => undefined },
];

describe.each(BACKENDS)('trading-core backtest on $name', (backend) => {
  const dataDir = () => join(root, backend.name.replace(/\W/g, ''));

  beforeAll(async () => {
    const storage = await openStorage({
      databaseUrl: backend.databaseUrl(),
      dataDir: dataDir(),
      logger: silentLogger,
    });
    try {
      for (const symbol of [PLAIN, QUOTED, BOOKED, RULED]) {
        const stored = await storage.ticks.insertTicks(ticksOf(symbol));
        expect(stored.rejected).toEqual([]);
      }
      const quotes = await storage.quotes.insert([
        quote(QUOTED, 10, '95.00000000', '105.00000000', T0 - 500),
        quote(QUOTED, 20, '89.50000000', '90.50000000', SECOND_QUOTE_AT),
      ]);
      expect(quotes).toMatchObject({ inserted: 2, rejected: [] });
      const books = await storage.bookSnapshots.insert([
        { top: { symbol: BOOKED, updateId: 10, bids: BIDS, asks: ASKS }, timestamp: T0 - 500 },
      ]);
      expect(books).toMatchObject({ inserted: 1, rejected: [] });
      // As live saves them from exchangeInfo.
      await storage.symbolRules.save([
        {
          symbol: RULED,
          tickSize: '0.01000000',
          stepSize: '0.10000000',
          minQty: '0.10000000',
          minNotional: '5.00000000',
        },
      ]);
    } finally {
      await storage.close();
    }
  });

  /** Runs `trading-core backtest --strategy sma --symbol <symbol> [...]` and returns what it printed. */
  async function backtest(
    symbol: string,
    extra: { from?: string; to?: string; json?: boolean } = {},
  ): Promise<string> {
    let printed = '';
    const out = new Writable({
      write(chunk: Buffer, _encoding, done) {
        printed += chunk.toString();
        done();
      },
    });
    await runBacktestCommand({
      strategy: 'sma',
      symbol,
      from: extra.from,
      to: extra.to,
      json: extra.json ?? true,
      storage: { databaseUrl: backend.databaseUrl(), dataDir: dataDir() },
      logger: silentLogger,
      signal: new AbortController().signal,
      out,
    });
    return printed;
  }
  const summaryOf = async (symbol: string, extra: { from?: string; to?: string } = {}) =>
    JSON.parse(await backtest(symbol, extra)) as BacktestSummary;

  it('without stored quotes or books fills at the last price with slippage, as before', async () => {
    const s = await summaryOf(PLAIN);
    expect(s).toMatchObject({
      symbols: [PLAIN],
      ticks: PRICES.length,
      quotes: 0,
      bookTops: 0,
      buys: 2,
      sells: 1,
      fillSources: { book: 0, quote: 0, last: 3 },
    });
    expect(s.slippageCost).toBeGreaterThan(0);
    // The open position was bought at a tick's price (whole here) plus slippage, plus the fee.
    const price = s.positions[0]!.averageCost / (1 + FEE) / (1 + SLIPPAGE);
    expect(Math.abs(price - Math.round(price))).toBeLessThan(1e-6);
    expect(price).toBeGreaterThanOrEqual(81);
    expect(price).toBeLessThanOrEqual(120);
  });

  it('with stored quotes buys at the ask and sells at the bid of the quote in force', async () => {
    const s = await summaryOf(QUOTED);
    expect(s).toMatchObject({
      ticks: PRICES.length,
      quotes: 2,
      bookTops: 0,
      buys: 2,
      sells: 1,
      fillSources: { book: 0, quote: 3, last: 0 },
      roundTrips: { closed: 1, wins: 0, losses: 1 },
    });
    // The second BUY, after the second quote, at its ask (90.5) plus the fee.
    expect(s.positions[0]!.averageCost).toBeCloseTo(90.5 * (1 + FEE), 6);
    // The first round trip: 1000 (a tenth of the cash) spent at the ask of 105
    // with the fee, sold at the bid of 95 less the fee, whatever the ticks said.
    const expected = (1000 / (105 * (1 + FEE))) * 95 * (1 - FEE) - 1000;
    expect(s.realizedPnl).toBeCloseTo(expected, 4);

    const plain = await summaryOf(PLAIN);
    expect(s.realizedPnl).not.toBeCloseTo(plain.realizedPnl, 0);
  });

  it('bounds orders by the exchange rules live saved: quantities rounded down to the step', async () => {
    const ruled = await summaryOf(RULED);
    const plain = await summaryOf(PLAIN);
    expect(ruled.buys).toBe(plain.buys);
    const steps = ruled.positions[0]!.quantity / 0.1;
    expect(Math.abs(steps - Math.round(steps))).toBeLessThan(1e-9);
    // Without rules the quantity is the cash's share to 8 decimals: not on that step.
    expect(plain.positions[0]!.quantity).toBeGreaterThan(ruled.positions[0]!.quantity);
  });

  it('with stored book snapshots walks the levels an order takes', async () => {
    const s = await summaryOf(BOOKED);
    expect(s).toMatchObject({
      quotes: 0,
      bookTops: 1,
      buys: 2,
      sells: 1,
      fillSources: { book: 3, quote: 0, last: 0 },
      partialFills: 0,
    });
    // About 9 units bought: 2 at 105, the rest at 106.
    const price = s.positions[0]!.averageCost / (1 + FEE);
    const quantity = s.positions[0]!.quantity;
    expect(quantity).toBeGreaterThan(2);
    expect(price).toBeCloseTo((2 * 105 + (quantity - 2) * 106) / quantity, 6);
  });

  it('replays the quotes of the asked range only, and says how many in the text summary', async () => {
    const from = new Date(T0 - 1_000).toISOString();
    const to = new Date(T0 + 50_000).toISOString();
    const s = await summaryOf(QUOTED, { from, to });
    expect(s).toMatchObject({ ticks: 50, quotes: 1, buys: 1, sells: 1 });
    expect(s.fillSources).toEqual({ book: 0, quote: 2, last: 0 });

    const text = await backtest(QUOTED, { json: false });
    expect(text).toMatch(/^backtest sma on QUOTEDUSDT\n {2}period /);
    expect(text).toContain('\n  market data   2 quotes, 0 book snapshots replayed\n');
    expect(text).toContain(
      '\n  trades        3 (2 buys, 1 sells; 0 in the book, 3 at the quote, 0 at the last price)\n',
    );
    const plain = await backtest(PLAIN, { json: false });
    expect(plain).toContain('\n  market data   0 quotes, 0 book snapshots replayed\n');
  });
});
