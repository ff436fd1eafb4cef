import { silentLogger } from '@trade/core';
import { describe, expect, it } from 'vitest';
import { FaultInjector, type StreamFaultTarget } from './fault-injector.js';
import { Market, prng } from './market.js';
import { quoteQuantity, RestHandler, restRows } from './rest-handler.js';

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

describe('quoteQuantity', () => {
  it('multiplies exactly', () => {
    expect(quoteQuantity('43250.01000000', '0.00100000')).toBe('43.2500100000000000');
    expect(quoteQuantity('0.01000000', '0.00000001')).toBe('0.0000000001000000');
  });
});
