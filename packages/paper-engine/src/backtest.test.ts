import { createQuote, type PaperFill, type Quote } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { T0, randomWalk, ticksAt } from '../test/ticks.js';
import { runBacktest, type BacktestProgress } from './backtest.js';
import { PaperEngine } from './paper-engine.js';
import { smaCrossover } from './sma-crossover.js';
import { HOLD, buySignal, sellSignal, type StrategyDefinition } from './strategy.js';
import { strategyByName } from './strategy-registry.js';

async function* streamed<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) {
    await Promise.resolve();
    yield item;
  }
}

/** BUY on the 2nd trade, SELL on the 4th. */
const buyThenSell: StrategyDefinition = {
  name: 'buy-then-sell',
  warmUpTicks: 0,
  create: () => ({
    onTick: (t) => (t.tradeId === 2 ? buySignal() : t.tradeId === 4 ? sellSignal() : HOLD),
  }),
};

function quoteAt(updateId: number, receiveTime: number, bid: string, ask: string): Quote {
  return createQuote({
    symbol: 'BTCUSDT',
    updateId,
    bidPrice: bid,
    bidQty: '50',
    askPrice: ask,
    askQty: '50',
    receiveTime,
  });
}

describe('runBacktest', () => {
  it('summarises a hand-computed run', async () => {
    // fast 2 / slow 3: BUY at the 4th tick (13), SELL at the 6th (7); then flat.
    const ticks = ticksAt('BTCUSDT', [10, 10, 10, 13, 13, 7, 8]);
    const summary = await runBacktest({
      ticks,
      strategy: smaCrossover({ fast: 2, slow: 3 }),
      portfolio: {
        initialCash: 1000,
        sizing: { mode: 'notional', amount: 130 },
        feeBps: 0,
        slippageBps: 0,
      },
    });
    // 10 units at 13 sold at 7: -60.
    expect(summary).toMatchObject({
      strategy: 'sma',
      strategyOptions: { fast: 2, slow: 3 },
      symbols: ['BTCUSDT'],
      from: new Date(ticks[0]!.tradeTime).toISOString(),
      to: new Date(ticks[6]!.tradeTime).toISOString(),
      ticks: 7,
      trades: 2,
      buys: 1,
      sells: 1,
      initialCash: 1000,
      finalEquity: 940,
      winRate: 0,
      roundTrips: { closed: 1, wins: 0, losses: 1, winRate: 0 },
      feesPaid: 0,
      slippageCost: 0,
      realizedPnl: -60,
      unrealizedPnl: 0,
      aborted: false,
    });
    expect(summary.totalReturn).toBeCloseTo(-0.06, 12);
    // Peak 1000 (then 1000 after buying at 13, 1000 at 13), trough 940.
    expect(summary.maxDrawdown).toBeCloseTo(0.06, 12);
    expect(summary.sharpe.period).toBe('hour');
    expect(JSON.parse(JSON.stringify(summary))).toEqual(summary);
  });

  it('gives the fills the live engine gives, from an async stream of any length', async () => {
    const ticks = randomWalk(25_000, { symbols: ['BTCUSDT', 'ETHUSDT'], seed: 3 });
    const live: PaperFill[] = [];
    const engine = new PaperEngine({ strategy: smaCrossover(), onFill: (f) => void live.push(f) });
    ticks.forEach((t) => engine.onTick(t));

    const written: PaperFill[] = [];
    const summary = await runBacktest({
      ticks: streamed(ticks),
      strategy: strategyByName('sma'),
      fillWriter: { write: (fills) => Promise.resolve(void written.push(...fills)) },
      fillBatch: { maxBatch: 50 },
    });
    expect(summary.ticks).toBe(25_000);
    expect(summary.trades).toBe(live.length);
    expect(written).toEqual(live);
    expect(summary.finalEquity).toBe(engine.state().portfolio.equity);
    expect(summary.feesPaid).toBeGreaterThan(0);
    expect(summary.roundTrips.closed).toBeGreaterThan(0);
    expect(summary.winRate).toBe(summary.roundTrips.wins / summary.roundTrips.closed);
  });

  it('replays quotes merged with the ticks by time, so orders fill at the touch as live', async () => {
    // Trades 1 s apart from T0 + 1 s; the quote at T0 + 4 s comes before the trade at that time.
    const ticks = ticksAt('BTCUSDT', [100, 100, 100, 100, 100]);
    const quotes = [
      quoteAt(1, T0 + 1500, '99', '101'),
      quoteAt(2, T0 + 4000, '104', '105'),
      quoteAt(3, T0 + 4500, '90', '91'),
    ];
    const portfolio = { sizing: { mode: 'notional', amount: 1010 }, feeBps: 0 } as const;
    const written: PaperFill[] = [];
    const summary = await runBacktest({
      ticks: streamed(ticks),
      quotes: streamed(quotes),
      strategy: buyThenSell,
      portfolio,
      fillWriter: { write: (fills) => Promise.resolve(void written.push(...fills)) },
    });
    expect(written.map((f) => [f.side, f.price, f.quantity, f.cashAfter])).toEqual([
      ['BUY', '101', '10', '8990'],
      ['SELL', '104', '10', '10030'],
    ]);
    expect(summary).toMatchObject({
      ticks: 5,
      quotes: 3,
      bookTops: 0,
      trades: 2,
      fillSources: { book: 0, quote: 2, last: 0 },
      realizedPnl: 30,
    });

    // Live, the same stream in the same order gives the same fills.
    const live: PaperFill[] = [];
    const engine = new PaperEngine({
      strategy: buyThenSell,
      portfolio,
      onFill: (f) => void live.push(f),
    });
    engine.onQuote(quotes[0]!);
    for (const t of ticks.slice(0, 3)) engine.onTick(t);
    engine.onQuote(quotes[1]!);
    engine.onTick(ticks[3]!);
    engine.onQuote(quotes[2]!);
    engine.onTick(ticks[4]!);
    expect(live).toEqual(written);
  });

  it('replays book tops, whose levels the orders walk', async () => {
    const summary = await runBacktest({
      ticks: ticksAt('BTCUSDT', [100, 100]),
      books: [
        {
          symbol: 'BTCUSDT',
          updateId: 1,
          timestamp: T0,
          bids: [],
          asks: [
            ['100', '1'],
            ['102', '10'],
          ],
        },
      ],
      strategy: buyThenSell,
      portfolio: { sizing: { mode: 'notional', amount: 304 }, feeBps: 0 },
    });
    // 100 + 2 x 102 = 304 for 3 units.
    expect(summary).toMatchObject({ bookTops: 1, trades: 1, fillSources: { book: 1 } });
    expect(summary.positions[0]).toMatchObject({ quantity: 3, averageCost: 304 / 3 });
  });

  it('reports progress every N ticks and once at the end', async () => {
    const seen: BacktestProgress[] = [];
    await runBacktest({
      ticks: randomWalk(25, { seed: 1 }),
      strategy: strategyByName('rsi'),
      progressEvery: 10,
      expectedTicks: 25,
      onProgress: (p) => void seen.push(p),
    });
    expect(seen.map((p) => [p.ticks, p.fraction, p.done])).toEqual([
      [10, 0.4, false],
      [20, 0.8, false],
      [25, 1, true],
    ]);
    expect(seen[2]!.lastTradeTime).toBe(randomWalk(25, { seed: 1 })[24]!.tradeTime);
  });

  it('stops when aborted and says so', async () => {
    const controller = new AbortController();
    const summary = await runBacktest({
      ticks: randomWalk(100),
      strategy: strategyByName('sma'),
      progressEvery: 30,
      onProgress: (p) => {
        if (p.ticks >= 30) controller.abort();
      },
      signal: controller.signal,
    });
    expect(summary).toMatchObject({ ticks: 30, aborted: true });
  });

  it('summarises no ticks', async () => {
    const summary = await runBacktest({ ticks: [], strategy: strategyByName('sma') });
    expect(summary).toMatchObject({
      ticks: 0,
      trades: 0,
      from: null,
      to: null,
      totalReturn: 0,
      maxDrawdown: 0,
      winRate: null,
    });
    expect(summary.sharpe.periods).toBe(0);
  });
});
