import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { Logger } from '@trade/core';
import {
  createPgliteDb,
  createPostgresDb,
  migrateToLatest,
  PaperTradeRepository,
  TickRepository,
  type MarketDataDatabase,
} from '@trade/market-data';
import type { TradingMetrics } from '@trade/metrics';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { redactUrl } from './secrets.js';

/** The database the app runs on, migrated and ready. */
export interface Storage {
  readonly db: Kysely<MarketDataDatabase>;
  readonly ticks: TickRepository;
  readonly paperTrades: PaperTradeRepository;
  /**
   * Batch writers the market-data service runs: 2 on PostgreSQL (a server
   * process each, commits kept in order), 1 on PGlite (one connection).
   */
  readonly tickWriters: number;
  /** Where the data lives, without secrets, e.g. `postgres://app:***@db/trade`. */
  readonly description: string;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** What {@link openStorage} needs. */
export interface StorageOptions {
  /** PostgreSQL URL; undefined: embedded PGlite under `dataDir/pglite`. */
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly metrics?: TradingMetrics;
  readonly logger: Logger;
  /** Apply migrations (idempotent). Default true. */
  readonly migrate?: boolean;
  /**
   * Bound on each statement of the pool (PostgreSQL's `statement_timeout`,
   * with pg's client-side `query_timeout` a little above it for a server that
   * stopped answering): a timed-out statement gives its connection back.
   * Unset: statements may run as long as they need (one-shot commands).
   * Migrations never run under it.
   */
  readonly statementTimeoutMs?: number;
}

// Beyond the statement bound: a server that stopped answering altogether.
const QUERY_TIMEOUT_MARGIN_MS = 5_000;
// A transaction left open this long (a writer that vanished) is ended by the server.
const IDLE_IN_TRANSACTION_FACTOR = 4;

/** Opens PostgreSQL (or PGlite) and applies the migrations. */
export async function openStorage(options: StorageOptions): Promise<Storage> {
  let db: Kysely<MarketDataDatabase>;
  let description: string;
  let closeEmbedded: () => Promise<void> = () => Promise.resolve();
  let tickWriters = 1;
  let migrationDb: Kysely<MarketDataDatabase> | undefined;
  if (options.databaseUrl) {
    const statementMs = options.statementTimeoutMs;
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      application_name: 'trading-core',
      max: 10,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      ...(statementMs !== undefined
        ? {
            statement_timeout: statementMs,
            query_timeout: statementMs + QUERY_TIMEOUT_MARGIN_MS,
            idle_in_transaction_session_timeout: statementMs * IDLE_IN_TRANSACTION_FACTOR,
          }
        : {}),
    });
    db = createPostgresDb({
      pool,
      logger: options.logger,
      ...(options.metrics ? { metrics: options.metrics } : {}),
    });
    description = redactUrl(options.databaseUrl);
    tickWriters = 2;
    if (statementMs !== undefined) {
      // Migrations may rebuild indexes for minutes: their own connection, unbounded.
      migrationDb = createPostgresDb({
        pool: new pg.Pool({
          connectionString: options.databaseUrl,
          application_name: 'trading-core migrate',
          max: 1,
          connectionTimeoutMillis: 5_000,
        }),
        logger: options.logger,
      });
    }
  } else {
    const dir = join(options.dataDir, 'pglite');
    await mkdir(dir, { recursive: true });
    const pglite = await PGlite.create(dir);
    // The dialect leaves the PGlite instance to us: an unclosed one keeps the
    // process alive and leaves its directory to be recovered on the next start.
    closeEmbedded = () => pglite.close();
    db = createPgliteDb(pglite);
    description = `embedded PGlite in ${dir}`;
  }
  try {
    if (options.migrate ?? true) {
      const applied = await migrateToLatest((migrationDb ?? db) as unknown as Kysely<unknown>);
      options.logger.info({ database: description, applied }, 'database migrated');
    }
  } catch (error) {
    await db.destroy();
    await closeEmbedded();
    throw error;
  } finally {
    await migrationDb?.destroy();
  }
  return {
    db,
    ticks: new TickRepository(db),
    paperTrades: new PaperTradeRepository(db),
    tickWriters,
    description,
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await db.destroy();
      await closeEmbedded();
    },
  };
}
