import { InvalidInputError, TradeError } from '@trade/core';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchSymbolRules } from './exchange-info.js';
import { RestRequestError } from './rest-trades.js';
import { startBinanceSimulator } from './sim/binance-simulator.js';
import type { BinanceSimulator, BinanceSimulatorOptions } from './sim/simulator-types.js';
import { exchangeInfoSymbol, resolveRules } from './sim/symbol-rules.js';

const sims: BinanceSimulator[] = [];
afterEach(async () => {
  for (const sim of sims.splice(0)) await sim.close();
});

async function start(options: BinanceSimulatorOptions = {}): Promise<BinanceSimulator> {
  const sim = await startBinanceSimulator({ rate: 0, bookLevels: 5, ...options });
  sims.push(sim);
  return sim;
}

/** The error `promise` rejects with (fails the test if it resolves). */
async function failure(promise: Promise<unknown>): Promise<Error> {
  const result = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(result instanceof Error)) throw new Error(`expected a rejection, got ${String(result)}`);
  return result;
}

describe('fetchSymbolRules against the simulator (real sockets)', () => {
  const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'BNBBTC'];
  const RULES = {
    ETHUSDT: { tickSize: '0.1', stepSize: '0.0001', minQty: '0.001', minNotional: '10' },
    // The older filter some symbols still show.
    BNBBTC: {
      tickSize: '0.000001',
      stepSize: '0.001',
      minQty: '0.01',
      minNotional: '0.0001',
      notionalFilter: 'MIN_NOTIONAL' as const,
    },
  };

  it('reads each symbol rules exactly as the exchange states them, NOTIONAL or MIN_NOTIONAL', async () => {
    const sim = await start({ symbols: SYMBOLS, rules: RULES });
    const rules = await fetchSymbolRules({
      restUrl: sim.restUrl,
      symbols: ['ethusdt', 'BNBBTC', 'BTCUSDT', 'ETHUSDT'],
    });
    expect([...rules.keys()]).toEqual(['ETHUSDT', 'BNBBTC', 'BTCUSDT']);
    for (const symbol of SYMBOLS) expect(rules.get(symbol)).toEqual(sim.symbolRules(symbol));
    expect(rules.get('BNBBTC')).toEqual({
      symbol: 'BNBBTC',
      tickSize: '0.00000100',
      stepSize: '0.00100000',
      minQty: '0.01000000',
      minNotional: '0.00010000',
    });
    // One request, the symbols as a URL-encoded JSON array, as Binance documents.
    expect(sim.restLog().map((r) => [r.path, r.status])).toEqual([
      [`/api/v3/exchangeInfo?symbols=${encodeURIComponent('["ETHUSDT","BNBBTC","BTCUSDT"]')}`, 200],
    ]);
  });

  it('reads one symbol, with a trailing slash on the URL', async () => {
    const sim = await start({ symbols: SYMBOLS, rules: RULES });
    const rules = await fetchSymbolRules({ restUrl: `${sim.restUrl}/`, symbols: ['ETHUSDT'] });
    expect([...rules.values()]).toEqual([sim.symbolRules('ETHUSDT')]);
  });

  it('names the symbols when the exchange does not list one', async () => {
    const sim = await start({ symbols: SYMBOLS });
    const one = await failure(fetchSymbolRules({ restUrl: sim.restUrl, symbols: ['NOPEUSDT'] }));
    expect(InvalidInputError.isInstance(one)).toBe(true);
    expect(one).toMatchObject({ field: 'symbols', value: 'NOPEUSDT' });
    expect(one.message).toMatch(/^invalid symbols: expected symbols the exchange lists .*-1121/);
    expect(one.message).toContain('"NOPEUSDT"');
    const many = await failure(
      fetchSymbolRules({ restUrl: sim.restUrl, symbols: ['BTCUSDT', 'NOPEUSDT'] }),
    );
    expect(many).toMatchObject({ field: 'symbols', value: ['BTCUSDT', 'NOPEUSDT'] });
  });

  it('fails on an HTTP error with its status, and passes on Retry-After (429) and the ban (418)', async () => {
    const sim = await start({ symbols: SYMBOLS });
    const ask = () => failure(fetchSymbolRules({ restUrl: sim.restUrl, symbols: ['BTCUSDT'] }));

    sim.failRest(1, 500, 1);
    const server = await ask();
    expect(server).toBeInstanceOf(RestRequestError);
    expect(server).toMatchObject({ status: 500, isRetryable: true });
    expect(server.message).toMatch(/exchangeInfo.* answered 500: .*Simulated failure/);

    sim.failRest(1, 429, 3);
    expect(await ask()).toMatchObject({ status: 429, retryAfterMs: 3000, isRetryable: true });

    const bans: number[] = [];
    sim.failRest(1, 418, 120);
    const banned = await failure(
      fetchSymbolRules({
        restUrl: sim.restUrl,
        symbols: ['BTCUSDT'],
        now: () => 1_000,
        onBanned: (until) => bans.push(until),
      }),
    );
    expect(banned).toMatchObject({ status: 418, retryAfterMs: 120_000, isRetryable: false });
    expect(bans).toEqual([121_000]);

    // The next request is answered again.
    expect((await fetchSymbolRules({ restUrl: sim.restUrl, symbols: ['BTCUSDT'] })).size).toBe(1);
  });

  it('gives up on a server that does not answer, or stops sending the body, within timeoutMs', async () => {
    const sim = await start({ symbols: SYMBOLS });
    const ask = () =>
      failure(fetchSymbolRules({ restUrl: sim.restUrl, symbols: ['BTCUSDT'], timeoutMs: 200 }));

    sim.hangRest(500);
    const silent = await ask();
    expect(silent).toBeInstanceOf(RestRequestError);
    expect(silent).toMatchObject({ status: undefined, isRetryable: true });
    expect(silent.message).toContain('no answer within 200 ms');

    await new Promise((resolve) => setTimeout(resolve, 500));
    sim.hangRest(500, { afterHeaders: true });
    const trickle = await ask();
    expect(trickle).toBeInstanceOf(RestRequestError);
    expect(trickle.message).toMatch(/failed reading the body: no answer within 200 ms/);
  });

  it('stops when the caller aborts, with the caller reason', async () => {
    const sim = await start({ symbols: SYMBOLS });
    sim.hangRest(2_000);
    const controller = new AbortController();
    const pending = fetchSymbolRules({
      restUrl: sim.restUrl,
      symbols: ['BTCUSDT'],
      signal: controller.signal,
    });
    const reason = new Error('shutting down');
    setTimeout(() => controller.abort(reason), 50);
    expect(await failure(pending)).toBe(reason);
  });
});

/** A fetch that answers `body` (JSON-encoded unless a string) and records what it was asked. */
function fakeFetch(body: unknown) {
  const asked: { url: string; headers: Record<string, string> }[] = [];
  const fetch: typeof globalThis.fetch = (url, request) => {
    const target = url instanceof Request ? url.url : url.toString();
    asked.push({ url: target, headers: { ...(request?.headers as Record<string, string>) } });
    return Promise.resolve(new Response(typeof body === 'string' ? body : JSON.stringify(body)));
  };
  return { fetch, asked };
}

/** An `exchangeInfo` entry as Binance shapes it. */
const entry = (symbol: string, rules: Parameters<typeof resolveRules>[1] = {}) =>
  exchangeInfoSymbol(resolveRules(symbol, rules)) as { symbol: string; filters: object[] };

/** The entry of `symbol` (or `e`) with its `filterType` filter changed by `change` (`undefined`: removed). */
function withFilter(
  symbol: string | ReturnType<typeof entry>,
  filterType: string,
  change: (filter: Record<string, unknown>) => Record<string, unknown> | undefined,
) {
  const e = typeof symbol === 'string' ? entry(symbol) : symbol;
  const filters = e.filters.flatMap((f) => {
    const filter = f as Record<string, unknown>;
    if (filter.filterType !== filterType) return [filter];
    const changed = change({ ...filter });
    return changed === undefined ? [] : [changed];
  });
  return { ...e, filters };
}

const info = (...symbols: object[]) => ({ timezone: 'UTC', serverTime: 0, symbols });

describe('fetchSymbolRules checks every answer before it is trusted', () => {
  const ask = (body: unknown, symbols = ['BTCUSDT', 'ETHUSDT']) =>
    fetchSymbolRules({
      restUrl: 'http://rest.invalid',
      symbols,
      fetch: fakeFetch(body).fetch,
    });

  it('sends the API key when given', async () => {
    const fake = fakeFetch(info(entry('BTCUSDT')));
    await fetchSymbolRules({
      restUrl: 'http://rest.invalid',
      symbols: ['BTCUSDT'],
      apiKey: 'key-1',
      fetch: fake.fetch,
    });
    expect(fake.asked).toEqual([
      {
        url: 'http://rest.invalid/api/v3/exchangeInfo?symbols=%5B%22BTCUSDT%22%5D',
        headers: { 'x-mbx-apikey': 'key-1' },
      },
    ]);
  });

  it('prefers NOTIONAL to MIN_NOTIONAL and keeps a zero tick (a rule Binance switched off)', async () => {
    const both = withFilter('BTCUSDT', 'NOTIONAL', (f) => ({ ...f, minNotional: '7.00000000' }));
    both.filters.push({ filterType: 'MIN_NOTIONAL', minNotional: '1.00000000' });
    const zeroTick = withFilter('ETHUSDT', 'PRICE_FILTER', (f) => ({
      ...f,
      tickSize: '0.00000000',
    }));
    const rules = await ask(info(both, zeroTick));
    expect(rules.get('BTCUSDT')?.minNotional).toBe('7.00000000');
    expect(rules.get('ETHUSDT')?.tickSize).toBe('0.00000000');
  });

  it.each([
    ['not JSON', '<html>Bad gateway</html>', 'exchangeInfo', /a JSON answer, got "<html>/],
    ['no symbols array', { code: 0 }, 'exchangeInfo.symbols', /an array of symbols/],
    ['a symbol missing', info(entry('BTCUSDT')), 'exchangeInfo.ETHUSDT', /an entry for the symbol/],
    [
      'a symbol not asked for',
      info(entry('BTCUSDT'), entry('ETHUSDT'), entry('BNBUSDT')),
      'exchangeInfo.symbols[2].symbol',
      /one of the symbols asked \(BTCUSDT, ETHUSDT\), got "BNBUSDT"/,
    ],
    [
      'an entry without a symbol',
      info(entry('BTCUSDT'), { filters: [] }),
      'exchangeInfo.symbols[1].symbol',
      /got nothing/,
    ],
    [
      'a symbol twice',
      info(entry('BTCUSDT'), entry('ETHUSDT'), entry('BTCUSDT')),
      'exchangeInfo.BTCUSDT',
      /one entry per symbol/,
    ],
    [
      'no filters',
      info(entry('BTCUSDT'), { symbol: 'ETHUSDT' }),
      'exchangeInfo.ETHUSDT.filters',
      /an array of filters/,
    ],
    [
      'no PRICE_FILTER',
      info(
        entry('BTCUSDT'),
        withFilter('ETHUSDT', 'PRICE_FILTER', () => undefined),
      ),
      'exchangeInfo.ETHUSDT.PRICE_FILTER',
      /a PRICE_FILTER filter, got nothing/,
    ],
    [
      'no LOT_SIZE',
      info(
        withFilter('BTCUSDT', 'LOT_SIZE', () => undefined),
        entry('ETHUSDT'),
      ),
      'exchangeInfo.BTCUSDT.LOT_SIZE',
      /a LOT_SIZE filter/,
    ],
    [
      'neither NOTIONAL nor MIN_NOTIONAL',
      info(
        entry('BTCUSDT'),
        withFilter('ETHUSDT', 'NOTIONAL', () => undefined),
      ),
      'exchangeInfo.ETHUSDT.NOTIONAL',
      /a NOTIONAL or MIN_NOTIONAL filter/,
    ],
    [
      'a tick size as a number',
      info(
        entry('BTCUSDT'),
        withFilter('ETHUSDT', 'PRICE_FILTER', (f) => ({ ...f, tickSize: 0.01 })),
      ),
      'exchangeInfo.ETHUSDT.PRICE_FILTER.tickSize',
      /a decimal string such as "0.01000000", got 0.01/,
    ],
    [
      'a step size in exponent form',
      info(
        withFilter('BTCUSDT', 'LOT_SIZE', (f) => ({ ...f, stepSize: '1e-5' })),
        entry('ETHUSDT'),
      ),
      'exchangeInfo.BTCUSDT.LOT_SIZE.stepSize',
      /got "1e-5"/,
    ],
    [
      'a negative minimum quantity',
      info(
        withFilter('BTCUSDT', 'LOT_SIZE', (f) => ({ ...f, minQty: '-1' })),
        entry('ETHUSDT'),
      ),
      'exchangeInfo.BTCUSDT.LOT_SIZE.minQty',
      /got "-1"/,
    ],
    [
      'a MIN_NOTIONAL without its minimum',
      info(
        entry('BTCUSDT'),
        withFilter(entry('ETHUSDT', { notionalFilter: 'MIN_NOTIONAL' }), 'MIN_NOTIONAL', (f) => {
          delete f.minNotional;
          return f;
        }),
      ),
      'exchangeInfo.ETHUSDT.MIN_NOTIONAL.minNotional',
      /got nothing/,
    ],
  ])('refuses an answer with %s, naming the field', async (_name, body, field, message) => {
    const error = await failure(ask(body));
    expect(InvalidInputError.isInstance(error)).toBe(true);
    expect(TradeError.isInstance(error)).toBe(true);
    expect((error as InvalidInputError).field).toBe(field);
    expect(error.message).toMatch(message);
    expect(error.message).toContain(`invalid ${field}: `);
  });

  it('stops reading a body far larger than an honest answer', async () => {
    let pulled = 0;
    const chunk = new Uint8Array(64 * 1024).fill(0x20); // whitespace: JSON would still parse
    const endless = new Response(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          pulled += chunk.byteLength;
          controller.enqueue(chunk);
        },
      }),
    );
    const error = await failure(
      fetchSymbolRules({
        restUrl: 'http://rest.invalid',
        symbols: ['BTCUSDT'],
        fetch: () => Promise.resolve(endless),
      }),
    );
    expect(error).toMatchObject({ field: 'exchangeInfo' });
    expect(error.message).toBe(
      'invalid exchangeInfo: expected at most 98304 bytes, got "a body over 98304 bytes"',
    );
    expect(pulled).toBeLessThan(98_304 + 2 * chunk.byteLength);
  });

  it('sends nothing while the IP is banned; assumes the shortest ban when a 418 says not how long', async () => {
    const fake = fakeFetch(info(entry('BTCUSDT')));
    const held = await failure(
      fetchSymbolRules({
        restUrl: 'http://rest.invalid',
        symbols: ['BTCUSDT'],
        fetch: fake.fetch,
        now: () => 1_000,
        bannedUntil: () => 31_000,
      }),
    );
    expect(held).toBeInstanceOf(RestRequestError);
    expect(held).toMatchObject({ status: 418, retryAfterMs: 30_000 });
    expect(held.message).toBe(
      'GET /api/v3/exchangeInfo?symbols=["BTCUSDT"] not sent: the IP is banned',
    );
    expect(fake.asked).toEqual([]);

    const bans: number[] = [];
    const bare = await failure(
      fetchSymbolRules({
        restUrl: 'http://rest.invalid',
        symbols: ['BTCUSDT'],
        fetch: () => Promise.resolve(new Response('', { status: 418 })),
        now: () => 1_000,
        onBanned: (until) => bans.push(until),
      }),
    );
    expect(bare).toMatchObject({ status: 418, retryAfterMs: 120_000 });
    expect(bans).toEqual([121_000]);
  });

  it('refuses bad arguments before asking anything', async () => {
    const fake = fakeFetch(info());
    const call = (symbols: readonly string[], timeoutMs?: number) =>
      failure(
        fetchSymbolRules({ restUrl: 'http://rest.invalid', symbols, timeoutMs, fetch: fake.fetch }),
      );
    expect(await call([])).toMatchObject({ field: 'symbols' });
    expect(await call(['BTCUSDT', 'BTC/USDT'])).toMatchObject({ field: 'symbols[1]' });
    expect(await call(['BTCUSDT'], 0)).toMatchObject({ field: 'timeoutMs' });
    expect(fake.asked).toEqual([]);
  });

  it('reports a failed connection as a retryable request error', async () => {
    const error = await failure(
      fetchSymbolRules({
        restUrl: 'http://rest.invalid',
        symbols: ['BTCUSDT'],
        fetch: () => Promise.reject(new TypeError('fetch failed')),
      }),
    );
    expect(error).toBeInstanceOf(RestRequestError);
    expect(error).toMatchObject({ status: undefined, isRetryable: true });
    expect(error.message).toMatch(
      /^GET \/api\/v3\/exchangeInfo\?symbols=.* failed: TypeError: fetch failed$/,
    );
  });
});
