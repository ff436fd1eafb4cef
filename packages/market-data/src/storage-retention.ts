import { InvalidInputError, type Logger } from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import { CompiledQuery, type Kysely } from 'kysely';
import type { CandleRepository } from './candle-repository.js';
import {
  DailyPartitions,
  DAY_MS,
  dayOf,
  dayText,
  listPartitions,
  PARTITIONED_TABLES,
  type DailyPartition,
  type PartitionedTable,
} from './daily-partitions.js';
import type { MarketDataDatabase } from './schema.js';

/** Where a day goes before it leaves PostgreSQL: the Parquet archive, or a test double. */
export interface DayArchive {
  /** Writes, reads back and checks `table`'s rows of `day` (`YYYY-MM-DD`); throws when the check fails. */
  archiveDay(
    db: Kysely<MarketDataDatabase>,
    table: PartitionedTable,
    day: string,
  ): Promise<{ readonly rows: number; readonly files: number; readonly bytes: number }>;
  /** The days of `table` archived already (`YYYY-MM-DD`). */
  days?(table: PartitionedTable): Promise<string[]>;
}

/** Options of {@link StorageRetention}. */
export interface StorageRetentionOptions {
  db: Kysely<MarketDataDatabase>;
  logger: Logger;
  /** Keep the UTC days that end after now minus this many days; unset keeps everything. */
  retentionDays?: number | undefined;
  /** With an archive, a day is dropped only once it was archived and checked. */
  archive?: DayArchive | undefined;
  /** The day's candles are made true to its ticks before the ticks are dropped. */
  candles?: CandleRepository | undefined;
  metrics?: TradingMetrics | undefined;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/** What one {@link StorageRetention.run} did. */
export interface RetentionReport {
  readonly dropped: readonly { table: PartitionedTable; day: string; archivedRows?: number }[];
  /** Days due for dropping that were kept, because archiving or dropping them failed. */
  readonly failed: readonly { table: PartitionedTable; day: string; error: string }[];
  /** What each table holds afterwards. */
  readonly kept: readonly { table: PartitionedTable; partitions: number; oldestDay?: string }[];
}

/**
 * Keeps the daily partitions of `tick_data` and `quote_data`: today's and
 * tomorrow's exist, and with `retentionDays` the partitions of days wholly
 * older than now minus that many days are dropped, not emptied (DESIGN.md,
 * "Storage over time"). With an archive, a day is first written to it and
 * checked; a day that fails stays, and the next run tries again. Run it at
 * start and hourly ({@link start}).
 *
 * @example
 * ```ts
 * const retention = new StorageRetention({ db, logger, retentionDays: 30, archive, candles, metrics });
 * await retention.run();
 * retention.start(); // hourly
 * await retention.close();
 * ```
 */
export class StorageRetention {
  readonly #db: Kysely<MarketDataDatabase>;
  readonly #logger: Logger;
  readonly #retentionDays: number | undefined;
  readonly #archive: DayArchive | undefined;
  readonly #candles: CandleRepository | undefined;
  readonly #metrics: TradingMetrics | undefined;
  readonly #now: () => number;
  readonly #partitions: Map<PartitionedTable, DailyPartitions>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<RetentionReport> | undefined;

  constructor(options: StorageRetentionOptions) {
    const days = options.retentionDays;
    if (days !== undefined && (!Number.isSafeInteger(days) || days < 1)) {
      throw new InvalidInputError('retentionDays', days, 'a whole number of days, at least 1');
    }
    this.#db = options.db;
    this.#logger = options.logger;
    this.#retentionDays = days;
    this.#archive = options.archive;
    this.#candles = options.candles;
    this.#metrics = options.metrics;
    this.#now = options.now ?? Date.now;
    this.#partitions = new Map(
      PARTITIONED_TABLES.map((table) => [table, new DailyPartitions(options.db, table)]),
    );
  }

  /** One pass; a pass already under way is joined, not doubled. */
  run(): Promise<RetentionReport> {
    this.#running ??= this.#pass().finally(() => (this.#running = undefined));
    return this.#running;
  }

  /** Runs a pass every `intervalMs` (default one hour) until {@link close}; failures are logged. */
  start(intervalMs = 3_600_000): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.run().catch((error: unknown) => {
        this.#logger.error({ err: error }, 'storage retention failed; the next pass tries again');
        this.#metrics?.errors.inc({ component: 'database' });
      });
    }, intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer and waits for a pass under way. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }

  async #pass(): Promise<RetentionReport> {
    const now = this.#now();
    const today = dayOf(now);
    const dropped: { table: PartitionedTable; day: string; archivedRows?: number }[] = [];
    const failed: { table: PartitionedTable; day: string; error: string }[] = [];
    const kept: { table: PartitionedTable; partitions: number; oldestDay?: string }[] = [];
    for (const table of PARTITIONED_TABLES) {
      const partitions = this.#partitions.get(table)!;
      partitions.forget();
      await partitions.ensure([today, today + 1]);
      if (this.#retentionDays !== undefined) {
        const cutoff = now - this.#retentionDays * DAY_MS;
        for (const partition of await listPartitions(this.#db, table)) {
          if ((partition.day + 1) * DAY_MS > cutoff) continue;
          const day = dayText(partition.day);
          try {
            const archivedRows = await this.#retire(partition);
            dropped.push({ table, day, ...(archivedRows === undefined ? {} : { archivedRows }) });
            this.#logger.info(
              { table, day, archivedRows },
              archivedRows === undefined
                ? 'retention: day dropped'
                : 'retention: day archived, checked and dropped',
            );
          } catch (error) {
            failed.push({
              table,
              day,
              error: error instanceof Error ? error.message : String(error),
            });
            this.#metrics?.errors.inc({ component: 'database' });
            this.#logger.error(
              { err: error, table, day },
              'retention: day kept, archiving or dropping it failed; the next pass tries again',
            );
          }
        }
        partitions.forget();
      }
      const left = await listPartitions(this.#db, table);
      const oldest = left[0];
      kept.push({
        table,
        partitions: left.length,
        ...(oldest ? { oldestDay: dayText(oldest.day) } : {}),
      });
      this.#metrics?.storagePartitions.set({ table }, left.length);
      if (oldest) this.#metrics?.storageOldestDay.set({ table }, (oldest.day * DAY_MS) / 1000);
    }
    return { dropped, failed, kept };
  }

  /** Archives (when asked), then detaches and drops one partition; returns the rows archived. */
  async #retire(partition: DailyPartition): Promise<number | undefined> {
    const { table, name, day } = partition;
    // A day archived before and made again by a late tick holds only the late ticks:
    // its candles, made from the whole day when it first went, are kept as they are.
    const madeAgain = (await this.#archive?.days?.(table))?.includes(dayText(day)) ?? false;
    if (table === 'tick_data' && !madeAgain) {
      await this.#candles?.refreshBetween(day * DAY_MS, (day + 1) * DAY_MS);
    }
    const archived = await this.#archive?.archiveDay(this.#db, table, dayText(day));
    await this.#detach(table, name);
    await this.#db.executeQuery(CompiledQuery.raw(`drop table if exists ${name}`));
    return archived?.rows;
  }

  /**
   * Detaches without blocking writers (CONCURRENTLY: SHARE UPDATE EXCLUSIVE
   * on the parent); where that is refused (an engine without it, or a
   * detach left pending by an earlier crash), a plain detach.
   */
  async #detach(table: PartitionedTable, name: string): Promise<void> {
    try {
      await this.#db.executeQuery(
        CompiledQuery.raw(`alter table ${table} detach partition ${name} concurrently`),
      );
    } catch (error) {
      this.#logger.debug({ err: error, table, name }, 'retention: concurrent detach refused');
      const pending = /pending detach/i.test(error instanceof Error ? error.message : '');
      await this.#db.executeQuery(
        CompiledQuery.raw(
          `alter table ${table} detach partition ${name}${pending ? ' finalize' : ''}`,
        ),
      );
    }
  }
}
