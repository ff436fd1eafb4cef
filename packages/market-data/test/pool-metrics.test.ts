import { createTradingMetrics } from '@trade/metrics';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDb, migrateToLatest, TickRepository } from '../src/index.js';
import { eventually, makeTicks, resetTestDatabase, testDatabaseConfig } from './helpers.js';

describe('pool metrics', () => {
  beforeAll(resetTestDatabase);

  const metrics = createTradingMetrics({ registry: new Registry(), runtimeMetrics: false });
  let pool: pg.Pool;
  afterAll(async () => pool?.end().catch(() => undefined));

  const value = async (name: string) =>
    (await metrics.registry.getSingleMetric(name)!.get()).values[0]?.value ?? 0;

  it('reports active and idle connections and counts waits for a free one', async () => {
    pool = new pg.Pool(await testDatabaseConfig({ max: 2 }));
    const db = createPostgresDb({ pool, metrics });
    await migrateToLatest(db);
    const repository = new TickRepository(db);
    await eventually(
      async () => (await value('trading_db_connections_active')) === 0,
      2000,
      'release',
    );
    expect(await value('trading_db_connections_idle')).toBeGreaterThanOrEqual(1);

    // Hold both connections: the repository's next query has to wait.
    const held = [await pool.connect(), await pool.connect()];
    await eventually(
      async () => (await value('trading_db_connections_active')) === 2,
      2000,
      'two active',
    );
    expect(await value('trading_db_connections_idle')).toBe(0);
    const waitsBefore = await value('trading_db_pool_waits_total');
    const insert = repository.insertTicks(makeTicks(10, { startId: 1 }));
    await new Promise((r) => setTimeout(r, 50));
    expect(await value('trading_db_pool_waits_total')).toBe(waitsBefore + 1);
    for (const client of held) client.release();
    expect((await insert).inserted).toBe(10);
    await eventually(
      async () => (await value('trading_db_connections_active')) === 0,
      2000,
      'all idle',
    );
    expect(await value('trading_db_connections_idle')).toBe(2);
    await db.destroy();
  });
});
