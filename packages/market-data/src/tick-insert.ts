import { TradeError, type Tick } from '@trade/core';
import { CompiledQuery, type Kysely } from 'kysely';
import { DailyPartitions, isMissingPartition } from './daily-partitions.js';
import type { MarketDataDatabase } from './schema.js';
import { inKeyOrder, tickArrays, tickProblem } from './tick-rows.js';

/** A tick the database would not take, and why. */
export interface RejectedTick {
  readonly tick: Tick;
  /** The field that was wrong (`invalid price`...) or the database's message. */
  readonly reason: string;
}

/** What one {@link TickRepository.insertTicks} call did with its ticks. */
export interface InsertTicksResult {
  /** Rows written. */
  readonly inserted: number;
  /** Ticks already stored (same symbol and trade id), or repeated within the batch. */
  readonly duplicates: number;
  /** Ticks refused; the rest of the batch was stored regardless. */
  readonly rejected: readonly RejectedTick[];
}

/** Options of {@link TickRepository.insertTicks}. */
export interface InsertTicksOptions {
  /**
   * For writers working side by side: the batch is inserted at once, in a
   * transaction whose COMMIT waits until this settles (the previous batch
   * stored or spooled), so batches become durable in the order they were
   * given. Without it the insert commits as soon as it is done. Each writer
   * holds a connection while it waits: use it with a PostgreSQL pool of
   * more connections than writers, not with PGlite's single connection.
   */
  commitAfter?: PromiseLike<unknown>;
  /**
   * Bounds the waits the repository itself does. When it fires before the
   * insert has started, or while the transaction waits for `commitAfter`,
   * the transaction is rolled back, its connection goes back to the pool,
   * and `insertTicks` rejects with a retryable {@link TradeError}: a batch
   * waiting on a slow predecessor never holds a transaction open past it.
   * A statement already running is not interrupted: the driver bounds those
   * (the pool's `statement_timeout` and `query_timeout`, see
   * {@link createPostgresDb}).
   *
   * @example
   * ```ts
   * await repository.insertTicks(batch, {
   *   commitAfter: previousBatchDurable,
   *   signal: AbortSignal.timeout(30_000),
   * });
   * ```
   */
  signal?: AbortSignal;
}

/** Where the market-data service writes batches: {@link TickRepository} or a test double. */
export interface TickWriter {
  insertTicks(ticks: readonly Tick[], options?: InsertTicksOptions): Promise<InsertTicksResult>;
}

// Side is Binance's rule: SELL when the buyer is the maker.
// Rows new to the table: a plain insert, 1.4x (one writer) to 1.6x (two) the
// rate of the speculative insertion that ON CONFLICT does for every row.
const INSERT_NEW = `insert into tick_data (symbol, trade_id, price, quantity, side, is_buyer_maker, timestamp)
select s, i, p, q, case when m then 'SELL' else 'BUY' end, m,
  timestamptz 'epoch' + ($7::int8 + dt) * interval '1 millisecond'
from unnest($1::text[], $2::int8[], $3::numeric[], $4::numeric[], $5::bool[], $6::int8[])
  as u(s, i, p, q, m, dt)`;
// Rows some of which may be stored already (replays, reconnect overlaps). The
// key holds the time, as a unique key of a table partitioned on it must: a
// repeated trade carries the same time, so it still lands once.
const INSERT_SKIPPING_STORED = `${INSERT_NEW}
on conflict (symbol, trade_id, timestamp) do nothing`;
const UNIQUE_VIOLATION = '23505';

/**
 * The write path of {@link TickRepository}: builds and runs the insert
 * statements, isolates refused rows, and keeps the commit order asked by
 * `commitAfter`. Remembers whether the last batch met stored rows, so the
 * next one (likely a replay too) skips straight to `ON CONFLICT DO NOTHING`.
 */
export class TickInserter implements TickWriter {
  /** The last batch met stored rows: the next one is likely a replay too. */
  #expectStoredRows = false;
  readonly #partitions: DailyPartitions;

  constructor(private readonly db: Kysely<MarketDataDatabase>) {
    this.#partitions = new DailyPartitions(db, 'tick_data');
  }

  /**
   * Stores `ticks`, each (symbol, trade id) once. A tick that fails
   * validation, or that the database refuses with a data or constraint
   * error, comes back in `rejected` and the others are stored regardless:
   * the statement is split in halves until the bad rows are isolated.
   * Connection errors are thrown, with nothing or everything written; so is
   * a retryable {@link TradeError} when `options.signal` fires while the
   * insert waits (nothing written then).
   */
  async insertTicks(
    ticks: readonly Tick[],
    options: InsertTicksOptions = {},
  ): Promise<InsertTicksResult> {
    if (options.signal?.aborted) throw abortedWhileWaiting(options.signal);
    const rejected: RejectedTick[] = [];
    const valid: Tick[] = [];
    for (const tick of ticks) {
      const problem = tickProblem(tick);
      if (problem === undefined) valid.push(tick);
      else rejected.push({ tick, reason: `invalid ${problem}` });
    }
    const rows = inKeyOrder(valid);
    const before = rejected.length;
    const inserted = await this.#partitions.inserting(
      () => rows.map((tick) => tick.tradeTime),
      () => this.#store(rows, rejected, options.commitAfter, options.signal),
    );
    const refusedByDb = rejected.length - before;
    return { inserted, duplicates: valid.length - refusedByDb - inserted, rejected };
  }

  async #store(
    rows: readonly Tick[],
    rejected: RejectedTick[],
    commitAfter: PromiseLike<unknown> | undefined,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    if (rows.length > 0 && !this.#expectStoredRows) {
      const inserted = commitAfter
        ? await this.#insertNewCommittingAfter(rows, commitAfter, signal)
        : await this.#insertNew(this.db, rows);
      if (inserted !== undefined) return inserted;
    }
    // Some rows are stored already, or some are refused: statement by
    // statement, once the batches before this one are durable (no
    // connection is held while waiting here).
    if (commitAfter) await settledUnlessAborted(commitAfter, signal);
    const before = rejected.length;
    const inserted = await this.#insertIsolatingBadRows(rows, rejected);
    this.#expectStoredRows = inserted < rows.length - (rejected.length - before);
    return inserted;
  }

  /** The plain insert; `undefined` when a row was stored already or refused (nothing written). */
  async #insertNew(
    db: Pick<Kysely<MarketDataDatabase>, 'executeQuery'>,
    rows: readonly Tick[],
  ): Promise<number | undefined> {
    try {
      const result = await db.executeQuery(CompiledQuery.raw(INSERT_NEW, tickArrays(rows)));
      return Number(result.numAffectedRows ?? 0);
    } catch (error) {
      if (!isDataError(error)) throw error;
      if ((error as { code?: unknown }).code === UNIQUE_VIOLATION) this.#expectStoredRows = true;
      return undefined;
    }
  }

  /**
   * {@link #insertNew} in a transaction that commits once `commitAfter`
   * settles, or rolls back when `signal` fires first: the connection then
   * goes back to the pool rather than waiting, idle in transaction.
   */
  #insertNewCommittingAfter(
    rows: readonly Tick[],
    commitAfter: PromiseLike<unknown>,
    signal: AbortSignal | undefined,
  ): Promise<number | undefined> {
    return this.db.connection().execute(async (connection) => {
      await connection.executeQuery(CompiledQuery.raw('begin'));
      let inserted: number | undefined;
      try {
        inserted = await this.#insertNew(connection, rows);
        if (inserted !== undefined) await settledUnlessAborted(commitAfter, signal);
      } catch (error) {
        await connection.executeQuery(CompiledQuery.raw('rollback')).catch(() => undefined);
        throw error;
      }
      await connection.executeQuery(
        CompiledQuery.raw(inserted === undefined ? 'rollback' : 'commit'),
      );
      return inserted;
    });
  }

  async #insertIsolatingBadRows(ticks: readonly Tick[], rejected: RejectedTick[]): Promise<number> {
    if (ticks.length === 0) return 0;
    try {
      const result = await this.db.executeQuery(
        CompiledQuery.raw(INSERT_SKIPPING_STORED, tickArrays(ticks)),
      );
      return Number(result.numAffectedRows ?? 0);
    } catch (error) {
      if (!isDataError(error)) throw error;
      if (ticks.length === 1) {
        rejected.push({ tick: ticks[0]!, reason: (error as Error).message });
        return 0;
      }
      const half = ticks.length >> 1;
      return (
        (await this.#insertIsolatingBadRows(ticks.slice(0, half), rejected)) +
        (await this.#insertIsolatingBadRows(ticks.slice(half), rejected))
      );
    }
  }
}

/**
 * Waits for `promise` to settle (a rejection passes through), or rejects
 * with a retryable error as soon as `signal` fires.
 */
function settledUnlessAborted(
  promise: PromiseLike<unknown>,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  if (!signal) return Promise.resolve(promise);
  if (signal.aborted) return Promise.reject(abortedWhileWaiting(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(abortedWhileWaiting(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    void Promise.resolve(promise)
      .then(resolve, reject)
      .finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function abortedWhileWaiting(signal: AbortSignal): TradeError {
  return new TradeError('tick insert aborted by its signal before committing; nothing written', {
    isRetryable: true,
    cause: signal.reason,
  });
}

/**
 * True for errors caused by the rows themselves (SQLSTATE classes 22, data
 * exception, and 23, integrity constraint violation): retrying the same rows
 * cannot help, isolating them can. A row without a partition for its day is
 * not one of them: once the partition exists it is stored.
 */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' &&
    (code.startsWith('22') || code.startsWith('23')) &&
    !isMissingPartition(error)
  );
}
