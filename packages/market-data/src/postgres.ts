import type { PGlite } from '@electric-sql/pglite';
import { silentLogger, type Logger } from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import {
  Kysely,
  PostgresDialect,
  type PostgresCursor,
  type PostgresPool,
  type PostgresPoolClient,
  type PostgresQueryResult,
} from 'kysely';
import type { Pool, PoolClient } from 'pg';
import { PgliteDialect } from './pglite-dialect.js';
import type { MarketDataDatabase } from './schema.js';

/**
 * Options of {@link createPostgresDb}.
 *
 * Time limits belong to the pool, where the driver and the server enforce
 * them and a timed-out query gives its connection back; the library sets
 * none of its own on statements. Set on the `pg.Pool`:
 *
 * - `statement_timeout`: the server cancels a statement running longer
 *   (a lock held elsewhere, a stalled disk); the connection stays usable
 *   and the insert fails as retryable. A few seconds: a 10,000-tick batch
 *   takes tens of milliseconds. It bounds every statement of the pool:
 *   run migrations and other long work (candles over years of ticks) on a
 *   pool without it.
 * - `query_timeout`: somewhat above `statement_timeout`, for a server that
 *   stopped answering altogether. pg rejects the query but leaves it
 *   running on the connection, so the facade destroys that client instead
 *   of handing it back to the pool.
 * - `idle_in_transaction_session_timeout`: the server ends a session left
 *   in an open transaction, whatever left it there. Above the service's
 *   `insertTimeoutMs`, which bounds how long a writer waits, in its
 *   transaction, for the batch before it.
 * - `keepAlive: true`: TCP keepalives notice a peer that vanished.
 * - `connectionTimeoutMillis`: how long `connect()` may wait for a
 *   connection, a free one included.
 *
 * On PostgreSQL 14 and later `options: '-c client_connection_check_interval=2000'`
 * also lets the server notice, mid-statement, a client that went away.
 *
 * @example
 * ```ts
 * const pool = new pg.Pool({
 *   connectionString,
 *   max: 4, // more than the service's writers
 *   statement_timeout: 5_000,
 *   query_timeout: 7_000,
 *   idle_in_transaction_session_timeout: 60_000,
 *   keepAlive: true,
 *   connectionTimeoutMillis: 5_000,
 *   application_name: 'trading-core',
 * });
 * const db = createPostgresDb({ pool, metrics, logger });
 * ```
 */
export interface CreatePostgresDbOptions {
  /**
   * The pg pool to run on, with its time limits set (see above).
   * `db.destroy()` ends it, as with kysely's own dialect.
   */
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
 * A client whose query failed without an answer from the server (pg's
 * `Query read timeout`, a dropped socket) is destroyed on release rather
 * than returned to the pool, where its next user would queue behind a query
 * still running; the pool opens a fresh connection in its place. Set the
 * pool's time limits as {@link CreatePostgresDbOptions} describes.
 *
 * @example
 * ```ts
 * const pool = new pg.Pool({ connectionString, statement_timeout: 5_000, query_timeout: 7_000 });
 * const db = createPostgresDb({ pool, metrics, logger });
 * await migrateToLatest(db);
 * ```
 */
export function createPostgresDb(options: CreatePostgresDbOptions): Kysely<MarketDataDatabase> {
  const { pool, metrics } = options;
  const logger = options.logger ?? silentLogger;
  const onError = (error: Error) => logger.warn({ err: error }, 'database: connection lost');
  pool.on('error', onError);
  // A checked-out client has no listener of pg-pool's: it gets ours, for
  // good, when the pool hands it out. pg-pool emits 'acquire' synchronously,
  // before it drops its own listener and resolves connect(): attaching after
  // `await pool.connect()` would be too late for a new connection, whose
  // ReadyForQuery and the server's FATAL (pg_terminate_backend, a restart)
  // can arrive in one read, the FATAL parsed before any await resumes.
  const heard = new WeakSet<PoolClient>();
  pool.on('acquire', (client: PoolClient) => {
    if (heard.has(client)) return;
    heard.add(client);
    client.on('error', onError);
  });
  const lent = new WeakMap<PoolClient, LentClient>();
  const facade: PostgresPool = {
    async connect() {
      const client = await (metrics ? instrumentPool(pool, metrics) : pool).connect();
      let wrapper = lent.get(client);
      if (!wrapper) {
        wrapper = new LentClient(client, logger);
        lent.set(client, wrapper);
      }
      return wrapper.lend();
    },
    end: () => pool.end(),
  };
  return new Kysely<MarketDataDatabase>({ dialect: new PostgresDialect({ pool: facade }) });
}

/**
 * A pooled client as kysely sees it: one per pg client, lent again at each
 * checkout. It notes a query that failed without the server's answer and
 * then releases the client with that error, which makes pg-pool destroy it.
 */
class LentClient implements PostgresPoolClient {
  #broken: Error | undefined;

  constructor(
    private readonly client: PoolClient,
    private readonly logger: Logger,
  ) {}

  lend(): this {
    this.#broken = undefined;
    return this;
  }

  query<R>(sql: string, parameters: readonly unknown[]): Promise<PostgresQueryResult<R>>;
  query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  query<R>(
    sqlOrCursor: string | PostgresCursor<R>,
    parameters?: readonly unknown[],
  ): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    if (typeof sqlOrCursor !== 'string') {
      // A cursor (kysely's streaming): pg returns it, and reads it in turns.
      return this.client.query(sqlOrCursor as never);
    }
    // pg would queue this behind the query still running there.
    if (this.#broken) return Promise.reject(this.#broken);
    const result = this.client.query(sqlOrCursor, parameters as unknown[]) as unknown as Promise<
      PostgresQueryResult<R>
    >;
    return result.catch((error: unknown) => {
      if (!answeredByServer(error)) this.#broken = asError(error);
      throw error;
    });
  }

  release(destroy?: boolean): void {
    const broken = this.#broken ?? (destroy ? new Error('discarded by kysely') : undefined);
    if (broken) {
      this.logger.warn(
        { err: broken, pid: (this.client as { processID?: number }).processID },
        'database: destroying a connection left in an unknown state',
      );
    }
    this.client.release(broken);
  }
}

/**
 * True for an error the server sent (it carries a severity): the session
 * answered and is ready for the next query; a FATAL one also closes the
 * connection, which pg-pool notices by itself. Anything else (a read
 * timeout, a dropped socket) leaves the session in an unknown state.
 */
function answeredByServer(error: unknown): boolean {
  return typeof (error as { severity?: unknown } | null)?.severity === 'string';
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
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
