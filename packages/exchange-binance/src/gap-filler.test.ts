import { silentLogger, type Tick, type TickRejectReason } from '@trade/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resolveClientOptions, type BinanceTradeClientOptions } from './client-options.js';
import { GapFiller, type GapOutcome, type GapSymbol } from './gap-filler.js';
import { SymbolSequencer } from './symbol-sequencer.js';

const T = 1_700_000_000_000;
const START = 1_800_000_000_000;

/** A `historicalTrades` / `trades` row. */
const row = (id: number) => ({
  id,
  price: '1.00000000',
  qty: '1.00000000',
  quoteQty: '1.00000000',
  time: T,
  isBuyerMaker: true,
  isBestMatch: true,
});

const tick = (symbol: string, tradeId: number, receiveTime = Date.now()): Tick => ({
  symbol,
  tradeId,
  price: '1',
  quantity: '1',
  side: 'SELL',
  isBuyerMaker: true,
  tradeTime: T,
  receiveTime,
});

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** REST of an exchange whose history holds ids `first..newest` of every symbol. */
const history =
  (first: number, newest: number) =>
  (url: URL): Response => {
    const limit = Number(url.searchParams.get('limit'));
    const fromId = url.searchParams.get('fromId');
    const from = fromId === null ? newest - limit + 1 : Number(fromId);
    const to = fromId === null ? newest : Number(fromId) + limit - 1;
    return Response.json(range(Math.max(first, from), Math.min(newest, to)).map(row));
  };

interface SentRequest {
  readonly path: string;
  /** Milliseconds since the test started (fake clock). */
  readonly at: number;
  readonly signal: AbortSignal | null | undefined;
}

type Answer = (url: URL, request: number) => Response | Promise<Response>;

/**
 * A GapFiller whose REST is `answer` (a Response per request, numbered from
 * 0), with one SymbolSequencer per symbol positioned at `lastIds`.
 */
function harness(
  answer: Answer,
  lastIds: Record<string, number | undefined> = { BTCUSDT: 100 },
  options: Partial<BinanceTradeClientOptions> = {},
) {
  const requests: SentRequest[] = [];
  const fetch: typeof globalThis.fetch = (input, init) => {
    const url = new URL(input);
    const n = requests.length;
    requests.push({
      path: url.pathname + url.search,
      at: Date.now() - START,
      signal: init?.signal,
    });
    return Promise.resolve(answer(url, n));
  };
  const resolved = resolveClientOptions({
    url: 'ws://ws.invalid',
    restUrl: 'http://rest.invalid',
    symbols: Object.keys(lastIds),
    logger: silentLogger,
    fetch,
    now: () => Date.now(),
    random: () => 0,
    ...options,
  });
  const delivered = new Map<string, number[]>();
  const targets = new Map<string, GapSymbol>();
  for (const [symbol, lastId] of Object.entries(lastIds)) {
    delivered.set(symbol, []);
    const sequencer = new SymbolSequencer(
      symbol,
      lastId,
      (t) => delivered.get(symbol)!.push(t.tradeId),
      { maxHeld: resolved.maxHeldTrades, maxJump: resolved.maxTradeIdJump },
    );
    targets.set(symbol, { symbol, sequencer, shard: { overlapping: false } });
  }
  const gaps: { symbol: string; gap: GapOutcome; bannedUntil: number | undefined }[] = [];
  const rejects: [TickRejectReason, string][] = [];
  const filler = new GapFiller(resolved, {
    reject: (reason, detail) => rejects.push([reason, detail]),
    reportGap: (symbol, gap, bannedUntil) => gaps.push({ symbol, gap, bannedUntil }),
    gapsChanged: () => undefined,
  });
  const target = (symbol = 'BTCUSDT') => targets.get(symbol)!;
  const out = (symbol = 'BTCUSDT') => delivered.get(symbol)!;
  /** Offers stream ticks to a symbol's sequencer, as the client does. */
  const stream = (ids: number[], symbol = 'BTCUSDT', receiveTime?: number) =>
    ids.map((id) => target(symbol).sequencer.offer(tick(symbol, id, receiveTime)));
  return { filler, requests, gaps, rejects, target, out, stream };
}

/**
 * Lets the filler run (its REST answers are read in a few event-loop turns)
 * and moves the fake clock to the next timer only when it is waiting, until
 * `done`; fails when it never is. A job waiting for REST has no timer, so the
 * clock never runs ahead of an answer.
 */
async function until(done: () => boolean, what: string): Promise<void> {
  for (let timers = 0; timers < 100; timers++) {
    for (let turn = 0; turn < 20 && !done(); turn++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (done()) return;
    await vi.advanceTimersToNextTimerAsync();
  }
  throw new Error(`never happened: ${what}`);
}

const fromPath = (fromId: number, limit: number, symbol = 'BTCUSDT') =>
  `/api/v3/historicalTrades?symbol=${symbol}&fromId=${fromId}&limit=${limit}`;
const newestPath = (symbol = 'BTCUSDT') => `/api/v3/trades?symbol=${symbol}&limit=1`;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: START });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('GapFiller', () => {
  it('fills a gap from REST pages of at most 1000, delivering in id order, and reports it', async () => {
    const { filler, requests, gaps, out, stream, target } = harness(history(1, 5_000));
    expect(stream([2_600])).toEqual(['held']);
    filler.fill(target());
    await until(() => gaps.length === 1, 'the gap outcome');
    expect(requests.map((r) => r.path)).toEqual([
      fromPath(101, 1000),
      fromPath(1_101, 1000),
      fromPath(2_101, 499), // only up to the held tick
    ]);
    expect(out()).toEqual(range(101, 2_600));
    expect(gaps).toEqual([
      {
        symbol: 'BTCUSDT',
        gap: { fromId: 101, toId: 2_599, recovered: 2_499, missed: 0 },
        bannedUntil: undefined,
      },
    ]);
    expect(filler).toMatchObject({ gapsDetected: 1, tradesBackfilled: 2_499, restRequests: 3 });
    expect(target().sequencer.hasGap).toBe(false);
  });

  it('runs one job per symbol: a second fill while one runs sends nothing more', async () => {
    const { filler, requests, gaps, out, stream, target } = harness(history(1, 5_000));
    stream([110]);
    filler.fill(target());
    filler.fill(target());
    stream([120]);
    filler.fill(target());
    await until(() => gaps.length === 1, 'the gap outcome');
    // The first job saw the second gap too: it filled both, one request each.
    expect(requests.map((r) => r.path)).toEqual([fromPath(101, 9), fromPath(111, 9)]);
    expect(out()).toEqual(range(101, 120));
    expect(gaps[0]!.gap).toEqual({ fromId: 101, toId: 119, recovered: 18, missed: 0 });
  });

  it('counts ids REST no longer holds as missed, and fills the rest', async () => {
    const { filler, gaps, out, stream, target } = harness(history(150, 5_000));
    stream([300]);
    filler.fill(target());
    await until(() => gaps.length === 1, 'the gap outcome');
    expect(out()).toEqual(range(150, 300));
    expect(gaps[0]!.gap).toEqual({ fromId: 101, toId: 299, recovered: 150, missed: 49 });
  });

  it('fetches at most maxGapTrades for a gap: the older ids are missed', async () => {
    const { filler, requests, gaps, out, stream, target } = harness(
      history(1, 5_000),
      { BTCUSDT: 0 },
      { maxGapTrades: 100, maxTradeIdJump: 1_000_000 },
    );
    stream([1_001]);
    filler.fill(target());
    await until(() => gaps.length === 1, 'the gap outcome');
    // First it makes sure the exchange has the held tick, then asks for the newest 100 ids only.
    expect(requests.map((r) => r.path)).toEqual([newestPath(), fromPath(901, 100)]);
    expect(out()).toEqual(range(901, 1_001));
    expect(gaps[0]!.gap).toEqual({ fromId: 1, toId: 1_000, recovered: 100, missed: 900 });
  });

  it('spends at most restWeightPerMinute: a request past it waits for the oldest to leave the minute', async () => {
    // 25 a request (historicalTrades): two fit in 50.
    const { filler, requests, gaps, out, stream, target } = harness(
      history(1, 5_000),
      { BTCUSDT: 100 },
      { restWeightPerMinute: 50 },
    );
    stream([2_600]);
    filler.fill(target());
    await until(() => requests.length === 2, 'two requests');
    await vi.advanceTimersByTimeAsync(59_999);
    expect(requests).toHaveLength(2);
    await until(() => gaps.length === 1, 'the gap outcome');
    expect(requests.map((r) => r.at)).toEqual([0, 0, 60_000]);
    expect(out()).toEqual(range(101, 2_600));
    expect(gaps[0]!.gap).toMatchObject({ recovered: 2_499, missed: 0 });
  });

  it('sends nothing before a 429 Retry-After elapsed, then fills the gap', async () => {
    const rest = history(1, 5_000);
    const { filler, requests, gaps, out, stream, target } = harness((url, n) =>
      n === 0
        ? new Response('slow down', { status: 429, headers: { 'retry-after': '30' } })
        : rest(url),
    );
    stream([110]);
    filler.fill(target());
    await until(() => gaps.length === 1, 'the gap outcome');
    expect(requests.map((r) => [r.path, r.at])).toEqual([
      [fromPath(101, 9), 0],
      [fromPath(101, 9), 30_000],
    ]);
    expect(out()).toEqual(range(101, 110));
    expect(gaps[0]!.gap).toEqual({ fromId: 101, toId: 109, recovered: 9, missed: 0 });
    expect(filler).toMatchObject({ restRequests: 2, restErrors: 1 });
  });

  it('backs off 1, 2, 4, 8 s while REST fails, then gives the gap up: missed, held ticks delivered', async () => {
    const { filler, requests, gaps, out, stream, target } = harness(() =>
      Promise.reject(new Error('ECONNRESET')),
    );
    stream([110, 111]);
    filler.fill(target());
    await until(() => gaps.length === 1, 'the gap outcome');
    expect(requests.map((r) => r.at)).toEqual([0, 1_000, 3_000, 7_000, 15_000]);
    expect(gaps[0]!.gap).toEqual({ fromId: 101, toId: 109, recovered: 0, missed: 9 });
    expect(out()).toEqual([110, 111]);
    expect(target().sequencer).toMatchObject({ hasGap: false, lastId: 111, skipped: 9 });
    expect(filler).toMatchObject({ restRequests: 5, restErrors: 5 });
    // Given up for good: nothing more is asked.
    await vi.advanceTimersByTimeAsync(120_000);
    expect(requests).toHaveLength(5);
  });

  it('starts the backoff over after an answer', async () => {
    const rest = history(1, 5_000);
    const { filler, requests, gaps, out, stream, target } = harness((url, n) =>
      n === 0 || n === 2 ? new Response('oops', { status: 500 }) : rest(url),
    );
    stream([1_500]);
    filler.fill(target());
    await until(() => gaps.length === 1, 'the gap outcome');
    // Fail, answer, fail, answer: each failure waits the first delay, 1 s (not 2 s the second time).
    expect(requests.map((r) => [r.path, r.at])).toEqual([
      [fromPath(101, 1000), 0],
      [fromPath(101, 1000), 1_000],
      [fromPath(1_101, 399), 1_000],
      [fromPath(1_101, 399), 2_000],
    ]);
    expect(out()).toEqual(range(101, 1_500));
    expect(gaps[0]!.gap).toEqual({ fromId: 101, toId: 1_499, recovered: 1_399, missed: 0 });
  });

  it('treats an answer that is not what was asked as a failure: it is not used', async () => {
    const rest = history(1, 5_000);
    // The first answer claims ids outside the asked range.
    const { filler, requests, gaps, out, rejects, stream, target } = harness((url, n) =>
      n === 0 ? Response.json([row(105), row(500)]) : rest(url),
    );
    stream([110]);
    filler.fill(target());
    await until(() => gaps.length === 1, 'the gap outcome');
    expect(requests.map((r) => r.at)).toEqual([0, 1_000]);
    expect(rejects).toEqual([['invalid_rest_answer', expect.stringContaining('id 500 outside')]]);
    expect(out()).toEqual(range(101, 110));
    expect(gaps[0]!.gap).toMatchObject({ recovered: 9, missed: 0 });
  });

  it('gives the gap up at once on a 418 ban, sends nothing until it ends, then fills again', async () => {
    const rest = history(1, 5_000);
    const { filler, requests, gaps, out, stream, target } = harness((url, n) =>
      n === 0
        ? new Response('banned', { status: 418, headers: { 'retry-after': '120' } })
        : rest(url),
    );
    stream([110]);
    filler.fill(target());
    await until(() => gaps.length === 1, 'the gap outcome');
    const bannedUntil = START + 120_000;
    expect(filler.bannedUntil).toBe(bannedUntil);
    expect(gaps[0]).toEqual({
      symbol: 'BTCUSDT',
      gap: { fromId: 101, toId: 109, recovered: 0, missed: 9 },
      bannedUntil,
    });
    expect(out()).toEqual([110]);
    // A gap during the ban is given up without a request.
    stream([115]);
    filler.fill(target());
    await until(() => gaps.length === 2, 'the second gap outcome');
    expect(requests).toHaveLength(1);
    expect(gaps[1]!.gap).toEqual({ fromId: 111, toId: 114, recovered: 0, missed: 4 });
    // Once the ban is over, gaps are filled again.
    vi.setSystemTime(bannedUntil);
    stream([120]);
    filler.fill(target());
    await until(() => gaps.length === 3, 'the third gap outcome');
    expect(requests.map((r) => r.path)).toEqual([fromPath(101, 9), fromPath(116, 4)]);
    expect(gaps[2]!).toEqual({
      symbol: 'BTCUSDT',
      gap: { fromId: 116, toId: 119, recovered: 4, missed: 0 },
      bannedUntil: undefined,
    });
    expect(out()).toEqual([110, 115, 116, 117, 118, 119, 120]);
  });

  it('refuses a held tick the exchange does not have instead of giving real ids up for it', async () => {
    const { filler, requests, gaps, out, rejects, stream, target } = harness(history(1, 105));
    // Received more than the grace (1 s) before REST is asked: REST should know it by then.
    stream([5_000], 'BTCUSDT', START - 2_000);
    filler.fill(target());
    await until(() => gaps.length === 1, 'the gap outcome');
    expect(requests.map((r) => r.path)).toEqual([
      fromPath(101, 1000),
      fromPath(106, 1000),
      newestPath(),
    ]);
    expect(rejects).toEqual([
      ['ahead_of_exchange', "BTCUSDT trade id 5000: the exchange's newest is 105"],
    ]);
    expect(out()).toEqual(range(101, 105));
    expect(target().sequencer).toMatchObject({ held: 0, lastId: 105, skipped: 0 });
    expect(gaps[0]!.gap).toMatchObject({ fromId: 101, recovered: 5, missed: 0 });
  });

  it('asks the exchange about a far-ahead id before anything else, and rejects it when beyond its newest', async () => {
    const { filler, requests, gaps, out, rejects, stream, target } = harness(
      history(1, 120),
      { BTCUSDT: 100 },
      { maxTradeIdJump: 50 },
    );
    expect(stream([1_000_000, 101])).toEqual(['unconfirmed', 'delivered']);
    filler.fill(target());
    await until(() => !target().sequencer.hasUnconfirmed, 'the far id settled');
    expect(requests.map((r) => r.path)).toEqual([newestPath()]);
    expect(rejects).toEqual([
      ['ahead_of_exchange', "BTCUSDT trade id 1000000: the exchange's newest is 120"],
    ]);
    expect(out()).toEqual([101]);
    // No gap was left behind: nothing to report.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(gaps).toEqual([]);
  });

  it('catches up after a reconnect over REST, for at most maxReconnectCatchUpSymbols symbols with a position', async () => {
    const { filler, requests, gaps, out, target } = harness(
      history(1, 15),
      { AAAUSDT: 10, BBBUSDT: undefined, CCCUSDT: 10, DDDUSDT: 10 },
      { maxReconnectCatchUpSymbols: 2 },
    );
    filler.catchUpAfterReconnect(['AAAUSDT', 'BBBUSDT', 'CCCUSDT', 'DDDUSDT'].map(target));
    await until(() => gaps.length === 2, 'two catch-ups');
    expect(requests.map((r) => r.path).sort()).toEqual([
      fromPath(11, 1000, 'AAAUSDT'),
      fromPath(11, 1000, 'CCCUSDT'),
    ]);
    expect(out('AAAUSDT')).toEqual(range(11, 15));
    expect(out('CCCUSDT')).toEqual(range(11, 15));
    expect(out('DDDUSDT')).toEqual([]);
    expect(gaps.find((g) => g.symbol === 'AAAUSDT')!.gap).toEqual({
      fromId: 11,
      toId: 15,
      recovered: 5,
      missed: 0,
    });
  });

  it('on resume, catches up at most maxResumeTrades up to the exchange newest', async () => {
    const { filler, requests, gaps, out, target } = harness(
      history(1, 1_100),
      { BTCUSDT: 100 },
      { maxResumeTrades: 500 },
    );
    filler.catchUp(target(), 'resume');
    await until(() => gaps.length === 1, 'the resume outcome');
    expect(requests.map((r) => r.path)).toEqual([newestPath(), fromPath(601, 1000)]);
    expect(out()).toEqual(range(601, 1_100));
    expect(gaps[0]!.gap).toEqual({ fromId: 101, toId: 1_100, recovered: 500, missed: 500 });
  });

  it('resumes from the exchange newest when the resume point is ahead of it', async () => {
    const { filler, gaps, out, target } = harness(history(1, 1_100), { BTCUSDT: 5_000 });
    filler.catchUp(target(), 'resume');
    await until(() => gaps.length === 1, 'the resume outcome');
    expect(filler.resumeAheadOfExchange).toEqual([
      { symbol: 'BTCUSDT', resumeFrom: 5_000, exchangeNewest: 1_100 },
    ]);
    expect(target().sequencer.lastId).toBe(1_100);
    expect(out()).toEqual([]);
    expect(gaps[0]!.gap).toMatchObject({ recovered: 0, missed: 0 });
  });

  it('close() aborts the request in flight, uses no answer landing after it, and fills nothing more', async () => {
    let answer: ((response: Response) => void) | undefined;
    const { filler, requests, gaps, out, stream, target } = harness(
      () => new Promise<Response>((resolve) => (answer = resolve)),
    );
    stream([110]);
    filler.fill(target());
    await until(() => answer !== undefined, 'the request');
    expect(requests[0]!.signal!.aborted).toBe(false);
    filler.close();
    expect(requests[0]!.signal!.aborted).toBe(true);
    answer!(history(1, 5_000)(new URL(`http://rest.invalid${fromPath(101, 9)}`)));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(out()).toEqual([]);
    expect(target().sequencer).toMatchObject({ hasGap: true, lastId: 100, held: 1 });
    expect(gaps.every((g) => g.gap.recovered === 0 && g.gap.missed === 0)).toBe(true);
    filler.fill(target());
    filler.catchUp(target(), 'reconnect');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(requests).toHaveLength(1);
  });
});
