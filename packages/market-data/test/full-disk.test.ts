import type { Logger, Tick } from '@trade/core';
import { createTradingMetrics, type TradingMetrics } from '@trade/metrics';
import { cp, open, readdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  MarketDataService,
  TickRepository,
  createPostgresDb,
  lostRanges,
  migrateToLatest,
  type MarketDataServiceOptions,
} from '../src/index.js';
import { TickSpool } from '../src/tick-spool.js';
import {
  PG_HOST,
  PG_PORT,
  TcpProxy,
  eventually,
  makeTicks,
  mountTmpfs,
  resetTestDatabase,
  tempDir,
  testDatabaseConfig,
} from './helpers.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fullDisk(sizeBytes = 256 * 1024) {
  const disk = await mountTmpfs(sizeBytes);
  cleanups.push(disk.unmount);
  return disk.dir;
}

async function drain(spool: TickSpool): Promise<Tick[]> {
  const read: Tick[] = [];
  for (let ticks = await spool.next(); ticks; ticks = await spool.next()) {
    read.push(...ticks);
    await spool.ack();
  }
  return read;
}

const segmentFiles = async (dir: string) =>
  (await readdir(dir)).filter((name) => name.endsWith('.spool'));

const key = (t: Pick<Tick, 'symbol' | 'tradeId'>) => `${t.symbol}:${t.tradeId}`;

/** Writes zeros to `path` until the disk refuses more. */
async function fillUp(path: string): Promise<void> {
  const handle = await open(path, 'w');
  try {
    for (;;) await handle.write(Buffer.alloc(4096));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    await handle.close();
  }
}

/** Stored rows as ticks (receive time is not stored), oldest id first per symbol. */
async function storedTicks(pool: pg.Pool): Promise<Omit<Tick, 'receiveTime'>[]> {
  const { rows } = await pool.query<{
    symbol: string;
    trade_id: string;
    price: string;
    quantity: string;
    side: Tick['side'];
    is_buyer_maker: boolean;
    ms: string;
  }>(
    `select symbol, trade_id, price, quantity, side, is_buyer_maker,
            (extract(epoch from timestamp) * 1000)::int8 as ms
       from tick_data order by symbol, trade_id`,
  );
  return rows.map((r) => ({
    symbol: r.symbol,
    tradeId: Number(r.trade_id),
    price: r.price,
    quantity: r.quantity,
    side: r.side,
    isBuyerMaker: r.is_buyer_maker,
    tradeTime: Number(r.ms),
  }));
}

const asStored = (ticks: readonly Tick[]) =>
  [...ticks]
    .sort((a, b) => (a.symbol === b.symbol ? a.tradeId - b.tradeId : a.symbol < b.symbol ? -1 : 1))
    .map(({ receiveTime: _receiveTime, ...rest }) => rest);

async function metric(metrics: TradingMetrics, name: string): Promise<number> {
  return (await metrics.registry.getSingleMetric(name)!.get()).values[0]?.value ?? 0;
}

describe('MarketDataService with the database down and the disk full (a real tmpfs)', () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    await resetTestDatabase();
    pool = new pg.Pool(await testDatabaseConfig({ max: 2 }));
    await migrateToLatest(createPostgresDb({ pool: new pg.Pool(await testDatabaseConfig()) }));
  });
  afterAll(async () => pool?.end());
  beforeEach(async () => {
    await pool.query('truncate tick_data');
  });

  /** A repository reaching PostgreSQL through a proxy that starts down. */
  async function databaseBehindProxy() {
    const proxy = new TcpProxy(PG_PORT);
    const port = await proxy.start();
    await proxy.stop();
    const config = await testDatabaseConfig({ max: 3 });
    const url = new URL(config.connectionString!);
    url.hostname = PG_HOST;
    url.port = String(port);
    const db = createPostgresDb({
      pool: new pg.Pool({ ...config, connectionString: url.href, connectionTimeoutMillis: 1000 }),
    });
    cleanups.push(
      () => db.destroy(),
      () => proxy.stop(),
    );
    return { proxy, repository: new TickRepository(db) };
  }

  const BOUND = { channelCapacity: 500, batchSize: 100, maxBufferedTicks: 1000 };
  // Ticks held in memory at most: the channel, and twice the memory bound and a batch.
  const MEMORY_BOUND = BOUND.channelCapacity + 2 * (BOUND.maxBufferedTicks + BOUND.batchSize);

  async function startService(options: Partial<MarketDataServiceOptions> & { spoolDir: string }) {
    const lines: { level: string; message: string }[] = [];
    const log =
      (level: string) =>
      (_: object, message = '') =>
        lines.push({ level, message });
    const logger: Logger = {
      debug: log('debug'),
      info: log('info'),
      warn: log('warn'),
      error: log('error'),
    };
    const metrics = createTradingMetrics({ registry: new Registry(), runtimeMetrics: false });
    const service = await MarketDataService.start({
      repository: options.repository!,
      metrics,
      logger,
      ...BOUND,
      flushIntervalMs: 5,
      maxRetries: 0,
      retryBaseDelayMs: 5,
      retryMaxDelayMs: 20,
      insertTimeoutMs: 2000,
      spoolSegmentBytes: 32 * 1024,
      ...options,
    });
    cleanups.push(() => service.stop());
    return { service, metrics, lines };
  }

  /**
   * Offers `ticks` in order, honouring backpressure (a refused tick is
   * offered again), until they are all accepted or `stop()` is called;
   * `accepted` is what `offer` took: the ground truth.
   */
  function producer(service: MarketDataService, ticks: readonly Tick[]) {
    const state = { accepted: [] as Tick[], refusals: 0, running: true };
    const done = (async () => {
      let i = 0;
      while (state.running && i < ticks.length) {
        if (service.offer(ticks[i]!)) {
          state.accepted.push(ticks[i]!);
          i += 1;
          if (i % 50 === 0) await new Promise((r) => setImmediate(r));
        } else {
          state.refusals += 1;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    })();
    const stop = async () => {
      state.running = false;
      await done;
    };
    // Before the service's own cleanup: a failed test must not leave it offering.
    cleanups.push(stop);
    return { state, stop, done };
  }

  const twoSymbols = (count: number) => {
    const btc = makeTicks(count / 2, { symbol: 'BTCUSDT', startId: 1_000_001 });
    const eth = makeTicks(count / 2, { symbol: 'ETHUSDT', startId: 5_001 });
    // Interleaved in runs of 37, as two streams arrive.
    const ticks: Tick[] = [];
    for (let i = 0; i < btc.length; i += 37)
      ticks.push(...btc.slice(i, i + 37), ...eth.slice(i, i + 37));
    return ticks;
  };

  /** Waits until the service is blocked, the channel full, and `more` appends failed since. */
  async function untilBlocked(
    service: MarketDataService,
    metrics: TradingMetrics,
    produced: ReturnType<typeof producer>,
  ) {
    await eventually(
      async () =>
        service.health().blocked && (await metric(metrics, 'trading_ingest_blocked')) === 1,
      30_000,
      'the service to block',
    );
    const refusals = produced.state.refusals;
    await eventually(() => produced.state.refusals > refusals, 10_000, 'offer() to refuse');
  }

  it('stops draining its channel with bounded memory, files and logs, counts failed appends, and at stop reports exactly what was lost; the rest is stored once the database is back', async () => {
    const spoolDir = await fullDisk();
    const { proxy, repository } = await databaseBehindProxy();
    const { service, metrics, lines } = await startService({ repository, spoolDir });
    const ticks = twoSymbols(40_000);
    const produced = producer(service, ticks);
    await untilBlocked(service, metrics, produced);

    const health = service.health();
    expect(health).toMatchObject({ blocked: true });
    expect(health.reason).toMatch(/spool cannot be written.*no space left on device/i);
    expect(health.spoolError).toMatch(/ENOSPC/);
    expect(health.databaseError).toBeDefined();
    // Blocked: nothing more is taken, however long it lasts.
    const acceptedWhenBlocked = produced.state.accepted.length;
    const failuresWhenBlocked = await metric(metrics, 'trading_spool_append_failures_total');
    await eventually(
      async () =>
        (await metric(metrics, 'trading_spool_append_failures_total')) >= failuresWhenBlocked + 60,
      30_000,
      '60 more failed appends',
    );
    expect(produced.state.accepted.length).toBe(acceptedWhenBlocked);
    expect(service.stats().channel).toBe(BOUND.channelCapacity);
    expect(service.stats().buffered).toBeLessThanOrEqual(MEMORY_BOUND - BOUND.channelCapacity);
    expect(service.stats().spoolAppendFailures).toBe(
      await metric(metrics, 'trading_spool_append_failures_total'),
    );
    // 256 KiB in 32 KiB segments: no trail of empty files.
    expect((await segmentFiles(spoolDir)).length).toBeLessThanOrEqual(9);
    // A line when each outage starts and when ingest blocks, not one per attempt.
    const loud = lines.filter((l) => l.level === 'warn' || l.level === 'error');
    expect(loud.map((l) => l.message)).toEqual([
      'market-data: the database does not take batches; retrying, meanwhile batches go to the spool',
      'market-data: batch insert failed after retries; batch goes to the spool',
      'market-data: the spool cannot be written; batches wait in memory, in order, and the append is retried',
      'market-data: ingest blocked: neither the database nor the spool takes ticks; the channel stops draining until one does',
    ]);

    await produced.stop();
    const result = await service.stop();
    expect(await metric(metrics, 'trading_ingest_blocked')).toBe(0);

    // The ground truth: what offer() took, against what the spool holds (read from a copy).
    const copy = await tempDir();
    await cp(spoolDir, copy, { recursive: true });
    const spooled = await drain(await TickSpool.open(copy));
    const spooledKeys = new Set(spooled.map(key));
    expect(spooled).toEqual(produced.state.accepted.filter((t) => spooledKeys.has(key(t))));
    const lost = produced.state.accepted.filter((t) => !spooledKeys.has(key(t)));
    expect(lost.length).toBeGreaterThan(0);
    expect(lost.length).toBeLessThanOrEqual(MEMORY_BOUND);
    expect(result.lost).toEqual(lostRanges([lost]));
    expect(result.lostTicks).toBe(lost.length);
    expect(service.stats()).toMatchObject({ lost: result.lost, lostTicks: lost.length });
    expect(result.lost.map((r) => r.symbol)).toContain('BTCUSDT');
    expect(lines.at(-2)?.message).toBe('market-data: ticks neither stored nor spooled at stop');

    // The database is back: the next run stores every tick not reported lost, once.
    await proxy.start();
    const next = await startService({ repository, spoolDir });
    await eventually(() => next.service.stats().spoolTicks === 0, 30_000, 'the spool replayed');
    expect(await storedTicks(pool)).toEqual(asStored(spooled));
  });

  it.each(['the spool', 'another file'])(
    'unblocks as soon as the database answers, the disk still full (filled by %s), and stores every tick exactly once',
    async (filledBy) => {
      const spoolDir = await fullDisk();
      if (filledBy === 'another file') {
        // Every byte taken before the service starts: not one append succeeds,
        // so only inserting the waiting batches straight from memory can unblock.
        await fillUp(join(spoolDir, 'filler.bin'));
      }
      const { proxy, repository } = await databaseBehindProxy();
      const { service, metrics } = await startService({ repository, spoolDir });
      const ticks = twoSymbols(20_000);
      const produced = producer(service, ticks);
      await untilBlocked(service, metrics, produced);
      if (filledBy === 'another file') expect(service.stats().spooled).toBe(0);

      await proxy.start();
      await eventually(
        async () =>
          !service.health().blocked && (await metric(metrics, 'trading_ingest_blocked')) === 0,
        30_000,
        'the service to unblock',
      );
      await produced.done;
      expect(produced.state.accepted).toEqual(ticks);
      await service.flush();
      expect(await service.stop()).toEqual({ lost: [], lostTicks: 0 });
      // What the spool still holds at stop waits for the next start.
      const next = await startService({ repository, spoolDir });
      await eventually(() => next.service.stats().spoolTicks === 0, 30_000, 'the spool replayed');
      expect(await storedTicks(pool)).toEqual(asStored(ticks));
    },
  );

  it('unblocks when the disk has room again, the database still down, and loses nothing', async () => {
    const spoolDir = await fullDisk();
    // Most of the disk taken by another file: the spool fills after about 500 ticks.
    const fillerPath = join(spoolDir, 'filler.bin');
    await writeFile(fillerPath, Buffer.alloc(216 * 1024));
    const { proxy, repository } = await databaseBehindProxy();
    const { service, metrics } = await startService({ repository, spoolDir });
    const ticks = twoSymbols(2_000);
    const produced = producer(service, ticks);
    await untilBlocked(service, metrics, produced);
    expect(produced.state.accepted.length).toBeLessThan(ticks.length);

    await unlink(fillerPath);
    await eventually(
      async () =>
        !service.health().blocked && (await metric(metrics, 'trading_ingest_blocked')) === 0,
      30_000,
      'the service to unblock',
    );
    await produced.done;
    await service.flush();
    const health = service.health();
    expect(health.blocked).toBe(false);
    expect(health.spoolError).toBeUndefined();
    expect(health.databaseError).toBeTypeOf('string');
    expect(await service.stop()).toEqual({ lost: [], lostTicks: 0 });

    await proxy.start();
    const next = await startService({ repository, spoolDir });
    await eventually(() => next.service.stats().spoolTicks === 0, 30_000, 'the spool replayed');
    expect(await storedTicks(pool)).toEqual(asStored(ticks));
  });
});
