import type { Logger, Tick } from '@trade/core';
import type { TradingMetrics } from '@trade/metrics';
import type { LostTickRange } from './lost-ranges.js';
import type { TickWriter } from './tick-repository.js';

/** What the service needs of a cache: {@link TickCache} has it. */
export interface TickCacheWriter {
  add(ticks: readonly Tick[]): void;
  flush?(): Promise<void>;
}

/** Options of {@link MarketDataService.start}. */
export interface MarketDataServiceOptions {
  /** Where batches go: a {@link TickRepository}. */
  repository: TickWriter;
  /** Updated with every tick as it leaves the channel, before the database has it. */
  cache?: TickCacheWriter;
  metrics?: TradingMetrics;
  logger?: Logger;
  /** Directory of the durable spool (the app passes `DATA_DIR`/spool). Created if missing. */
  spoolDir: string;
  /** Slots of the tick channel. Default 10,000. */
  channelCapacity?: number;
  /** A batch is written when it holds this many ticks... Default 5,000. */
  batchSize?: number;
  /** ...or when its oldest tick has waited this long. Default 250 ms. */
  flushIntervalMs?: number;
  /**
   * Batches written side by side, each on its own connection; they still
   * commit in order (see {@link InsertTicksOptions.commitAfter}), so what is
   * stored is always everything up to some batch. Two use both cores of a
   * PostgreSQL server (about 1.6x one); keep 1 on PGlite, which has a
   * single connection. Default 1.
   */
  writers?: number;
  /** Retries of a failed batch insert before the batch goes to the spool. Default 3. */
  maxRetries?: number;
  /** First retry delay; doubles each retry, with jitter. Default 100 ms. */
  retryBaseDelayMs?: number;
  /** Ceiling of the retry delay, also between spool replay attempts. Default 5,000 ms. */
  retryMaxDelayMs?: number;
  /**
   * Ticks held in memory awaiting the database; beyond it, batches go to the
   * spool. As many again may wait for the disk (slow, full or failing)
   * before the channel stops draining, so the ticks the service holds stay
   * within `channelCapacity + 2 × (maxBufferedTicks + batchSize)` whatever
   * the database and the disk do. Default 100,000.
   */
  maxBufferedTicks?: number;
  /**
   * How long an insert attempt may wait on the library's side: passed to
   * the repository as `InsertTicksOptions.signal`, firing this long
   * after the attempt started. An insert still waiting then for the batch
   * before it to commit (`writers` > 1) rolls back, gives its connection
   * back, and counts as a failed attempt. The statements themselves are not
   * timed here: the driver ends them (the pg pool's `statement_timeout` and
   * `query_timeout`, see `createPostgresDb`), so set this above
   * those. Default 30,000 ms.
   */
  insertTimeoutMs?: number;
  /** Size at which a spool segment file is closed and a new one started. Default 8 MiB. */
  spoolSegmentBytes?: number;
  /** `rejected.jsonl` is rotated before it would grow past this size. Default 16 MiB. */
  rejectedFileBytes?: number;
  /** Rotated `rejected.<n>.jsonl` files kept; older ones are deleted. Default 3. */
  rejectedFilesKept?: number;
}

/** Counters of a service since it started. */
export interface MarketDataServiceStats {
  /** Ticks accepted by {@link MarketDataService.offer}. */
  readonly accepted: number;
  /** Rows written to the database. */
  readonly stored: number;
  /** Ticks the database already held. */
  readonly duplicates: number;
  /** Ticks refused as invalid (kept in `rejected.jsonl` in the spool directory). */
  readonly rejected: number;
  /** Ticks written to the spool. */
  readonly spooled: number;
  /** Ticks replayed from the spool into the database. */
  readonly replayed: number;
  /** Ticks in the channel now. */
  readonly channel: number;
  /** Ticks in memory awaiting the database now. */
  readonly buffered: number;
  /** Spool segment files not yet replayed. */
  readonly spoolSegments: number;
  /** Ticks in the spool now, those left by an earlier run included. */
  readonly spoolTicks: number;
  /** Spool appends that failed (a full or failing disk); each was retried. */
  readonly spoolAppendFailures: number;
  /** Damaged spool records met on replay, copied to the quarantine. */
  readonly corruptRecords: number;
  /** Ticks neither stored nor spooled at close (0 until then). */
  readonly lostTicks: number;
  /** Those ticks, per symbol and run of trade ids (empty until close). */
  readonly lost: readonly LostTickRange[];
}

/** What {@link MarketDataService.health} says: for the app's `/ready`. */
export interface MarketDataHealth {
  /**
   * Neither the database nor the spool takes ticks: the bound of ticks
   * waiting for the disk is reached and the last append failed. The channel
   * has stopped draining, so `offer()` returns false once it is full and
   * the source should pause (the gap is backfilled later). Cleared as soon
   * as the database or the disk takes ticks again.
   */
  readonly blocked: boolean;
  /** Why it is blocked: the spool's and the database's last errors. */
  readonly reason?: string;
  /** When it became blocked, epoch milliseconds. */
  readonly since?: number;
  /** The last spool append's error while appends fail; absent when they work. */
  readonly spoolError?: string;
  /** The last insert's error while inserts fail; absent when they work. */
  readonly databaseError?: string;
}

/** What {@link MarketDataService.close} resolves with. */
export interface MarketDataStopResult {
  /**
   * Ticks neither the database nor the spool took (both failing at close),
   * per symbol and run of consecutive trade ids: fetch them again (REST
   * backfill) or report them. Empty when every tick was saved.
   */
  readonly lost: readonly LostTickRange[];
  /** Their number. */
  readonly lostTicks: number;
}
