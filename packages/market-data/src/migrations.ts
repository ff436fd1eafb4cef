import { TradeError } from '@trade/core';
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import {
  partitionByDay,
  QUOTE_DATA_LAYOUT,
  TICK_DATA_LAYOUT,
  unpartition,
} from './partition-migration.js';

/**
 * The schema, in order. Names sort in the order they apply; a released
 * migration is never edited, a change is a new entry.
 */
export const MIGRATIONS: Readonly<Record<string, Migration>> = Object.freeze({
  '0001_tick_data': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('tick_data')
        .addColumn('symbol', 'text', (c) => c.notNull())
        .addColumn('trade_id', 'bigint', (c) => c.notNull())
        .addColumn('price', 'numeric', (c) => c.notNull())
        .addColumn('quantity', 'numeric', (c) => c.notNull())
        .addColumn('side', 'text', (c) => c.notNull().check(sql`side in ('BUY', 'SELL')`))
        .addColumn('is_buyer_maker', 'boolean', (c) => c.notNull())
        .addColumn('timestamp', 'timestamptz', (c) => c.notNull())
        .addUniqueConstraint('tick_data_symbol_trade_id_key', ['symbol', 'trade_id'])
        .execute();
      await db.schema
        .createIndex('tick_data_symbol_timestamp_idx')
        .on('tick_data')
        .columns(['symbol', 'timestamp desc'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('tick_data').execute();
    },
  },
  '0002_paper_trades': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('paper_trades')
        .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
        .addColumn('strategy', 'text', (c) => c.notNull())
        .addColumn('symbol', 'text', (c) => c.notNull())
        .addColumn('side', 'text', (c) => c.notNull().check(sql`side in ('BUY', 'SELL')`))
        .addColumn('price', 'numeric', (c) => c.notNull())
        .addColumn('quantity', 'numeric', (c) => c.notNull())
        .addColumn('fee', 'numeric', (c) => c.notNull())
        .addColumn('cash_after', 'numeric', (c) => c.notNull())
        .addColumn('position_after', 'numeric', (c) => c.notNull())
        .addColumn('timestamp', 'timestamptz', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('paper_trades_strategy_symbol_timestamp_idx')
        .on('paper_trades')
        .columns(['strategy', 'symbol', 'timestamp'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('paper_trades').execute();
    },
  },
  '0003_tick_data_symbol_collate_c': {
    // Symbols are [A-Z0-9], whose order is the same in every collation; the
    // "C" collation compares them bytewise, which both indexes of tick_data
    // do on every insert. PostgreSQL rebuilds the two indexes (no table rewrite).
    async up(db: Kysely<unknown>) {
      await sql`alter table tick_data alter column symbol type text collate "C"`.execute(db);
    },
    async down(db: Kysely<unknown>) {
      await sql`alter table tick_data alter column symbol type text collate "default"`.execute(db);
    },
  },
  '0004_quote_data': {
    // Symbols in "C" from the start, as tick_data has them since 0003.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('quote_data')
        .addColumn('symbol', sql`text collate "C"`, (c) => c.notNull())
        .addColumn('update_id', 'bigint', (c) => c.notNull())
        .addColumn('bid_price', 'numeric', (c) => c.notNull())
        .addColumn('bid_qty', 'numeric', (c) => c.notNull())
        .addColumn('ask_price', 'numeric', (c) => c.notNull())
        .addColumn('ask_qty', 'numeric', (c) => c.notNull())
        .addColumn('timestamp', 'timestamptz', (c) => c.notNull())
        .addUniqueConstraint('quote_data_symbol_update_id_key', ['symbol', 'update_id'])
        .execute();
      await db.schema
        .createIndex('quote_data_symbol_timestamp_idx')
        .on('quote_data')
        .columns(['symbol', 'timestamp desc'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('quote_data').execute();
    },
  },
  '0005_book_snapshots': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('book_snapshots')
        .addColumn('symbol', sql`text collate "C"`, (c) => c.notNull())
        .addColumn('update_id', 'bigint', (c) => c.notNull())
        .addColumn('timestamp', 'timestamptz', (c) => c.notNull())
        .addColumn('bids', 'jsonb', (c) => c.notNull())
        .addColumn('asks', 'jsonb', (c) => c.notNull())
        .addUniqueConstraint('book_snapshots_symbol_update_id_key', ['symbol', 'update_id'])
        .execute();
      // Backtests read a symbol's snapshots by time, as they read ticks and quotes.
      await db.schema
        .createIndex('book_snapshots_symbol_timestamp_idx')
        .on('book_snapshots')
        .columns(['symbol', 'timestamp desc'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('book_snapshots').execute();
    },
  },
  '0006_symbol_rules': {
    // The exchange rules paper orders were bounded by, as exchangeInfo wrote
    // them: a backtest bounds its orders by the same ones, offline.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('symbol_rules')
        .addColumn('symbol', sql`text collate "C"`, (c) => c.primaryKey())
        .addColumn('tick_size', 'text', (c) => c.notNull())
        .addColumn('step_size', 'text', (c) => c.notNull())
        .addColumn('min_qty', 'text', (c) => c.notNull())
        .addColumn('min_notional', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('symbol_rules').execute();
    },
  },
  '0007_candles_1m': {
    // One-minute candles kept from tick_data (CandleRepository.refresh), UTC-aligned.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('candles_1m')
        .addColumn('symbol', sql`text collate "C"`, (c) => c.notNull())
        .addColumn('bucket', 'timestamptz', (c) => c.notNull())
        .addColumn('open', 'numeric', (c) => c.notNull())
        .addColumn('high', 'numeric', (c) => c.notNull())
        .addColumn('low', 'numeric', (c) => c.notNull())
        .addColumn('close', 'numeric', (c) => c.notNull())
        .addColumn('volume', 'numeric', (c) => c.notNull())
        .addColumn('trades', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('candles_1m_pkey', ['symbol', 'bucket'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('candles_1m').execute();
    },
  },
  '0008_daily_partitions': {
    // tick_data and quote_data partitioned by UTC day on timestamp, every row
    // kept; the unique keys gain the time. Writers wait for the copy (see
    // the changeset for how long per million rows).
    async up(db: Kysely<unknown>) {
      await partitionByDay(db, TICK_DATA_LAYOUT);
      await partitionByDay(db, QUOTE_DATA_LAYOUT);
    },
    async down(db: Kysely<unknown>) {
      await unpartition(db, QUOTE_DATA_LAYOUT);
      await unpartition(db, TICK_DATA_LAYOUT);
    },
  },
});

const provider: MigrationProvider = { getMigrations: () => Promise.resolve({ ...MIGRATIONS }) };

/** Options of {@link migrateToLatest}. */
export interface MigrateOptions {
  /** Schema of kysely's bookkeeping tables. Default: the connection's `search_path`. */
  migrationTableSchema?: string;
}

/**
 * Applies every pending migration (idempotent: a second run applies none)
 * and returns the names it applied. Concurrent runs are serialised by
 * kysely's advisory lock. Throws a {@link TradeError} naming the migration
 * that failed.
 *
 * @example
 * ```ts
 * const applied = await migrateToLatest(db); // ['0001_tick_data', ..., '0008_daily_partitions'] the first time
 * ```
 */
export async function migrateToLatest<DB>(
  db: Kysely<DB>,
  options: MigrateOptions = {},
): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider,
    ...(options.migrationTableSchema ? { migrationTableSchema: options.migrationTableSchema } : {}),
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error')?.migrationName;
    throw new TradeError(
      `database migration ${failed ?? '(before any migration ran)'} failed: ${messageOf(error)}`,
      { cause: error, isRetryable: !failed },
    );
  }
  return results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
