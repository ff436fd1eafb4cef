import type { PGlite } from '@electric-sql/pglite';
import { silentLogger, type Logger } from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import { Kysely, PostgresDialect, type PostgresPool } from 'kysely';
import type { Pool, PoolClient } from 'pg';
import { PgliteDialect } from './pglite-dialect.js';
import type { MarketDataDatabase } from './schema.js';

/** Options of {@link createPostgresDb}. */
export interface CreatePostgresDbOptions {
  /** The pg pool to run on. `db.destroy()` ends it, as with kysely's own dialect. */
  pool: Pool;
  /** When given, the pool's connections and waits are reported (see {@link instrumentPool}). */
  metrics?: TradingMetrics;
  /**
   * Told about connections the server dropped (a restart,
   * `pg_terminate_backend`). pg reports those as `error` events, which would
   * crash the process unheard; the pool discards such a client and goes on.
   */
  logger?: Logger;
}

/**
 * A Kysely instance over a pg `Pool`. Connection errors outside a query
 * are logged rather than fatal, and with `metrics` the pool is instrumented.
 *
 * @example
 * ```ts
 * const db = createPostgresDb({ pool: new pg.Pool({ connectionString }), metrics, logger });
 * await migrateToLatest(db);
 * ```
 */
export function createPostgresDb(options: CreatePostgresDbOptions): Kysely<MarketDataDatabase> {
  const { pool, metrics } = options;
  const logger = options.logger ?? silentLogger;
  const onError = (error: Error) => logger.warn({ err: error }, 'database: connection lost');
  pool.on('error', onError);
  const guarded = new WeakSet<PoolClient>();
  const facade: PostgresPool = {
    async connect() {
      const client = await (metrics ? instrumentPool(pool, metrics) : pool).connect();
      // A checked-out client has no listener of pg-pool's: lend it ours.
      if (!guarded.has(client)) {
        guarded.add(client);
        client.on('error', onError);
      }
      return client;
    },
    end: () => pool.end(),
  };
  return new Kysely<MarketDataDatabase>({ dialect: new PostgresDialect({ pool: facade }) });
}

/**
 * A Kysely instance over an embedded PGlite database; the PGlite instance
 * stays the caller's to close.
 */
export function createPgliteDb(pglite: PGlite): Kysely<MarketDataDatabase> {
  return new Kysely<MarketDataDatabase>({ dialect: new PgliteDialect({ pglite }) });
}

const instrumented = new WeakMap<Pool, { connect(): Promise<PoolClient> }>();

/**
 * Keeps `trading_db_connections_active` (checked out) and
 * `trading_db_connections_idle` true from the pool's own events, and returns
 * a `connect()` that counts `trading_db_pool_waits_total` whenever every
 * connection is busy and the pool is at its `max`. Instrumenting a pool
 * twice returns the first instrumentation. The gauges describe one pool.
 */
export function instrumentPool(
  pool: Pool,
  metrics: TradingMetrics,
): { connect(): Promise<PoolClient> } {
  const existing = instrumented.get(pool);
  if (existing) return existing;
  const update = () => {
    metrics.dbConnectionsIdle.set(pool.idleCount);
    metrics.dbConnectionsActive.set(pool.totalCount - pool.idleCount);
  };
  // pg-pool emits before it moves the client between its lists: read after.
  const later = () => queueMicrotask(update);
  for (const event of ['connect', 'acquire', 'release', 'remove'] as const) pool.on(event, later);
  update();
  const max = (pool.options as { max?: number }).max ?? 10;
  const handle = {
    connect(): Promise<PoolClient> {
      if (pool.idleCount === 0 && pool.totalCount >= max) metrics.dbPoolWaits.inc();
      return pool.connect();
    },
  };
  instrumented.set(pool, handle);
  return handle;
}
