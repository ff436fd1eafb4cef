import { TradeError, silentLogger, type Logger, type Tick } from '@trade/core';
import { createTradingMetrics, type TradingMetrics } from '@trade/metrics';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DailyPartitions,
  MarketDataService,
  TickRepository,
  createPostgresDb,
  migrateToLatest,
  type MarketDataDatabase,
} from '../src/index.js';
import {
  eventually,
  makeTicks,
  resetTestDatabase,
  tempDir,
  testDatabaseConfig,
} from './helpers.js';

// Timeouts the drivers enforce: a timed-out attempt gives its connection back.

let setup: pg.Pool;
// Reads back what was stored without the pools' small statement_timeout: a slow machine may need longer.
let reader: Kysely<MarketDataDatabase>;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  await resetTestDatabase();
  setup = new pg.Pool(await testDatabaseConfig({ max: 2 }));
  const db = createPostgresDb({ pool: new pg.Pool(await testDatabaseConfig()) });
  await migrateToLatest(db);
  await db.destroy();
  reader = createPostgresDb({ pool: new pg.Pool(await testDatabaseConfig({ max: 1 })) });
});
afterAll(async () => {
  await reader?.destroy();
  await setup?.end();
});
beforeEach(async () => {
  await setup.query('truncate tick_data');
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A pool of the app's shape, named so its sessions can be told apart in pg_stat_activity. */
async function appPool(applicationName: string, config: pg.PoolConfig) {
  const pool = new pg.Pool(
    await testDatabaseConfig({
      application_name: applicationName,
      connectionTimeoutMillis: 5000,
      ...config,
    }),
  );
  const db = createPostgresDb({ pool });
  cleanups.push(async () => {
    // A failed test may leave a session busy or a client never released:
    // end them, so the next test starts clean instead of waiting on them.
    await setup.query(
      'select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1',
      [applicationName],
    );
    await Promise.race([db.destroy(), new Promise((r) => setTimeout(r, 2000))]);
  });
  return { pool, db };
}

/** A connection of the test's own, outside every pool under test. */
async function ownClient(): Promise<pg.Client> {
  const client = new pg.Client(await testDatabaseConfig());
  await client.connect();
  cleanups.push(() => client.end());
  return client;
}

interface Session {
  pid: number;
  state: string | null;
  query: string;
  /** Seconds since the session's state last changed. */
  age: number;
}

async function sessionsOf(observer: pg.Client, applicationName: string): Promise<Session[]> {
  const { rows } = await observer.query<Session>(
    `select pid, state, query,
       extract(epoch from clock_timestamp() - state_change)::float8 as age
     from pg_stat_activity where application_name = $1`,
    [applicationName],
  );
  return rows;
}

function newMetrics(): TradingMetrics {
  return createTradingMetrics({ registry: new Registry(), runtimeMetrics: false });
}

async function counter(metrics: TradingMetrics, name: string): Promise<number> {
  return (await metrics.registry.getSingleMetric(name)!.get()).values[0]?.value ?? 0;
}

describe('TickRepository insertTicks({ signal })', () => {
  it('rolls back and gives its connection back when the signal fires while it waits to commit', async () => {
    const { pool, db } = await appPool('md-signal-commit-wait', { max: 1 });
    const observer = await ownClient();
    const repository = new TickRepository(db);
    const controller = new AbortController();
    const insert = repository.insertTicks(makeTicks(100, { startId: 1 }), {
      commitAfter: new Promise<void>(() => undefined), // the batch before it never settles
      signal: controller.signal,
    });
    const outcome = insert.then(
      () => undefined,
      (error: unknown) => error,
    );
    await eventually(
      async () =>
        (await sessionsOf(observer, 'md-signal-commit-wait')).some(
          (s) => s.state === 'idle in transaction',
        ),
      10_000,
      'the insert waiting in its transaction',
    );
    controller.abort();
    await eventually(
      async () =>
        !(await sessionsOf(observer, 'md-signal-commit-wait')).some(
          (s) => s.state === 'idle in transaction',
        ),
      5000,
      'the transaction rolled back',
    );
    const error = await outcome;
    expect(TradeError.isInstance(error) && error.isRetryable).toBe(true);
    // Back in the pool and usable: the pool's one connection takes the next insert.
    expect(pool.idleCount).toBe(1);
    expect((await repository.insertTicks(makeTicks(10, { startId: 101 }))).inserted).toBe(10);
    const { rows } = await setup.query<{ n: number }>('select count(*)::int as n from tick_data');
    expect(rows[0]!.n).toBe(10);
  });

  it('gives up a replay waiting for the batch before it, and one aborted before it starts', async () => {
    const { pool, db } = await appPool('md-signal-replay-wait', { max: 1 });
    const repository = new TickRepository(db);
    const stored = makeTicks(20, { startId: 1 });
    await repository.insertTicks(stored);
    const controller = new AbortController();
    // Meets stored rows: rolled back, then waits with no connection for the batch before it.
    const replay = repository.insertTicks([...stored, ...makeTicks(5, { startId: 21 })], {
      commitAfter: new Promise<void>(() => undefined),
      signal: controller.signal,
    });
    const outcome = replay.then(
      () => undefined,
      (error: unknown) => error,
    );
    await eventually(() => pool.idleCount === 1, 5000, 'the connection back in the pool');
    controller.abort();
    const error = await outcome;
    expect(TradeError.isInstance(error) && error.isRetryable).toBe(true);

    const early = await repository
      .insertTicks(makeTicks(5, { startId: 21 }), { signal: AbortSignal.abort() })
      .catch((e: unknown) => e);
    expect(TradeError.isInstance(early) && early.isRetryable).toBe(true);
    const { rows } = await setup.query<{ n: number }>('select count(*)::int as n from tick_data');
    expect(rows[0]!.n).toBe(20);
  });
});

describe('createPostgresDb', () => {
  it('destroys a client whose query outlived query_timeout; the pool goes on with healthy ones', async () => {
    // statement_timeout unset: only pg's client-side query_timeout ends the wait.
    const { pool, db } = await appPool('md-query-timeout', { max: 1, query_timeout: 200 });
    const observer = await ownClient();
    const pid = async (kysely: Kysely<MarketDataDatabase>) =>
      (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(kysely)).rows[0]!.pid;
    const first = await pid(db);
    await expect(sql`select pg_sleep(3)`.execute(db)).rejects.toThrow('Query read timeout');
    // At once, and without error: back in the pool, the old client would
    // make these queue behind pg_sleep and time out in turn.
    const second = await pid(db);
    expect(second).not.toBe(first);
    expect(await pid(db)).toBe(second);
    expect(pool.totalCount).toBe(1);
    // The old backend belongs to no client: once its statement ends it finds
    // the socket closed and goes away.
    await eventually(
      async () => !(await sessionsOf(observer, 'md-query-timeout')).some((s) => s.pid === first),
      15_000,
      'the abandoned backend gone',
    );
    expect((await sessionsOf(observer, 'md-query-timeout')).map((s) => s.pid)).toEqual([second]);
  });
});

/**
 * Watches a pool under test: how many connections it ever lent at once
 * (from its own events), and whether a session of it is running a statement
 * for a client that no longer holds it, or stays idle in a transaction.
 */
function watchPool(pool: pg.Pool, observer: pg.Client, applicationName: string) {
  const lent = new Set<number>();
  const lentDuringSample = new Set<number>();
  let mostLent = 0;
  const problems: string[] = [];
  const pidOf = (client: pg.PoolClient) => (client as unknown as { processID: number }).processID;
  pool.on('acquire', (client) => {
    lent.add(pidOf(client));
    lentDuringSample.add(pidOf(client));
    mostLent = Math.max(mostLent, lent.size);
  });
  pool.on('release', (_error, client) => lent.delete(pidOf(client)));
  let sampling = true;
  let samples = 0;
  let seenIdleInTransaction = 0;
  const done = (async () => {
    while (sampling) {
      // A session busy when sampled was lent then: lent before the sample, or since.
      lentDuringSample.clear();
      for (const pid of lent) lentDuringSample.add(pid);
      for (const s of await sessionsOf(observer, applicationName)) {
        if (s.state === 'active' && !lentDuringSample.has(s.pid)) {
          problems.push(`pid ${s.pid} runs "${s.query}" for no client`);
        }
        // Well past insertTimeoutMs (150 ms), far below the server's
        // idle_in_transaction_session_timeout (10 s).
        if (s.state === 'idle in transaction') seenIdleInTransaction += 1;
        if (s.state?.startsWith('idle in transaction') && s.age > 1) {
          problems.push(`pid ${s.pid} idle in transaction for ${s.age.toFixed(2)} s`);
        }
      }
      samples += 1;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    get mostLent() {
      return mostLent;
    },
    get samples() {
      return samples;
    },
    get seenIdleInTransaction() {
      return seenIdleInTransaction;
    },
    problems,
    async stop() {
      sampling = false;
      await done;
    },
  };
}

/** Every stored tick, as read back (the receive time is not stored: the trade time stands in). */
async function storedTicks(db: Kysely<MarketDataDatabase>, symbol = 'BTCUSDT'): Promise<Tick[]> {
  const ticks: Tick[] = [];
  for await (const tick of new TickRepository(db).ticks(symbol)) ticks.push(tick);
  return ticks.sort((a, b) => a.tradeId - b.tradeId);
}

const asStored = (ticks: readonly Tick[]) => ticks.map((t) => ({ ...t, receiveTime: t.tradeTime }));

// The app's pool settings, small: the server cancels a statement after
// 300 ms, pg gives up on an answer after 1 s.
const poolTimeouts: pg.PoolConfig = {
  max: 3,
  statement_timeout: 300,
  query_timeout: 1000,
  // Large on purpose: the library, not the server, must end its own waits.
  idle_in_transaction_session_timeout: 10_000,
};

async function startService(
  name: string,
  writers: number,
  options: { logger?: Logger; maxRetries?: number } = {},
) {
  const { pool, db } = await appPool(name, poolTimeouts);
  const observer = await ownClient();
  const metrics = newMetrics();
  const service = await MarketDataService.start({
    repository: new TickRepository(db),
    metrics,
    logger: options.logger,
    spoolDir: await tempDir(),
    writers,
    batchSize: 200,
    flushIntervalMs: 10,
    maxRetries: options.maxRetries ?? 2,
    retryBaseDelayMs: 20,
    retryMaxDelayMs: 100,
    // Below statement_timeout: a service that raced its inserts against
    // this would start retries while the timed-out ones still run.
    insertTimeoutMs: 150,
  });
  cleanups.push(() => service.stop());
  const watch = watchPool(pool, observer, name);
  cleanups.push(() => watch.stop());
  return { db, metrics, service, watch };
}

async function offerSlowly(service: MarketDataService, ticks: readonly Tick[]) {
  for (let i = 0; i < ticks.length; i += 100) {
    for (const tick of ticks.slice(i, i + 100)) {
      while (!service.offer(tick)) await service.whenWritable();
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.each([1, 2])(
  'MarketDataService on a database that blocks inserts, %i writer(s)',
  (writers) => {
    it('holds no more connections than writers while a lock blocks the table, spools, then stores each tick once', async () => {
      const { metrics, service, watch } = await startService(`md-table-lock-${writers}`, writers);
      const ticks = makeTicks(4000, { startId: 1 });
      await service.consume(ticks.slice(0, 1000));
      await service.flush();

      const locker = await ownClient();
      await locker.query('begin');
      await locker.query('lock table tick_data in access exclusive mode');
      await offerSlowly(service, ticks.slice(1000));
      await eventually(
        async () =>
          service.stats().buffered === 0 &&
          service.stats().spoolTicks > 0 &&
          (await counter(metrics, 'trading_batches_failed_total')) > 0,
        30_000,
        'batches spooled after their retries',
      );
      // Attempts go on failing on the lock (the spool replay's among them).
      const retries = await counter(metrics, 'trading_batch_retries_total');
      await eventually(
        async () => (await counter(metrics, 'trading_batch_retries_total')) > retries,
        10_000,
        'more attempts failing on the lock',
      );
      expect(watch.samples).toBeGreaterThan(0);
      expect(watch.problems).toEqual([]);
      expect(watch.mostLent).toBeLessThanOrEqual(writers);

      await locker.query('rollback');
      await eventually(() => service.stats().spoolTicks === 0, 30_000, 'the spool replayed');
      await service.flush();
      await watch.stop();
      expect(watch.problems).toEqual([]);
      expect(watch.mostLent).toBeLessThanOrEqual(writers);
      expect(await storedTicks(reader)).toEqual(asStored(ticks));
    });
  },
);

describe('MarketDataService with two writers, the first batch blocked', () => {
  it('rolls back the writer waiting for it to commit, rather than holding its transaction', async () => {
    const failures: unknown[] = [];
    const logger: Logger = {
      ...silentLogger,
      warn: (fields: object) => failures.push((fields as { err?: unknown }).err),
    };
    // The blocked batch takes about 2 s to fail its six attempts: a waiting
    // writer that held its transaction until then would be seen.
    const { metrics, service, watch } = await startService('md-row-lock', 2, {
      logger,
      maxRetries: 5,
    });
    const ticks = makeTicks(2000, { startId: 1 });
    // Another session's uncommitted row with the key of tick 150: the batch
    // holding it waits on it; the next one inserts, then waits to commit.
    await new DailyPartitions(reader, 'tick_data').ensureTimes([ticks[149]!.tradeTime]);
    const locker = await ownClient();
    await locker.query('begin');
    // The key holds the trade time (the table is partitioned on it): the same time as tick 150's.
    await locker.query(
      `insert into tick_data values ('BTCUSDT', 150, 1, 1, 'BUY', false, to_timestamp($1 / 1000.0))`,
      [ticks[149]!.tradeTime],
    );
    await offerSlowly(service, ticks);
    await eventually(
      async () =>
        service.stats().buffered === 0 &&
        (await counter(metrics, 'trading_batches_failed_total')) > 0,
      30_000,
      'the blocked batch spooled after its retries',
    );
    // The next batch did wait in its transaction, and gave up at insertTimeoutMs.
    expect(watch.seenIdleInTransaction).toBeGreaterThan(0);
    expect(
      failures.some(
        (e) => TradeError.isInstance(e) && e.isRetryable && /aborted by its signal/.test(e.message),
      ),
    ).toBe(true);
    expect(watch.problems).toEqual([]);
    expect(watch.mostLent).toBeLessThanOrEqual(2);

    await locker.query('rollback');
    await eventually(() => service.stats().spoolTicks === 0, 30_000, 'the spool replayed');
    await service.flush();
    await watch.stop();
    expect(watch.problems).toEqual([]);
    expect(watch.mostLent).toBeLessThanOrEqual(2);
    expect(await storedTicks(reader)).toEqual(asStored(ticks));
  });
});
