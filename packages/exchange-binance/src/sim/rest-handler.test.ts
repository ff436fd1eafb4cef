import { silentLogger } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { FaultInjector, type StreamFaultTarget } from './fault-injector.js';
import { Market, prng } from './market.js';
import { depthWeight, quoteQuantity, RestHandler, restRows } from './rest-handler.js';

const noStreams: StreamFaultTarget = {
  dropAll: () => undefined,
  silence: () => undefined,
  shutdown: () => undefined,
  sendEach: () => undefined,
  broadcast: () => undefined,
  broadcastTrade: () => undefined,
  flushAll: () => undefined,
};

function setup(options: { weightPerMinute?: number; retain?: number; trades?: number } = {}) {
  let clock = 1_700_000_000_000;
  const now = () => clock;
  const market = new Market({
    symbols: ['BTCUSDT', 'ETHUSDT'],
    seed: 2,
    retain: options.retain ?? 1000,
    firstTradeId: 100,
  });
  for (let i = 0; i < (options.trades ?? 20); i++) {
    for (const symbol of market.symbols) market.trade(symbol, clock + i);
  }
  const faults = new FaultInjector({
    market,
    streams: noStreams,
    now,
    logger: silentLogger,
    oversizedFrameBytes: 10,
    random: prng(1),
  });
  const rest = new RestHandler({
    market,
    faults,
    now,
    weightPerMinute: options.weightPerMinute ?? 6000,
  });
  const get = (path: string) => {
    const answer = rest.handle(path, now());
    return { ...answer, json: JSON.parse(answer.body) as unknown };
  };
  const rows = (path: string) => get(path).json as Record<string, unknown>[];
  return { market, faults, rest, get, rows, advance: (ms: number) => (clock += ms), now };
}

describe('RestHandler', () => {
  it('answers historicalTrades from fromId with Binance rows of the truth', () => {
    const { get, market } = setup();
    const truth = market.truth('BTCUSDT');
    const answer = get('/api/v3/historicalTrades?symbol=BTCUSDT&fromId=103&limit=2');
    expect(answer).toMatchObject({ status: 200, holdUntil: 0, afterHeaders: false });
    expect(answer.headers).toEqual({ 'x-mbx-used-weight-1m': '25' });
    expect(answer.json).toEqual(restRows(truth.slice(3, 5), false));
    expect((answer.json as Record<string, unknown>[])[0]).toEqual({
      id: 103,
      price: truth[3]!.price,
      qty: truth[3]!.quantity,
      quoteQty: quoteQuantity(truth[3]!.price, truth[3]!.quantity),
      time: truth[3]!.time,
      isBuyerMaker: truth[3]!.isBuyerMaker,
      isBestMatch: true,
    });
  });

  it('answers trades (and historicalTrades without fromId) with the newest, aggTrades as agg rows', () => {
    const { rows, market } = setup();
    const ids = (r: Record<string, unknown>[]) => r.map((row) => row.id ?? row.a);
    expect(ids(rows('/api/v3/trades?symbol=ETHUSDT&limit=3'))).toEqual([117, 118, 119]);
    expect(ids(rows('/api/v3/trades?symbol=ETHUSDT&fromId=100&limit=2'))).toEqual([118, 119]);
    expect(ids(rows('/api/v3/historicalTrades?symbol=ETHUSDT&limit=1'))).toEqual([119]);
    expect(rows('/api/v3/trades?symbol=ETHUSDT')).toHaveLength(20); // limit 500 by default
    const agg = rows('/api/v3/aggTrades?symbol=BTCUSDT&fromId=100&limit=1');
    const first = market.truth('BTCUSDT')[0]!;
    expect(agg).toEqual([
      {
        a: 100,
        p: first.price,
        q: first.quantity,
        f: 100,
        l: 100,
        T: first.time,
        m: first.isBuyerMaker,
        M: true,
      },
    ]);
  });

  it('answers within [fromId, fromId + limit) when older history is gone', () => {
    const { rows } = setup({ retain: 10, trades: 30 });
    const ids = (path: string) => rows(path).map((r) => r.id);
    expect(ids('/api/v3/historicalTrades?symbol=BTCUSDT&fromId=100&limit=10')).toEqual([]);
    expect(ids('/api/v3/historicalTrades?symbol=BTCUSDT&fromId=115&limit=10')).toEqual([
      120, 121, 122, 123, 124,
    ]);
  });

  it('answers ping, time and exchangeInfo, and refuses what it does not know', () => {
    const { get, now } = setup();
    expect(get('/api/v3/ping')).toMatchObject({ status: 200, json: {} });
    expect(get('/api/v3/time')).toMatchObject({ status: 200, json: { serverTime: now() } });
    expect(get('/api/v3/exchangeInfo')).toMatchObject({
      status: 200,
      headers: {},
      json: { symbols: [{ symbol: 'BTCUSDT' }, { symbol: 'ETHUSDT' }] },
    });
    expect(get('/api/v3/klines?symbol=BTCUSDT')).toMatchObject({ status: 404 });
    expect(get('/api/v3/trades?symbol=btcusdt')).toMatchObject({
      status: 400,
      json: { code: -1121 },
    });
    for (const limit of ['0', '1001', '1.5', 'x']) {
      expect(get(`/api/v3/trades?symbol=BTCUSDT&limit=${limit}`)).toMatchObject({ status: 400 });
    }
    for (const fromId of ['-1', 'x']) {
      expect(get(`/api/v3/historicalTrades?symbol=BTCUSDT&fromId=${fromId}`)).toMatchObject({
        status: 400,
        json: { code: -1100 },
      });
    }
  });

  it('weighs requests (25, aggTrades 4) and answers 429 beyond the minute, which then frees up', () => {
    const { get, advance, rest } = setup({ weightPerMinute: 60 });
    expect(get('/api/v3/aggTrades?symbol=BTCUSDT').headers).toEqual({
      'x-mbx-used-weight-1m': '4',
    });
    expect(get('/api/v3/trades?symbol=BTCUSDT').headers).toEqual({
      'x-mbx-used-weight-1m': '29',
    });
    advance(30_000);
    expect(get('/api/v3/ping').headers).toEqual({ 'x-mbx-used-weight-1m': '54' });
    expect(get('/api/v3/ping')).toMatchObject({
      status: 429,
      headers: { 'retry-after': '60' },
      json: { code: -1003 },
    });
    expect(get('/api/v3/aggTrades?symbol=BTCUSDT').status).toBe(200); // 58: still fits
    advance(30_000); // the first two leave the window
    expect(get('/api/v3/ping').headers).toEqual({ 'x-mbx-used-weight-1m': '54' });
    expect(rest.stats()).toMatchObject({ restRequests: 6, restRejected: 1 });
  });

  it('fails the requests failRest asked for, with their status and Retry-After', () => {
    const { get, faults, rest } = setup();
    faults.failRest(1, 418, 120);
    expect(get('/api/v3/ping')).toMatchObject({
      status: 418,
      headers: { 'retry-after': '120' },
      json: { code: -1000 },
    });
    expect(get('/api/v3/ping').status).toBe(200);
    expect(rest.stats().restRejected).toBe(1);
  });

  it('answers 503 when the rows would show a withheld id', () => {
    const { get, faults, rest } = setup();
    faults.refuseHistory('BTCUSDT', 105, 105);
    expect(get('/api/v3/historicalTrades?symbol=BTCUSDT&fromId=100&limit=5').status).toBe(200);
    expect(get('/api/v3/historicalTrades?symbol=BTCUSDT&fromId=100&limit=6').status).toBe(503);
    expect(get('/api/v3/aggTrades?symbol=BTCUSDT&fromId=105&limit=1').status).toBe(503);
    expect(get('/api/v3/historicalTrades?symbol=ETHUSDT&fromId=100&limit=6').status).toBe(200);
    expect(rest.stats().restWithheld).toBe(2);
  });

  it('tells the lies asked for, one per trade request', () => {
    const { rows, faults, market, rest, get } = setup();
    const path = '/api/v3/historicalTrades?symbol=BTCUSDT&fromId=110&limit=4';
    faults.lieRest(1, 'too_many_rows');
    expect(get('/api/v3/ping').status).toBe(200); // not a trade request: no lie spent
    expect(rows(path).map((r) => r.id)).toEqual([110, 111, 112, 113, 114, 115, 116, 117]);
    faults.lieRest(1, 'ids_out_of_range');
    expect(rows(path).map((r) => r.id)).toEqual([114, 115, 116, 117]);
    faults.lieRest(1, 'wrong_symbol');
    const eth = market.truth('ETHUSDT').slice(10, 14);
    expect(rows(path).map((r) => [r.id, r.price, r.symbol])).toEqual(
      eth.map((t) => [t.id, t.price, 'ETHUSDT']),
    );
    faults.lieRest(1, 'huge_body');
    const huge = get(path);
    expect(huge.body.length).toBeGreaterThan(8 << 20);
    expect((huge.json as unknown[]).length).toBe(4);
    expect(rows(path)[0]).not.toHaveProperty('symbol');
    expect(rest.stats().restLies).toBe(4);
  });

  it('holds answers while hanging, and says whether the headers go first', () => {
    const { get, faults, now, rest } = setup();
    faults.hangRest(5_000, { afterHeaders: true });
    const held = get('/api/v3/trades?symbol=BTCUSDT&limit=1');
    expect(held).toMatchObject({ status: 200, holdUntil: now() + 5_000, afterHeaders: true });
    expect(held.json).toHaveLength(1);
    expect(rest.stats()).toMatchObject({ restRequests: 1, restHung: 1 });
  });
});

describe('RestHandler order book and rules', () => {
  interface Depth {
    lastUpdateId: number;
    bids: [string, string][];
    asks: [string, string][];
  }

  it('answers depth with the live book, best first, at its update id', () => {
    const { get, market, rest } = setup();
    const btc = market.symbols[0]!;
    const answer = get('/api/v3/depth?symbol=BTCUSDT&limit=7');
    expect(answer).toMatchObject({ status: 200, headers: { 'x-mbx-used-weight-1m': '5' } });
    const depth = answer.json as Depth;
    expect(Object.keys(depth)).toEqual(['lastUpdateId', 'bids', 'asks']);
    const truth = btc.book.bookAt(btc.book.updateId, 7);
    expect(depth).toEqual({ lastUpdateId: truth.updateId, bids: truth.bids, asks: truth.asks });
    expect(depth.bids[0]![0]).toMatch(/^\d+\.\d{8}$/);
    expect((get('/api/v3/depth?symbol=ETHUSDT').json as Depth).bids).toHaveLength(100); // default
    const all = get('/api/v3/depth?symbol=BTCUSDT&limit=5000').json as Depth;
    expect(all.bids.length).toBe(btc.book.top(5000).bids.length); // every level there is
    expect(rest.stats().depthSnapshots).toBe(3);
  });

  it('weighs depth by limit as Binance, and refuses limits outside 1-5000', () => {
    expect([1, 100, 101, 500, 501, 1000, 1001, 5000].map(depthWeight)).toEqual([
      5, 5, 25, 25, 50, 50, 250, 250,
    ]);
    const { get, rest } = setup();
    let used = 0;
    for (const limit of [1, 100, 101, 500, 501, 1000, 1001, 5000]) {
      used += depthWeight(limit);
      expect(get(`/api/v3/depth?symbol=BTCUSDT&limit=${limit}`).headers).toEqual({
        'x-mbx-used-weight-1m': String(used),
      });
    }
    for (const limit of ['0', '5001', '1.5', 'x', '']) {
      expect(get(`/api/v3/depth?symbol=BTCUSDT&limit=${limit}`)).toMatchObject({
        status: 400,
        json: { code: -1100 },
      });
    }
    expect(get('/api/v3/depth?symbol=btcusdt')).toMatchObject({
      status: 400,
      json: { code: -1121 },
    });
    expect(rest.stats().depthSnapshots).toBe(8);
  });

  it('answers 429 when a deep snapshot does not fit the minute', () => {
    const { get, rest } = setup({ weightPerMinute: 300 });
    expect(get('/api/v3/depth?symbol=BTCUSDT&limit=5000').status).toBe(200); // 250
    expect(get('/api/v3/depth?symbol=BTCUSDT&limit=1001')).toMatchObject({
      status: 429,
      headers: { 'retry-after': '60' },
    });
    expect(get('/api/v3/depth?symbol=BTCUSDT&limit=500').status).toBe(200); // 275
    expect(rest.stats()).toMatchObject({ restRejected: 1, depthSnapshots: 2 });
  });

  it('answers exchangeInfo with the filters of every symbol, of one, or of a list', () => {
    const { get } = setup();
    type Info = { symbols: { symbol: string; filters: { filterType: string }[] }[] };
    const all = get('/api/v3/exchangeInfo').json as Info & { rateLimits: unknown[] };
    expect(all.symbols.map((s) => s.symbol)).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(all.rateLimits).toContainEqual(
      expect.objectContaining({ rateLimitType: 'REQUEST_WEIGHT', limit: 6000 }),
    );
    const filters = all.symbols[0]!.filters;
    expect(filters.map((f) => f.filterType)).toEqual(
      expect.arrayContaining(['PRICE_FILTER', 'LOT_SIZE', 'NOTIONAL']),
    );
    expect(filters.find((f) => f.filterType === 'PRICE_FILTER')).toEqual({
      filterType: 'PRICE_FILTER',
      minPrice: '0.01000000',
      maxPrice: '1000000.00000000',
      tickSize: '0.01000000',
    });
    const one = get('/api/v3/exchangeInfo?symbol=ETHUSDT').json as Info;
    expect(one.symbols.map((s) => s.symbol)).toEqual(['ETHUSDT']);
    const list = encodeURIComponent('["ETHUSDT","BTCUSDT"]');
    const two = get(`/api/v3/exchangeInfo?symbols=${list}`).json as Info;
    expect(two.symbols.map((s) => s.symbol)).toEqual(['ETHUSDT', 'BTCUSDT']);
    expect(get('/api/v3/exchangeInfo?symbol=DOGEUSDT')).toMatchObject({
      status: 400,
      json: { code: -1121 },
    });
    expect(get(`/api/v3/exchangeInfo?symbols=${encodeURIComponent('["DOGEUSDT"]')}`)).toMatchObject(
      { status: 400, json: { code: -1121 } },
    );
    for (const bad of ['[', '[]', '"BTCUSDT"']) {
      expect(get(`/api/v3/exchangeInfo?symbols=${encodeURIComponent(bad)}`)).toMatchObject({
        status: 400,
        json: { code: -1100 },
      });
    }
    expect(get('/api/v3/exchangeInfo?symbol=BTCUSDT&symbols=%5B%5D')).toMatchObject({
      status: 400,
      json: { code: -1128 },
    });
  });
});

describe('quoteQuantity', () => {
  it('multiplies exactly', () => {
    expect(quoteQuantity('43250.01000000', '0.00100000')).toBe('43.2500100000000000');
    expect(quoteQuantity('0.01000000', '0.00000001')).toBe('0.0000000001000000');
  });
});
