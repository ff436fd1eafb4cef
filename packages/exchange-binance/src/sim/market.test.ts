import { describe, expect, it } from 'vitest';
import { Market, prng } from './market.js';

const market = (options: Partial<ConstructorParameters<typeof Market>[0]> = {}) =>
  new Market({ symbols: ['BTCUSDT', 'ETHUSDT'], seed: 1, retain: 1000, ...options });

describe('prng', () => {
  it('gives the same sequence for the same seed, in [0, 1)', () => {
    const a = prng(9);
    const b = prng(9);
    const xs = Array.from({ length: 100 }, () => a());
    expect(Array.from({ length: 100 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(prng(10)()).not.toBe(xs[0]);
  });
});

describe('Market', () => {
  it('normalizes symbols and names their streams', () => {
    const m = market({ symbols: ['btcusdt', ' ethusdt '] });
    expect(m.symbols.map((s) => [s.symbol, s.tradeStream, s.aggStream])).toEqual([
      ['BTCUSDT', 'btcusdt@trade', 'btcusdt@aggTrade'],
      ['ETHUSDT', 'ethusdt@trade', 'ethusdt@aggTrade'],
    ]);
  });

  it('gives each symbol consecutive ids from the first trade id, and keeps them as the truth', () => {
    const m = market({ firstTradeId: 500 });
    const [btc, eth] = m.symbols;
    expect(m.lastTradeId('BTCUSDT')).toBeUndefined();
    const ids = [m.trade(btc!, 1), m.trade(eth!, 2), m.trade(btc!, 3), m.trade(btc!, 4)];
    expect(ids).toEqual([500, 500, 501, 502]);
    expect(m.lastTradeId('BTCUSDT')).toBe(502);
    expect(m.lastTradeId('ethusdt')).toBe(500);
    const truth = m.truth('BTCUSDT');
    expect(truth.map((t) => [t.symbol, t.id, t.time])).toEqual([
      ['BTCUSDT', 500, 1],
      ['BTCUSDT', 501, 3],
      ['BTCUSDT', 502, 4],
    ]);
    for (const t of truth) {
      expect(t.price).toMatch(/^\d+\.\d{8}$/);
      expect(t.quantity).toMatch(/^\d+\.\d{8}$/);
    }
  });

  it('walks prices by at most 2 cents a trade, starting BTC at 43250.01', () => {
    const m = market();
    const btc = m.symbols[0]!;
    for (let i = 0; i < 500; i++) m.trade(btc, i);
    const cents = [43_250.01, ...m.truth('BTCUSDT').map((t) => Number(t.price))].map((p) =>
      Math.round(p * 100),
    );
    for (let i = 1; i < cents.length; i++) {
      expect(Math.abs(cents[i]! - cents[i - 1]!)).toBeLessThanOrEqual(2);
    }
  });

  it('reproduces the same trades, and the same first trade id, for the same seed and calls', () => {
    const run = (seed: number) => {
      const m = market({ seed });
      for (let i = 0; i < 50; i++) for (const s of m.symbols) m.trade(s, 1000 + i);
      return { first: m.firstTradeId, btc: m.truth('BTCUSDT'), eth: m.truth('ETHUSDT') };
    };
    expect(run(42)).toEqual(run(42));
    expect(run(42).btc).not.toEqual(run(43).btc);
    expect(run(42).first).toBeGreaterThanOrEqual(1_000_000_000);
    expect(run(42).first).toBeLessThan(1_100_000_000);
  });

  it('keeps only the newest `retain` trades', () => {
    const m = market({ retain: 10, firstTradeId: 1 });
    const btc = m.symbols[0]!;
    for (let i = 0; i < 25; i++) m.trade(btc, i);
    expect(m.truth('BTCUSDT').map((t) => t.id)).toEqual(
      Array.from({ length: 10 }, (_, i) => 16 + i),
    );
    expect(m.lastTradeId('BTCUSDT')).toBe(25);
  });

  it('resolves one symbol, or every symbol, and refuses one it does not trade', () => {
    const m = market();
    expect(m.resolve('ethusdt').map((s) => s.symbol)).toEqual(['ETHUSDT']);
    expect(m.resolve()).toBe(m.symbols);
    expect(() => m.resolve('DOGEUSDT')).toThrow(/symbol/);
    expect(() => m.truth('DOGEUSDT')).toThrow();
    expect(m.find('BTCUSDT')).toBe(m.symbols[0]);
    expect(m.find('btcusdt')).toBeUndefined(); // exact, as REST's symbol parameter
  });

  it('finds streams by their names as Binance matches them', () => {
    const m = market();
    const btc = m.symbols[0]!;
    expect(m.stream('btcusdt@trade')).toEqual({ symbol: btc, agg: false, name: 'btcusdt@trade' });
    expect(m.stream('BTCUSDT@trade')?.name).toBe('btcusdt@trade');
    expect(m.stream('btcusdt@aggTrade')).toEqual({
      symbol: btc,
      agg: true,
      name: 'btcusdt@aggTrade',
    });
    expect(m.stream('btcusdt@aggtrade')?.name).toBe('btcusdt@aggTrade');
    expect(m.stream('btcusdt@kline_1m')).toBeUndefined();
    expect(m.stream('dogeusdt@trade')).toBeUndefined();
  });

  it('fabricates trades priced like the newest real one, outside the truth', () => {
    const m = market({ firstTradeId: 1 });
    const btc = m.symbols[0]!;
    expect(m.fabricate(btc, 7, 1, 99)[0]).toEqual({
      symbol: 'BTCUSDT',
      id: 7,
      price: '43250.01000000', // before any trade: the starting price
      quantity: '0.00100000',
      time: 99,
      isBuyerMaker: false,
    });
    m.trade(btc, 1);
    const newest = m.truth('BTCUSDT')[0]!;
    const fake = m.fabricate(btc, 1000, 3, 5);
    expect(fake.map((t) => [t.id, t.price])).toEqual([
      [1000, newest.price],
      [1001, newest.price],
      [1002, newest.price],
    ]);
    expect(m.truth('BTCUSDT')).toEqual([newest]);
  });
});

describe('Market order books', () => {
  it('names the book streams and finds them as Binance matches them', () => {
    const m = market();
    const btc = m.symbols[0]!;
    expect([btc.bookTickerStream, btc.depthStream, btc.depthSlowStream]).toEqual([
      'btcusdt@bookTicker',
      'btcusdt@depth@100ms',
      'btcusdt@depth',
    ]);
    expect(m.stream('BTCUSDT@bookticker')).toEqual({
      symbol: btc,
      agg: false,
      name: 'btcusdt@bookTicker',
      book: 'bookTicker',
    });
    expect(m.stream('btcusdt@depth@100ms')?.book).toBe('depth@100ms');
    expect(m.stream('btcusdt@depth')).toMatchObject({ name: 'btcusdt@depth', book: 'depth' });
    expect(m.stream('btcusdt@depth@500ms')).toBeUndefined();
    expect(m.stream('btcusdt@depth20')).toBeUndefined();
  });

  it('moves the book once a trade by default, as often as asked, or not at all', () => {
    const changes = (bookUpdatesPerTrade?: number) => {
      const m = market({ bookUpdatesPerTrade, firstUpdateId: 50 });
      const btc = m.symbols[0]!;
      for (let i = 0; i < 10; i++) m.trade(btc, i);
      m.moveBook(btc, 2);
      return btc.book.updateId - 49;
    };
    expect(changes()).toBe(12);
    expect(changes(3)).toBe(32);
    expect(changes(0)).toBe(2);
    expect(() => market({ bookUpdatesPerTrade: -1 })).toThrow(/bookUpdatesPerTrade/);
    expect(() => market({ bookLevels: 0 })).toThrow(/bookLevels/);
  });

  it('keeps the trades of a seed as they were without books', () => {
    const m = market({ seed: 42, firstTradeId: 1 });
    const btc = m.symbols[0]!;
    for (let i = 0; i < 3; i++) m.trade(btc, 0);
    // What seed 42 gave before the market had books: they draw from their own sequences.
    expect(m.truth('BTCUSDT').map((t) => [t.price, t.quantity, t.isBuyerMaker])).toEqual([
      ['43250.01000000', '1.23897026', false],
      ['43249.99000000', '0.29204792', true],
      ['43250.00000000', '1.29656129', true],
    ]);
  });

  it('starts each book around its first price, with its own update ids and rules', () => {
    const m = market({ rules: { ethusdt: { tickSize: '0.10', stepSize: '0.001' } } });
    const [btc, eth] = m.symbols;
    const quote = btc!.book.quote();
    expect(Number(quote.bidPrice)).toBeLessThan(43_250.01);
    expect(Number(quote.askPrice)).toBeGreaterThan(43_250.01);
    expect(btc!.book.updateId).not.toBe(eth!.book.updateId);
    expect(btc!.book.updateId).toBeGreaterThanOrEqual(1_000_000_000 - 1);
    expect(eth!.rules.tickSize).toBe('0.10000000');
    expect(btc!.rules.tickSize).toBe('0.01000000');
    // A tick wider than a cent: the trades walk by ticks too.
    for (let i = 0; i < 50; i++) m.trade(eth!, i);
    for (const t of m.truth('ETHUSDT')) expect(t.price).toMatch(/^\d+\.\d0000000$/);
    expect(() => market({ rules: { DOGEUSDT: {} } })).toThrow(/DOGEUSDT/);
  });
});
