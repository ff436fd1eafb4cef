import { silentLogger } from '@trade/core';
import { describe, expect, it } from 'vitest';
import {
  FaultInjector,
  malformedFrame,
  MALFORMED_KINDS,
  planFaults,
  type StreamFaultTarget,
} from './fault-injector.js';
import { Market, prng, type MarketSymbol } from './market.js';
import type { SimTrade } from './trade-history.js';

/** A stream side that records what it is asked, for one combined and one raw connection. */
function recordingStreams() {
  const calls: unknown[][] = [];
  const sent: string[] = [];
  const streams: StreamFaultTarget = {
    dropAll: () => void calls.push(['dropAll']),
    silence: (until) => void calls.push(['silence', until]),
    shutdown: (ms) => void calls.push(['shutdown', ms]),
    sendEach: (frame) => void sent.push(frame({ combined: true }), frame({ combined: false })),
    broadcast: (symbol: MarketSymbol, id: number) =>
      void calls.push(['broadcast', symbol.symbol, id]),
    broadcastTrade: (symbol: MarketSymbol, trade: SimTrade) =>
      void calls.push(['broadcastTrade', symbol.symbol, trade]),
    flushAll: () => void calls.push(['flushAll']),
  };
  return { streams, calls, sent };
}

function setup(options: { rates?: Record<string, number>; seed?: number } = {}) {
  let clock = 1_000;
  const market = new Market({
    symbols: ['BTCUSDT', 'ETHUSDT'],
    seed: 1,
    retain: 1000,
    firstTradeId: 1,
  });
  const recorded = recordingStreams();
  const faults = new FaultInjector({
    market,
    streams: recorded.streams,
    now: () => clock,
    logger: silentLogger,
    oversizedFrameBytes: 64,
    rates: options.rates,
    random: prng(options.seed ?? 3),
  });
  return { market, faults, ...recorded, advance: (ms: number) => (clock += ms), now: () => clock };
}

describe('planFaults', () => {
  it('draws each kind with probability rate / 60, with its arguments, in the order of the rates', () => {
    const plan = planFaults(
      {
        drop: 60,
        stall: 60,
        gap: 60,
        duplicate: 60,
        malformed: 60,
        serverShutdown: 60,
        refuse: 60,
      },
      prng(1),
    );
    expect(plan.map((f) => f.kind)).toEqual([
      'drop',
      'stall',
      'gap',
      'duplicate',
      'malformed',
      'serverShutdown',
      'refuse',
    ]);
    expect(plan[1]).toEqual({ kind: 'stall', ms: 5_000 });
    expect(plan[6]).toEqual({ kind: 'refuse', ms: 3_000 });
    const gap = plan[2] as { count: number };
    expect(gap.count).toBeGreaterThanOrEqual(1);
    expect(gap.count).toBeLessThanOrEqual(20);
    const duplicate = plan[3] as { count: number };
    expect(duplicate.count).toBeGreaterThanOrEqual(1);
    expect(duplicate.count).toBeLessThanOrEqual(3);
    expect(MALFORMED_KINDS).toContain((plan[4] as { malformed: string }).malformed);
  });

  it('never draws a kind at rate 0, and draws about rate / 60 of the seconds', () => {
    const random = prng(5);
    let drops = 0;
    for (let second = 0; second < 6000; second++) {
      const plan = planFaults({ drop: 6, stall: 0 }, random);
      expect(plan.every((f) => f.kind === 'drop')).toBe(true);
      drops += plan.length;
    }
    expect(drops).toBeGreaterThan(450); // 600 expected
    expect(drops).toBeLessThan(750);
  });

  it('is the same schedule for the same seed', () => {
    const rates = { gap: 20, duplicate: 20, malformed: 20, drop: 5 };
    const schedule = (seed: number) => {
      const random = prng(seed);
      return Array.from({ length: 200 }, () => planFaults(rates, random));
    };
    expect(schedule(8)).toEqual(schedule(8));
    expect(schedule(8)).not.toEqual(schedule(9));
  });
});

describe('FaultInjector', () => {
  it('injects the planned faults of a second on tick', () => {
    const { faults, calls, market } = setup({ rates: { drop: 60, gap: 60, stall: 60 } });
    faults.tick();
    expect(calls[0]).toEqual(['dropAll']);
    expect(calls[1]).toEqual(['silence', 6_000]);
    // The gap made trades that nothing broadcast.
    expect(market.truth('BTCUSDT').length).toBeGreaterThan(0);
    expect(calls.filter((c) => c[0] === 'broadcast')).toEqual([]);
  });

  it('makes gap trades only the truth has, and duplicates the newest ones', () => {
    const { faults, calls, market } = setup();
    faults.gap(3, 'BTCUSDT');
    expect(market.lastTradeId('BTCUSDT')).toBe(3);
    expect(market.lastTradeId('ETHUSDT')).toBeUndefined();
    faults.gap();
    expect(market.lastTradeId('ETHUSDT')).toBe(5);
    expect(calls).toEqual([]);
    faults.duplicate(2, 'BTCUSDT');
    faults.duplicate();
    expect(calls).toEqual([
      ['broadcast', 'BTCUSDT', 7],
      ['broadcast', 'BTCUSDT', 8],
      ['flushAll'],
      ['broadcast', 'BTCUSDT', 8],
      ['broadcast', 'ETHUSDT', 5],
      ['flushAll'],
    ]);
  });

  it('sends a bogus trade that is not in the truth, and refuses a bad id', () => {
    const { faults, calls, market, now } = setup();
    faults.gap(2);
    faults.bogusTrade('ethusdt', 1_000_000);
    expect(calls[0]).toEqual([
      'broadcastTrade',
      'ETHUSDT',
      expect.objectContaining({ id: 1_000_000, symbol: 'ETHUSDT', time: now() }),
    ]);
    expect(calls[1]).toEqual(['flushAll']);
    expect(market.lastTradeId('ETHUSDT')).toBe(2);
    expect(() => faults.bogusTrade('BTCUSDT', -1)).toThrow();
    expect(() => faults.bogusTrade('BTCUSDT', 1.5)).toThrow();
    expect(() => faults.bogusTrade('DOGEUSDT', 1)).toThrow();
  });

  it('stalls from now, and shuts down and drops through the stream side', () => {
    const { faults, calls, advance } = setup();
    advance(500);
    faults.stall(2_000);
    faults.serverShutdown();
    faults.serverShutdown(10);
    faults.drop();
    expect(calls).toEqual([['silence', 3_500], ['shutdown', 1000], ['shutdown', 10], ['dropAll']]);
  });

  it('sends one malformed frame of the kind asked for to each connection', () => {
    const { faults, sent } = setup();
    faults.malformed();
    expect(sent).toEqual([
      '{"stream":"btcusdt@trade","data":{"e":"trade",',
      '{"stream":"btcusdt@trade","data":{"e":"trade",',
    ]);
    sent.length = 0;
    faults.malformed('oversized_frame');
    expect(sent[0]!.length).toBeGreaterThan(64);
    expect(JSON.parse(sent[1]!)).toMatchObject({ e: 'kline', s: 'BTCUSDT', x: 'x'.repeat(64) });
  });

  it('refuses upgrades for the window asked, with the options asked', () => {
    const { faults, now, advance } = setup();
    expect(faults.refusal(now())).toBeUndefined();
    faults.refuseConnections(100, { status: 429, retryAfterSeconds: 2 });
    expect(faults.refusal(now())).toEqual({ status: 429, retryAfterSeconds: 2 });
    advance(99);
    expect(faults.refusal(now())).toBeDefined();
    advance(1);
    expect(faults.refusal(now())).toBeUndefined();
    faults.refuseConnections(10);
    expect(faults.refusal(now())).toEqual({});
  });

  it('hands out REST failures and lies one request at a time, a later call replacing an earlier', () => {
    const { faults } = setup();
    expect(faults.takeRestFailure()).toBeUndefined();
    faults.failRest(2, 418, 60);
    expect(faults.takeRestFailure()).toEqual({ status: 418, retryAfterSeconds: 60 });
    faults.failRest(1);
    expect(faults.takeRestFailure()).toEqual({ status: 500, retryAfterSeconds: 1 });
    expect(faults.takeRestFailure()).toBeUndefined();

    faults.lieRest(2, 'huge_body');
    faults.lieRest(1, 'wrong_symbol');
    expect(faults.takeLie()).toBe('wrong_symbol');
    expect(faults.takeLie()).toBeUndefined();
    expect(() => faults.lieRest(1, 'nonsense' as never)).toThrow();
  });

  it('withholds the ranges asked, per symbol, adding them up', () => {
    const { faults } = setup();
    faults.refuseHistory('btcusdt', 10, 19);
    faults.refuseHistory('BTCUSDT', 40, 40);
    expect(faults.isWithheld('BTCUSDT', 0, 9)).toBe(false);
    expect(faults.isWithheld('BTCUSDT', 0, 10)).toBe(true);
    expect(faults.isWithheld('BTCUSDT', 19, 30)).toBe(true);
    expect(faults.isWithheld('BTCUSDT', 20, 39)).toBe(false);
    expect(faults.isWithheld('BTCUSDT', 40, 40)).toBe(true);
    expect(faults.isWithheld('ETHUSDT', 0, 100)).toBe(false);
    expect(() => faults.refuseHistory('BTCUSDT', 5, 4)).toThrow();
    expect(() => faults.refuseHistory('DOGEUSDT', 1, 4)).toThrow();
  });

  it('drops the depth events asked for, per symbol, adding them up, while the book moves on', () => {
    const { faults, market } = setup();
    expect(faults.takeDepthDrop('BTCUSDT')).toBe(false);
    faults.dropDepthDiff('btcusdt');
    faults.dropDepthDiff('BTCUSDT', 2);
    faults.dropDepthDiff(); // one of each symbol
    expect([1, 2, 3, 4, 5].map(() => faults.takeDepthDrop('BTCUSDT'))).toEqual([
      true,
      true,
      true,
      true,
      false,
    ]);
    expect(faults.takeDepthDrop('ETHUSDT')).toBe(true);
    expect(faults.takeDepthDrop('ETHUSDT')).toBe(false);
    expect(() => faults.dropDepthDiff('DOGEUSDT')).toThrow();
    expect(() => faults.dropDepthDiff('BTCUSDT', -1)).toThrow(/count/);
    // The fault is the stream's: the book's truth is untouched.
    const btc = market.symbols[0]!;
    const id = btc.book.updateId;
    faults.gap(1, 'BTCUSDT');
    expect(btc.book.updateId).toBe(id + 1);
  });

  it('drops a depth event of each symbol on the random schedule', () => {
    const { faults } = setup({ rates: { dropDepthDiff: 60 } });
    faults.tick();
    expect(faults.takeDepthDrop('BTCUSDT')).toBe(true);
    expect(faults.takeDepthDrop('ETHUSDT')).toBe(true);
    expect(planFaults({ dropDepthDiff: 60 }, prng(1))).toEqual([{ kind: 'dropDepthDiff' }]);
  });

  it('hangs REST requests arriving in the window asked', () => {
    const { faults, now, advance } = setup();
    expect(faults.hang(now())).toBeUndefined();
    faults.hangRest(1_000, { afterHeaders: true });
    expect(faults.hang(now())).toEqual({ until: now() + 1_000, afterHeaders: true });
    advance(1_000);
    expect(faults.hang(now())).toBeUndefined();
    faults.hangRest(5);
    expect(faults.hang(now())).toEqual({ until: now() + 5, afterHeaders: false });
  });
});

describe('malformedFrame', () => {
  const market = new Market({ symbols: ['BTCUSDT', 'ETHUSDT'], seed: 1, retain: 10 });
  const [first, other] = market.symbols as [MarketSymbol, MarketSymbol];
  const frame = (kind: (typeof MALFORMED_KINDS)[number], combined: boolean) =>
    malformedFrame(kind, { combined, first, other, at: 1_700_000_000_000, padding: () => 'xx' });

  it('builds a frame for every kind, wrapped on combined connections where it is a stream frame', () => {
    for (const kind of MALFORMED_KINDS) {
      expect(frame(kind, true)).toEqual(expect.any(String));
    }
    expect(() => void JSON.parse(frame('invalid_json', false))).toThrow();
    expect(JSON.parse(frame('not_an_object', true))).toEqual([1, 2, 3]);
    expect(JSON.parse(frame('unknown_event', true))).toMatchObject({
      stream: 'btcusdt@trade',
      data: { e: 'kline' },
    });
    expect(JSON.parse(frame('unknown_event', false))).toMatchObject({ e: 'kline' });
    expect(JSON.parse(frame('missing_field', false))).not.toHaveProperty('t');
    expect(JSON.parse(frame('invalid_field', false))).toMatchObject({ t: 'x' });
    expect(JSON.parse(frame('non_positive', false))).toMatchObject({ p: '0.00000000' });
    expect(JSON.parse(frame('subscription_reply', true))).toEqual({ result: null, id: 987654 });
    expect(JSON.parse(frame('error_payload', true))).toMatchObject({ code: -1003 });
    expect(JSON.parse(frame('symbol_mismatch', true))).toMatchObject({
      stream: 'btcusdt@trade',
      data: { s: 'ETHUSDT' },
    });
    expect(JSON.parse(frame('symbol_mismatch', false))).toMatchObject({ s: 'ZZZUSDT' });
    expect(JSON.parse(frame('oversized_frame', false))).toMatchObject({ x: 'xx' });
    expect(JSON.parse(frame('implausible_time', false))).toMatchObject({ T: 86_400_000 });
  });

  it('names a symbol no stream carries when there is only one symbol', () => {
    const data = malformedFrame('symbol_mismatch', {
      combined: true,
      first,
      other: first,
      at: 1,
      padding: () => '',
    });
    expect(JSON.parse(data)).toMatchObject({ data: { s: 'ZZZUSDT' } });
  });
});
