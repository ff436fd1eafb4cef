import { PGlite } from '@electric-sql/pglite';
import type { Tick } from '@trade/core';
import { createTradingMetrics, type TradingMetrics } from '@trade/metrics';
import type { Kysely } from 'kysely';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  MarketDataService,
  TickRepository,
  createPgliteDb,
  createPostgresDb,
  migrateToLatest,
  type MarketDataDatabase,
  type MarketDataServiceOptions,
  type TickWriter,
} from '../src/index.js';
import {
  PG_HOST,
  PG_PORT,
  TcpProxy,
  eventually,
  makeTicks,
  resetTestDatabase,
  tempDir,
  testDatabaseConfig,
} from './helpers.js';

/** A repository over its own pool, optionally reaching PostgreSQL through a proxy. */
async function openRepository(port = PG_PORT, overrides: pg.PoolConfig = {}) {
  const config = await testDatabaseConfig({ max: 2, ...overrides });
  const url = new URL(config.connectionString!);
  url.hostname = PG_HOST;
  url.port = String(port);
  const pool = new pg.Pool({
    ...config,
    connectionString: url.href,
    connectionTimeoutMillis: 2000,
  });
  const db = createPostgresDb({ pool });
  return { db, repository: new TickRepository(db), close: () => db.destroy() };
}

function newMetrics(): TradingMetrics {
  return createTradingMetrics({ registry: new Registry(), runtimeMetrics: false });
}

async function metric(metrics: TradingMetrics, name: string, labels: Record<string, string> = {}) {
  const values = (await metrics.registry.getSingleMetric(name)!.get()).values;
  const found = values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return found?.value ?? 0;
}

async function storedIds(db: Kysely<MarketDataDatabase>, symbol = 'BTCUSDT'): Promise<number[]> {
  const rows = await db
    .selectFrom('tick_data')
    .select('trade_id')
    .where('symbol', '=', symbol)
    .orderBy('trade_id')
    .execute();
  return rows.map((r) => Number(r.trade_id));
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

describe('MarketDataService', () => {
  let main: Awaited<ReturnType<typeof openRepository>>;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    await resetTestDatabase();
    main = await openRepository();
    await migrateToLatest(main.db);
  });
  afterAll(async () => main?.close());
  beforeEach(async () => {
    await main.db.deleteFrom('tick_data').execute();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(options: Partial<MarketDataServiceOptions> & { spoolDir?: string }) {
    const service = await MarketDataService.start({
      repository: main.repository,
      spoolDir: options.spoolDir ?? (await tempDir()),
      retryBaseDelayMs: 20,
      retryMaxDelayMs: 200,
      ...options,
    });
    cleanups.push(() => service.stop());
    return service;
  }

  it('stores every tick exactly once when duplicates are offered', async () => {
    const metrics = newMetrics();
    const service = await start({ metrics, batchSize: 500, flushIntervalMs: 20 });
    const ticks = makeTicks(5000, { startId: 1 });
    // Every fifth tick twice, and a replay of the first thousand at the end.
    const offered: Tick[] = [];
    ticks.forEach((t, i) => offered.push(...(i % 5 === 0 ? [t, t] : [t])));
    offered.push(...ticks.slice(0, 1000));
    await service.consume(offered);
    await service.flush();

    expect(await storedIds(main.db)).toEqual(range(1, 5000));
    const stats = service.stats();
    expect(stats).toMatchObject({
      accepted: offered.length,
      stored: 5000,
      duplicates: offered.length - 5000,
    });
    expect(await metric(metrics, 'trading_ticks_processed_total')).toBe(offered.length);
    expect(await metric(metrics, 'trading_batches_flushed_total')).toBeGreaterThanOrEqual(
      offered.length / 500,
    );
    expect(await metric(metrics, 'trading_batch_buffer_size')).toBe(0);
    const histogram = await metrics.registry
      .getSingleMetric('trading_batch_insert_duration_seconds')!
      .get();
    expect(
      histogram.values.find((v) => (v as { metricName?: string }).metricName?.endsWith('_count'))
        ?.value,
    ).toBe(await metric(metrics, 'trading_batches_flushed_total'));
  });

  it('keeps the channel gauges true and refuses nothing it cannot hold', async () => {
    const metrics = newMetrics();
    const service = await start({ metrics, channelCapacity: 100, flushIntervalMs: 10 });
    const ticks = makeTicks(150, { startId: 1 });
    let accepted = 0;
    while (accepted < ticks.length && service.offer(ticks[accepted]!)) accepted += 1;
    // Offered synchronously: nothing has left the channel yet.
    expect(accepted).toBe(100);
    expect(await metric(metrics, 'trading_channel_buffer_size')).toBe(100);
    expect(await metric(metrics, 'trading_channel_utilization_percent')).toBe(100);
    await service.whenWritable();
    expect(await metric(metrics, 'trading_channel_buffer_size')).toBe(0);
    expect(await metric(metrics, 'trading_channel_utilization_percent')).toBe(0);
    expect(await metric(metrics, 'trading_ticks_processed_total')).toBe(100);
    for (const tick of ticks.slice(accepted)) expect(service.offer(tick)).toBe(true);
    expect(await metric(metrics, 'trading_channel_utilization_percent')).toBe(50);
    await service.flush();
    expect(await storedIds(main.db)).toEqual(range(1, 150));
  });

  it('names a bad option', async () => {
    await expect(start({ batchSize: 0 })).rejects.toThrow(
      /batchSize: expected a positive number, got 0/,
    );
    await expect(start({ maxRetries: 1.5 })).rejects.toThrow(/maxRetries/);
    await expect(start({ writers: 0 })).rejects.toThrow(
      /writers: expected a positive integer, got 0/,
    );
  });

  it('writes batches side by side with two writers, committing them in order', async () => {
    let running = 0;
    let mostRunning = 0;
    const committed: number[] = [];
    const recording: TickWriter = {
      insertTicks: async (batch, options) => {
        running += 1;
        mostRunning = Math.max(mostRunning, running);
        try {
          const result = await main.repository.insertTicks(batch, options);
          committed.push(batch[0]!.tradeId);
          return result;
        } finally {
          running -= 1;
        }
      },
    };
    const service = await start({ repository: recording, writers: 2, batchSize: 500 });
    const ticks = makeTicks(40_000, { startId: 1 });
    // What is stored is always every tick up to some trade id: no batch commits before the one before it.
    let gaps = 0;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const ids = await storedIds(main.db);
        if (ids.length > 0 && ids.at(-1) !== ids.length) gaps += 1;
      }
    })();
    await service.consume(ticks);
    await service.stop();
    polling = false;
    await poller;
    expect(await storedIds(main.db)).toEqual(range(1, 40_000));
    expect(service.stats()).toMatchObject({ stored: 40_000, duplicates: 0, spooled: 0 });
    expect(mostRunning).toBe(2);
    expect(committed).toEqual(range(0, 80).map((i) => 1 + i * 500));
    expect(gaps).toBe(0);
  });

  it('flushes every buffered tick on stop', async () => {
    // Neither the size nor the timer would flush these on their own.
    const service = await start({ batchSize: 100_000, flushIntervalMs: 600_000 });
    for (const tick of makeTicks(1234, { startId: 1 })) service.offer(tick);
    await new Promise((r) => setTimeout(r, 50));
    expect(await storedIds(main.db)).toEqual([]);
    await service.stop();
    expect(await storedIds(main.db)).toEqual(range(1, 1234));
    expect(service.offer(makeTicks(1, { startId: 5000 })[0]!)).toBe(false);
  });

  it.each([1, 2])(
    'loses nothing through a database outage mid-stream (connections cut, port refusing, then back), %i writer(s)',
    async (writers) => {
      const proxy = new TcpProxy(PG_PORT);
      const port = await proxy.start();
      const viaProxy = await openRepository(port, { max: writers + 1 });
      cleanups.push(
        () => viaProxy.close(),
        () => proxy.stop(),
      );
      const metrics = newMetrics();
      const spoolDir = await tempDir();
      const service = await start({
        repository: viaProxy.repository,
        metrics,
        spoolDir,
        batchSize: 200,
        flushIntervalMs: 20,
        maxRetries: 2,
        maxBufferedTicks: 1000,
        insertTimeoutMs: 2000,
        writers,
      });
      const ticks = makeTicks(30_000, { startId: 1 });
      let maxBuffered = 0;
      let offered = 0;
      // Offers the next `count` ticks, 100 every 5 ms (20k ticks/s), noting the memory held.
      const produce = async (count: number) => {
        for (const end = offered + count; offered < end;) {
          for (const tick of ticks.slice(offered, offered + 100)) {
            expect(service.offer(tick)).toBe(true);
            offered += 1;
          }
          maxBuffered = Math.max(maxBuffered, service.stats().buffered);
          await new Promise((r) => setTimeout(r, 5));
        }
      };
      // A steady state first: everything stored, nothing in the spool, so the
      // batches the outage hits come from memory.
      await produce(3_000);
      await service.flush();
      await eventually(() => service.stats().spoolTicks === 0, 20_000, 'an empty spool');
      expect(await storedIds(main.db)).toEqual(range(1, 3_000));

      await proxy.stop();
      // The outage lasts until a batch from memory has used up its retries.
      const duringOutage = produce(17_000);
      await eventually(
        async () => (await metric(metrics, 'trading_batches_failed_total')) > 0,
        30_000,
        'a batch to fail after its retries',
      );
      await duringOutage;
      expect(service.stats().spooled).toBeGreaterThan(0);
      await proxy.start();
      await produce(10_000);
      await service.flush();
      await eventually(
        async () => (await storedIds(main.db)).length === ticks.length,
        60_000,
        'every tick stored',
      );

      expect(await storedIds(main.db)).toEqual(range(1, 30_000));
      expect(await metric(metrics, 'trading_batches_failed_total')).toBeGreaterThan(0);
      expect(await metric(metrics, 'trading_batch_retries_total')).toBeGreaterThan(0);
      // Memory stayed bounded: the queue's bound, as much again on its way to
      // the disk, and the batches being sealed.
      expect(maxBuffered).toBeLessThanOrEqual(2 * (1000 + 200));
      await eventually(() => service.stats().spoolSegments === 0, 10_000, 'spool emptied');
      expect((await readdir(spoolDir)).filter((f) => f.endsWith('.spool'))).toEqual([]);
      expect(await metric(metrics, 'trading_spool_ticks')).toBe(0);
    },
  );

  it.each([1, 2])(
    'loses nothing when the server terminates its connections, %i writer(s)',
    async (writers) => {
      const terminator = await openRepository(PG_PORT);
      const victim = await openRepository(PG_PORT, {
        application_name: 'market-data-victim',
        max: writers + 1,
      });
      cleanups.push(
        () => terminator.close(),
        () => victim.close(),
      );
      const spoolDir = await tempDir();
      const service = await start({
        repository: victim.repository,
        spoolDir,
        batchSize: 300,
        flushIntervalMs: 10,
        maxRetries: 5,
        writers,
      });
      const ticks = makeTicks(20_000, { startId: 1 });
      const producer = (async () => {
        for (let i = 0; i < ticks.length; i += 200) {
          // Honour backpressure: a full channel refuses the tick, it does not lose it.
          for (const tick of ticks.slice(i, i + 200)) {
            while (!service.offer(tick)) await service.whenWritable();
          }
          await new Promise((r) => setTimeout(r, 3));
        }
      })();
      let terminated = 0;
      while (terminated < 5) {
        await new Promise((r) => setTimeout(r, 60));
        const { rows } = await pg_terminate(terminator.db);
        terminated += rows.length;
      }
      await producer;
      await service.stop();
      const { accepted, spoolTicks } = service.stats();
      expect(accepted).toBe(20_000);
      // stop() leaves in the spool what the database did not take yet; the next start replays it.
      if (spoolTicks > 0) {
        const next = await start({ spoolDir });
        await eventually(() => next.stats().spoolTicks === 0, 10_000, 'spool replayed');
      }
      expect(await storedIds(main.db)).toEqual(range(1, 20_000));
    },
  );

  it('replays the spool in order after a restart', async () => {
    const proxy = new TcpProxy(PG_PORT);
    const deadPort = await proxy.start();
    await proxy.stop(); // nothing listens there now
    const dead = await openRepository(deadPort);
    cleanups.push(() => dead.close());
    const spoolDir = await tempDir();
    const firstMetrics = newMetrics();
    const first = await MarketDataService.start({
      metrics: firstMetrics,
      repository: dead.repository,
      spoolDir,
      batchSize: 250,
      flushIntervalMs: 10,
      maxRetries: 1,
      retryBaseDelayMs: 5,
    });
    const ticks = makeTicks(2000, { startId: 1 });
    await first.consume(ticks);
    await first.stop();
    expect(first.stats()).toMatchObject({ stored: 0, spooled: 2000, spoolTicks: 2000 });
    expect(await metric(firstMetrics, 'trading_spool_ticks')).toBe(2000);
    expect(await storedIds(main.db)).toEqual([]);

    const order: number[] = [];
    const recording = {
      insertTicks: async (batch: readonly Tick[]) => {
        order.push(...batch.map((t) => t.tradeId));
        return main.repository.insertTicks(batch);
      },
    };
    const secondMetrics = newMetrics();
    const second = await start({ repository: recording, spoolDir, metrics: secondMetrics });
    await eventually(async () => (await storedIds(main.db)).length === 2000, 10_000, 'replay');
    expect(order).toEqual(range(1, 2000));
    await eventually(() => second.stats().spoolSegments === 0, 5000, 'segments removed');
    expect(second.stats()).toMatchObject({ replayed: 2000, spoolTicks: 0 });
    expect(await metric(secondMetrics, 'trading_spool_ticks')).toBe(0);
  });

  it('runs on embedded PGlite the same way', async () => {
    const pglite = await PGlite.create();
    const db = createPgliteDb(pglite);
    cleanups.push(async () => {
      await db.destroy();
      await pglite.close();
    });
    await migrateToLatest(db);
    const repository = new TickRepository(db);
    const service = await start({ repository, batchSize: 700, flushIntervalMs: 10 });
    const ticks = makeTicks(3000, { startId: 1 });
    await service.consume([...ticks, ...ticks.slice(0, 500)]);
    await service.stop();
    expect(service.stats()).toMatchObject({ stored: 3000, duplicates: 500, spooled: 0 });
    expect(await storedIds(db)).toEqual(range(1, 3000));
  });

  it('keeps ticks the database refuses in rejected.jsonl, counted apart from exchange rejects, and stores the rest', async () => {
    const metrics = newMetrics();
    const spoolDir = await tempDir();
    // One refused tick's record is about 250 bytes: the second rotates the file.
    const service = await start({ metrics, spoolDir, flushIntervalMs: 10, rejectedFileBytes: 300 });
    const ticks = makeTicks(10, { startId: 1 });
    const bad = { ...ticks[4]!, price: '-3' };
    await service.consume([...ticks.slice(0, 4), bad, ...ticks.slice(5)]);
    await service.flush();
    expect(await storedIds(main.db)).toEqual([1, 2, 3, 4, 6, 7, 8, 9, 10]);
    expect(await metric(metrics, 'trading_ticks_refused_total')).toBe(1);
    // trading_ticks_rejected_total is the exchange's frames that never became ticks.
    const rejects = await metrics.registry.getSingleMetric('trading_ticks_rejected_total')!.get();
    expect(rejects.values.map((v) => v.value)).toEqual(rejects.values.map(() => 0));
    expect(service.stats().rejected).toBe(1);
    const rejectedIn = async (file: string) =>
      (await readFile(join(spoolDir, file), 'utf8'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { reason: string; tick: Tick });
    expect(await rejectedIn('rejected.jsonl')).toMatchObject([
      { reason: 'invalid price', tick: { tradeId: 5, price: '-3' } },
    ]);

    await service.consume([{ ...makeTicks(1, { startId: 11 })[0]!, quantity: '0' }]);
    await service.flush();
    expect(await metric(metrics, 'trading_ticks_refused_total')).toBe(2);
    expect(await rejectedIn('rejected.1.jsonl')).toMatchObject([{ tick: { tradeId: 5 } }]);
    expect(await rejectedIn('rejected.jsonl')).toMatchObject([
      { reason: 'invalid quantity', tick: { tradeId: 11 } },
    ]);
  });

  it('tells the highest spooled trade id per symbol, those of an earlier run included', async () => {
    const proxy = new TcpProxy(PG_PORT);
    const deadPort = await proxy.start();
    await proxy.stop(); // nothing listens there now
    const dead = await openRepository(deadPort);
    cleanups.push(() => dead.close());
    const spoolDir = await tempDir();
    const options = {
      repository: dead.repository,
      spoolDir,
      batchSize: 300,
      flushIntervalMs: 10,
      maxRetries: 0,
      retryBaseDelayMs: 5,
    };
    const first = await MarketDataService.start(options);
    expect(first.spooledTradeIds()).toEqual(new Map());
    const btc = makeTicks(1500, { startId: 1001 });
    const eth = makeTicks(700, { symbol: 'ETHUSDT', startId: 501 });
    await first.consume([...btc.slice(0, 1000), ...eth, ...btc.slice(1000)]);
    await first.flush();
    const expected = new Map([
      ['BTCUSDT', 2500],
      ['ETHUSDT', 1200],
    ]);
    expect(first.spooledTradeIds()).toEqual(expected);
    await first.stop();

    // A new run on a database still down knows them before any tick arrives.
    const second = await MarketDataService.start(options);
    expect(second.spooledTradeIds()).toEqual(expected);
    await second.stop();

    // Replayed into the database: the spool holds nothing any more.
    const third = await start({ spoolDir });
    await eventually(() => third.stats().spoolSegments === 0, 10_000, 'spool replayed');
    expect(third.spooledTradeIds()).toEqual(new Map());
    expect(await storedIds(main.db)).toEqual(range(1001, 1500));
    expect(await storedIds(main.db, 'ETHUSDT')).toEqual(range(501, 700));
  });
});

function pg_terminate(db: Kysely<MarketDataDatabase>) {
  return db.executeQuery<{ pid: number }>({
    sql: `select pg_terminate_backend(pid) as pid from pg_stat_activity
          where application_name = 'market-data-victim' and pid <> pg_backend_pid()`,
    parameters: [],
    query: { kind: 'RawNode', sqlFragments: [], parameters: [] },
    queryId: { queryId: 'terminate' },
  } as never);
}
