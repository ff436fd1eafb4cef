import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { TradeError, type Logger } from '@trade/core';
import {
  BookSnapshotRepository,
  SymbolRulesRepository,
  CandleRepository,
  createPgliteDb,
  createPostgresDb,
  migrateToLatest,
  PaperTradeRepository,
  QuoteRepository,
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
  /** `quote_data`: best bid and ask per update id. */
  readonly quotes: QuoteRepository;
  /** `book_snapshots`: the top levels of each book per update id. */
  readonly bookSnapshots: BookSnapshotRepository;
  /** Each symbol's exchange rules as last read, for backtests offline. */
  readonly symbolRules: SymbolRulesRepository;
  /** One-minute candles of the stored ticks (`candles_1m`). */
  readonly candles: CandleRepository;
  /**
   * Batch writers the market-data service runs: 2 on PostgreSQL (a server
   * process each, commits kept in order), 1 on PGlite (one connection).
   */
  readonly tickWriters: number;
  /** Where the data lives, without secrets, e.g. `postgres://app:***@db/trade`. */
  readonly description: string;
  /**
   * Resolves when the database answers a trivial query: on its own
   * connection, never a writer's, and at most once a second however often
   * it is asked (readiness).
   */
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
  /** A stop request: a start-up waiting for the migration lock gives up. */
  readonly signal?: AbortSignal;
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
  // A trivial query for readiness; on PostgreSQL on its own connection, never a writer's.
  let probe: () => Promise<void>;
  let closeProbe: () => Promise<void> = () => Promise.resolve();
  let migrationDb: Kysely<MarketDataDatabase> | undefined;
  if (options.databaseUrl) {
    const connectionString = options.databaseUrl;
    const statementMs = options.statementTimeoutMs;
    const pool = new pg.Pool({
      connectionString,
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
    description = redactUrl(connectionString);
    tickWriters = 2;
    const probeDb = createPostgresDb({
      pool: new pg.Pool({
        connectionString,
        application_name: 'trading-core ready',
        max: 1,
        connectionTimeoutMillis: PROBE_TIMEOUT_MS,
        statement_timeout: PROBE_TIMEOUT_MS,
        query_timeout: PROBE_TIMEOUT_MS + 1_000,
        keepAlive: true,
      }),
      logger: options.logger,
    });
    probe = async () => {
      await sql`select 1`.execute(probeDb);
    };
    closeProbe = () => probeDb.destroy();
    // Migrations may rebuild indexes for minutes: their own connection (one,
    // so the session that takes the lock below is the one that migrates), no statement bound.
    migrationDb = createPostgresDb({
      pool: new pg.Pool({
        connectionString,
        application_name: 'trading-core migrate',
        max: 1,
        connectionTimeoutMillis: 5_000,
      }),
      logger: options.logger,
    });
  } else {
    const dir = join(options.dataDir, 'pglite');
    await mkdir(dir, { recursive: true });
    const pglite = await PGlite.create(dir);
    // The dialect leaves the PGlite instance to us: an unclosed one keeps the
    // process alive and leaves its directory to be recovered on the next start.
    closeEmbedded = () => pglite.close();
    db = createPgliteDb(pglite);
    description = `embedded PGlite in ${dir}`;
    const embedded = db;
    probe = async () => {
      await sql`select 1`.execute(embedded);
    };
  }
  try {
    if (options.migrate ?? true) {
      const applied = migrationDb
        ? await migrateHoldingLock(migrationDb, options)
        : await migrateToLatest(db as unknown as Kysely<unknown>);
      options.logger.info({ database: description, applied }, 'database migrated');
    }
  } catch (error) {
    await db.destroy();
    await closeProbe();
    await closeEmbedded();
    throw error;
  } finally {
    await migrationDb?.destroy();
  }
  return {
    db,
    ticks: new TickRepository(db),
    paperTrades: new PaperTradeRepository(db),
    quotes: new QuoteRepository(db),
    bookSnapshots: new BookSnapshotRepository(db),
    symbolRules: new SymbolRulesRepository(db),
    candles: new CandleRepository(db),
    tickWriters,
    description,
    ping: sharedAndRecent(probe, PROBE_CACHE_MS),
    async close() {
      await db.destroy();
      await closeProbe();
      await closeEmbedded();
    },
  };
}

/** A stop was asked for before start-up finished: nothing ran yet, nothing was lost. */
export class StartupStoppedError extends TradeError {
  constructor(during: string, options: { cause?: unknown } = {}) {
    super(`stopped during start-up, ${during}`, options);
    this.name = 'StartupStoppedError';
  }
}

// Readiness answers from a result at most this old: a flood of /ready requests
// (the exporter listens without auth) costs one query per interval.
const PROBE_CACHE_MS = 1_000;
const PROBE_TIMEOUT_MS = 2_000;
// trading-core's own migration lock (a session advisory lock), taken before
// kysely's: kysely waits for its lock up to an hour in one statement, deaf to
// signals; this one is tried, so a wait is logged and a stop request heard.
const MIGRATION_LOCK = 'trading-core migrations';
const LOCK_RETRY_MS = 250;
const LOCK_LOG_EVERY_MS = 5_000;

/**
 * Applies the migrations holding {@link MIGRATION_LOCK}. While another
 * process holds it, says so every few seconds (with the holder's pid), and
 * gives up when `options.signal` (a stop request) fires.
 */
async function migrateHoldingLock(
  db: Kysely<MarketDataDatabase>,
  options: Pick<StorageOptions, 'logger' | 'signal'>,
): Promise<string[]> {
  const started = Date.now();
  let loggedAt = started;
  for (;;) {
    const { rows } = await sql<{ got: boolean; holder: number | null }>`
      select pg_try_advisory_lock(hashtext(${MIGRATION_LOCK})) as got,
        (select pid from pg_locks where locktype = 'advisory' and granted
           and objid = hashtext(${MIGRATION_LOCK})::oid and pid <> pg_backend_pid() limit 1) as holder
    `.execute(db);
    if (rows[0]?.got) break;
    if (options.signal?.aborted)
      throw new StartupStoppedError('while waiting for the migration lock');
    if (Date.now() - loggedAt >= LOCK_LOG_EVERY_MS || loggedAt === started) {
      loggedAt = Date.now();
      options.logger.warn(
        { waitedMs: loggedAt - started, holderPid: rows[0]?.holder ?? undefined },
        'waiting for the migration lock: another process is migrating this database',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
  }
  try {
    return await migrateToLatest(db as unknown as Kysely<unknown>);
  } finally {
    await sql`select pg_advisory_unlock(hashtext(${MIGRATION_LOCK}))`
      .execute(db)
      .catch(() => undefined);
  }
}

/**
 * `check` run at most once per `maxAgeMs`: callers within that time share the
 * last result (or the run under way), success or failure alike.
 */
function sharedAndRecent(check: () => Promise<void>, maxAgeMs: number): () => Promise<void> {
  let last: { at: number; result: Promise<void> } | undefined;
  return () => {
    const now = Date.now();
    if (last === undefined || now - last.at >= maxAgeMs) {
      const result = check();
      result.catch(() => undefined);
      last = { at: now, result };
    }
    return last.result;
  };
}
