import { Redis } from 'ioredis';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { SimTrade } from '@trade/exchange-binance/sim';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  EXACT,
  PG_HOST,
  PG_PORT,
  REDIS_HOST,
  REDIS_PORT,
  REDIS_URL,
  databaseUrl,
  faultScenario,
  settle,
  sleep,
  startApp,
  storedCount,
  storedMax,
  until,
} from './support.js';

// Outages of the app's stores, through a loopback proxy the test cuts and
// restores: the shared servers keep running for everyone else.

const SYMBOLS = [
  'FLTEUSDT',
  'FLTFUSDT',
  'FLTGUSDT',
  'FLTHUSDT',
  'FLTPUSDT',
  'FLTQUSDT',
  'FLTRUSDT',
  'FLTSUSDT',
];

const scenario = faultScenario(SYMBOLS);

// Ticks the app's cache keeps per symbol (TickCache's default).
const CACHE_CAPACITY = 1000;

/** The newest `count` rows of `symbol` in tick_data, newest first, as the cache encodes them. */
async function newestStored(symbol: string, count: number) {
  const db = new pg.Client({ connectionString: databaseUrl() });
  await db.connect();
  try {
    const { rows } = await db.query<{
      id: string;
      price: string;
      quantity: string;
      maker: boolean;
      time: string;
    }>(
      `select trade_id::text as id, price::text as price, quantity::text as quantity,
              is_buyer_maker as maker, (extract(epoch from timestamp) * 1000)::bigint::text as time
         from tick_data where symbol = $1 order by trade_id desc limit $2`,
      [symbol, count],
    );
    return rows;
  } finally {
    await db.end();
  }
}

describe('fault suite: PostgreSQL and Redis', () => {
  it('spools through 30 s without PostgreSQL (connections cut and refused), then stores every tick', async () => {
    const symbols = SYMBOLS.slice(0, 2);
    const exchange = await scenario.exchange(symbols, 303);
    const dataDir = await scenario.dataDir();
    const proxy = scenario.proxy(PG_PORT, PG_HOST);
    const port = await proxy.start();
    const run = await startApp(exchange, {
      symbols,
      dataDir,
      databaseUrl: databaseUrl(port, '127.0.0.1'),
    });
    exchange.run(500);
    await until(
      'a first batch',
      async () => (await run.metric('trading_batches_flushed_total')) > 0,
    );
    const flushedBefore = await run.metric('trading_batches_flushed_total');

    await proxy.stop();
    const cutAt = Date.now();
    // Not ready while the database does not answer; the stream goes on.
    await until('/ready to report the database', async () => {
      const response = await fetch(`${run.url}/ready`);
      return response.status === 503;
    });
    const receivedAtCut = await run.metric('trading_ticks_received_total');
    await until(
      'batches to go to the spool',
      async () => (await run.metric('trading_spool_ticks')) > 0,
    );
    await sleep(30_000 - (Date.now() - cutAt));
    const failed = await run.metric('trading_batches_failed_total');
    const retries = await run.metric('trading_batch_retries_total');
    const spooled = await run.metric('trading_spool_ticks');
    expect(await run.metric('trading_ticks_received_total')).toBeGreaterThan(receivedAtCut);

    await proxy.start();
    await until('the spool to drain', async () => (await run.metric('trading_spool_ticks')) === 0);
    await until('/ready again', async () => (await fetch(`${run.url}/ready`)).status === 200);
    const flushedAfter = await run.metric('trading_batches_flushed_total');

    const { comparison, exitCode } = await settle(exchange, run, symbols);
    expect(exitCode).toBe(0);
    expect(comparison).toMatchObject(EXACT);
    expect(comparison.stored).toBe(comparison.expected);
    // Every failed batch had its retries first (3 each), then went to the spool.
    expect(failed).toBeGreaterThan(0);
    expect(retries).toBeGreaterThanOrEqual(failed * 3);
    expect(spooled).toBeGreaterThan(0);
    expect(flushedAfter).toBeGreaterThan(flushedBefore);
  }, 150_000);

  it('keeps storing while Redis is down, counts the cache failures, and refills Redis when it is back', async () => {
    const symbols = SYMBOLS.slice(2, 4);
    const exchange = await scenario.exchange(symbols, 404);
    const dataDir = await scenario.dataDir();
    const proxy = scenario.proxy(REDIS_PORT, REDIS_HOST);
    const port = await proxy.start();
    const proxiedRedis = new URL(REDIS_URL);
    proxiedRedis.hostname = '127.0.0.1';
    proxiedRedis.port = String(port);
    const run = await startApp(exchange, {
      symbols,
      dataDir,
      databaseUrl: databaseUrl(),
      env: { REDIS_URL: proxiedRedis.toString() },
    });
    exchange.run(300);
    const redis = new Redis(REDIS_URL);
    try {
      const newestCached = async (symbol: string) => {
        const head = await redis.lindex(`tick:${symbol}`, 0);
        return head === null ? undefined : Number(head.split('|')[0]);
      };
      await until('ticks in Redis', async () => (await newestCached(symbols[0]!)) !== undefined);
      expect(await run.metric('trading_cache_update_failures_total')).toBe(0);

      await proxy.stop();
      await until(
        'cache update failures',
        async () => (await run.metric('trading_cache_update_failures_total')) > 0,
      );
      const storedWhileDown = await run.metric('trading_batches_flushed_total');
      await sleep(5_000);
      // The database side does not wait for the cache.
      expect(await run.metric('trading_batches_flushed_total')).toBeGreaterThan(storedWhileDown);
      const cachedDuringOutage = await newestCached(symbols[0]!);
      expect(cachedDuringOutage).toBeLessThan(exchange.sim.lastTradeId(symbols[0]!)!);

      await proxy.start();
      await until(
        'the cache to catch up',
        async () => ((await newestCached(symbols[0]!)) ?? 0) > cachedDuringOutage!,
      );
      exchange.pause();
      // Back: the newest trade of each symbol reaches Redis.
      for (const symbol of symbols) {
        const last = exchange.sim.lastTradeId(symbol)!;
        await until(
          `Redis to hold ${symbol} ${last}`,
          async () => (await newestCached(symbol)) === last,
        );
      }
      const failures = await run.metric('trading_cache_update_failures_total');

      const { comparison, exitCode } = await settle(exchange, run, symbols);
      expect(exitCode).toBe(0);
      expect(comparison).toMatchObject(EXACT);
      expect(comparison.stored).toBe(comparison.expected);
      expect(failures).toBeGreaterThan(0);

      // Redis holds the same newest ticks as the database, entry for entry:
      // the outage left no hole and no stale order behind.
      for (const symbol of symbols) {
        const cached = (await redis.lrange(`tick:${symbol}`, 0, -1)).map((entry) => {
          const [id, price, quantity, maker, tradeTime] = entry.split('|');
          return { id, price, quantity, maker: maker === '1', time: tradeTime };
        });
        expect(cached.length).toBe(CACHE_CAPACITY);
        expect(cached).toEqual(await newestStored(symbol, CACHE_CAPACITY));
      }
    } finally {
      redis.disconnect();
    }
  }, 120_000);

  it('SIGKILL while PostgreSQL is down: the restart stores every spooled tick once, from the spool, not over REST', async () => {
    const symbols = SYMBOLS.slice(4, 6);
    const { exchange, proxy, options, first } = await spoolWithDatabaseDown(symbols, 808);
    const { sim } = exchange;
    // Every trade sent is in the spool: kill the app.
    first.app.child.kill('SIGKILL');
    await first.app.exited;

    // Only the spool has these trades now: REST refuses them, so backfill cannot stand in for it.
    await proxy.start();
    const stored = await storedMax(symbols);
    const storedAtKill = await storedCount(symbols);
    expect(storedAtKill).toBeLessThan(exchange.truthCount() - 2_000);
    const spooledUpTo: Record<string, number> = {};
    for (const symbol of symbols) {
      spooledUpTo[symbol] = sim.lastTradeId(symbol)!;
      sim.refuseHistory(symbol, (stored[symbol] ?? 0) + 1, spooledUpTo[symbol]);
    }

    const second = await startApp(exchange, options);
    exchange.run(500);
    await sleep(1_000);
    const unrecovered = await second.metric('trading_ticks_unrecovered_total');
    const { comparison, exitCode } = await settle(exchange, second, symbols);
    expect(exitCode).toBe(0);
    expect(comparison).toMatchObject(EXACT);
    expect(comparison.stored).toBe(comparison.expected);
    expect(unrecovered).toBe(0);
    // Backfill asked REST only for trades after those the spool held.
    const backfills = sim
      .restLog()
      .filter((entry) => entry.path.startsWith('/api/v3/historicalTrades'))
      .map((entry) => new URL(entry.path, 'http://sim').searchParams);
    expect(backfills.length).toBeGreaterThan(0);
    for (const query of backfills) {
      expect(Number(query.get('fromId'))).toBeGreaterThan(spooledUpTo[query.get('symbol')!]!);
    }
  }, 150_000);

  it('SIGTERM while PostgreSQL is down: the next live stores the spooled ticks and makes their candles true', async () => {
    const symbols = SYMBOLS.slice(6, 8);
    const { exchange, dataDir, proxy, options, first } = await spoolWithDatabaseDown(symbols, 909);
    // Stopped with the ticks in the spool: their minutes cannot be made true yet.
    expect(await first.stop()).toBe(0);
    expect(existsSync(join(dataDir, 'candle-spans.json'))).toBe(true);

    await proxy.start();
    const second = await startApp(exchange, options);
    exchange.run(500);
    await sleep(1_000);
    const { comparison, exitCode } = await settle(exchange, second, symbols);
    expect(exitCode).toBe(0);
    expect(comparison).toMatchObject(EXACT);
    // Every minute of both runs' trades, the spooled ones included, equals the truth.
    expect(await storedCandles(symbols)).toEqual(
      truthCandles((s) => exchange.sim.truth(s), symbols),
    );
    expect(existsSync(join(dataDir, 'candle-spans.json'))).toBe(false);
  }, 150_000);
});

/**
 * `live` on `symbols` through a proxy to PostgreSQL: a first batch stored,
 * then the database cut until thousands of ticks are in the spool, then the
 * exchange paused once the app has read and spooled every trade it sent.
 */
async function spoolWithDatabaseDown(symbols: readonly string[], seed: number) {
  const exchange = await scenario.exchange(symbols, seed);
  const dataDir = await scenario.dataDir();
  const proxy = scenario.proxy(PG_PORT, PG_HOST);
  const port = await proxy.start();
  const options = { symbols, dataDir, databaseUrl: databaseUrl(port, '127.0.0.1') };
  const first = await startApp(exchange, options);
  exchange.run(500);
  await until(
    'a first batch',
    async () => (await first.metric('trading_batches_flushed_total')) > 0,
  );
  await proxy.stop();
  await until(
    'thousands of ticks in the spool',
    async () => (await first.metric('trading_spool_ticks')) > 2_000,
  );
  exchange.pause();
  await until(
    'every trade read and spooled',
    async () =>
      (await first.metric('trading_ticks_received_total')) === exchange.truthCount() &&
      (await first.metric('trading_batch_buffer_size')) === 0,
  );
  return { exchange, dataDir, proxy, options, first };
}

/** A decimal as its exact value: no trailing zeros after the point. */
const exact = (text: string) =>
  text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
const units = (text: string) => {
  const [whole, fraction = ''] = text.split('.');
  return BigInt(whole!) * 100_000_000n + BigInt(fraction.padEnd(8, '0').slice(0, 8));
};
const decimal = (value: bigint) =>
  exact(`${value / 100_000_000n}.${String(value % 100_000_000n).padStart(8, '0')}`);

/** One-minute candles of the exchange's own trades: open/close at the lowest/highest id. */
function truthCandles(truth: (symbol: string) => SimTrade[], symbols: readonly string[]) {
  const candles: string[] = [];
  for (const symbol of [...symbols].sort()) {
    const minutes = new Map<number, SimTrade[]>();
    for (const trade of truth(symbol)) {
      const bucket = Math.floor(trade.time / 60_000) * 60_000;
      minutes.set(bucket, [...(minutes.get(bucket) ?? []), trade]);
    }
    for (const [bucket, trades] of [...minutes].sort((a, b) => a[0] - b[0])) {
      const byId = [...trades].sort((a, b) => a.id - b.id);
      const prices = trades.map((t) => units(t.price));
      const max = prices.reduce((a, b) => (b > a ? b : a));
      const min = prices.reduce((a, b) => (b < a ? b : a));
      const volume = trades.reduce((sum, t) => sum + units(t.quantity), 0n);
      candles.push(
        [
          symbol,
          bucket,
          exact(byId[0]!.price),
          decimal(max),
          decimal(min),
          exact(byId.at(-1)!.price),
          decimal(volume),
          trades.length,
        ].join(' '),
      );
    }
  }
  return candles;
}

async function storedCandles(symbols: readonly string[]): Promise<string[]> {
  const db = new pg.Client({ connectionString: databaseUrl() });
  await db.connect();
  try {
    const { rows } = await db.query<Record<string, string>>(
      `select symbol, (extract(epoch from bucket) * 1000)::int8::text as ms, open::text, high::text,
              low::text, close::text, volume::text, trades::text
         from candles_1m where symbol = any($1) order by symbol, bucket`,
      [symbols],
    );
    return rows.map((r) =>
      [
        r.symbol,
        r.ms,
        exact(r.open!),
        exact(r.high!),
        exact(r.low!),
        exact(r.close!),
        exact(r.volume!),
        r.trades,
      ].join(' '),
    );
  } finally {
    await db.end();
  }
}
