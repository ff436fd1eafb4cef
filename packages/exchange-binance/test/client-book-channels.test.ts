import type { BookTop, Quote } from '@trade/core';
import { spreadBps } from '@trade/metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { startBinanceSimulator, type BinanceSimulator } from '../src/sim.js';
import type { BinanceTradeClientOptions } from '../src/index.js';
import { counterValue, startClient, waitFor, waitOpen, type Harness } from './helpers.js';

let sim: BinanceSimulator | undefined;
let harness: Harness | undefined;

afterEach(async () => {
  await harness?.client.close();
  await harness?.done;
  await sim?.close();
  harness = undefined;
  sim = undefined;
});

async function setup(
  client: Partial<BinanceTradeClientOptions>,
  options: Parameters<typeof startBinanceSimulator>[0] = {},
  connections = 1,
) {
  sim = await startBinanceSimulator({
    symbols: ['BTCUSDT', 'ETHUSDT'],
    rate: 0,
    seed: 11,
    ...options,
  });
  harness = startClient(sim, client);
  await waitOpen(harness, sim, connections);
  return { sim, h: harness };
}

function quotesOf(h: Harness, symbol: string): Quote[] {
  return h.events.flatMap((e) =>
    e.type === 'quote' && e.quote.symbol === symbol ? [e.quote] : [],
  );
}

function booksOf(h: Harness, symbol: string): BookTop[] {
  return h.events.flatMap((e) => (e.type === 'book' && e.book.symbol === symbol ? [e.book] : []));
}

/** The quote without its receive time, as the simulator's truth holds it. */
function withoutTime({ receiveTime: _time, ...quote }: Quote) {
  return quote;
}

async function waitQuotesCaughtUp(h: Harness, sim: BinanceSimulator) {
  await waitFor(
    () =>
      sim.symbols.every((s) => {
        const last = quotesOf(h, s).at(-1)?.updateId;
        return last !== undefined && last === sim.quoteTruth(s, last).at(-1)?.updateId;
      }),
    'quotes up to the last quote the exchange sent',
  );
}

async function waitBookCaughtUp(h: Harness, sim: BinanceSimulator, symbols = sim.symbols) {
  await waitFor(
    () => symbols.every((s) => booksOf(h, s).at(-1)?.updateId === sim.lastUpdateId(s)),
    'books up to the last book change',
  );
}

/** Every book event equals the simulator's book at its update id, top 20 a side. */
function expectBooksTrue(h: Harness, sim: BinanceSimulator, symbol: string) {
  const books = booksOf(h, symbol);
  expect(books.length).toBeGreaterThan(0);
  for (const book of books) {
    expect(book).toEqual(sim.bookAt(symbol, book.updateId, 20));
  }
}

describe('quotes and order books on the trade connections', () => {
  it('delivers every bookTicker update exactly as the exchange sent it, with the quote metrics', async () => {
    const { sim, h } = await setup({ channels: ['trade', 'bookTicker'] });
    expect(sim.connections()[0]!.streams).toEqual(
      expect.arrayContaining(['btcusdt@trade', 'btcusdt@bookTicker', 'ethusdt@bookTicker']),
    );
    sim.generate(300);
    sim.generateBook(200);
    await waitQuotesCaughtUp(h, sim);
    let total = 0;
    for (const symbol of sim.symbols) {
      const truth = sim.quoteTruth(symbol);
      expect(truth.length).toBeGreaterThan(100);
      expect(quotesOf(h, symbol).map(withoutTime)).toEqual(truth);
      total += truth.length;
    }
    // Trades are unaffected.
    expect(h.ticks.get('BTCUSDT')).toHaveLength(300);
    expect(await counterValue(h.metrics, 'quotesReceived')).toBe(total);
    const last = quotesOf(h, 'ETHUSDT').at(-1)!;
    await waitFor(() => h.client.stats().quotesDelivered === total, 'stats');
    // The gauges are set on the client's liveness tick (at most a second), not per quote.
    const gauge = (name: 'bestBidPrice' | 'bestAskPrice' | 'spreadBps') =>
      counterValue(h.metrics, name, { symbol: 'ETHUSDT' });
    let shown = [0, 0, 0];
    await waitFor(() => {
      void Promise.all([gauge('bestBidPrice'), gauge('bestAskPrice'), gauge('spreadBps')]).then(
        (values) => (shown = values),
      );
      return shown[0] === Number(last.bidPrice);
    }, 'gauges');
    expect(shown).toEqual([
      Number(last.bidPrice),
      Number(last.askPrice),
      spreadBps(last.bidPrice, last.askPrice),
    ]);
  });

  it('keeps each book in sync: every book it shows equals the exchange book at that update id', async () => {
    const { sim, h } = await setup({ channels: ['trade', 'depth'] });
    sim.generate(100);
    await waitBookCaughtUp(h, sim);
    // In sync: now every change comes as a diff applied to the book.
    sim.generate(100);
    sim.generateBook(300);
    await waitBookCaughtUp(h, sim);
    for (const symbol of sim.symbols) expectBooksTrue(h, sim, symbol);
    expect(h.events.filter((e) => e.type === 'book-sync' && e.state === 'synced')).toHaveLength(2);
    const stats = h.client.stats().books.BTCUSDT!;
    expect(stats).toMatchObject({ inSync: true, syncs: 1, resyncs: 0 });
    expect(stats.snapshotRequests).toBeGreaterThanOrEqual(1);
    expect(await counterValue(h.metrics, 'bookUpdates')).toBeGreaterThan(0);
    // The snapshot came over REST with the configured limit.
    expect(
      sim.restLog().some((r) => r.path.includes('/api/v3/depth?symbol=BTCUSDT&limit=1000')),
    ).toBe(true);
  });

  it('detects a dropped diff, resyncs from a new snapshot, and counts the resync', async () => {
    const { sim, h } = await setup({ channels: ['depth'], depthLimit: 100 });
    sim.generateBook(50);
    await waitBookCaughtUp(h, sim);
    sim.dropDepthDiff('BTCUSDT');
    // The drop takes the next 100 ms batch; the books move on after it.
    sim.generateBook(20);
    await new Promise((r) => setTimeout(r, 150));
    sim.generateBook(30);
    await waitFor(
      () => h.events.some((e) => e.type === 'book-sync' && e.state === 'resynced'),
      'resync',
    );
    sim.generateBook(30);
    await waitBookCaughtUp(h, sim);
    for (const symbol of sim.symbols) expectBooksTrue(h, sim, symbol);
    const desynced = h.events.find((e) => e.type === 'book-sync' && e.state === 'desynced');
    expect(desynced).toMatchObject({ symbol: 'BTCUSDT', reason: 'gap' });
    expect(h.client.stats().books.BTCUSDT!.resyncs).toBe(1);
    expect(h.client.stats().books.ETHUSDT!.resyncs).toBe(0);
    expect(await counterValue(h.metrics, 'bookResyncs', { symbol: 'BTCUSDT' })).toBe(1);
    expect(sim.stats().depthDiffsDropped).toBe(1);
    // Depth only: no trade stream, and no trade REST.
    expect(sim.connections()[0]!.streams).toEqual(['btcusdt@depth@100ms', 'ethusdt@depth@100ms']);
    expect(sim.restLog().every((r) => r.path.startsWith('/api/v3/depth'))).toBe(true);
  });

  it('after a dropped connection: quotes go on without repeats, and the book resyncs to the truth', async () => {
    const { sim, h } = await setup({ channels: ['trade', 'bookTicker', 'depth'] });
    sim.generate(100);
    await waitQuotesCaughtUp(h, sim);
    await waitBookCaughtUp(h, sim);
    sim.drop();
    sim.generate(50); // while away: their quotes are lost (bookTicker is not replayed)
    await waitFor(
      () => h.events.filter((e) => e.type === 'connection' && e.state === 'open').length === 2,
      'reconnect',
    );
    sim.generate(100);
    await waitQuotesCaughtUp(h, sim);
    await waitBookCaughtUp(h, sim);
    for (const symbol of sim.symbols) {
      const truth = new Map(sim.quoteTruth(symbol).map((q) => [q.updateId, q]));
      const quotes = quotesOf(h, symbol);
      for (let i = 0; i < quotes.length; i++) {
        expect(withoutTime(quotes[i]!)).toEqual(truth.get(quotes[i]!.updateId));
        if (i > 0) expect(quotes[i]!.updateId).toBeGreaterThan(quotes[i - 1]!.updateId);
      }
      expectBooksTrue(h, sim, symbol);
    }
    expect(h.client.stats().tradesMissed).toBe(0);
  });

  it('drops the repeats an overlapping rotation sends: each quote once', async () => {
    const { sim, h } = await setup(
      { channels: ['trade', 'bookTicker'], rotationOverlapMs: 300 },
      { rate: 500 },
    );
    await waitFor(() => quotesOf(h, 'BTCUSDT').length > 100, 'quotes');
    sim.serverShutdown(300);
    await waitFor(() => sim.stats().connectionsAccepted === 2, 'second connection');
    await waitFor(() => sim.connections().length === 1, 'old connection closed');
    await waitFor(() => quotesOf(h, 'BTCUSDT').length > 300, 'more quotes');
    await harness!.client.close();
    await harness!.done;
    for (const symbol of sim.symbols) {
      const quotes = quotesOf(h, symbol);
      const truth = sim.quoteTruth(symbol);
      const first = truth.findIndex((q) => q.updateId === quotes[0]!.updateId);
      expect(first).toBeGreaterThanOrEqual(0);
      // Every quote from the first delivered to the last: none missed, none twice.
      expect(quotes.map(withoutTime)).toEqual(truth.slice(first, first + quotes.length));
    }
    expect(h.client.stats().quoteRepeats).toBeGreaterThan(0);
  });

  it('shards by streams: three channels of a symbol count three towards a connection', async () => {
    const { sim, h } = await setup(
      { channels: ['trade', 'bookTicker', 'depth'], maxStreamsPerConnection: 3 },
      {},
      2,
    );
    const streams = sim.connections().map((c) => [...c.streams].sort());
    expect(streams).toEqual(
      expect.arrayContaining([
        ['btcusdt@bookTicker', 'btcusdt@depth@100ms', 'btcusdt@trade'],
        ['ethusdt@bookTicker', 'ethusdt@depth@100ms', 'ethusdt@trade'],
      ]),
    );
    sim.generate(50);
    await waitQuotesCaughtUp(h, sim);
    await waitBookCaughtUp(h, sim);
    for (const symbol of sim.symbols) {
      expect(quotesOf(h, symbol).map(withoutTime)).toEqual(sim.quoteTruth(symbol));
      expectBooksTrue(h, sim, symbol);
    }
  });
});
