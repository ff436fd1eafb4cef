import type { Tick } from '@trade/core';
import { createTradingMetrics, type TradingMetrics } from '@trade/metrics';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  MarketDataService,
  TickCache,
  TickRepository,
  createPostgresDb,
  migrateToLatest,
} from '../src/index.js';
import {
  REDIS_URL,
  TcpProxy,
  eventually,
  makeTicks,
  resetTestDatabase,
  tempDir,
  testDatabaseConfig,
} from './helpers.js';
import pg from 'pg';

const ids = (ticks: readonly Tick[]) => ticks.map((t) => t.tradeId);
const range = (from: number, to: number) =>
  Array.from({ length: Math.abs(to - from) + 1 }, (_, i) => (from <= to ? from + i : from - i));

function newMetrics(): TradingMetrics {
  return createTradingMetrics({ registry: new Registry(), runtimeMetrics: false });
}
async function metric(metrics: TradingMetrics, name: string) {
  return (await metrics.registry.getSingleMetric(name)!.get()).values[0]?.value ?? 0;
}

describe('TickCache in memory only', () => {
  it('answers newest first, each trade once, keeping order when a late tick arrives', async () => {
    const metrics = newMetrics();
    const cache = new TickCache({ capacity: 5, metrics });
    expect(cache.memoryOnly).toBe(true);
    const ticks = makeTicks(8, { startId: 1 });
    cache.add(ticks.slice(0, 3));
    cache.add([ticks[1]!, ...ticks.slice(4, 8)]); // a repeat, and id 4 missing
    expect(ids(await cache.recent('BTCUSDT', 5))).toEqual([8, 7, 6, 5, 3]);
    cache.add([ticks[3]!]); // the late one slots into place
    expect(ids(await cache.recent('btcusdt', 10))).toEqual([8, 7, 6, 5, 4]);
    cache.add([ticks[0]!]); // older than anything kept: ignored
    expect(ids(await cache.recent('BTCUSDT', 5))).toEqual([8, 7, 6, 5, 4]);
    expect(await cache.recent('ETHUSDT', 3)).toEqual([]);
    // Five found for five asked: hits; ten asked of five held, and none held: misses.
    expect(await metric(metrics, 'trading_cache_hits_total')).toBe(2);
    expect(await metric(metrics, 'trading_cache_misses_total')).toBe(2);
    await cache.flush();
    await cache.close();
  });
});

describe('TickCache with Redis', () => {
  const prefix = `test:market-data:${randomUUID()}:`;
  const clients: Redis[] = [];
  const redis = async (url: string = REDIS_URL.href) => {
    const client = new Redis(url, {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      retryStrategy: () => 50,
    });
    client.on('error', () => undefined);
    clients.push(client);
    await eventually(() => client.status === 'ready', 5000, 'Redis ready');
    return client;
  };
  let admin: Redis;

  beforeAll(async () => {
    admin = await redis();
  });
  afterAll(async () => {
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    for (const client of clients) client.disconnect();
  });

  it('keeps tick:<SYMBOL> newest first and trimmed, and serves a cold cache from Redis', async () => {
    const client = await redis();
    const cache = new TickCache({
      redis: client,
      keyPrefix: prefix,
      capacity: 100,
      ttlSeconds: 60,
    });
    const ticks = makeTicks(250, { startId: 1 });
    for (let i = 0; i < 250; i += 50) cache.add(ticks.slice(i, i + 50));
    await cache.flush();
    const key = `${prefix}tick:BTCUSDT`;
    expect(cache.keyOf('BTCUSDT')).toBe(key);
    expect(await admin.llen(key)).toBe(100);
    expect(await admin.lindex(key, 0)).toBe(
      `250|${ticks[249]!.price}|${ticks[249]!.quantity}|${ticks[249]!.isBuyerMaker ? 1 : 0}|${ticks[249]!.tradeTime}|${ticks[249]!.receiveTime}`,
    );
    expect(await admin.ttl(key)).toBeGreaterThan(0);

    const metrics = newMetrics();
    const cold = new TickCache({ redis: client, keyPrefix: prefix, capacity: 100, metrics });
    cold.add(ticks.slice(247)); // memory holds 248-250 only
    const recent = await cold.recent('BTCUSDT', 20);
    expect(ids(recent)).toEqual(range(250, 231));
    expect(recent[5]).toEqual(ticks[244]);
    expect(await metric(metrics, 'trading_cache_hits_total')).toBe(1);
    await cold.close();
    await cache.close();
  });

  it('goes on through a Redis outage, counts the failures, and catches up when Redis is back', async () => {
    const proxy = new TcpProxy(Number(REDIS_URL.port || 6379), REDIS_URL.hostname);
    const port = await proxy.start();
    const client = await redis(`redis://127.0.0.1:${port}`);
    const metrics = newMetrics();
    const cache = new TickCache({
      redis: client,
      keyPrefix: `${prefix}outage:`,
      capacity: 50,
      metrics,
      retryIntervalMs: 50,
    });
    const key = cache.keyOf('ETHUSDT');
    const ticks = makeTicks(200, { symbol: 'ETHUSDT', startId: 1 });
    cache.add(ticks.slice(0, 10));
    await cache.flush();
    expect(await admin.llen(key)).toBe(10);

    await proxy.stop();
    await eventually(() => client.status !== 'ready', 5000, 'Redis seen down');
    for (let i = 10; i < 200; i += 10) cache.add(ticks.slice(i, i + 10));
    await cache.flush();
    expect(await metric(metrics, 'trading_cache_update_failures_total')).toBeGreaterThan(0);
    // Memory never stopped.
    expect(ids(await cache.recent('ETHUSDT', 50))).toEqual(range(200, 151));

    await proxy.start();
    await eventually(
      async () => (await admin.lindex(key, 0))?.startsWith('200|') ?? false,
      10_000,
      'Redis caught up',
    );
    const entries = await admin.lrange(key, 0, -1);
    expect(entries.map((e) => Number(e.split('|')[0]))).toEqual(range(200, 151));
    await cache.close();
    await proxy.stop();
  });

  it('counts a command Redis does not answer within commandTimeout as a failed update, and catches up', async () => {
    // The caller sets the timeout on the client; the cache keeps no timer of its own.
    const client = new Redis(REDIS_URL.href, {
      commandTimeout: 100,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
    });
    client.on('error', () => undefined);
    clients.push(client);
    await eventually(() => client.status === 'ready', 5000, 'Redis ready');
    const metrics = newMetrics();
    const cache = new TickCache({
      redis: client,
      keyPrefix: `${prefix}stall:`,
      capacity: 50,
      metrics,
      retryIntervalMs: 50,
    });
    const key = cache.keyOf('XRPUSDT');
    const ticks = makeTicks(30, { symbol: 'XRPUSDT', startId: 1 });
    cache.add(ticks.slice(0, 10));
    await cache.flush();
    expect(await admin.llen(key)).toBe(10);
    expect(await metric(metrics, 'trading_cache_update_failures_total')).toBe(0);

    // Redis answers one connection's commands in turn: a BLPOP waiting 1 s
    // holds back everything the cache sends behind it, as a stalled server would.
    const stall = client.blpop(`${prefix}stall:nothing`, 1).catch((e: Error) => e.message);
    cache.add(ticks.slice(10, 20));
    await cache.flush();
    expect(await stall).toBe('Command timed out');
    expect(await metric(metrics, 'trading_cache_update_failures_total')).toBeGreaterThanOrEqual(1);
    expect(ids(await cache.recent('XRPUSDT', 20))).toEqual(range(20, 1));

    cache.add(ticks.slice(20, 30));
    await eventually(
      async () => (await admin.lindex(key, 0))?.startsWith('30|') ?? false,
      10_000,
      'Redis caught up',
    );
    const entries = await admin.lrange(key, 0, -1);
    expect(entries.map((e) => Number(e.split('|')[0]))).toEqual(range(30, 1));
    expect(client.status).toBe('ready');
    await cache.close();
  });

  describe('under the service', () => {
    let pool: pg.Pool;
    beforeAll(async () => {
      await resetTestDatabase();
      pool = new pg.Pool(await testDatabaseConfig({ max: 2 }));
    });
    afterAll(async () => pool?.end());
    const stops: (() => Promise<unknown>)[] = [];
    afterEach(async () => {
      for (const stop of stops.splice(0)) await stop();
    });

    it('stores every tick while Redis is down', async () => {
      const db = createPostgresDb({ pool });
      await migrateToLatest(db);
      const proxy = new TcpProxy(Number(REDIS_URL.port || 6379), REDIS_URL.hostname);
      const client = await redis(`redis://127.0.0.1:${await proxy.start()}`);
      await proxy.stop();
      const metrics = newMetrics();
      const cache = new TickCache({ redis: client, keyPrefix: `${prefix}service:`, metrics });
      const service = await MarketDataService.start({
        repository: new TickRepository(db),
        cache,
        metrics,
        spoolDir: await tempDir(),
        flushIntervalMs: 10,
      });
      stops.push(
        () => service.stop(),
        () => cache.close(),
        () => proxy.stop(),
      );
      await service.consume(makeTicks(3000, { symbol: 'SOLUSDT', startId: 1 }));
      await service.flush();
      const { rows } = await pool.query<{ n: string }>(
        `select count(*) as n from tick_data where symbol = 'SOLUSDT'`,
      );
      expect(Number(rows[0]!.n)).toBe(3000);
      expect(await metric(metrics, 'trading_cache_update_failures_total')).toBeGreaterThan(0);
      expect(ids(await cache.recent('SOLUSDT', 3))).toEqual([3000, 2999, 2998]);
    });
  });
});
