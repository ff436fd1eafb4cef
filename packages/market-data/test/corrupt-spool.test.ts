import type { Tick } from '@trade/core';
import { createTradingMetrics } from '@trade/metrics';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MarketDataService,
  TickRepository,
  createPostgresDb,
  migrateToLatest,
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

describe('MarketDataService replaying a damaged spool', () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    await resetTestDatabase();
    pool = new pg.Pool(await testDatabaseConfig({ max: 4 }));
    await migrateToLatest(createPostgresDb({ pool: new pg.Pool(await testDatabaseConfig()) }));
  });
  afterAll(async () => pool?.end());

  it('quarantines, byte for byte, a record whose price lost a digit on disk, counts it, and stores every other tick exactly (records of the earlier format included)', async () => {
    // A first run with the database down spools everything.
    const proxy = new TcpProxy(PG_PORT);
    const deadPort = await proxy.start();
    await proxy.stop();
    const config = await testDatabaseConfig({ max: 2 });
    const url = new URL(config.connectionString!);
    url.hostname = PG_HOST;
    url.port = String(deadPort);
    const deadDb = createPostgresDb({
      pool: new pg.Pool({ ...config, connectionString: url.href, connectionTimeoutMillis: 1000 }),
    });
    const spoolDir = await tempDir();
    const first = await MarketDataService.start({
      repository: new TickRepository(deadDb),
      spoolDir,
      batchSize: 250,
      flushIntervalMs: 5,
      maxRetries: 0,
      retryBaseDelayMs: 5,
    });
    const offered = [
      ...makeTicks(1000, { symbol: 'BTCUSDT', startId: 1 }),
      ...makeTicks(1000, { symbol: 'ETHUSDT', startId: 1 }),
    ];
    await first.consume(offered);
    await first.stop();
    await deadDb.destroy();
    expect(first.stats().spoolTicks).toBe(offered.length);

    // A segment left by the previous version: records without checksum.
    const legacyTicks = makeTicks(300, { symbol: 'SOLUSDT', startId: 1 });
    const legacyRecord = (ticks: Tick[]) =>
      `${ticks.length} ${JSON.stringify(ticks.map((t) => [t.symbol, t.tradeId, t.price, t.quantity, t.side, t.isBuyerMaker, t.tradeTime, t.receiveTime]))}\n`;
    await writeFile(
      join(spoolDir, 'ticks-000000000000.spool'),
      legacyRecord(legacyTicks.slice(0, 100)) + legacyRecord(legacyTicks.slice(100)),
    );

    // One digit of one price of the third record flips on disk.
    const segments = (await readdir(spoolDir)).filter((f) => f.endsWith('.spool')).sort();
    const segment = segments[1]!;
    const path = join(spoolDir, segment);
    const bytes = await readFile(path);
    let start = 0;
    for (let i = 0; i < 2; i++) start = bytes.indexOf(0x0a, start) + 1;
    const end = bytes.indexOf(0x0a, start);
    const record = bytes.subarray(start, end).toString();
    const damagedIds = new Set(
      (JSON.parse(record.slice(record.indexOf('[['))) as [string, number][]).map(
        ([symbol, id]) => `${symbol}:${id}`,
      ),
    );
    const digit = bytes.indexOf('"430', start) + 3;
    bytes[digit] = bytes[digit] === 0x30 ? 0x31 : 0x30;
    await writeFile(path, bytes);
    const damaged = Buffer.concat([bytes.subarray(start, end), Buffer.from('\n')]);

    const metrics = createTradingMetrics({ registry: new Registry(), runtimeMetrics: false });
    const second = await MarketDataService.start({
      repository: new TickRepository(createPostgresDb({ pool })),
      spoolDir,
      metrics,
    });
    await eventually(() => second.stats().spoolSegments === 0, 20_000, 'the spool replayed');
    await second.stop();

    // Every tick but those of the damaged record, field by field.
    const expected = [...legacyTicks, ...offered]
      .filter((t) => !damagedIds.has(`${t.symbol}:${t.tradeId}`))
      .map(({ receiveTime: _receiveTime, ...t }) => t)
      .sort((a, b) =>
        a.symbol === b.symbol ? a.tradeId - b.tradeId : a.symbol < b.symbol ? -1 : 1,
      );
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
         from tick_data order by symbol collate "C", trade_id`,
    );
    expect(
      rows.map((r) => ({
        symbol: r.symbol,
        tradeId: Number(r.trade_id),
        price: r.price,
        quantity: r.quantity,
        side: r.side,
        isBuyerMaker: r.is_buyer_maker,
        tradeTime: Number(r.ms),
      })),
    ).toEqual(expected);
    expect(damagedIds.size).toBe(250);

    // Set aside byte for byte, counted once.
    expect(await readFile(join(spoolDir, 'quarantine', segment))).toEqual(damaged);
    const counted = await metrics.registry
      .getSingleMetric('trading_spool_corrupt_records_total')!
      .get();
    expect(counted.values[0]?.value).toBe(1);
    expect(second.stats().corruptRecords).toBe(1);
  });
});
